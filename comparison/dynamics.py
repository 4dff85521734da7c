"""Every mediator through the same engine, learners and seeds, and the learned mediators' scores.

``run_dynamics`` fills a report's ``mediators.<name>.dynamic``; ``learned_entry`` adds a learned
mediator's score (comparison.score); ``generalization`` judges a game-conditioned mediator on unseen
games of its family; ``reference_nets`` gives the analytic counterparts' net welfare at a training
horizon, the scale of train.py's TensorBoard score.
"""
from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from agents.dynamics import learner_factory, recommends, run_learners
from envs.catalog import game_family
from envs.codec import joint_bounds
from envs.game import DesignGame
from envs.intervention import Intervention
from envs.simulate import Mediator, simulate, summarise
from mediator.analytic import analytic_mediator

from comparison.score import counterparts, explain, score
from comparison.usage import UsageError


def run_dynamics(game: DesignGame, report: dict, mediators: Mapping[str, Mediator], learners: str,
                 rounds: int, seeds: int, seed: int = 0, lam: float = 1.0, contextual: str = "auto",
                 trust: float = 0.5) -> None:
    """Every mediator through the same engine, learners and seeds; fills each ``dynamic`` object."""
    report["learners"] = learners
    for name, mediator in mediators.items():
        traj = run_learners(game, mediator, learners, rounds, seeds, seed, lam, contextual, trust, progress=name)
        report["mediators"].setdefault(name, {})["dynamic"] = summarise(game, traj)


def learned_entry(dynamic: dict, report: dict, families: Sequence[str], scale: float) -> dict:
    """A learned mediator's report entry: its long-run values and its score against no mediation and
    the analytic counterparts of its ``families`` already in ``report`` (same dynamics)."""
    analytic = {k: report["mediators"][k]["dynamic"]["net"] for k in counterparts(families)
                if "dynamic" in report["mediators"].get(k, {})}
    none = report["mediators"]["none"]["dynamic"]["net"]
    s = score(dynamic["net"], none, analytic, scale)
    return {"welfare": dynamic["welfare"], "transfers": dynamic["transfers_per_round"], "net": dynamic["net"],
            "payoffs": dynamic["payoffs"], **s, "explanation": explain(dynamic["net"], none, analytic, s)}


def reference_nets(game: DesignGame, families: Sequence[str], learners: str, rounds: int, seeds: int,
                   seed: int = 0, lam: float = 1.0, trust: float = 0.5) -> tuple[float, dict[str, float]]:
    """Mean net welfare per round over ``rounds`` rounds (a training episode) of no mediation and of the
    analytic counterparts of ``families``, with the learners a mediator of those families trains over."""
    contextual = "on" if "recommend" in families else "off"
    nets = {}
    for name in ["none", *counterparts(families)]:
        mediator = Intervention() if name == "none" else analytic_mediator(name, game, lam=lam).intervention
        traj = run_learners(game, mediator, learners, rounds, seeds, seed, lam, contextual, trust)
        nets[name] = float(traj.net.mean())
    return nets.pop("none"), nets


#: Training draws a game family's seeds 0, 1, 2, ... in order; unseen games for generalisation start here.
UNSEEN_SEED = 10**9


def generalization(spec: str, model: str | Path, learners: str, games: int, rounds: int, seeds: int,
                   seed: int = 0, lam: float = 1.0, trust: float = 0.5) -> dict:
    """A game-conditioned mediator on ``games`` unseen games of its family next to no mediation and its
    families' analytic counterparts, on identical dynamics (all games' seeds in one batch); scored per game."""
    from mediator.learned import LearnedMediator  # lazy: torch only for learned mediators

    family = game_family(spec)
    if family is None:
        raise UsageError(f"--generalize needs a game family (a random-game spec without seed), got {spec!r}")
    drawn = [family(UNSEEN_SEED + j) for j in range(games)]
    batch = [g for g in drawn for _ in range(seeds)]
    policy = LearnedMediator(model, drawn[0], games=batch)
    if not policy.conditioned:
        raise UsageError(f"{model}: trained on one game, not on a game family")
    names = counterparts(policy.codec.families)
    fixed = [{k: analytic_mediator(k, g, lam=lam).intervention for k in names} for g in drawn]
    compared = {"none": [Intervention()] * len(batch), **{k: [f[k] for f in fixed for _ in range(seeds)] for k in names},
                "learned": policy}
    nets = {}
    for name, mediator in compared.items():
        ctx = recommends(policy) if name == "learned" else any(iv.recommendation is not None for iv in mediator)
        traj = simulate(drawn[0], mediator, learner_factory(learners, ctx, trust), rounds, len(batch), seed, lam,
                        progress=name, bounds=joint_bounds(policy.codecs) if name == "learned" else None,
                        payoffs=np.stack([g.payoffs for g in batch]))
        nets[name] = [summarise(g, traj.copies(slice(j * seeds, (j + 1) * seeds)))["net"] for j, g in enumerate(drawn)]
    rows = []
    for j, g in enumerate(drawn):
        net = {k: nets[k][j] for k in compared}
        rows.append({"game": g.name, **net, **score(net["learned"], net["none"], {k: net[k] for k in names}, g.scale)})
    with_gap = [r for r in rows if r["gap_closed"] is not None]
    summed = {k: float(np.sum([r[k] for r in with_gap])) for k in ("learned", "none", "gap")}
    return {"family": spec, "model": str(model), "learners": learners, "rounds": rounds, "seeds": seeds,
            "first_seed": UNSEEN_SEED, "games": rows, "games_with_gap": len(with_gap),
            "mean_gap_closed": float(np.mean([r["gap_closed"] for r in with_gap])) if with_gap else None,
            "share_of_total_gap": (summed["learned"] - summed["none"]) / summed["gap"] if with_gap else None,
            "matches_best": sum(r["matches_best"] for r in rows),
            "mean_net": {k: float(np.mean(v)) for k, v in nets.items()}}
