"""Equilibrium analysis of a DesignGame: pure / mixed Nash, correlated and coarse correlated equilibria.

Every solver re-checks its answer against the defining inequalities before returning it and raises
`CertificateError` when a check fails, so a returned equilibrium is always a certified one.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from envs.game import DesignGame
from envs.limits import check_logit, check_lp, logit_fits, lp_size

#: Relative tolerance of every certificate check (times the game's payoff scale).
TOL = 1e-6


class CertificateError(RuntimeError):
    """A solver's answer violates the constraints that define it."""


@dataclass(frozen=True, eq=False)
class NashEquilibrium:
    """A (possibly mixed) Nash equilibrium: one probability vector per player."""

    strategies: tuple[np.ndarray, ...]
    payoffs: np.ndarray
    welfare: float

    @property
    def mixed(self) -> bool:
        return any(np.count_nonzero(s > 0) > 1 for s in self.strategies)

    @property
    def profile(self) -> tuple[int, ...]:
        """Design indices of a pure equilibrium."""
        if self.mixed:
            raise ValueError("a mixed equilibrium has no single profile")
        return tuple(int(np.argmax(s)) for s in self.strategies)

    def distribution(self) -> np.ndarray:
        """The product distribution over profiles that this equilibrium induces."""
        out = np.ones(())
        for s in self.strategies:
            out = np.multiply.outer(out, s)
        return out


@dataclass(frozen=True, eq=False)
class CorrelatedOutcome:
    """A joint distribution over profiles (CE or CCE) with its expected payoffs and welfare."""

    distribution: np.ndarray   # shape (k_1, ..., k_n)
    payoffs: np.ndarray        # expected u_i
    welfare: float             # expected objective value

    def support(self, tol: float = 1e-9) -> list[tuple[tuple[int, ...], float]]:
        """Profiles with positive probability, most likely first."""
        idx = np.argwhere(self.distribution > tol)
        probs = self.distribution[tuple(idx.T)]
        order = np.argsort(-probs, kind="stable")
        return [(tuple(int(x) for x in idx[j]), float(probs[j])) for j in order]


def tolerance(game: DesignGame) -> float:
    """The absolute tolerance of every check on ``game``: TOL times max(1, payoff scale)."""
    return TOL * max(1.0, game.scale)


def unit_vector(k: int, j: int) -> np.ndarray:
    e = np.zeros(k)
    e[j] = 1.0
    return e


# --------------------------------------------------------------------------- Nash equilibria
def allowed_profiles(shape: tuple[int, ...], masks: Sequence[np.ndarray] | None) -> np.ndarray:
    """Boolean tensor of the profiles a restriction allows."""
    out = np.ones(shape, bool)
    for i, m in enumerate(masks or ()):
        out &= np.asarray(m, bool).reshape([-1 if j == i else 1 for j in range(len(shape))])
    return out


def pure_equilibria(u: np.ndarray, masks: Sequence[np.ndarray] | None = None, tol: float = 0.0) -> np.ndarray:
    """(B, k_1, ..., k_n) bool: the pure Nash equilibria of every game ``u[b]`` restricted to ``masks``."""
    allowed = allowed_profiles(u.shape[2:], masks)
    stable = np.broadcast_to(allowed, (u.shape[0], *allowed.shape)).copy()
    for i in range(u.shape[1]):
        ui = np.where(allowed, u[:, i], -np.inf)
        stable &= ui >= ui.max(axis=1 + i, keepdims=True) - tol
    return stable


def pure_nash(game: DesignGame) -> list[tuple[int, ...]]:
    """All pure Nash equilibria: profiles where no player gains more than the tolerance by deviating."""
    stable = pure_equilibria(game.payoffs[None], tol=tolerance(game))[0]
    return [tuple(int(x) for x in a) for a in np.argwhere(stable)]


def nash_regrets(game: DesignGame, strategies: Sequence[np.ndarray]) -> np.ndarray:
    """Per-player regret max_d u_i(d, sigma_-i) - u_i(sigma) of a mixed profile."""
    dev = game.deviation_payoffs(strategies)
    return np.array([d.max() - d @ s for d, s in zip(dev, strategies)])


