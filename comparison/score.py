"""The one definition of a learned mediator's score (DESIGN.md, "Learned mediator's score").

On the same dynamics (learners, seeds, rounds): reference = max(no mediation, best analytic
counterpart of the learned mediator's families); ``gain_over_none`` = learned - none;
``gain_over_best`` = learned - best counterpart (positive when it beats them all); ``gap_closed`` =
(learned - none) / (reference - none), None when reference - none is within the tolerance
(GAP_TOLERANCE x the game's payoff scale): there is then no gap to close.
"""
from __future__ import annotations

from typing import Mapping, Sequence

#: A gap between no mediation and the reference within this share of the payoff scale is none.
GAP_TOLERANCE = 0.01

#: The analytic mediators each learned-mediator family is measured against.
COUNTERPARTS = {"restrict": ("restriction",), "subsidize": ("payments",), "recommend": ("correlation", "vouchers")}


def counterparts(families: Sequence[str]) -> list[str]:
    """Names of the analytic mediators that do what ``families`` let a learned mediator do."""
    return [name for f in families for name in COUNTERPARTS[f]]


def tolerance(scale: float) -> float:
    """The smallest welfare difference that counts as a gap, for a game of payoff scale ``scale``."""
    return max(GAP_TOLERANCE * scale, 1e-12)


def gap_closed(net: float, none: float, reference: float, tol: float) -> float | None:
    """Share of the gap between no mediation and ``reference`` that ``net`` closes (None: no gap)."""
    return None if reference - none <= tol else (net - none) / (reference - none)


def score(net: float, none: float, analytic: Mapping[str, float], scale: float) -> dict:
    """A mediator's long-run net welfare ``net`` judged against ``none`` and the ``analytic``
    counterparts' nets (name -> net) on the same dynamics."""
    best = max(analytic, key=analytic.get) if analytic else None
    best_net = analytic[best] if best is not None else none
    reference = max(none, best_net)
    tol = tolerance(scale)
    return {"best_analytic": best, "reference": reference, "gap": reference - none, "gap_tolerance": tol,
            "gain_over_none": net - none, "gain_over_best": net - best_net,
            "gap_closed": gap_closed(net, none, reference, tol), "matches_best": bool(net >= reference - tol)}


def summed_gap_closed(rows: Sequence[Mapping]) -> float | None:
    """Over many games (rows of `score` with ``gain_over_none`` and the game's payoff ``scale``): the share
    of the summed gap closed, each game's gain and gap in units of its payoff scale (so that no game
    weighs more for its units); None when no game has a gap."""
    with_gap = [r for r in rows if r["gap_closed"] is not None]
    if not with_gap:
        return None
    return sum(r["gain_over_none"] / r["scale"] for r in with_gap) / sum(r["gap"] / r["scale"] for r in with_gap)


def explain(net: float, none: float, analytic: Mapping[str, float], s: dict) -> str:
    """One sentence on a learned mediator's score, with the right sign."""
    best = s["best_analytic"]
    head = (f"Learned PPO mediator: long-run net welfare {net:.4g} on the same dynamics (no mediation {none:.4g}"
            + (f", best analytic {best} {analytic[best]:.4g})." if best else ")."))
    tol = s["gap_tolerance"]
    if best is not None and s["gain_over_best"] > tol:
        return head + (f" It beats every analytic counterpart, the best by {s['gain_over_best']:.3g}, "
                       f"and no mediation by {s['gain_over_none']:.3g}.")
    if s["gap_closed"] is not None:
        return head + f" It closes {s['gap_closed']:.1%} of the gap between no mediation and the reference."
    verdict = ("keeps up with it" if s["matches_best"]
               else f"is {s['reference'] - net:.3g} below it")
    return head + (f" No gap to close: the reference ({s['reference']:.4g}) is within the tolerance {tol:.3g} "
                   f"of no mediation; the learned mediator {verdict}.")
