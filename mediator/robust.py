"""How much of a meta-game analysis survives sampling noise: bootstrap equilibria and mediators.

Input: the analysed game (the point estimate) and bootstrap payoff tensors of shape (B, n, k_1, ..., k_n)
from `envs.logs.bootstrap_payoffs`. In bootstrap games an outcome is the **worst pure Nash
equilibrium** (found for all draws at once); a draw where a (restricted) game has no pure equilibrium
is judged by its worst profile, a lower bound on the welfare of any equilibrium. Each analytic
mediator's intervention, computed on the point estimate, is held fixed and evaluated in every draw.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

from envs.game import DesignGame
from envs.intervention import Intervention
from envs.logs import LoadedLog, bootstrap_payoffs
from mediator.equilibria import allowed_profiles, pure_equilibria, tolerance
from mediator.restriction import Explored, Masks, MediatorResult, restricted_outcome, search

QUANTILES = {"min": 0.0, "q05": 0.05, "q10": 0.1, "median": 0.5, "q90": 0.9, "q95": 0.95, "max": 1.0}


# =========================================================================== equilibria of many games
def worst_outcome(u: np.ndarray, masks: Masks | None = None, transfers: np.ndarray | None = None,
                  lam: float = 1.0, tol: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Net welfare of the worst pure equilibrium of each game u[b] + transfers under ``masks`` (worst
    allowed profile where there is none), and the equilibria (B, k_1, ..., k_n)."""
    t = np.zeros(u.shape[1:]) if transfers is None else transfers
    eq = pure_equilibria(u + t, masks, tol)
    net = u.sum(axis=1) - lam * t.sum(axis=0)
    allowed = allowed_profiles(u.shape[2:], masks)
    worst_eq = np.where(eq, net, np.inf).reshape(len(u), -1).min(axis=1)
    worst_any = np.where(allowed, net, np.inf).reshape(len(u), -1).min(axis=1)
    return np.where(np.isfinite(worst_eq), worst_eq, worst_any), eq


def obeyed(u: np.ndarray, recommendation: np.ndarray, vouchers: np.ndarray | None = None,
           tol: float = 0.0) -> np.ndarray:
    """(B,) whether every player, told d, prefers following (with its voucher) to any d' in game u[b]."""
    ok = np.ones(len(u), bool)
    for i, k in enumerate(recommendation.shape):
        p = np.moveaxis(recommendation, i, 0).reshape(k, -1)
        ui = np.moveaxis(u[:, i], 1 + i, 1).reshape(len(u), k, -1)
        vi = 0.0 if vouchers is None else np.moveaxis(vouchers[i], i, 0).reshape(k, -1)
        follow = (p * (ui + vi)).sum(axis=2)                                  # (B, d)
        deviate = np.einsum("dj,bej->bde", p, ui)                             # (B, d, d')
        gaps = follow[:, :, None] - deviate
        ok &= (gaps[:, ~np.eye(k, dtype=bool)] >= -tol).all(axis=1)
    return ok