def check_nash(game: DesignGame, strategies: Sequence[np.ndarray]) -> None:
    """Raise CertificateError unless ``strategies`` is a Nash equilibrium of ``game``."""
    tol = tolerance(game)
    for i, (s, k) in enumerate(zip(strategies, game.shape)):
        if s.shape != (k,) or not np.isfinite(s).all() or (s < -tol).any() or abs(s.sum() - 1) > 1e-6:
            raise CertificateError(f"player {game.players[i]}'s strategy is not a distribution over {k} designs")
    regrets = nash_regrets(game, strategies)
    if (regrets > tol).any():
        i = int(np.argmax(regrets))
        raise CertificateError(f"not a Nash equilibrium: {game.players[i]} gains {regrets[i]:.3g} by deviating")


def _certified(game: DesignGame, strategies: Sequence[np.ndarray], objective: str) -> NashEquilibrium:
    strategies = tuple(clean_distribution(np.asarray(s, float)) for s in strategies)
    check_nash(game, strategies)
    payoffs = game.expected_payoffs(strategies)
    eq = NashEquilibrium(strategies, payoffs, 0.0)
    return NashEquilibrium(strategies, payoffs, game.expected_welfare(eq.distribution(), objective))


def clean_distribution(p: np.ndarray, tol: float = 1e-10) -> np.ndarray:
    """Zero out solver round-off below ``tol`` and renormalise."""
    p = np.where(p > tol, p, 0.0)
    return p / p.sum()


def _logit_equilibrium(game: DesignGame) -> list[list[np.ndarray]]:
    """The equilibrium Gambit's logit quantal-response path leads to (any n; robust on degenerate
    games, where Gambit's global Newton method can stall)."""
    import pygambit as gbt  # imported lazily: only mixed-equilibrium analysis needs it

    g = gbt.Game.from_arrays(*game.payoffs)
    result = gbt.nash.logit_solve(g, use_strategic=True, maxregret=1e-10)
    return [[np.array([float(eq[s]) for s in player.strategies]) for player in g.players]
            for eq in result.equilibria]


#: Above this many profiles a two-player game gets one mixed equilibrium instead of all of them
#: (`mediator.vertex` takes ~20 ms at 10x10, 0.3-0.7 s at random 13x13 and about a second at 14x14 here).
ALL_MIXED_MAX_PROFILES = 196

MixedMode = Literal["auto", "all", "one", "none"]


def resolve_mixed(game: DesignGame, mixed: MixedMode) -> Literal["all", "one", "none"]:
    """``auto``: every extreme equilibrium for two-player games up to ALL_MIXED_MAX_PROFILES profiles, else
    one mixed equilibrium; for n > 2 players the pure ones and the logit path's, unless its size guard
    refuses it (`envs.limits.check_logit`): then ``one`` (the logit path only where no pure one exists)."""
    if mixed != "auto":
        return mixed
    if game.n_players == 2:
        return "all" if game.n_profiles <= ALL_MIXED_MAX_PROFILES else "one"
    return "all" if logit_fits(game.shape) else "one"


def nash_equilibria(game: DesignGame, mixed: MixedMode = "auto",
                    objective: str = "utilitarian") -> list[NashEquilibrium]:
    """Certified Nash equilibria, pure ones first, each group sorted by welfare (best first).

    ``mixed="all"``: for two players, every extreme equilibrium (`mediator.vertex`, exact on
    degenerate games, where the equilibria form convex sets and these are their vertices); for
    n > 2 players, the pure equilibria plus the one the logit path selects.
    ``"one"``: pure equilibria, or one equilibrium from the logit path if there is no pure one.
    ``"none"``: pure equilibria only. ``"auto"``: see `resolve_mixed`.
    """
    mixed = resolve_mixed(game, mixed)
    found = [[unit_vector(k, j) for k, j in zip(game.shape, a)] for a in pure_nash(game)]
    core, chooses = _choosers(game)
    if core is None:                                     # nobody has a choice: the one profile is the equilibrium
        pass
    elif mixed == "all" and core.n_players == 2:
        from mediator.vertex import extreme_equilibria  # lazily: mediator.vertex builds on this module
        found += [_with_fixed(game, chooses, s) for s in extreme_equilibria(core)]
    elif mixed == "all" or (mixed == "one" and not found):
        check_logit(core.shape)
        found += [_with_fixed(game, chooses, s) for s in _logit_equilibrium(core)]
    eqs = _dedupe([_certified(game, s, objective) for s in found])
    return sorted(eqs, key=lambda e: (e.mixed, -e.welfare))


