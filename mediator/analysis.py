"""Static analysis of a meta-game: equilibria, optimum, Pareto improvements, PoA / PoS, value of correlation.

`analyze` returns the JSON-ready report of DESIGN.md (keys ``game``, ``players``, ``designs``,
``payoffs``, ``nash``, ``optimum``, ``mediators``, ``correlated``, ``coarse_correlated``,
``price_of_anarchy``, ``price_of_stability``, ``value_of_correlation``); `analyze_bayes` the report of a
game with a state (no information, full disclosure, the information mediator).
"""
from __future__ import annotations

import numpy as np

from envs.bayes import BayesGame
from envs.game import DesignGame
from mediator.analytic import analytic_mediators
from mediator.equilibria import (
    CorrelatedOutcome, MixedMode, NashEquilibrium, correlated_equilibrium, nash_equilibria,
    pareto_improvements, ratio, resolve_mixed, welfare_optimum,
)
from mediator.information import StateOutcome, bayes_correlated_equilibrium, objective_name, state_mediators
from mediator.restriction import NASH, restricted_outcome, unrestricted

def _round(x, decimals: int = 10):
    return np.round(np.asarray(x, float), decimals).tolist()


def profile_entry(game: DesignGame, profile: tuple[int, ...], objective: str = "utilitarian") -> dict:
    """A pure profile as JSON: design names, payoffs, welfare."""
    return {"profile": game.profile_names(profile), "payoffs": _round(game.payoffs_at(profile)),
            "welfare": float(game.welfare(objective)[profile])}


def nash_entry(game: DesignGame, eq: NashEquilibrium, objective: str) -> dict:
    """A Nash equilibrium as JSON; mixed ones give per-player probability vectors."""
    entry = {"profile": [_round(s) for s in eq.strategies] if eq.mixed else game.profile_names(eq.profile),
             "payoffs": _round(eq.payoffs), "welfare": eq.welfare, "mixed": eq.mixed}
    entry["pareto_dominated_by"] = [profile_entry(game, a, objective)
                                    for a in pareto_improvements(game, eq.payoffs)]
    return entry


def correlated_entry(game: DesignGame, best: CorrelatedOutcome, worst: CorrelatedOutcome) -> dict:
    def side(out: CorrelatedOutcome) -> dict:
        return {"payoffs": _round(out.payoffs), "welfare": out.welfare,
                "support": [{"profile": game.profile_names(a), "probability": p} for a, p in out.support()]}
    return {"max_welfare": best.welfare, "min_welfare": worst.welfare, "max": side(best), "min": side(worst)}


def none_mediator(game: DesignGame, eqs: list[NashEquilibrium], objective: str) -> dict:
    """The unmediated game, judged as the restriction mediator judges a game (`restricted_outcome`): its
    worst equilibrium, or its worst correlated equilibrium when it has no pure one (n > 2 or a large game)."""
    base = restricted_outcome(game, unrestricted(game), objective)
    if base.correlated is not None:
        entry = {"correlated": True, "payoffs": _round(base.payoffs), "welfare": base.worst,
                 "support": [{"profile": game.profile_names(a), "probability": p} for a, p in base.correlated.support()]}
        text = (f"Without mediation there is no pure equilibrium; the worst correlated equilibrium (a lower bound "
                f"on every Nash equilibrium) has welfare {base.worst:.4g}.")
    else:
        found = base.equilibria
        worst = min(found, key=lambda e: e.welfare)
        label = "a mixed equilibrium" if worst.mixed else game.profile_label(worst.profile)
        kind = "" if base.concept == NASH else "pure "
        if len(found) == 1:
            text = f"Without mediation the only {kind}equilibrium found is {label}, welfare {worst.welfare:.4g}."
        else:
            text = (f"Without mediation there are {len(found)} {kind}equilibria with welfare from "
                    f"{worst.welfare:.4g} to {max(e.welfare for e in found):.4g}; the worst is {label}.")
        entry = nash_entry(game, worst, objective)
    welfare = float(base.payoffs.sum())       # reported welfare is utilitarian, as for every mediator
    static = {"equilibrium": entry, "payoffs": _round(base.payoffs),
              "welfare": welfare, "transfers": 0.0, "net": welfare,
              "equilibria_welfare": [min(e.welfare for e in eqs), max(e.welfare for e in eqs)] if eqs else None,
              "explanation": text}
    return {"welfare": welfare, "transfers": 0.0, "net": welfare,
            "payoffs": static["payoffs"], "explanation": text, "static": static}


def nash_method(game: DesignGame, mode: str) -> str:
    """What the reported Nash equilibria are, in words."""
    return {"all": "every extreme equilibrium" if game.n_players == 2
            else "pure equilibria and the one Gambit's logit path selects",
            "one": "pure equilibria, or one from Gambit's logit path if there is none",
            "none": "pure equilibria only"}[mode]


