"""Meta-games from interaction logs: GLEE bargaining games and generic per-interaction records.

A log is a list of two-player interactions: the row player's design, the column player's design,
both utilities and optional numeric covariates (game settings). `estimate` turns it into the
meta-game's payoff table (per design pair the mean utility of each side, its standard error and the
number of games, optionally adjusted for the settings by regression); missing pairs stay NaN (null in
JSON). `complete` makes an analysable game from the largest complete sub-table or an additive
model-effects fill, and `bootstrap_payoffs` resamples games within each pair.

Specs: ``glee:FOLDER`` and ``records:FILE.csv``, optionally followed by ``,fill=subset|additive``,
``,adjust=settings``, ``,skip_bad=1`` and ``,tags=provider|all|FILE.json``; ``glee:FOLDER,adjust=pair-effects``
gives GLEE's own pair-effects table (the paper's Section 4 matrix, see `envs.pair_effects`).
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Sequence

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import connected_components

from envs.game import DesignGame, GameError
from envs.io import GameFileError, cell, err, read_text, show, write_game_json, atomic_write_text
from envs.pair_effects import demeaning_weights, glee_order, setting_dummies, setting_factors

PathLike = str | os.PathLike

#: Numeric settings of a GLEE game, the covariates of ``adjust=settings``.
GLEE_COVARIATES = ("log10_money", "max_rounds", "complete_information", "messages_allowed",
                   "delta_alice", "delta_bob")
GLEE_COLUMNS = ("alice_gain", "bob_gain", "player", "round", "decision")
RECORD_COLUMNS = ("row_design", "column_design", "row_utility", "column_utility")

#: Model-name prefix -> provider, for ``provider:`` tags.
PROVIDERS = {"gemini": "google", "gemma": "google", "gpt": "openai", "o1": "openai", "o3": "openai",
             "o4": "openai", "claude": "anthropic", "llama": "meta", "mistral": "mistral",
             "mixtral": "mistral", "grok": "xai", "qwen": "alibaba", "deepseek": "deepseek"}
SIZES = ("nano", "mini", "lite", "flash", "small", "medium", "large", "pro", "haiku", "sonnet", "opus")
SUBSET_LIMIT = 20     # exact complete-subset search over at most 2^20 subsets of the smaller side


class LogError(GameFileError):
    """A log that cannot be read or estimated; the message names the file and the place."""


# =========================================================================== the log
@dataclass(frozen=True, eq=False)
class InteractionLog:
    """Two-player interactions: design indices, utilities (N, 2), covariates (N, m) and read failures."""

    players: tuple[str, str]
    designs: tuple[tuple[str, ...], tuple[str, ...]]
    row: np.ndarray
    col: np.ndarray
    utilities: np.ndarray
    covariates: np.ndarray
    covariate_names: tuple[str, ...] = ()
    ids: tuple[str, ...] = ()
    failures: tuple[str, ...] = ()
    source: str = "log"
    kind: str = "records"

    @property
    def n_games(self) -> int:
        return len(self.row)

    @property
    def shape(self) -> tuple[int, int]:
        return len(self.designs[0]), len(self.designs[1])

    @property
    def cell(self) -> np.ndarray:
        """Flat (row, column) pair index of every game."""
        return self.row * self.shape[1] + self.col


def make_log(records: Sequence[tuple], players: Sequence[str] = ("P1", "P2"),
             covariate_names: Sequence[str] = (), failures: Sequence[str] = (), source: str = "log",
             kind: str = "records") -> InteractionLog:
    """A log from ``(id, row design, column design, row utility, column utility, covariates)`` tuples;
    each side's designs are the names it used, sorted."""
    if not records:
        raise LogError(f"{source}: no interaction could be read" + (f"; first problem: {failures[0]}"
                                                                    if failures else ""))
    designs = tuple(tuple(sorted({r[1 + i] for r in records})) for i in range(2))
    index = [{d: j for j, d in enumerate(ds)} for ds in designs]
    return InteractionLog(
        players=tuple(players), designs=designs,
        row=np.array([index[0][r[1]] for r in records]), col=np.array([index[1][r[2]] for r in records]),
        utilities=np.array([[r[3], r[4]] for r in records], float),
        covariates=np.array([list(r[5]) for r in records], float).reshape(len(records), len(covariate_names)),
        covariate_names=tuple(covariate_names), ids=tuple(str(r[0]) for r in records),
        failures=tuple(failures), source=source, kind=kind)