def _choosers(game: DesignGame) -> tuple[DesignGame | None, list[int]]:
    """The game among the players with more than one design (the others' single designs fixed) and their
    indices; the game itself when everyone chooses, None when nobody does. Mixed equilibria are those of
    this game (Gambit's logit path, given a 4-player game in which two players have one design, ended off
    equilibrium; its 2-player core goes to the exact vertex enumeration)."""
    chooses = [i for i, k in enumerate(game.shape) if k > 1]
    if len(chooses) == game.n_players:
        return game, chooses
    if len(chooses) < 2:
        return None, chooses
    index = tuple(slice(None) if k > 1 else 0 for k in game.shape)
    payoffs = game.payoffs[chooses][(slice(None),) + index]
    return DesignGame(tuple(game.players[i] for i in chooses), tuple(game.designs[i] for i in chooses), payoffs,
                      name=game.name), chooses


def _with_fixed(game: DesignGame, chooses: list[int], strategies: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The core game's ``strategies`` with the single design of every other player put back."""
    out = [np.ones(1) for _ in game.shape]
    for i, s in zip(chooses, strategies):
        out[i] = np.asarray(s, dtype=float)
    return out


def _dedupe(eqs: list[NashEquilibrium], decimals: int = 7) -> list[NashEquilibrium]:
    seen, out = set(), []
    for e in eqs:
        key = tuple(np.round(np.concatenate(e.strategies), decimals).tolist())
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


# --------------------------------------------------------------------------- correlated equilibria
def _profile_columns(game: DesignGame, i: int) -> np.ndarray:
    """Flat profile index of (d, a_-i), arranged as an array of shape (k_i, K_-i)."""
    flat = np.arange(game.n_profiles, dtype=index_dtype(game.n_profiles)).reshape(game.shape)
    return np.moveaxis(flat, i, 0).reshape(game.shape[i], -1)


def index_dtype(n: int) -> type:
    """The integer type of sparse indices up to ``n``: int32 while it fits (half the memory), else int64."""
    return np.int32 if n < 2**31 else np.int64


def obedience_matrix(game: DesignGame) -> sp.csr_matrix:
    """CE constraints as a sparse matrix G with G p >= 0 (p flattened over profiles).

    Row (i, d, d') holds sum_{a_-i} p(d, a_-i) [u_i(d, a_-i) - u_i(d', a_-i)]: player i, told d,
    does not gain by playing d' instead. Built straight into CSR arrays, one (d, all d') block at a
    time, so the peak is the matrix itself (``envs.limits.lp_size`` counts it before it is built).
    """
    rows, cols, nnz = lp_size(game.shape, "ce")
    data = np.empty(nnz)
    indices = np.empty(nnz, index_dtype(max(nnz, cols)))
    at = 0
    for i, k in enumerate(game.shape):
        u = np.moveaxis(game.payoffs[i], i, 0).reshape(k, -1)            # (k_i, K_-i)
        columns = _profile_columns(game, i)
        for d in range(k):                                                # rows (i, d, d'), d' != d ascending
            block = slice(at, at + (k - 1) * u.shape[1])
            out = data[block].reshape(k - 1, u.shape[1])
            np.subtract(u[d], u[:d], out=out[:d])                         # views: no (k - 1, K_-i) copy
            np.subtract(u[d], u[d + 1:], out=out[d:])
            indices[block].reshape(k - 1, u.shape[1])[:] = columns[d]
            at = block.stop
    lengths = np.concatenate([np.full(k * (k - 1), game.n_profiles // k) for k in game.shape])
    indptr = np.r_[0, np.cumsum(lengths)].astype(indices.dtype)
    return sp.csr_matrix((data, indices, indptr), shape=(rows, cols))


def coarse_matrix(game: DesignGame) -> sp.csr_matrix:
    """CCE constraints as a sparse matrix H with H p >= 0.

    Row (i, d') holds sum_a p(a) [u_i(a) - u_i(d', a_-i)]: committing to the device beats
    committing to d' in advance. It is the sum of the CE rows (i, d, d') over d, whose columns
    (d, a_-i) are disjoint, so every entry is one CE entry, not a sum.
    """
    deviation = np.concatenate([o + np.nonzero(~np.eye(k, dtype=bool))[1]
                                for o, k in zip(np.r_[0, np.cumsum(game.shape)[:-1]], game.shape)])
    summed = sp.csr_matrix((np.ones(len(deviation)), (deviation, np.arange(len(deviation)))),
                         shape=(sum(game.shape), len(deviation)))          # (i, d') <- every (i, d, d')
    return (summed @ obedience_matrix(game)).tocsr()


def equilibrium_constraints(game: DesignGame, kind: Literal["ce", "cce"]):
    return obedience_matrix(game) if kind == "ce" else coarse_matrix(game)


def check_correlated(game: DesignGame, distribution: np.ndarray, kind: Literal["ce", "cce"] = "ce") -> None:
    """Raise CertificateError unless ``distribution`` is a CE (or CCE) of ``game``."""
    p = np.asarray(distribution, float)
    if p.shape != game.shape or (p < -1e-9).any() or abs(p.sum() - 1) > 1e-6:
        raise CertificateError("not a probability distribution over profiles")
    slack = equilibrium_constraints(game, kind) @ p.ravel()
    if slack.min(initial=0.0) < -tolerance(game):
        raise CertificateError(f"{kind.upper()} constraint violated by {-slack.min():.3g}")


def correlated_equilibrium(game: DesignGame, kind: Literal["ce", "cce"] = "ce",
                           sense: Literal["max", "min"] = "max",
                           objective: str = "utilitarian") -> CorrelatedOutcome:
    """The welfare-maximising (or -minimising) CE / CCE, by linear programming (HiGHS).

    Objective must be linear in p: ``utilitarian`` or any objective evaluated per profile
    (expected egalitarian / Nash / fairness welfare of the profile, not of expected payoffs).
    """
    check_lp(game.shape, kind)
    w = game.welfare(objective).ravel()
    g = equilibrium_constraints(game, kind)
    res = linprog(-w if sense == "max" else w, A_ub=-g, b_ub=np.zeros(g.shape[0]),
                  A_eq=np.ones((1, game.n_profiles)), b_eq=[1.0], bounds=(0, None), method="highs")
    if res.status != 0:
        raise CertificateError(f"{kind.upper()} LP failed: {res.message}")
    p = clean_distribution(res.x).reshape(game.shape)
    check_correlated(game, p, kind)
    payoffs = (game.payoffs * p).reshape(game.n_players, -1).sum(axis=1)
    return CorrelatedOutcome(p, payoffs, game.expected_welfare(p, objective))


# --------------------------------------------------------------------------- welfare benchmarks
def welfare_optimum(game: DesignGame, objective: str = "utilitarian") -> tuple[tuple[int, ...], float]:
    """The profile maximising welfare (first in index order on ties) and its welfare."""
    w = game.welfare(objective)
    a = np.unravel_index(int(np.argmax(w)), w.shape)
    return tuple(int(x) for x in a), float(w[a])


def pareto_improvements(game: DesignGame, payoffs: np.ndarray, strict: bool = True) -> list[tuple[int, ...]]:
    """Profiles that Pareto-dominate the payoff vector ``payoffs``.

    ``strict``: every player strictly better (as the paper's Example 1 reads it); otherwise the
    usual weak dominance (nobody worse, somebody better).
    """
    diff = game.payoffs - np.asarray(payoffs, float).reshape(-1, *([1] * game.n_players))
    tol = tolerance(game)
    better = (diff > tol).all(axis=0) if strict else (diff >= -tol).all(axis=0) & (diff > tol).any(axis=0)
    return [tuple(int(x) for x in a) for a in np.argwhere(better)]


def ratio(num: float, den: float) -> float | None:
    """num / den for welfare ratios; None where the ratio is undefined (den <= 0 or num < 0)."""
    if den <= 0 or num < 0:
        return None
    return num / den
