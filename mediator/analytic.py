"""The paper's analytic mediators (Section 3, Section 4, Appendix B), each with a certificate.

Every mediator returns a `MediatorResult`: the `Intervention` to apply, its static outcome
(equilibrium or recommended distribution, payoffs, gross welfare, expected transfers, net welfare),
family-specific details and a sentence a person can read. Every result is re-checked against the
incentive constraints that make it work; a violated check raises `CertificateError`.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp
from scipy.optimize import linprog

from envs.game import DesignGame, default_margin, implementation_costs
from envs.intervention import Intervention
from envs.limits import check_lp, check_payoffs
from mediator.equilibria import (
    CertificateError, CorrelatedOutcome, check_correlated, clean_distribution, correlated_equilibrium, obedience_matrix,
    tolerance,
)
from mediator.restriction import (
    MediatorResult, relative_change, restricted_outcome, restriction_mediator, unrestricted,
)


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
        if gap.size and gap.min() < margin - tolerance(game):
            raise CertificateError(f"{game.designs[i][z]} is not strictly dominant for {game.players[i]}")


def payments_mediator(game: DesignGame, objective: str = "utilitarian", lam: float = 1.0,
                      margin: float | None = None, target: Sequence[int] | None = None) -> MediatorResult:
    """k-implementation of the profile maximising net welfare W(z) - lambda * (cost paid at z)."""
    check_payoffs(game.shape, copies=4)                               # costs, schedule, welfare, net
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
            f"realised cost {cost:.4g}, net welfare {net:.4g} ({relative_change(net, base)} over the worst equilibrium).")
    details = {"target": game.profile_names(target), "margin": margin, "lambda": lam, "realised_cost": cost,
               "schedule": [{"player": game.players[i], "profile": game.profile_names(a), "amount": v,
                             "on_path": a == target} for i, a, v in payments],
               "promised_total": float(schedule.sum())}
    return MediatorResult("payments", Intervention(transfers=schedule).validate(game),
                          game.payoffs_at(target), w, cost, net, text, details, objective)


def worst_equilibrium_welfare(game: DesignGame) -> float:
    """Utilitarian welfare of the unmediated game's worst equilibrium (the `none` mediator's yardstick,
    judged as the restriction mediator judges a game)."""
    return restricted_outcome(game, unrestricted(game)).worst


# =========================================================================== correlation device
def _correlated_lp(game: DesignGame, welfare_floor: float | None, dispersion_weight: float | None,
                   objective: str) -> np.ndarray:
    """CE LP with Remark 2's fairness as max-min range: variables (p, hi, lo) with
    lo <= U_i(p) <= hi; minimise hi - lo subject to E[W] >= floor, or maximise E[W] - w (hi - lo)."""
    check_lp(game.shape, "ce")
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

    check_lp(game.shape, "ce")
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
        floor = best - efficiency_slack - tolerance(game)
        p = _correlated_lp(game, None if fairness_weight is not None else floor, fairness_weight, "utilitarian")
    elif objective == "nash":
        p = _nash_welfare_ce(game)
    else:
        p = correlated_equilibrium(game, "ce", "max", objective).distribution.ravel()
    p = clean_distribution(np.maximum(p, 0.0)).reshape(game.shape)
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
            f"({relative_change(net, base)} over the worst equilibrium).")
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
    """Appendix B's LP for n players, in aggregated transfers: max sum_a p(a) W(a) - lambda sum_{i,d} T_i(d)
    subject to sum_{a_-i} p(d, a_-i)[u_i(d, a_-i) - u_i(d', a_-i) - margin] + T_i(d) >= 0, p a distribution,
    T >= 0. The paper's per-profile transfers t_i(a) enter its constraints and objective only through
    T_i(d) = sum_{a_-i} t_i(d, a_-i) (expected transfer to i when told d), so sum_i k_i variables carry
    the optimum of its n K. ``margin`` = 0 is the paper's LP, a positive margin makes obeying strictly
    better by that much per recommendation. Returns (p, T), T[i, d] zero-padded to (n, max_i k_i)."""
    check_lp(game.shape, "vouchers")
    n, K, shape = game.n_players, game.n_profiles, game.shape
    offsets = np.r_[0, np.cumsum(shape)[:-1]]                         # T_i(d) is variable offsets[i] + d
    owner = np.concatenate([o + np.nonzero(~np.eye(k, dtype=bool))[0] for o, k in zip(offsets, shape)])
    transfer = sp.csr_matrix((np.ones(len(owner)), (np.arange(len(owner)), owner)),
                             shape=(len(owner), sum(shape)))                   # row (i, d, d') -> T_i(d)
    g = obedience_matrix(game)                                        # rows (i, d, d'), as `owner`
    if margin:
        a_i = np.unravel_index(np.arange(K), shape)
        recommends = sp.csr_matrix((np.ones(n * K), (np.concatenate([o + a for o, a in zip(offsets, a_i)]),
                                                     np.tile(np.arange(K), n))), shape=(sum(shape), K))
        g = g - margin * (transfer @ recommends)                      # margin * P_i(d) in row (i, d, d')
    a_ub = -sp.hstack([g, transfer]).tocsr()
    c = np.r_[-game.welfare(objective).ravel(), np.full(sum(shape), lam)]
    a_eq = np.r_[np.ones(K), np.zeros(sum(shape))][None, :]
    # Presolve is ~2/3 of HiGHS' time on a random 100x100 game and removes little; at HiGHS' default 1e-7
    # feasibility tolerances the reported optimum can exceed what the returned p achieves by ~5e-7.
    res = linprog(c, A_ub=a_ub, b_ub=np.zeros(a_ub.shape[0]), A_eq=a_eq, b_eq=[1.0], bounds=(0, None),
                  method="highs", options={"presolve": False, "primal_feasibility_tolerance": 1e-10,
                                           "dual_feasibility_tolerance": 1e-10})
    if res.status != 0:
        raise CertificateError(f"voucher LP failed: {res.message}")
    t = np.zeros((n, max(shape)))
    for i, (o, k) in enumerate(zip(offsets, shape)):
        t[i, :k] = res.x[K + o:K + o + k]
    return res.x[:K].reshape(game.shape), t


def executable_vouchers(game: DesignGame, p: np.ndarray, t: np.ndarray, tol: float = 1e-12) -> np.ndarray:
    """Per-realisation vouchers v_i(a), paid when a is recommended and followed, from the LP's T_i(d):
    all of T_i(d) on the most likely profile recommending d to i, v_i(a) = T_i(d) / p(a), so that
    sum_{a_-i} p(d, a_-i) v_i(d, a_-i) = T_i(d). T on a recommendation never made is dropped (its
    constraints are vacuous)."""
    v = np.zeros_like(game.payoffs)
    for i, k in enumerate(game.shape):
        pi = np.moveaxis(p, i, 0).reshape(k, -1)
        target = np.argmax(pi, axis=1)
        best = pi[np.arange(k), target]
        vi = np.zeros_like(pi)
        vi[np.arange(k), target] = np.divide(t[i, :k], best, out=np.zeros(k), where=best > tol)
        v[i] = np.moveaxis(vi.reshape(np.moveaxis(p, i, 0).shape), 0, i)
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
        if (gaps[~np.eye(k, dtype=bool)]).min(initial=0.0) < -tolerance(game):
            raise CertificateError(f"voucher scheme is not obeyed by {game.players[i]}")


def vouchers_mediator(game: DesignGame, lam: float = 1.0, objective: str = "utilitarian",
                      margin: float = 0.0) -> MediatorResult:
    """Correlated recommendation with conditional vouchers (Section 4, Appendix B); ``margin`` > 0
    makes obedience strict, which learning stakeholders need to tell obeying apart. The executed
    scheme is certified obeyed and to reach the LP's objective."""
    p, t = voucher_lp(game, lam, objective, margin)
    optimum = game.expected_welfare(p, objective) - lam * t.sum()
    p = clean_distribution(np.maximum(p, 0.0))
    t = np.where(t > 1e-12, t, 0.0)
    v = executable_vouchers(game, p, t)
    check_vouchers(game, p, v, margin)
    paid = float((p * v).sum())
    if abs(game.expected_welfare(p, objective) - lam * paid - optimum) > tolerance(game):
        raise CertificateError(f"the executed voucher scheme does not reach the LP's objective {optimum:.6g}")
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