# =========================================================================== GLEE bargaining logs
def _get(path: PathLike, data: dict, keys: str):
    """``data[k1][k2]...`` for a dotted key, or a LogError naming the missing key."""
    value = data
    for k in keys.split("."):
        if not isinstance(value, dict) or k not in value:
            raise err(path, keys, "missing")
        value = value[k]
    return value


def _config_number(path: PathLike, data: dict, keys: str, low: float, high: float = math.inf) -> float:
    """A number at a dotted key, within [low, high] (low excluded when 0)."""
    value = _get(path, data, keys)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise err(path, keys, f"{show(value)} is not a finite number")
    if not (low < value <= high if low == 0 else low <= value <= high):
        raise err(path, keys, f"{show(value)} is outside [{low:g}, {high:g}]")
    return float(value)


def _glee_config(path: Path) -> tuple[str, str, float, float, float, list[float]]:
    """(Alice's model, Bob's model, money, delta_1, delta_2, covariates) of a GLEE config.json.

    Deltas come from ``game_args.delta_1/delta_2`` (new format) or ``player_i_args.delta`` (old).
    """
    text = read_text(path)
    try:
        data = json.loads(text)
    except (ValueError, RecursionError) as e:
        raise err(path, None, f"invalid JSON: {e}") from e
    if not isinstance(data, dict):
        raise err(path, "top level", f"expected a JSON object, got {show(data)}")
    if data.get("game_type", "bargaining") != "bargaining":
        raise err(path, "game_type", f"{show(data['game_type'])} is not a bargaining game")
    models = []
    for i, who in ((1, "Alice"), (2, "Bob")):
        name = _get(path, data, f"player_{i}_args.model_name")
        if not isinstance(name, str) or not name.strip():
            raise err(path, f"player_{i}_args.model_name", f"unknown model name {show(name)} for {who}")
        models.append(name.strip())
    new_format = isinstance(data.get("game_args"), dict) and "delta_1" in data["game_args"]
    deltas = [_config_number(path, data, f"game_args.delta_{i}" if new_format else f"player_{i}_args.delta", 0, 1)
              for i in (1, 2)]
    money = _config_number(path, data, "game_args.money_to_divide", 0)
    rounds = _config_number(path, data, "game_args.max_rounds", 1)
    flags = []
    for key in ("complete_information", "messages_allowed"):
        flag = _get(path, data, f"game_args.{key}")
        if not isinstance(flag, bool):
            raise err(path, f"game_args.{key}", f"expected true or false, got {show(flag)}")
        flags.append(float(flag))
    return models[0], models[1], money, deltas[0], deltas[1], [math.log10(money), rounds, *flags, *deltas]


def _glee_outcome(path: Path) -> tuple[float | None, int]:
    """(Alice's accepted amount or None without agreement, round of the last row) of a game.csv."""
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    try:
        rows = list(reader)
    except csv.Error as e:
        raise err(path, f"line {reader.line_num}", f"invalid CSV: {e}") from e
    if missing := [c for c in GLEE_COLUMNS if c not in (reader.fieldnames or [])]:
        raise err(path, "header", f"missing column(s) {', '.join(missing)}")
    if not rows:
        raise err(path, None, "no rows below the header")
    last = len(rows) + 1                                    # CSV row number, the header being row 1
    try:
        rnd = int(rows[-1]["round"] or "")
    except (TypeError, ValueError):
        raise err(path, f'row {last}, column "round"', f"{show(rows[-1]['round'])} is not a round number") from None
    if rnd < 1:
        raise err(path, f'row {last}, column "round"', f"round {rnd} is not positive")
    if (rows[-1]["decision"] or "").strip().lower() != "accept":
        return None, rnd
    if len(rows) < 2:
        raise err(path, f"row {last}", "an accept row without an offer row before it")
    gain = rows[-2]["alice_gain"]
    if gain is None:
        raise err(path, f"row {last - 1}", "the offer row has too few fields")
    return cell(path, f'row {last - 1}, column "alice_gain"', gain), rnd


def glee_utilities(alice_gain: float | None, money: float, delta_1: float, delta_2: float,
                   rnd: int) -> tuple[float, float]:
    """GLEE's per-game utilities: Alice's share p of the money discounted by delta_1^(round - 1),
    Bob's 1 - p by delta_2^(round - 1); (0, 0) without agreement (``alice_gain`` None)."""
    if alice_gain is None:
        return 0.0, 0.0
    p = alice_gain / money
    return p * delta_1 ** (rnd - 1), (1 - p) * delta_2 ** (rnd - 1)


def _game_folders(folder: Path) -> list[Path]:
    """Folders holding config.json or game.csv, and leaf folders (games with both files missing)."""
    found = []
    for here, subdirs, files in os.walk(folder):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        if {"config.json", "game.csv"} & set(files) or (not subdirs and Path(here) != folder):
            found.append(Path(here))
    return found