def analyze(game: DesignGame, mixed: MixedMode = "auto", objective: str = "utilitarian",
            lam: float = 1.0, margin: float | None = None, mediators: dict | bool = True) -> dict:
    """The full static report of ``game`` (see the module docstring). ``mediators``: True computes
    every analytic mediator (``lam`` prices transfers, ``margin`` is k-implementation's), a dict
    of already computed `MediatorResult`s is reported as given, False reports only ``none``."""
    mode = resolve_mixed(game, mixed)
    eqs = nash_equilibria(game, mixed=mode, objective=objective)
    opt_profile, opt_welfare = welfare_optimum(game, objective)
    ce = [correlated_equilibrium(game, "ce", s, objective) for s in ("max", "min")]
    cce = [correlated_equilibrium(game, "cce", s, objective) for s in ("max", "min")]
    welfares = [e.welfare for e in eqs]          # empty when --mixed none meets a game with no pure equilibrium
    best_ne, worst_ne = (max(welfares), min(welfares)) if welfares else (None, None)
    report = {
        "game": game.name,
        "description": game.description,
        "players": list(game.players),
        "designs": [list(d) for d in game.designs],
        "payoffs": game.payoffs.tolist(),
        "objective": objective,
        "nash_method": nash_method(game, mode),
        "nash": [nash_entry(game, e, objective) for e in eqs],
        "optimum": profile_entry(game, opt_profile, objective),
        "correlated": correlated_entry(game, *ce),
        "coarse_correlated": correlated_entry(game, *cce),
        "price_of_anarchy": None if worst_ne is None else ratio(opt_welfare, worst_ne),
        "price_of_stability": None if best_ne is None else ratio(opt_welfare, best_ne),
        "value_of_correlation": None if best_ne is None else ratio(ce[0].welfare, best_ne),
        "mediators": {"none": none_mediator(game, eqs, objective)},
    }
    if mediators is True:
        mediators = analytic_mediators(game, objective, lam, margin)
    if mediators:
        report["mediators"].update({name: result.to_json(game) for name, result in mediators.items()})
    if game.payoff_stderr is not None:
        report["payoff_stderr"] = game.payoff_stderr.tolist()
    return report


def analyze_bayes(game: BayesGame, mixed: MixedMode = "auto", objective: str = "utilitarian", margin: float = 0.0,
                  mediators: dict[str, StateOutcome] | None = None) -> dict:
    """The static report of a game with a state: the prior-averaged game's equilibria (``nash``: no
    information), each state's (``full_disclosure``), the first best (``optimum``: the state known and the
    profile dictated), the best and worst Bayes correlated equilibria, and the mediators ``none``,
    ``full_disclosure`` and ``information`` (`state_mediators`, computed here unless given)."""
    mediators = mediators or state_mediators(game, objective, mixed, margin)
    avg, v = game.averaged(), game.values(objective)
    flat = v.reshape(game.n_states, -1)
    best = flat.argmax(axis=1)
    first = [np.unravel_index(int(a), game.shape) for a in best]
    first_payoffs = sum(mu * game.payoffs[(s, slice(None), *a)] for s, (mu, a) in enumerate(zip(game.prior, first)))
    bce = [bayes_correlated_equilibrium(game, sense, objective) for sense in ("max", "min")]

    def side(out) -> dict:
        cells = np.argwhere(out.joint > 1e-9)
        return {"payoffs": _round(out.payoffs), "welfare": out.objective,
                "support": [{"state": game.states[c[0]], "profile": [game.designs[i][j] for i, j in enumerate(c[1:])],
                             "probability": float(out.joint[tuple(c)])} for c in cells]}

    return {
        "game": game.name, "description": game.description, "players": list(game.players),
        "designs": [list(d) for d in game.designs], "states": list(game.states), "prior": game.prior.tolist(),
        "payoffs": game.payoffs.tolist(), "objective": objective_name(game, objective),
        "nash_method": nash_method(avg, resolve_mixed(avg, mixed)),
        "nash": [nash_entry(avg, e, "utilitarian") for e in mediators["none"].equilibria[0]],
        "full_disclosure": [{"state": name, "prior": float(mu),
                             "nash": [nash_entry(game.state_game(s), e, "utilitarian") for e in eqs]}
                            for s, (name, mu, eqs) in enumerate(zip(game.states, game.prior,
                                                                    mediators["full_disclosure"].equilibria))],
        "optimum": {"value": float(game.prior @ flat.max(axis=1)), "welfare": float(np.sum(first_payoffs)),
                    "payoffs": _round(first_payoffs),
                    "per_state": [{"state": game.states[s], "profile": [game.designs[i][j] for i, j in enumerate(a)],
                                   "value": float(flat[s, best[s]])} for s, a in enumerate(first)]},
        "bayes_correlated": {"max_welfare": bce[0].objective, "min_welfare": bce[1].objective,
                             "max": side(bce[0]), "min": side(bce[1])},
        "mediators": {name: m.to_json() for name, m in mediators.items()},
    }
