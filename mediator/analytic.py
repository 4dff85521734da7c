"""The paper's analytic mediators (Section 3, Section 4, Appendix B), each with a certificate.

Every mediator returns a `MediatorResult`: the `Intervention` to apply, its static outcome
(equilibrium or recommended distribution, payoffs, gross welfare, expected transfers, net welfare),
family-specific details and a sentence a person can read. Every result is re-checked against the
incentive constraints that make it work; a violated check raises `CertificateError`.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Iterable, Literal, Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from envs.game import DesignGame, default_margin, implementation_costs, welfare_of
from envs.intervention import Intervention
from mediator.equilibria import (
    CertificateError, CorrelatedOutcome, NashEquilibrium, _clean_distribution, _tol, check_correlated, check_nash,
    correlated_equilibrium, nash_equilibria, obedience_matrix, pure_nash,
)

Masks = tuple[np.ndarray, ...]


@dataclass(frozen=True, eq=False)
class MediatorResult:
    """What a mediator does (``intervention``), what it achieves (``outcome``) and why (``explanation``)."""

    name: str
    intervention: Intervention
    payoffs: np.ndarray          # expected stakeholder payoffs, transfers excluded
    welfare: float               # gross welfare under the objective
    transfers: float             # expected transfers actually paid
    net: float                   # welfare - lambda * transfers
    explanation: str
    details: dict = field(default_factory=dict)
    objective: str = "utilitarian"

    @property
    def objective_value(self) -> float:
        """The chosen objective of the expected payoff vector (ex ante, as Remark 2 states it)."""
        return float(welfare_of(np.asarray(self.payoffs, float), self.objective))

    def to_json(self, game: DesignGame) -> dict:
        static = {"payoffs": np.asarray(self.payoffs, float).tolist(), "welfare": self.welfare,
                  "transfers": self.transfers, "net": self.net,
                  "objective": {"name": self.objective, "value": self.objective_value}, **self.details,
                  "intervention": self.intervention.to_json(game), "explanation": self.explanation}
        return {"welfare": self.welfare, "transfers": self.transfers, "net": self.net,
                "payoffs": static["payoffs"], "explanation": self.explanation, "static": static}


def _change(new: float, base: float) -> str:
    """'+8.6%' relative to a positive baseline, else the absolute change."""
    if base > 0:
        return f"{100 * (new - base) / base:+.1f}%"
    return f"{new - base:+.4g}"


def _profiles(game: DesignGame, profiles: Iterable[tuple[int, ...]]) -> str:
    return ", ".join(game.profile_label(a) for a in profiles)


# =========================================================================== restriction
@dataclass(frozen=True, eq=False)
class RestrictedOutcome:
    """Equilibria of the game restricted to ``masks``, in full-game design indices."""

    masks: Masks
    equilibria: list[NashEquilibrium]     # strategies over the full design sets
    worst: float                          # welfare the restriction is judged by
    concept: str                          # "pure Nash", "mixed Nash" or "correlated (worst CE)"

    @property
    def kept(self) -> int:
        return int(sum(m.sum() for m in self.masks))


def _embed(strategies: Sequence[np.ndarray], masks: Masks) -> tuple[np.ndarray, ...]:
    out = []
    for s, m in zip(strategies, masks):
        full = np.zeros(m.shape)
        full[m] = s
        out.append(full)
    return tuple(out)


def restricted_outcome(game: DesignGame, masks: Masks, objective: str = "utilitarian") -> RestrictedOutcome:
    """Judge a restriction by its worst equilibrium: for two players every extreme equilibrium,
    pure or mixed (as the `none` mediator is judged); for n > 2 the pure equilibria where they
    exist, otherwise the worst correlated equilibrium (a certified lower bound on the worst Nash)."""
    sub = game.restrict(masks)
    if game.n_players == 2:
        eqs = [NashEquilibrium(_embed(e.strategies, masks), e.payoffs, e.welfare)
               for e in nash_equilibria(sub, objective=objective)]
        return RestrictedOutcome(masks, eqs, min(e.welfare for e in eqs), "Nash (pure and mixed)")
    pure = pure_nash(sub)
    if pure:
        welfare = sub.welfare(objective)
        eqs = [NashEquilibrium(_embed([np.eye(k)[j] for k, j in zip(sub.shape, a)], masks),
                               sub.payoffs_at(a), float(welfare[a])) for a in pure]
        return RestrictedOutcome(masks, eqs, min(e.welfare for e in eqs), "pure Nash")
    worst = correlated_equilibrium(sub, "ce", "min", objective)
    return RestrictedOutcome(masks, [], worst.welfare, "correlated (worst CE)")


def _subsets(k: int) -> list[np.ndarray]:
    """Every nonempty subset of k designs as a boolean mask, largest first."""
    masks = [np.array(bits, bool) for bits in itertools.product([True, False], repeat=k) if any(bits)]
    return sorted(masks, key=lambda m: -m.sum())


def _better(a: RestrictedOutcome, b: RestrictedOutcome | None, tol: float) -> bool:
    """Higher worst-equilibrium welfare wins; on ties, the less intrusive restriction (more designs kept)."""
    return b is None or a.worst > b.worst + tol or (abs(a.worst - b.worst) <= tol and a.kept > b.kept)


def exhaustive_restrictions(game: DesignGame) -> Iterable[Masks]:
    return itertools.product(*(_subsets(k) for k in game.shape))


def symmetric_restrictions(game: DesignGame) -> Iterable[Masks]:
    """The same allowed catalog for every player (needs identical design lists)."""
    if len(set(game.designs)) != 1:
        raise ValueError("symmetric restrictions need every player to have the same designs")
    return ((m,) * game.n_players for m in _subsets(game.shape[0]))


def tag_restrictions(game: DesignGame) -> Iterable[tuple[Masks, tuple[str, ...]]]:
    """Forbid a set of design tags (e.g. ``tool:T``) for everyone, as a platform forbids a feature."""
    if game.tags is None:
        return
    tags = sorted({t for per in game.tags for ts in per for t in ts})
    for r in range(1, len(tags) + 1):
        for banned in itertools.combinations(tags, r):
            masks = tuple(np.array([not set(ts) & set(banned) for ts in per]) for per in game.tags)
            if all(m.any() for m in masks):
                yield masks, banned


def local_search(game: DesignGame, objective: str, restarts: int = 4, seed: int = 0) -> RestrictedOutcome:
    """Hill climbing over single-design toggles from the full game and seeded random starts."""
    rng = np.random.default_rng(seed)
    tol = _tol(game)
    starts = [tuple(np.ones(k, bool) for k in game.shape)]
    starts += [tuple(rng.random(k) < 0.5 for k in game.shape) for _ in range(restarts)]
    best = None
    for masks in starts:
        masks = tuple(m if m.any() else np.eye(len(m), dtype=bool)[rng.integers(len(m))] for m in masks)
        current = restricted_outcome(game, masks, objective)
        while True:
            step = None
            for i, k in enumerate(game.shape):
                for j in range(k):
                    flipped = [m.copy() for m in current.masks]
                    flipped[i][j] = not flipped[i][j]
                    if flipped[i].any():
                        cand = restricted_outcome(game, tuple(flipped), objective)
                        if cand.worst > (step or current).worst + tol:
                            step = cand
            if step is None:
                break
            current = step
        if _better(current, best, tol):
            best = current
    return best


EXHAUSTIVE_LIMIT = 4096


def restriction_mediator(game: DesignGame, objective: str = "utilitarian",
                         space: Literal["auto", "exhaustive", "symmetric", "local"] = "auto",
                         allowed: Masks | None = None) -> MediatorResult:
    """Choose nonempty allowed design sets maximising the welfare of the worst equilibrium.

    ``auto`` searches exhaustively while there are at most EXHAUSTIVE_LIMIT restrictions, adds the
    symmetric ones (same catalog for all) and feature bans by tag, and falls back to local search
    beyond. ``allowed`` evaluates a user-given restriction instead of searching.
    """
    tol = _tol(game)
    full = tuple(np.ones(k, bool) for k in game.shape)
    base = restricted_outcome(game, full, objective)
    if allowed is not None:
        best, how = restricted_outcome(game, tuple(np.asarray(m, bool) for m in allowed), objective), "given"
    else:
        n_restrictions = int(np.prod([2**k - 1 for k in game.shape]))
        if space == "auto":
            space = "exhaustive" if n_restrictions <= EXHAUSTIVE_LIMIT else "local"
        best, how = base, space
        candidates: list[Masks] = []
        if space == "exhaustive":
            candidates += list(exhaustive_restrictions(game))
        if space == "symmetric" or (len(set(game.designs)) == 1 and game.shape[0] <= 12 and space != "exhaustive"):
            candidates += list(symmetric_restrictions(game))
        candidates += [m for m, _ in tag_restrictions(game)]
        for masks in candidates:
            cand = restricted_outcome(game, masks, objective)
            if _better(cand, best, tol):
                best = cand
        if space == "local":
            cand = local_search(game, objective)
            if _better(cand, best, tol):
                best = cand
    _check_restriction(game, best)
    return _restriction_result(game, base, best, how, objective)


def _check_restriction(game: DesignGame, out: RestrictedOutcome) -> None:
    """Certificate: every reported equilibrium is one of the restricted game, and no player uses a forbidden design."""
    sub = game.restrict(out.masks)
    for e in out.equilibria:
        if any((s[~m] > 0).any() for s, m in zip(e.strategies, out.masks)):
            raise CertificateError("an equilibrium of the restricted game uses a forbidden design")
        check_nash(sub, [s[m] for s, m in zip(e.strategies, out.masks)])


def _restriction_result(game: DesignGame, base: RestrictedOutcome, best: RestrictedOutcome,
                        how: str, objective: str) -> MediatorResult:
    worst = min(best.equilibria, key=lambda e: e.welfare) if best.equilibria else None
    forbidden = [(game.players[i], [d for d, keep in zip(game.designs[i], m) if not keep])
                 for i, m in enumerate(best.masks)]
    forbidden = [(p, ds) for p, ds in forbidden if ds]
    pure_of = lambda out: {e.profile for e in out.equilibria if not e.mixed}  # noqa: E731
    removed, created = pure_of(base) - pure_of(best), pure_of(best) - pure_of(base)
    if not forbidden:
        text = f"No restriction improves the worst equilibrium (welfare {base.worst:.4g}); allow every design"
    else:
        head = "Forbidding " + " and ".join(f"{', '.join(ds)} for {p}" for p, ds in forbidden)
        if removed:
            head += f" removes the equilibri{'um' if len(removed) == 1 else 'a'} {_profiles(game, sorted(removed))}"
        parts = [head]
        left = pure_of(best)
        if len(best.equilibria) == 1 and left:
            parts.append(f"the only equilibrium left is {_profiles(game, left)}")
        elif created:
            parts.append(f"the equilibria left are {_profiles(game, sorted(left))}")
        parts.append(f"worst-equilibrium welfare {base.worst:.4g} -> {best.worst:.4g} ({_change(best.worst, base.worst)})")
        text = "; ".join(parts)
    equivalent = [banned for masks, banned in tag_restrictions(game)
                  if abs(restricted_outcome(game, masks, objective).worst - best.worst) <= _tol(game)]
    if forbidden and equivalent:
        text += f"; forbidding the feature {' and '.join(min(equivalent, key=len))} for everyone does as well"
    text += "."
    payoffs = worst.payoffs if worst is not None else np.full(game.n_players, np.nan)
    welfare = float(np.sum(payoffs)) if worst is not None else best.worst
    details = {"allowed": [[d for d, keep in zip(ds, m) if keep] for ds, m in zip(game.designs, best.masks)],
               "search": how, "solution_concept": best.concept,
               "equilibria": [{"profile": game.profile_names(e.profile) if not e.mixed
                               else [s.tolist() for s in e.strategies],
                               "welfare": e.welfare, "mixed": e.mixed} for e in best.equilibria],
               "created_equilibria": [game.profile_names(a) for a in sorted(created)],
               "removed_equilibria": [game.profile_names(a) for a in sorted(removed)]}
    return MediatorResult("restriction", Intervention(allowed=best.masks).validate(game), payoffs,
                          welfare, 0.0, welfare, text, details, objective)


# =========================================================================== payments
def k_implementation(game: DesignGame, target: Sequence[int], margin: float | None = None) -> np.ndarray:
    """The least nonnegative transfers making ``target`` a strict dominant-strategy equilibrium
    (Monderer & Tennenholtz): pay player i only on its target row, t_i(z_i, a_-i) = c_i(z_i, a_-i)."""
    margin = default_margin(game) if margin is None else margin
    costs = implementation_costs(game, margin)
    t = np.zeros_like(game.payoffs)
    for i, z in enumerate(target):
        index = (i,) + (slice(None),) * i + (z,)
        t[index] = costs[index]
    check_dominant(game.with_transfers(t), target, margin)
    return t


def check_dominant(game: DesignGame, target: Sequence[int], margin: float) -> None:
    """Certificate: in ``game`` each target design beats every alternative by >= margin against every a_-i."""
    for i, z in enumerate(target):
        u = np.moveaxis(game.payoffs[i], i, 0)
        gap = u[z] - np.delete(u, z, axis=0)
        if gap.size and gap.min() < margin - _tol(game):
            raise CertificateError(f"{game.designs[i][z]} is not strictly dominant for {game.players[i]}")


def payments_mediator(game: DesignGame, objective: str = "utilitarian", lam: float = 1.0,
                      margin: float | None = None, target: Sequence[int] | None = None) -> MediatorResult:
    """k-implementation of the profile maximising net welfare W(z) - lambda * (cost paid at z)."""
    margin = default_margin(game) if margin is None else margin
    realised = implementation_costs(game, margin).sum(axis=0)       # paid at the target itself
    welfare = game.welfare(objective)
    if target is None:
        net = welfare - lam * realised
        target = np.unravel_index(int(np.argmax(net)), net.shape)
    target = tuple(int(x) for x in target)
    schedule = k_implementation(game, target, margin)
    cost = float(schedule[(slice(None), *target)].sum())
    payments = sorted(((i, tuple(int(x) for x in a), float(schedule[(i, *a)])) for i in range(game.n_players)
                       for a in np.argwhere(schedule[i] > 0)), key=lambda x: -x[2])
    off_path = [(i, a, v) for i, a, v in payments if a != target]
    on_path = [(i, v) for i, a, v in payments if a == target]
    said = []
    if on_path:
        said.append("paying " + " and ".join(f"{game.players[i]} {v:.4g}" for i, v in on_path) + " at the target")
    if off_path:
        said.append("promising " + "; ".join(f"{game.players[i]} {v:.4g} at {game.profile_label(a)}"
                                             for i, a, v in off_path[:3])
                    + (f" and {len(off_path) - 3} more payments" if len(off_path) > 3 else "") + " off the path")
    base = worst_equilibrium_welfare(game)
    w = float(game.payoffs_at(target).sum())
    net = w - lam * cost
    how = " and ".join(said) if said else "without any payment"
    text = (f"{how[0].upper() + how[1:]} makes {game.profile_label(target)} strictly dominant for every player; "
            f"realised cost {cost:.4g}, net welfare {net:.4g} ({_change(net, base)} over the worst equilibrium).")
    details = {"target": game.profile_names(target), "margin": margin, "lambda": lam, "realised_cost": cost,
               "schedule": [{"player": game.players[i], "profile": game.profile_names(a), "amount": v,
                             "on_path": a == target} for i, a, v in payments],
               "promised_total": float(schedule.sum())}
    return MediatorResult("payments", Intervention(transfers=schedule).validate(game),
                          game.payoffs_at(target), w, cost, net, text, details, objective)


def worst_equilibrium_welfare(game: DesignGame) -> float:
    """Utilitarian welfare of the unmediated game's worst equilibrium (the `none` mediator's yardstick)."""
    return min(e.welfare for e in nash_equilibria(game))


# =========================================================================== correlation device
def _correlated_lp(game: DesignGame, welfare_floor: float | None, dispersion_weight: float | None,
                   objective: str) -> np.ndarray:
    """CE LP with Remark 2's fairness as max-min range: variables (p, hi, lo) with
    lo <= U_i(p) <= hi; minimise hi - lo subject to E[W] >= floor, or maximise E[W] - w (hi - lo)."""
    n, K = game.n_players, game.n_profiles
    g = obedience_matrix(game)
    u = game.payoffs.reshape(n, K)
    w = game.welfare(objective).ravel()
    z = sp.csr_matrix((g.shape[0], 2))
    ones = np.ones((n, 1))
    a_ub = sp.vstack([sp.hstack([-g, z]),
                      sp.hstack([sp.csr_matrix(u), -ones, np.zeros((n, 1))]),       # U_i - hi <= 0
                      sp.hstack([sp.csr_matrix(-u), np.zeros((n, 1)), ones])])      # lo - U_i <= 0
    b_ub = np.zeros(a_ub.shape[0])
    if dispersion_weight is None:
        c = np.r_[np.zeros(K), 1.0, -1.0]
        a_ub = sp.vstack([a_ub, sp.csr_matrix(np.r_[-w, 0.0, 0.0])])
        b_ub = np.r_[b_ub, -welfare_floor]
    else:
        c = np.r_[-w, dispersion_weight, -dispersion_weight]
    a_eq = np.r_[np.ones(K), 0.0, 0.0][None, :]
    res = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=[1.0],
                  bounds=[(0, None)] * K + [(None, None)] * 2, method="highs")
    if res.status != 0:
        raise CertificateError(f"fair correlation LP failed: {res.message}")
    return res.x[:K]


def _nash_welfare_ce(game: DesignGame) -> np.ndarray:
    """Remark 2's Nash welfare: maximise sum_i log(U_i(p) - m + 1) over CEs, payoffs shifted by
    their minimum m to be positive (footnote 6); a concave program solved with cvxpy."""
    import cvxpy as cp  # only this objective needs a conic solver

    n, K = game.n_players, game.n_profiles
    shifted = game.payoffs.reshape(n, K) - game.payoffs.min() + 1.0
    p = cp.Variable(K, nonneg=True)
    problem = cp.Problem(cp.Maximize(cp.sum(cp.log(shifted @ p))),
                         [obedience_matrix(game) @ p >= 0, cp.sum(p) == 1])
    problem.solve(solver=cp.CLARABEL)
    if p.value is None:
        raise CertificateError(f"Nash-welfare correlation program failed: {problem.status}")
    return np.asarray(p.value)


def correlation_mediator(game: DesignGame, objective: str = "utilitarian",
                         fairness_weight: float | None = None, efficiency_slack: float = 0.0) -> MediatorResult:
    """A correlation device (Aumann): a CE recommended privately.

    ``utilitarian`` / ``egalitarian``-per-profile: the welfare-maximising CE (LP).
    ``fairness``: the CE with the smallest payoff range max_i U_i - min_i U_i among those within
    ``efficiency_slack`` of the best CE welfare (lexicographic), or, with ``fairness_weight`` w,
    maximising E[W] - w * range; for two players the range is |U_1 - U_2|, so this minimises
    Remark 2's (U_1 - U_2)^2 exactly. ``nash``: maximises the product of shifted expected payoffs.
    """
    if objective == "fairness":
        best = correlated_equilibrium(game, "ce", "max", "utilitarian").welfare
        floor = best - efficiency_slack - _tol(game)
        p = _correlated_lp(game, None if fairness_weight is not None else floor, fairness_weight, "utilitarian")
    elif objective == "nash":
        p = _nash_welfare_ce(game)
    else:
        p = correlated_equilibrium(game, "ce", "max", objective).distribution.ravel()
    p = _clean_distribution(np.maximum(p, 0.0)).reshape(game.shape)
    check_correlated(game, p, "ce")
    out = CorrelatedOutcome(p, (game.payoffs * p).reshape(game.n_players, -1).sum(axis=1),
                            game.expected_welfare(p, "utilitarian"))
    return _recommendation_result(game, "correlation", out, None, 0.0, 1.0, objective)


def _recommendation_result(game: DesignGame, name: str, out: CorrelatedOutcome, vouchers: np.ndarray | None,
                           paid: float, lam: float, objective: str) -> MediatorResult:
    base = worst_equilibrium_welfare(game)
    support = out.support()
    shown = ", ".join(f"{game.profile_label(a)} w.p. {q:.3g}" for a, q in support[:4])
    shown += f" and {len(support) - 4} more profiles" if len(support) > 4 else ""
    welfare = float(out.payoffs.sum())
    net = welfare - lam * paid
    voucher_text = (f", with vouchers paid only when everyone follows (expected {paid:.4g})"
                    if vouchers is not None else "")
    text = (f"Recommending {shown}{voucher_text} is obeyed by every player; expected payoffs "
            f"{tuple(round(float(x), 4) for x in out.payoffs)}, welfare {welfare:.4g}, net {net:.4g} "
            f"({_change(net, base)} over the worst equilibrium).")
    details = {"support": [{"profile": game.profile_names(a), "probability": q} for a, q in support]}
    if vouchers is not None:
        details["lambda"] = lam
        details["vouchers"] = [{"player": game.players[i], "profile": game.profile_names(a),
                                "amount": float(vouchers[(i, *a)])}
                               for i in range(game.n_players) for a in map(tuple, np.argwhere(vouchers[i] > 0))]
    return MediatorResult(name, Intervention(recommendation=out.distribution, vouchers=vouchers).validate(game),
                          out.payoffs, welfare, paid, net, text, details, objective)


# =========================================================================== vouchers
def voucher_lp(game: DesignGame, lam: float = 1.0, objective: str = "utilitarian",
               margin: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Appendix B's LP for n players: max sum_a p(a) W(a) - lambda sum_{i,a} t_i(a) subject to
    sum_{a_-i} p(d, a_-i)[u_i(d, a_-i) - u_i(d', a_-i) - margin] + sum_{a_-i} t_i(d, a_-i) >= 0,
    p a distribution, t >= 0. Here t_i(a) is an *expected* transfer; ``margin`` = 0 is the paper's
    LP, a positive margin makes obeying strictly better by that much per recommendation. Returns (p, t)."""
    n, K = game.n_players, game.n_profiles
    rows, cols, players, offset = [], [], [], 0
    for i, k in enumerate(game.shape):
        flat = np.moveaxis(np.arange(K).reshape(game.shape), i, 0).reshape(k, -1)
        d, _ = np.nonzero(~np.eye(k, dtype=bool))
        rows.append(np.repeat(offset + np.arange(len(d)), flat.shape[1]))
        cols.append(flat[d].ravel())                       # the cells (d, a_-i) of row (i, d, d')
        players.append(np.full(len(d) * flat.shape[1], i))
        offset += len(d)
    rows, cols, players = np.concatenate(rows), np.concatenate(cols), np.concatenate(players)
    g = obedience_matrix(game) - sp.csr_matrix((np.full(len(rows), margin), (rows, cols)), shape=(offset, K))
    t_part = sp.csr_matrix((np.ones(len(rows)), (rows, players * K + cols)), shape=(offset, n * K))
    a_ub = -sp.hstack([g, t_part]).tocsr()
    c = np.r_[-game.welfare(objective).ravel(), np.full(n * K, lam)]
    a_eq = np.r_[np.ones(K), np.zeros(n * K)][None, :]
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(a_ub.shape[0]), A_eq=a_eq, b_eq=[1.0],
                  bounds=(0, None), method="highs")
    if res.status != 0:
        raise CertificateError(f"voucher LP failed: {res.message}")
    return res.x[:K].reshape(game.shape), res.x[K:].reshape(game.payoffs.shape)