def read_glee(folder: PathLike) -> InteractionLog:
    """Every GLEE bargaining game below ``folder`` (any depth; each game folder holds config.json and
    game.csv). Unreadable games are listed in ``failures`` (one line each), never raised."""
    folder = Path(folder)
    if not folder.is_dir():
        raise err(folder, None, "not a folder of GLEE games" if folder.exists()
                  else "cannot read: No such file or directory")
    games = _game_folders(folder)
    if not games:
        raise err(folder, None, "no GLEE game folders (each with config.json and game.csv) found")
    records, failures = [], []
    for game in games:
        try:
            alice, bob, money, d1, d2, covariates = _glee_config(game / "config.json")
            gain, rnd = _glee_outcome(game / "game.csv")
        except GameFileError as e:
            failures.append(str(e))
            continue
        records.append((game.name, alice, bob, *glee_utilities(gain, money, d1, d2, rnd), covariates))
    return make_log(records, ("Alice", "Bob"), GLEE_COVARIATES, failures, str(folder), "glee")


# =========================================================================== generic records
def _covariate(path: PathLike, place: str, text: str) -> float:
    """A covariate cell: a number, or true / false as 1 / 0."""
    flag = {"true": 1.0, "false": 0.0}.get(text.strip().lower())
    return flag if flag is not None else cell(path, place, text)


def read_records(path: PathLike, players: Sequence[str] = ("P1", "P2")) -> InteractionLog:
    """A CSV of interactions: columns row_design, column_design, row_utility, column_utility, an optional
    ``id`` and any other columns as numeric covariates (true / false read as 1 / 0). Strict: the first
    bad cell raises a one-line LogError naming row and column."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        rows = [(r, row) for r, row in enumerate(reader, 1) if row]
    except csv.Error as e:
        raise err(path, f"line {reader.line_num}", f"invalid CSV: {e}") from e
    if not rows:
        raise err(path, None, "file is empty")
    (h, header), data = rows[0], rows[1:]
    header = [c.strip() for c in header]
    if missing := [c for c in RECORD_COLUMNS if c not in header]:
        raise err(path, f"row {h}", f"missing column(s) {', '.join(missing)}")
    if len(set(header)) != len(header):
        raise err(path, f"row {h}", "duplicate column names")
    if not data:
        raise err(path, None, "no data rows below the header")
    at = {c: header.index(c) for c in header}
    covs = [c for c in header if c not in RECORD_COLUMNS and c != "id"]
    records = []
    for r, row in data:
        if len(row) != len(header):
            raise err(path, f"row {r}", f"expected {len(header)} values, got {len(row)}")
        names = [row[at[c]].strip() for c in RECORD_COLUMNS[:2]]
        for c, name in zip(RECORD_COLUMNS, names):
            if not name:
                raise err(path, f'row {r}, column "{c}"', "empty design name")
        u = [cell(path, f'row {r}, column "{c}"', row[at[c]]) for c in RECORD_COLUMNS[2:]]
        x = [_covariate(path, f'row {r}, column "{c}"', row[at[c]]) for c in covs]
        records.append((row[at["id"]] if "id" in at else f"row {r}", *names, *u, x))
    return make_log(records, players, covs, (), str(path), "records")


def synthetic_log(game: DesignGame, games_per_pair: int | np.ndarray, noise: float, seed: int = 0) -> InteractionLog:
    """A log drawn from a known two-player game: ``games_per_pair`` games per profile (an int or a
    (k1, k2) array; 0 leaves a pair missing), utilities = payoffs + N(0, noise^2)."""
    if game.n_players != 2:
        raise GameError("logs hold two-player interactions")
    counts = np.broadcast_to(np.asarray(games_per_pair, int), game.shape)
    rng = np.random.default_rng(seed)
    r, c = np.repeat(np.indices(game.shape).reshape(2, -1), counts.ravel(), axis=1)
    u = game.payoffs[:, r, c].T + noise * rng.standard_normal((len(r), 2))
    return InteractionLog(game.players, game.designs, r, c, u, np.zeros((len(r), 0)),
                          ids=tuple(map(str, range(len(r)))), source=f"synthetic:{game.name}", kind="synthetic")


# =========================================================================== estimation
def _resample(log: InteractionLog, draws: int, seed: int) -> np.ndarray:
    """(draws, N) game indices, each game replaced by a uniform draw from its own pair's games."""
    cell = log.cell
    order = np.argsort(cell, kind="stable")
    counts = np.bincount(cell, minlength=log.shape[0] * log.shape[1])
    starts = np.cumsum(counts) - counts
    n, s = counts[cell[order]], starts[cell[order]]
    u = np.random.default_rng(seed).random((draws, log.n_games))
    return order[s + np.minimum((u * n).astype(int), n - 1)]


