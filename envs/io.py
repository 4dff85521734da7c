"""Game files: JSON (any number of players) and CSV matrix pairs (two players), strictly validated.

JSON contract: ``{"name": str, "players": [str, ...], "designs": [[str, ...], ...], "payoffs": nested lists
of shape (n, k_1, ..., k_n)}``, optionally ``"description"`` (str), ``"tags"`` (per player, per design, a
list of str) and ``"payoff_stderr"`` (shaped like payoffs). No other keys. Every problem raises
`GameFileError` with a one-line message ``FILE: PLACE: what is wrong``.

Bayesian (state) game files (`envs.bayes.BayesGame`): ``{"name", "players", "designs", "states": [str, ...],
"prior": [float, ...], "payoffs": nested lists of shape (n_states, n, k_1, ..., k_n)}``, optionally
``"description"`` and ``"objective"`` (the mediator's own v, shape (n_states, k_1, ..., k_n)); the prior is
nonnegative and sums to 1. A file is Bayesian when it has ``states``.
"""
from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from envs.bayes import BayesGame
from envs.game import DesignGame, GameError
from envs.limits import TooLarge, check_json_text, check_payoffs

PathLike = str | os.PathLike

_UMASK = os.umask(0o022)  # the umask can only be read by setting it: restore it at once
os.umask(_UMASK)
_FILE_MODE = 0o666 & ~_UMASK  # what open() would give a new file; mkstemp's 0o600 is too tight

_REQUIRED = {"name": str, "players": list, "designs": list, "payoffs": list}
_KEYS = {**_REQUIRED, "description": str, "tags": list, "payoff_stderr": list}
_KIND = {str: "a string", list: "a list"}
_BAYES_REQUIRED = {"name": str, "players": list, "designs": list, "states": list, "prior": list, "payoffs": list}
_BAYES_KEYS = {**_BAYES_REQUIRED, "description": str, "objective": list}
#: A prior sums to 1 within this (JSON decimals such as 0.1 + 0.2 + 0.7 are off by ~1e-16).
PRIOR_TOL = 1e-9


class GameFileError(GameError):
    """A game file that cannot be read, written or parsed; the message names the file and the place."""


def err(where: object, place: str | None, detail: str) -> GameFileError:
    """A GameFileError reading ``where: place: detail``, forced onto one line."""
    msg = ": ".join(str(p) for p in (where, place, detail) if p)
    return GameFileError(msg.replace("\r", "\\r").replace("\n", "\\n"))


def show(value: Any, limit: int = 60) -> str:
    """A value as compact one-line JSON, shortened for messages."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _reason(e: Exception) -> str:
    """The OS's short reason for an OSError (without the repeated path), else str(e)."""
    return e.strerror if isinstance(e, OSError) and e.strerror else str(e)


def read_text(path: PathLike) -> str:
    """The file's UTF-8 text (a leading BOM dropped, newlines untouched)."""
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise err(path, None, f"cannot read: {_reason(e)}") from e


def atomic_write_json(path: PathLike, obj) -> Path:
    """Write ``obj`` as indented JSON atomically; NaN or infinity anywhere is an error (not valid JSON)."""
    return atomic_write_text(path, json.dumps(obj, indent=2, allow_nan=False) + "\n")