def executable_vouchers(game: DesignGame, p: np.ndarray, t: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Per-realisation vouchers v_i(a) = t_i(a) / p(a), paid when a is recommended and followed.

    Transfer mass the LP put on cells with p(a) = 0 is first moved to the most likely cell with
    the same recommendation to i (neither constraints nor objective change); mass on a
    recommendation never made is dropped (its constraints are vacuous).
    """
    v = np.zeros_like(t)
    for i, k in enumerate(game.shape):
        pi = np.moveaxis(p, i, 0).reshape(k, -1)
        ti = np.moveaxis(t[i], i, 0).reshape(k, -1)
        live = pi > tol
        moved = np.where(live, ti, 0.0)
        stranded = np.where(live, 0.0, ti).sum(axis=1)                    # per recommendation d
        target = np.argmax(pi, axis=1)
        moved[np.arange(k), target] += np.where(live.any(axis=1), stranded, 0.0)
        vi = np.divide(moved, pi, out=np.zeros_like(moved), where=live)
        v[i] = np.moveaxis(vi.reshape(np.moveaxis(t[i], i, 0).shape), 0, i)
    return v


def check_vouchers(game: DesignGame, p: np.ndarray, v: np.ndarray, margin: float = 0.0) -> None:
    """Certificate: told d, player i prefers following (u_i + v_i, the voucher paid only if all
    follow) to any d' (u_i without voucher) by ``margin`` per unit of recommendation probability,
    in expectation over the others' recommendations."""
    for i, k in enumerate(game.shape):
        pi = np.moveaxis(p, i, 0).reshape(k, -1)
        ui = np.moveaxis(game.payoffs[i], i, 0).reshape(k, -1)
        vi = np.moveaxis(v[i], i, 0).reshape(k, -1)
        follow = (pi * (ui + vi)).sum(axis=1)                             # (d,)
        deviate = pi @ ui.T                                               # (d, d')
        required = margin * pi.sum(axis=1)
        gaps = follow[:, None] - deviate - required[:, None]
        if (gaps[~np.eye(k, dtype=bool)]).min(initial=0.0) < -_tol(game):
            raise CertificateError(f"voucher scheme is not obeyed by {game.players[i]}")


def vouchers_mediator(game: DesignGame, lam: float = 1.0, objective: str = "utilitarian",
                      margin: float = 0.0) -> MediatorResult:
    """Correlated recommendation with conditional vouchers (Section 4, Appendix B); ``margin`` > 0
    makes obedience strict, which learning stakeholders need to tell obeying apart."""
    p, t = voucher_lp(game, lam, objective, margin)
    p = _clean_distribution(np.maximum(p, 0.0))
    t = np.where(t > 1e-12, t, 0.0)
    v = executable_vouchers(game, p, t)
    check_vouchers(game, p, v, margin)
    paid = float((p * v).sum())
    out = CorrelatedOutcome(p, (game.payoffs * p).reshape(game.n_players, -1).sum(axis=1),
                            game.expected_welfare(p, objective))
    return _recommendation_result(game, "vouchers", out, v, paid, lam, objective)


# =========================================================================== all of them
#: The analytic mediator families, in the report's order.
ANALYTIC = ("restriction", "payments", "correlation", "vouchers")


def analytic_mediator(name: str, game: DesignGame, objective: str = "utilitarian", lam: float = 1.0,
                      margin: float | None = None, voucher_margin: float = 0.0) -> MediatorResult:
    """The analytic mediator of family ``name`` (one of ANALYTIC) for ``game``."""
    if name == "restriction":
        return restriction_mediator(game, objective)
    if name == "payments":
        return payments_mediator(game, objective, lam, margin)
    if name == "correlation":
        return correlation_mediator(game, objective)
    if name == "vouchers":
        return vouchers_mediator(game, lam, objective, voucher_margin)
    raise ValueError(f"unknown analytic mediator {name!r}; known: {', '.join(ANALYTIC)}")


def analytic_mediators(game: DesignGame, objective: str = "utilitarian", lam: float = 1.0,
                       margin: float | None = None, voucher_margin: float = 0.0) -> dict[str, MediatorResult]:
    """Every analytic mediator family for ``game``, keyed by the report's mediator names."""
    return {name: analytic_mediator(name, game, objective, lam, margin, voucher_margin) for name in ANALYTIC}