def intervention_outcome(game: DesignGame, intervention: Intervention, u: np.ndarray,
                         lam: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """(net welfare, holds) of a fixed intervention in each game u[b]. A recommendation is assumed
    obeyed and holds where it is; otherwise the outcome is the worst pure equilibrium and holds where
    the equilibrium set is the one the intervention has in the point estimate ``game``."""
    tol = tolerance(game)
    if intervention.recommendation is not None:
        p, v = intervention.recommendation, intervention.vouchers
        paid = 0.0 if v is None else float((p * v).sum())
        net = (u.sum(axis=1) * p).reshape(len(u), -1).sum(axis=1) - lam * paid
        return net, obeyed(u, p, v, tol)
    masks, t = intervention.allowed, intervention.transfers
    net, eq = worst_outcome(u, masks, t, lam, tol)
    _, eq0 = worst_outcome(game.payoffs[None], masks, t, lam, tol)
    return net, (eq == eq0).reshape(len(u), -1).all(axis=1)


def spread(net: np.ndarray) -> dict:
    """Mean, standard deviation and quantiles of a welfare sample."""
    return {"mean": float(net.mean()), "std": float(net.std()),
            **{name: float(np.quantile(net, q)) for name, q in QUANTILES.items()}}


# =========================================================================== robust restriction
def robust_restriction(game: DesignGame, u: np.ndarray, quantile: float = 0.1) -> dict:
    """The restriction maximising the ``quantile`` (0 = the worst draw) of worst-equilibrium welfare
    across bootstrap games, then its mean, then the designs kept (`mediator.restriction.search`)."""
    tol = tolerance(game)
    explored = Explored(game, lambda masks: worst_outcome(u, masks, tol=tol)[0],
                        lambda welfare: (float(np.quantile(welfare, quantile)), float(welfare.mean())), tol)
    how = search(explored)
    best = explored.best()
    return {"allowed": [[d for d, keep in zip(ds, m) if keep] for ds, m in zip(game.designs, best)],
            "quantile": quantile, "welfare_quantile": explored.key(best)[0], "search": how,
            "welfare_at_estimate": restricted_outcome(game, best).worst, "spread": spread(explored.outcome(best))}


def only_tag_restrictions(game: DesignGame) -> Iterable[tuple[str, Masks]]:
    """"Only designs tagged t" for everyone (the paper's Gemini-only platform), for each tag t."""
    for tag in sorted({t for per in game.tags or () for ts in per for t in ts}):
        masks = tuple(np.array([tag in ts for ts in per]) for per in game.tags)
        if all(m.any() for m in masks):
            yield tag, masks


# =========================================================================== the report
def _names(game: DesignGame, profiles: np.ndarray) -> list[list[str]]:
    return [game.profile_names(tuple(int(x) for x in a)) for a in profiles]


def bootstrap_report(game: DesignGame, mediators: dict[str, MediatorResult], u: np.ndarray, lam: float = 1.0,
                     quantile: float = 0.1, threshold: float = 0.95) -> dict:
    """Equilibrium probabilities, mediator welfare spreads, a robust restriction, "only tag" restrictions
    and the conclusions that hold in at least ``threshold`` of the bootstrap games ``u``."""
    tol = tolerance(game)
    eq = pure_equilibria(u, tol=tol)
    prob = eq.mean(axis=0)
    eq0 = pure_equilibria(game.payoffs[None], tol=tol)[0]
    same_set = float((eq == eq0).reshape(len(u), -1).all(axis=1).mean())
    order = np.argwhere(prob > 0)[np.argsort(-prob[prob > 0], kind="stable")]
    interventions = {"none": Intervention(), **{name: m.intervention for name, m in mediators.items()}}
    none_net = intervention_outcome(game, Intervention(), u, lam)[0]
    med = {}
    for name, intervention in interventions.items():
        net, holds = intervention_outcome(game, intervention, u, lam)
        med[name] = {"net_at_estimate": float(intervention_outcome(game, intervention, game.payoffs[None], lam)[0][0]),
                     **spread(net), "holds": float(holds.mean()), "at_least_none": float((net >= none_net - tol).mean())}
    robust = robust_restriction(game, u, quantile)
    families = []
    for tag, masks in only_tag_restrictions(game):
        welfare = worst_outcome(u, masks, tol=tol)[0]
        families.append({"tag": tag, "allowed": [[d for d, k in zip(ds, m) if k] for ds, m in zip(game.designs, masks)],
                         "welfare_at_estimate": restricted_outcome(game, masks).worst, **spread(welfare),
                         "at_least_none": float((welfare >= none_net - tol).mean())})
    conclusions = [(f"{game.profile_label(tuple(a))} is a pure Nash equilibrium", float(prob[tuple(a)]))
                   for a in np.argwhere(eq0)]
    conclusions.append(("the set of pure equilibria is the point estimate's", same_set))
    conclusions += [(f"the {name} mediator's recommendation is obeyed" if m.intervention.recommendation is not None
                     else f"the {name} mediator's equilibria at the estimate persist", med[name]["holds"])
                    for name, m in mediators.items()]
    conclusions += [(f"the {name} mediator does at least as well as no mediation", med[name]["at_least_none"])
                    for name in mediators]
    return {"draws": int(len(u)), "quantile": quantile, "threshold": threshold,
            "method": "worst pure Nash equilibrium of each bootstrap game (worst profile where none); "
                      "interventions fixed at the point estimate",
            "designs": [list(d) for d in game.designs], "nash_probability": prob.tolist(),
            "equilibria": [{"profile": n, "probability": float(prob[tuple(a)]), "at_estimate": bool(eq0[tuple(a)])}
                           for n, a in zip(_names(game, order), order)],
            "equilibrium_set_probability": same_set,
            "no_pure_equilibrium": float((~eq.reshape(len(u), -1).any(axis=1)).mean()),
            "mediators": med, "robust_restriction": robust, "only_tag": families,
            "conclusions": [{"statement": s, "probability": p, "stable": p >= threshold} for s, p in conclusions]}


def _embed_mixed(entry: dict, index: Sequence[list[int]], full: Sequence[Sequence[str]]) -> None:
    """Re-align a mixed equilibrium's probability vectors from the analysed designs to ``full``."""
    if entry.get("mixed"):
        entry["profile"] = [np.bincount(ix, s, len(ds)).tolist() for ix, s, ds in zip(index, entry["profile"], full)]


def add_log_report(report: dict, loaded: LoadedLog, mediators: dict[str, MediatorResult], draws: int = 200,
                   seed: int = 0, lam: float = 1.0, quantile: float = 0.1) -> None:
    """Turn ``analyze``'s report of the analysed game into a report of the logs: ``designs``, ``payoffs``,
    ``payoff_stderr`` (null for a missing pair) and ``payoff_counts`` of the whole estimated table (mixed
    equilibria re-aligned with it), ``log`` (the import), ``analysed`` (the complete game analysed) and,
    with ``draws`` > 0, ``bootstrap``."""
    game, full = loaded.game, loaded.log.designs
    report.update(loaded.estimate.to_json())
    index = [loaded.completion.rows, loaded.completion.cols]
    for entry in [*report["nash"], report["mediators"]["none"]["static"]["equilibrium"]]:
        _embed_mixed(entry, index, full)
    report["log"] = loaded.summary()
    report["analysed"] = loaded.completion.to_json()
    single = int((loaded.estimate.counts[np.ix_(*index)] == 1).sum())
    report["analysed"]["single_game_pairs"] = single
    if draws:
        u = bootstrap_payoffs(loaded, draws, seed)
        report["bootstrap"] = {"seed": seed, **bootstrap_report(game, mediators, u, lam, quantile)}
        if single:
            report["bootstrap"]["caveat"] = (f"{single} analysed design pair(s) rest on one game: resampling "
                                             f"cannot vary them, so their uncertainty is understated")