def _cell_means(log: InteractionLog, idx: np.ndarray) -> np.ndarray:
    """(B, 2, k1, k2) pair means of the games ``idx`` (B, N) selects; NaN for pairs without a game."""
    B, K = idx.shape[0], log.shape[0] * log.shape[1]
    flat = (np.arange(B)[:, None] * K + log.cell[idx]).ravel()
    counts = np.bincount(log.cell, minlength=K)
    sums = np.stack([np.bincount(flat, log.utilities[idx, i].ravel(), B * K) for i in range(2)], axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (sums.reshape(B, K, 2) / counts[None, :, None]).transpose(0, 2, 1).reshape(B, 2, *log.shape)


def _design_matrix(log: InteractionLog, basis: str, games: np.ndarray,
                   adjust: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(X for every game, L predicting every pair at the mean settings of ``games``, which pairs L can
    predict) of the pair-dummy (``cells``) or additive (intercept + row + column effects of the designs
    ``games`` use) model, with centred covariates when ``adjust``; or of GLEE's ``pair-effects`` model
    (pair dummies + one-hot settings, L the pair coefficient minus GLEE's grand mean of them)."""
    rows, cols = np.indices(log.shape).reshape(2, -1)
    if basis in ("cells", "pair-effects"):
        observed = np.unique(log.cell[games])
        X = (log.cell[:, None] == observed[None, :]).astype(float)
        L = ((rows * log.shape[1] + cols)[:, None] == observed[None, :]).astype(float)
        estimable = L.any(axis=1)
        if basis == "pair-effects":
            L = L - demeaning_weights(estimable.reshape(log.shape)).ravel()[observed][None, :]
            D = setting_dummies(log.covariates, log.covariate_names)
            return np.hstack([X, D]), np.hstack([L, np.zeros((len(L), D.shape[1]))]), estimable
    else:
        used_rows, used_cols = np.unique(log.row[games]), np.unique(log.col[games])
        def effects(r, c):
            return np.hstack([np.ones((len(r), 1)), r[:, None] == used_rows[None, 1:], c[:, None] == used_cols[None, 1:]])
        X, L = effects(log.row, log.col), effects(rows, cols)
        estimable = np.isin(rows, used_rows) & np.isin(cols, used_cols)
    if adjust:
        x = log.covariates[games]
        varying = x.std(axis=0) > 0
        X = np.hstack([X, (log.covariates - x.mean(axis=0))[:, varying]])
        L = np.hstack([L, np.zeros((len(L), int(varying.sum())))])
    return X, L, estimable


def _ols(log: InteractionLog, basis: str, games: np.ndarray, adjust: bool,
         idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Fit the linear model on the games ``idx[b, games]`` of each draw b (``idx`` resamples within pairs,
    so these stay among ``games``'s pairs): (B, 2, k1, k2) predictions at the mean settings (NaN where the
    model predicts nothing) and the standard errors of the fit on ``games`` themselves."""
    X, L, estimable = _design_matrix(log, basis, games, adjust)
    n, p = len(games), X.shape[1]
    if n <= p or np.linalg.matrix_rank(X[games]) < p:
        what = {"cells": "settings covariates are collinear with the design pairs",
                "additive": "the additive model is not identified",
                "pair-effects": "the one-hot settings are collinear with the design pairs (pair effects not "
                                "identified)"}[basis]
        option = "adjust=pair-effects" if basis == "pair-effects" else "adjust=settings"
        raise LogError(f"{log.source}: {what} ({n} games, {p} parameters); drop {option} or add games")
    coef = np.stack([np.linalg.lstsq(X[i], log.utilities[i], rcond=None)[0] for i in idx[:, games]])
    pred = np.einsum("kp,bps->bsk", L, coef)
    pred[:, :, ~estimable] = np.nan
    x, y = X[games], log.utilities[games]
    fit = np.linalg.lstsq(x, y, rcond=None)[0]
    sigma2 = ((y - x @ fit) ** 2).sum(axis=0) / (n - p)
    se = np.sqrt(sigma2[:, None] * np.einsum("kp,pq,kq->k", L, np.linalg.inv(x.T @ x), L)[None, :])
    se[:, ~estimable] = np.nan
    return pred.reshape(len(idx), 2, *log.shape), se.reshape(2, *log.shape)


def _games_in(log: InteractionLog, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Indices of the games played between the given row and column designs."""
    return np.flatnonzero(np.isin(log.row, rows) & np.isin(log.col, cols))


@dataclass(frozen=True, eq=False)
class PayoffEstimate:
    """Per design pair: mean utility of each side (NaN without games), standard error and game count.

    ``pooled[r, c]`` marks pairs with one game, whose standard error uses the pooled within-pair
    standard deviation of that side (a single game has no spread of its own). ``basis`` is
    ``pair-effects`` for GLEE's demeaned pair effects (`pair_effects`) instead of per-pair values.
    """

    log: InteractionLog
    payoffs: np.ndarray
    stderr: np.ndarray
    counts: np.ndarray
    adjust: bool = False
    pooled: np.ndarray = field(default=None, repr=False)
    basis: str = "cells"

    @property
    def observed(self) -> np.ndarray:
        return self.counts > 0

    def values(self, idx: np.ndarray) -> np.ndarray:
        """(B, 2, k1, k2) pair estimates from the games ``idx`` selects (same estimator as the point one)."""
        if not self.adjust:
            return _cell_means(self.log, idx)
        return _ols(self.log, self.basis, np.arange(self.log.n_games), True, idx)[0]

    def to_json(self) -> dict:
        """The estimated table (null for a missing pair), its standard errors and counts."""
        return {"designs": [list(d) for d in self.log.designs], "payoffs": nulls(self.payoffs),
                "payoff_stderr": nulls(self.stderr), "payoff_counts": self.counts.tolist()}


def nulls(x: np.ndarray) -> list:
    """Nested lists with None for NaN (JSON null)."""
    return np.where(np.isnan(x), None, np.asarray(x, object)).tolist()


def estimate(log: InteractionLog, adjust: bool = False) -> PayoffEstimate:
    """Per-pair means with standard errors and counts; ``adjust`` fits utility = pair effect +
    settings . beta by least squares (covariates centred on the log's mean, so a pair's value is its
    expected utility at the average setting) with classical OLS standard errors."""
    if adjust and not log.covariate_names:
        raise LogError(f"{log.source}: adjust=settings needs covariates, and this log has none")
    counts = np.bincount(log.cell, minlength=log.shape[0] * log.shape[1]).reshape(log.shape)
    everything = np.arange(log.n_games)[None]
    if adjust:
        payoffs, stderr = _ols(log, "cells", everything[0], True, everything)
        return PayoffEstimate(log, payoffs[0], stderr, counts, True, np.zeros(log.shape, bool))
    means = _cell_means(log, everything)[0]
    dev = log.utilities - means[:, log.row, log.col].T
    ss = np.stack([np.bincount(log.cell, dev[:, i] ** 2, counts.size) for i in range(2)]).reshape(2, *log.shape)
    df = log.n_games - int((counts > 0).sum())
    pooled_sd = np.sqrt(ss.sum(axis=(1, 2)) / df) if df > 0 else np.full(2, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.where(counts > 1, np.sqrt(ss / np.maximum(counts - 1, 1)), pooled_sd[:, None, None])
        stderr = np.where(counts > 0, sd / np.sqrt(counts), np.nan)
    return PayoffEstimate(log, means, stderr, counts, False, counts == 1)


def pair_effects(log: InteractionLog) -> PayoffEstimate:
    """GLEE's pair-effects table (`envs.pair_effects`): per side, OLS of the utility on one indicator per
    observed design pair plus the one-hot GLEE settings, each pair coefficient minus GLEE's grand mean of
    them, with classical OLS standard errors of that difference; missing pairs stay NaN."""
    if log.kind != "glee":
        raise LogError(f"{log.source}: adjust=pair-effects is GLEE's construction and needs a glee: log "
                       f"(one-hot GLEE settings), not a {log.kind} log")
    counts = np.bincount(log.cell, minlength=log.shape[0] * log.shape[1]).reshape(log.shape)
    everything = np.arange(log.n_games)
    payoffs, stderr = _ols(log, "pair-effects", everything, True, everything[None])
    return PayoffEstimate(log, payoffs[0], stderr, counts, True, np.zeros(log.shape, bool), "pair-effects")


def in_glee_order(log: InteractionLog) -> InteractionLog:
    """The log with each side's designs in the order of GLEE's model list (`envs.pair_effects.glee_order`)."""
    designs = tuple(tuple(glee_order(ds)) for ds in log.designs)
    new = [np.array([d.index(name) for name in old]) for d, old in zip(designs, log.designs)]
    return replace(log, designs=designs, row=new[0][log.row], col=new[1][log.col])


# =========================================================================== complete tables
def largest_complete_subset(observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Row and column index sets whose every pair is observed: the most profiles, preferring games
    where both sides keep two designs, then balanced ones, then the first in design order."""
    observed = np.asarray(observed, bool)
    flip = observed.shape[0] > observed.shape[1]
    m = observed.T if flip else observed
    k, k2 = m.shape
    if k > SUBSET_LIMIT or k2 > 62:
        raise LogError(f"{k} x {k2} designs: too many for the exact complete-subset search; use fill=additive")
    bits = (m * (1 << np.arange(k2))).sum(axis=1)                  # each row's observed columns
    common = np.zeros(1 << k, np.int64)
    common[0] = (1 << k2) - 1
    for b in range(k):
        common[1 << b: 2 << b] = common[: 1 << b] & bits[b]
    popcount = lambda v: np.unpackbits(v[:, None].view(np.uint8), axis=1).sum(axis=1)  # noqa: E731
    n_rows, n_cols = popcount(np.arange(1 << k, dtype=np.int64)), popcount(common)
    size = np.minimum(n_rows, n_cols)
    score = np.lexsort((-np.arange(1 << k), size, n_rows * n_cols, size >= 2))
    best = int(score[-1])
    if n_rows[best] * n_cols[best] == 0:
        raise LogError("no design pair has been observed")
    rows = np.flatnonzero([best >> b & 1 for b in range(k)])
    cols = np.flatnonzero([int(common[best]) >> b & 1 for b in range(k2)])
    return (cols, rows) if flip else (rows, cols)


@dataclass(frozen=True, eq=False)
class Completion:
    """The analysable (complete) game made from an estimate, and how: ``complete`` (nothing missing),
    ``subset`` (largest complete sub-table) or ``additive`` (missing pairs predicted by row + column effects)."""

    estimate: PayoffEstimate
    game: DesignGame
    method: str
    rows: np.ndarray
    cols: np.ndarray
    filled: np.ndarray
    note: str

    def values(self, idx: np.ndarray) -> np.ndarray:
        """(B, 2, k1', k2') analysed-game payoffs from the games ``idx`` selects (the bootstrap's games)."""
        est = self.estimate
        out = est.values(idx)[:, :, self.rows][:, :, :, self.cols]
        if self.filled.any():
            games = _games_in(est.log, self.rows, self.cols)
            pred = _ols(est.log, "additive", games, est.adjust, idx)[0][:, :, self.rows][:, :, :, self.cols]
            out = np.where(self.filled, pred, out)
        return out

    def to_json(self) -> dict:
        return {"method": self.method, "designs": [list(d) for d in self.game.designs],
                "payoffs": self.game.payoffs.tolist(), "payoff_stderr": nulls(self.game.payoff_stderr),
                "filled": self.filled.tolist(), "note": self.note}


def _component(observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows and columns of the largest connected component of the observed-pair bipartite graph."""
    k1, k2 = observed.shape
    graph = csr_matrix(np.block([[np.zeros((k1, k1)), observed], [observed.T, np.zeros((k2, k2))]]))
    _, label = connected_components(graph, directed=False)
    sizes = np.bincount(label, np.r_[observed.sum(axis=1), observed.sum(axis=0)])
    keep = label == int(np.argmax(sizes))
    return np.flatnonzero(keep[:k1] & observed.any(axis=1)), np.flatnonzero(keep[k1:] & observed.any(axis=0))


def complete(est: PayoffEstimate, fill: str = "subset", tags: str | dict = "provider") -> Completion:
    """The analysable game: the whole table when no pair is missing, else the largest complete
    sub-table (``subset``) or an additive model-effects fill (``additive``: u_i(r, c) = mu_i + a_i[r] +
    b_i[c] (+ settings), fitted on the games of the largest connected set of designs). Never a zero."""
    log, obs = est.log, est.observed
    names = lambda rows, cols: ([log.designs[0][r] for r in rows], [log.designs[1][c] for c in cols])  # noqa: E731
    missing = int((~obs).sum())
    if not missing:
        rows, cols, method = np.arange(obs.shape[0]), np.arange(obs.shape[1]), "complete"
        note = f"every one of the {obs.size} design pairs has games"
    elif fill == "subset":
        rows, cols = largest_complete_subset(obs)
        method = "subset"
        hint = ("GLEE's pair effects, demeaned over every observed pair" if est.basis == "pair-effects"
                else "fill=additive fills the table instead")
        note = (f"{missing} of {obs.size} design pairs have no game; the analysis uses the largest complete "
                f"sub-table, {len(rows)} x {len(cols)} designs ({hint})")
    elif fill == "additive" and est.basis == "pair-effects":
        raise LogError(f"{log.source}: {missing} of {obs.size} design pairs have no game, and fill=additive "
                       f"cannot fill a table of pair effects; use fill=subset")
    elif fill == "additive":
        rows, cols = _component(obs)
        method = "additive"
        dropped = (set(log.designs[0]) - set(names(rows, cols)[0])) | (set(log.designs[1]) - set(names(rows, cols)[1]))
        note = (f"{missing} of {obs.size} design pairs have no game; "
                f"{int((~obs[np.ix_(rows, cols)]).sum())} are filled by an additive model (design effects of "
                f"each side fitted by least squares)" + (f"; designs without a link to the rest dropped: "
                                                         f"{', '.join(sorted(dropped))}" if dropped else ""))
    else:
        raise LogError(f"unknown fill {fill!r}; choose subset or additive")
    filled = ~obs[np.ix_(rows, cols)]
    sub = lambda x: x[:, rows][:, :, cols]  # noqa: E731
    payoffs, stderr = sub(est.payoffs), sub(est.stderr)
    if filled.any():
        pred, se = _ols(log, "additive", _games_in(log, rows, cols), est.adjust, np.arange(log.n_games)[None])
        payoffs = np.where(filled, sub(pred[0]), payoffs)
        stderr = np.where(filled, sub(se), stderr)
    row_names, col_names = names(rows, cols)
    what = ("GLEE's pair effects (OLS on one-hot settings and pair indicators, demeaned by the grand mean) "
            if est.basis == "pair-effects" else "")
    game = DesignGame(log.players, (row_names, col_names), payoffs, name=f"{log.kind}:{Path(log.source).name}",
                      description=f"{what}estimated from {log.n_games} {log.kind} games in {log.source}",
                      tags=design_tags((row_names, col_names), tags), payoff_stderr=stderr)
    return Completion(est, game, method, rows, cols, filled, note)


# =========================================================================== tags
def model_tags(name: str) -> tuple[str, ...]:
    """Tags read from a model name: ``provider:<company>`` from its prefix and ``size:<marker>``
    (mini, flash, pro, 405b, ...), e.g. vertex_ai/gemini-1.5-pro -> (provider:google, size:pro)."""
    base = name.rsplit("/", 1)[-1].lower()
    tokens = re.split(r"[-_@]", base)
    family = next((p for p in sorted(PROVIDERS, key=len, reverse=True) if base.startswith(p)), None)
    tags = [f"provider:{PROVIDERS[family]}"] if family else []
    sizes = [t for t in tokens if t in SIZES or re.fullmatch(r"\d+(\.\d+)?[bm]", t)]
    return tuple(tags + [f"size:{sizes[-1]}"] if sizes else tags)


def design_tags(designs: Sequence[Sequence[str]], tags: str | dict = "provider") -> tuple | None:
    """Per player, per design tags: ``provider`` (the default: restrictions by provider), ``all``
    (provider and size), or a dict model name -> list of tags (every design must be in it)."""
    if isinstance(tags, dict):
        return tuple(tuple(tuple(tags[d]) for d in ds) for ds in designs)
    keep = {"provider": ("provider:",), "all": ("provider:", "size:")}[tags]
    return tuple(tuple(tuple(t for t in model_tags(d) if t.startswith(keep)) for d in ds) for ds in designs)


def _read_tags(path: str, designs: Sequence[Sequence[str]]) -> dict:
    """A JSON object model name -> list of tag strings that covers every design of the log."""
    try:
        data = json.loads(read_text(path))
    except ValueError as e:
        raise err(path, None, f"invalid JSON: {e}") from e
    if not isinstance(data, dict) or not all(isinstance(v, list) and all(isinstance(t, str) for t in v)
                                             for v in data.values()):
        raise err(path, None, "expected a JSON object mapping each model name to a list of tags")
    if unknown := sorted({d for ds in designs for d in ds} - set(data)):
        raise err(path, None, f"unknown model name(s) in the log: {', '.join(map(show, unknown))}")
    return data


# =========================================================================== specs
LOG_KINDS = ("glee", "records")
_OPTIONS = {"fill": ("subset", "additive"), "adjust": ("none", "settings", "pair-effects"), "skip_bad": ("0", "1"),
            "tags": None}


@dataclass(frozen=True, eq=False)
class LoadedLog:
    """What a ``glee:`` / ``records:`` spec gives: the log, its estimate and the analysable game."""

    log: InteractionLog
    estimate: PayoffEstimate
    completion: Completion

    @property
    def game(self) -> DesignGame:
        return self.completion.game

    def summary(self) -> dict:
        """The import in numbers, for reports."""
        log, est = self.log, self.estimate
        effects = est.basis == "pair-effects"
        summary = {"source": log.source, "format": log.kind, "games": log.n_games, "failed": len(log.failures),
                   "failures": list(log.failures), "pairs_observed": int(est.observed.sum()),
                   "pairs": int(est.observed.size), "single_game_pairs": int((est.counts == 1).sum()),
                   "adjustment": "pair-effects" if effects else "settings" if est.adjust else "none",
                   "covariates": list(log.covariate_names),
                   "tags": {d: list(model_tags(d)) for d in sorted(set(log.designs[0]) | set(log.designs[1]))}}
        if effects:
            summary["settings"] = {f: levels for f, _, levels in setting_factors(log.covariates, log.covariate_names)}
        return summary


def is_log_spec(spec: str) -> bool:
    return spec.partition(":")[0] in LOG_KINDS


def parse_log_spec(spec: str) -> tuple[str, str, dict[str, str]]:
    """``KIND:PATH[,key=value...]`` -> (kind, path, options); the options are the trailing ``key=value`` items."""
    kind, _, rest = spec.partition(":")
    parts = rest.split(",")
    options: dict[str, str] = {}
    while len(parts) > 1 and re.fullmatch(r"\s*[a-z_]+=.*", parts[-1]):
        key, _, value = parts.pop().partition("=")
        options[key.strip()] = value.strip()
    for key, value in options.items():
        if key not in _OPTIONS:
            raise LogError(f"{spec}: unknown option {key!r}; known: {', '.join(_OPTIONS)}")
        if _OPTIONS[key] and value not in _OPTIONS[key]:
            raise LogError(f"{spec}: {key} must be one of {', '.join(_OPTIONS[key])}, got {value!r}")
    path = ",".join(parts).strip()
    if not path:
        raise LogError(f"{spec}: no path after {kind}:")
    return kind, path, options


def load_log(spec: str) -> LoadedLog:
    """Read, estimate and complete a ``glee:FOLDER`` or ``records:FILE.csv`` spec (see the module docstring).
    Games that cannot be read fail the load (one line naming the first) unless ``skip_bad=1``."""
    kind, path, opt = parse_log_spec(spec)
    log = read_glee(path) if kind == "glee" else read_records(path)
    if log.failures and opt.get("skip_bad") != "1":
        total = log.n_games + len(log.failures)
        raise LogError(f"{path}: {len(log.failures)} of {total} games could not be read (add ,skip_bad=1 to "
                       f"analyse the other {log.n_games}); first: {log.failures[0]}")
    tags = opt.get("tags", "provider")
    if tags not in ("provider", "all"):
        tags = _read_tags(tags, log.designs)
    if opt.get("adjust") == "pair-effects":
        log = in_glee_order(log)
        est = pair_effects(log)
    else:
        est = estimate(log, adjust=opt.get("adjust") == "settings")
    return LoadedLog(log, est, complete(est, opt.get("fill", "subset"), tags))


def bootstrap_payoffs(loaded: LoadedLog, draws: int = 200, seed: int = 0) -> np.ndarray:
    """(draws, 2, k1, k2) analysed-game payoffs, re-estimated from games resampled within each pair."""
    return loaded.completion.values(_resample(loaded.log, draws, seed))


# =========================================================================== command line
def main(argv: Sequence[str] | None = None) -> int:
    """``python -m envs.logs SPEC OUT.json``: write the analysable game file (with payoff_stderr) and,
    beside it, OUT.estimate.json (the full table with nulls, counts and the import summary)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or not is_log_spec(args[0]) or not args[1].lower().endswith(".json"):
        print("usage: python -m envs.logs glee:FOLDER|records:FILE.csv[,options] OUT.json", file=sys.stderr)
        return 2
    out = Path(args[1])
    try:
        if not out.parent.is_dir():
            raise err(out, None, f"directory {str(out.parent)!r} does not exist")
        loaded = load_log(args[0])
        sidecar = {**loaded.estimate.to_json(), "analysed": loaded.completion.to_json(), "log": loaded.summary()}
        atomic_write_text(out.with_suffix(".estimate.json"), json.dumps(sidecar, indent=2) + "\n")
        write_game_json(loaded.game, out)
    except GameError as e:
        print(f"envs.logs: error: {e}", file=sys.stderr)
        return 2
    print(f"{loaded.log.n_games} games, {int(loaded.estimate.observed.sum())} design pairs; "
          f"{loaded.completion.note}; game written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