def atomic_write_text(path: PathLike, text: str) -> Path:
    """Write ``text`` as UTF-8 to ``path`` atomically: temp file in the same directory, fsync, os.replace."""
    path = Path(path)
    f = tempfile.NamedTemporaryFile("w", encoding="utf-8", newline="", dir=path.parent,
                                    prefix=f".{path.name}.", suffix=".tmp", delete=False)
    try:
        with f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(f.name, _FILE_MODE)
        os.replace(f.name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(f.name)
        raise
    return path


def atomic_write_with(path: PathLike, write: Callable[[Path], object]) -> Path:
    """Atomically create ``path`` with a writer that takes a file name (``fig.savefig``, ``model.save``):
    it writes a hidden temporary file with the same suffix in the same directory, which is then renamed."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _write(path: PathLike, make_text: Callable[[], str]) -> Path:
    """Atomically write ``make_text()`` to ``path``; any failure becomes a GameFileError."""
    try:
        return atomic_write_text(path, make_text())
    except (OSError, TypeError, ValueError) as e:
        raise err(path, None, f"cannot write: {_reason(e)}") from e


# ----------------------------------------------------------------------------- validation
def _check_names(path: PathLike, items: Iterable[tuple[str, Any]]) -> list[str]:
    """Names given as (place, value) pairs: each a nonempty string, all distinct."""
    seen: dict[str, str] = {}
    for place, name in items:
        if not isinstance(name, str):
            raise err(path, place, f"expected a name (string), got {show(name)}")
        if not name.strip():
            raise err(path, place, f"empty name {show(name)}")
        if name in seen:
            raise err(path, place, f"duplicate name {show(name)} (also at {seen[name]})")
        seen[name] = place
    return list(seen)


def _check_list(path: PathLike, place: str, value: Any, length: int) -> None:
    """``value`` must be a list of exactly ``length`` entries."""
    if not isinstance(value, list):
        raise err(path, place, f"expected a list of {length} entries, got {show(value)}")
    if len(value) != length:
        raise err(path, place, f"expected {length} entries, got {len(value)}")


def _check_number(path: PathLike, place: str, value: Any) -> None:
    """``value`` must be a finite JSON number (not a bool, string or null)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise err(path, place, f"{show(value)} is not a number")
    try:
        finite = math.isfinite(value)
    except OverflowError:  # an integer too large for a float
        finite = False
    if not finite:
        raise err(path, place, f"{show(value)} is not finite")


def _tensor(path: PathLike, key: str, value: Any, shape: tuple[int, ...], nonnegative: bool = False) -> np.ndarray:
    """Walk nested lists that must have exactly ``shape`` and hold finite numbers; name the first bad place."""
    def walk(v: Any, place: str, dims: tuple[int, ...]) -> None:
        if not dims:
            _check_number(path, place, v)
            if nonnegative and v < 0:
                raise err(path, place, f"{show(v)} is negative")
            return
        _check_list(path, place, v, dims[0])
        for j, x in enumerate(v):
            walk(x, f"{place}[{j}]", dims[1:])

    walk(value, key, shape)
    return np.array(value, dtype=np.float64)


def _tags(path: PathLike, value: Any, shape: tuple[int, ...]) -> list:
    """Tags: per player, per design, a list of strings."""
    _check_list(path, "tags", value, len(shape))
    for i, k in enumerate(shape):
        _check_list(path, f"tags[{i}]", value[i], k)
        for j, ts in enumerate(value[i]):
            if not isinstance(ts, list):
                raise err(path, f"tags[{i}][{j}]", f"expected a list of strings, got {show(ts)}")
            for t, tag in enumerate(ts):
                if not isinstance(tag, str):
                    raise err(path, f"tags[{i}][{j}][{t}]", f"expected a string, got {show(tag)}")
    return value


# ----------------------------------------------------------------------------- JSON
def _json_object(path: PathLike) -> dict:
    """The file's top-level JSON object (its size checked first: parsed lists take several times the text)."""
    with contextlib.suppress(OSError):            # an unreadable file is read_text's one-line error
        check_json_text(path, os.path.getsize(path))
    text = read_text(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise err(path, f"line {e.lineno}, column {e.colno}", f"invalid JSON: {e.msg}") from e
    except (ValueError, RecursionError) as e:  # e.g. an integer with too many digits, absurd nesting
        raise err(path, None, f"invalid JSON: {e}") from e
    if not isinstance(data, dict):
        raise err(path, "top level", f"expected a JSON object, got {show(data)}")
    return data


def _check_keys(path: PathLike, data: dict, required: dict[str, type], allowed: dict[str, type]) -> None:
    """No unknown key, every required one, each of its JSON type."""
    if unknown := [k for k in data if k not in allowed]:
        raise err(path, None, f"unknown key(s) {', '.join(map(show, unknown))}; allowed: {', '.join(allowed)}")
    if missing := [k for k in required if k not in data]:
        raise err(path, None, f"missing key(s) {', '.join(map(show, missing))}")
    for key, typ in allowed.items():
        if key in data and not isinstance(data[key], typ):
            raise err(path, key, f"expected {_KIND[typ]}, got {show(data[key])}")


def _players_designs(path: PathLike, data: dict) -> tuple[list[str], list, tuple[int, ...]]:
    """Player names (at least 2), one nonempty list of distinct design names each, and the shape."""
    players = _check_names(path, ((f"players[{i}]", p) for i, p in enumerate(data["players"])))
    if len(players) < 2:
        raise err(path, "players", f"a game needs at least 2 players, got {len(players)}")
    designs = data["designs"]
    if len(designs) != len(players):
        raise err(path, "designs", f"{len(players)} players but {len(designs)} design lists")
    for i, ds in enumerate(designs):
        if not isinstance(ds, list):
            raise err(path, f"designs[{i}]", f"expected a list of names, got {show(ds)}")
        if not ds:
            raise err(path, f"designs[{i}]", f"player {show(players[i])} has no design")
        _check_names(path, ((f"designs[{i}][{j}]", d) for j, d in enumerate(ds)))
    return players, designs, tuple(len(ds) for ds in designs)


def _check_size(path: PathLike, shape: tuple[int, ...], states: int = 1) -> None:
    """The declared shape's payoff tensors (one per state) fit in memory, checked before they are built."""
    try:
        check_payoffs(shape, copies=3 * states)
    except TooLarge as e:
        raise TooLarge(f"{path}: designs: {e}") from None


def read_game_json(path: PathLike) -> DesignGame:
    """Read and strictly validate a JSON game file (the contract is in the module docstring)."""
    return _design_game(path, _json_object(path))


def _design_game(path: PathLike, data: dict) -> DesignGame:
    """A game file's parsed object as a validated DesignGame."""
    if "states" in data:
        raise err(path, "states", "a game with states (a Bayesian game file): only evaluate.py analyses those")
    _check_keys(path, data, _REQUIRED, _KEYS)
    players, designs, shape = _players_designs(path, data)
    _check_size(path, shape)
    payoffs = _tensor(path, "payoffs", data["payoffs"], (len(players), *shape))
    tags = _tags(path, data["tags"], shape) if "tags" in data else None
    stderr = data.get("payoff_stderr")
    if stderr is not None:
        stderr = _tensor(path, "payoff_stderr", stderr, payoffs.shape, nonnegative=True)
    try:
        return DesignGame(players=players, designs=designs, payoffs=payoffs, name=data["name"],
                          description=data.get("description", ""), tags=tags, payoff_stderr=stderr)
    except GameError as e:
        raise err(path, None, str(e)) from e


def write_game_json(game: DesignGame | BayesGame, path: PathLike) -> Path:
    """Atomically write ``game`` as a JSON game file, Bayesian or not (indent 2, trailing newline); return the path."""
    return _write(path, lambda: json.dumps(game.to_dict(), indent=2, allow_nan=False) + "\n")


def read_bayes_json(path: PathLike) -> BayesGame:
    """Read and strictly validate a Bayesian game file (the contract is in the module docstring)."""
    return _bayes_game(path, _json_object(path))


def read_any_json(path: PathLike) -> DesignGame | BayesGame:
    """A JSON game file of either kind: Bayesian when it has ``states``."""
    data = _json_object(path)
    return _bayes_game(path, data) if "states" in data else _design_game(path, data)


def _bayes_game(path: PathLike, data: dict) -> BayesGame:
    """A Bayesian game file's parsed object as a validated BayesGame."""
    _check_keys(path, data, _BAYES_REQUIRED, _BAYES_KEYS)
    players, designs, shape = _players_designs(path, data)
    states = _check_names(path, ((f"states[{s}]", x) for s, x in enumerate(data["states"])))
    if not states:
        raise err(path, "states", "a Bayesian game needs at least one state")
    prior = _tensor(path, "prior", data["prior"], (len(states),), nonnegative=True)
    if abs(prior.sum() - 1.0) > PRIOR_TOL:
        raise err(path, "prior", f"must sum to 1, sums to {prior.sum():.12g}")
    _check_size(path, shape, len(states))
    payoffs = _tensor(path, "payoffs", data["payoffs"], (len(states), len(players), *shape))
    objective = data.get("objective")
    if objective is not None:
        objective = _tensor(path, "objective", objective, (len(states), *shape))
    try:
        return BayesGame(prior, payoffs, objective, players=players, designs=designs, states=states,
                         name=data["name"], description=data.get("description", ""))
    except GameError as e:
        raise err(path, None, str(e)) from e


# ----------------------------------------------------------------------------- CSV pair
def _read_matrix(path: PathLike) -> tuple[list[str], list[str], np.ndarray]:
    """One CSV payoff matrix: (row design names, column design names, values)."""
    reader = csv.reader(io.StringIO(read_text(path), newline=""))
    try:
        rows = [(r, row) for r, row in enumerate(reader, 1) if row]  # blank lines are skipped
    except csv.Error as e:
        raise err(path, f"line {reader.line_num}", f"invalid CSV: {e}") from e
    if not rows:
        raise err(path, None, "file is empty")
    (h, header), data = rows[0], rows[1:]
    cols = _check_names(path, ((f"row {h}, column {c}", s) for c, s in enumerate(header[1:], 2)))
    if not cols:
        raise err(path, f"row {h}", "the header names no column designs")
    if not data:
        raise err(path, None, "no data rows below the header")
    for r, row in data:
        if len(row) != len(header):
            raise err(path, f"row {r}", f"expected {len(header)} values, got {len(row)}")
    names = _check_names(path, ((f"row {r}, column 1", row[0]) for r, row in data))
    return names, cols, np.array([[cell(path, f"row {r}, column {show(c)}", s)
                                   for c, s in zip(cols, row[1:])] for r, row in data])


def cell(path: PathLike, place: str, text: str) -> float:
    """A CSV cell as a finite float."""
    try:
        x = float(text)
    except ValueError:
        raise err(path, place, f"{show(text)} is not a number") from None
    if not math.isfinite(x):
        raise err(path, place, f"{show(text)} is not finite")
    return x


def _two_players_only(where: str, n: int) -> GameFileError:
    return err(where, None, f"the CSV pair format holds two-player games only, got {n} players")


def read_game_csv(path1: PathLike, path2: PathLike, name: str | None = None,
                  players: Sequence[str] | None = None) -> DesignGame:
    """Read a two-player game from one CSV matrix per player (rows: player 1's designs, columns: player 2's).

    Players default to ("P1", "P2") and the name to the first file's stem; corner cells are ignored.
    """
    pair = f"{path1}, {path2}"
    if players is not None and len(players) != 2:
        raise _two_players_only(pair, len(players))
    (rows1, cols1, u1), (rows2, cols2, u2) = _read_matrix(path1), _read_matrix(path2)
    for axis, a, b in (("row", rows1, rows2), ("column", cols1, cols2)):
        if a != b:
            raise err(path1, None, f"{axis} design names {show(a, 200)} differ from those of {path2}: "
                                   f"{show(b, 200)}")
    try:
        return DesignGame(players=("P1", "P2") if players is None else players, designs=(rows1, cols1),
                          payoffs=np.stack([u1, u2]), name=Path(path1).stem if name is None else name)
    except GameError as e:
        raise err(pair, None, str(e)) from e


def write_game_csv(game: DesignGame, path1: PathLike, path2: PathLike) -> tuple[Path, Path]:
    """Atomically write a two-player game as one CSV matrix per player (each file atomic, not the pair)."""
    if game.n_players != 2:
        raise _two_players_only(f"{path1}, {path2}", game.n_players)

    def matrix(i: int) -> str:
        buf = io.StringIO()
        writer = csv.writer(buf)  # "\r\n" rows, so names holding "\r" or "\n" get quoted
        writer.writerow([game.players[0], *game.designs[1]])
        writer.writerows([d, *row] for d, row in zip(game.designs[0], game.payoffs[i].tolist()))
        return buf.getvalue()

    return _write(path1, lambda: matrix(0)), _write(path2, lambda: matrix(1))


# ----------------------------------------------------------------------------- dispatch
def read_game(source: PathLike | Sequence[PathLike]) -> DesignGame:
    """Read ``X.json``, or a CSV pair given as ``"A.csv,B.csv"`` or as a 2-tuple of paths."""
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        if text.lower().endswith(".json"):
            return read_game_json(source)
        parts = [p.strip() for p in text.split(",")]
    else:
        parts = list(source)
    if len(parts) == 2 and all(os.fspath(p).lower().endswith(".csv") for p in parts):
        return read_game_csv(*parts)
    raise err(source, None, "unsupported game file; give X.json, or a CSV pair as A.csv,B.csv "
                            "or a tuple of two .csv paths")


def write_game(game: DesignGame, path: PathLike) -> Path:
    """Write ``game`` to ``X.json``; other formats need their own writer (e.g. write_game_csv)."""
    if not os.fspath(path).lower().endswith(".json"):
        raise err(path, None, "write_game writes JSON (.json) only; "
                              "for a CSV pair use write_game_csv(game, path1, path2)")
    return write_game_json(game, path)
