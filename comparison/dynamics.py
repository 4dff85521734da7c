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

from agents.dynamics import learner_factory, recommends, run_fixed, run_learners
from envs.catalog import game_family
from envs.codec import FAMILIES, joint_bounds
from envs.game import DesignGame
from envs.intervention import Intervention
from envs.mixture import EVAL_SEED, describe, is_mixture_spec
from envs.simulate import Mediator, simulate, summarise
from mediator.analytic import analytic_mediator

from comparison.score import counterparts, explain, score, summed_gap_closed
from comparison.usage import UsageError


def run_dynamics(game: DesignGame, report: dict, mediators: Mapping[str, Mediator], learners: str,
                 rounds: int, seeds: int, seed: int = 0, lam: float = 1.0, contextual: str = "auto",
                 trust: float = 0.5) -> None:
    """Every mediator through the same engine, learners and seeds; fills each ``dynamic`` object. The fixed
    mediators run as the blocks of one batch (`agents.dynamics.run_fixed`), the learned ones one by one."""
    report["learners"] = learners
    fixed = {name: m for name, m in mediators.items() if isinstance(m, Intervention)}
    label = f"{len(fixed)} fixed mediators" if len(fixed) > 1 else next(iter(fixed), None)
    runs = dict(zip(fixed, run_fixed(game, list(fixed.values()), learners, rounds, [(seed, seeds)], lam, contextual,
                                     trust, progress=label))) if fixed else {}
    for name, mediator in mediators.items():
        traj = runs[name] if name in runs else run_learners(game, mediator, learners, rounds, seeds, seed, lam,
                                                            contextual, trust, progress=name)
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
    names = ["none", *counterparts(families)]
    fixed = [Intervention() if name == "none" else analytic_mediator(name, game, lam=lam).intervention for name in names]
    trajectories = run_fixed(game, fixed, learners, rounds, [(seed, seeds)], lam, contextual, trust)
    nets = {name: float(traj.net.mean()) for name, traj in zip(names, trajectories)}
    return nets.pop("none"), nets


#: Training draws a game family's seeds 0, 1, 2, ... in order; unseen games for generalisation start here
#: (the reserved evaluation seeds of envs/mixture.py).
UNSEEN_SEED = EVAL_SEED
#: Held-out training-split seeds a general mediator is validated on while it trains (training draws
#: seeds 0, 1, 2, ... and never gets this far).
VALIDATION_SEED = EVAL_SEED // 2


def judge_games(model: str | Path, games: Sequence[DesignGame], learners: str, rounds: int, seeds: int,
                seed: int = 0, lam: float = 1.0, trust: float = 0.5, progress: bool = True) -> list[dict]:
    """A general learned mediator on ``games`` next to no mediation and its families' analytic
    counterparts, on identical dynamics (the games of one shape and their seeds in one batch); one row
    per game: every mediator's long-run net welfare and the learned mediator's score."""
    from mediator.learned import LearnedMediator  # lazy: torch only for learned mediators

    rows: list[dict | None] = [None] * len(games)
    shapes = sorted({g.shape for g in games})
    for shape in shapes:
        index = [j for j, g in enumerate(games) if g.shape == shape]
        group = [games[j] for j in index]
        batch = [g for g in group for _ in range(seeds)]
        policy = LearnedMediator(model, group[0], games=batch)
        if policy.layout is None:
            raise UsageError(f"{model}: trained on one game, not a general mediator")
        names = counterparts(policy.codec.families)
        fixed = [{k: analytic_mediator(k, g, lam=lam).intervention for k in names} for g in group]
        compared = {"none": [Intervention()] * len(batch),
                    **{k: [f[k] for f in fixed for _ in range(seeds)] for k in names}, "learned": policy}
        nets = {}
        for name, mediator in compared.items():
            ctx = recommends(policy) if name == "learned" else any(iv.recommendation is not None for iv in mediator)
            label = f"{name} ({'x'.join(map(str, shape))})" if progress else None
            traj = simulate(group[0], mediator, learner_factory(learners, ctx, trust), rounds, len(batch), seed, lam,
                            progress=label, bounds=joint_bounds(policy.codecs) if name == "learned" else None,
                            payoffs=np.stack([g.payoffs for g in batch]))
            nets[name] = [summarise(g, traj.copies(slice(j * seeds, (j + 1) * seeds)))["net"] for j, g in enumerate(group)]
        for j, g in zip(index, group):
            net = {k: nets[k][index.index(j)] for k in compared}
            rows[j] = {"game": g.name, "shape": "x".join(map(str, g.shape)), "scale": g.scale, **net,
                       **score(net["learned"], net["none"], {k: net[k] for k in names}, g.scale)}
    return rows


def summary(rows: Sequence[dict]) -> dict:
    """Games, games with a gap, the summed gap closed (comparison.score) and how many games the learned
    mediator matches the reference on."""
    with_gap = [r for r in rows if r["gap_closed"] is not None]
    return {"n_games": len(rows), "games_with_gap": len(with_gap), "summed_gap_closed": summed_gap_closed(rows),
            "mean_gap_closed": float(np.mean([r["gap_closed"] for r in with_gap])) if with_gap else None,
            "matches_best": sum(r["matches_best"] for r in rows)}


def grouped(rows: Sequence[dict], key: str) -> dict[str, dict]:
    """`summary` per value of ``key`` (a generator, a shape)."""
    return {v: summary([r for r in rows if r[key] == v]) for v in sorted({r[key] for r in rows})}


def generalization(spec: str, model: str | Path, learners: str, games: int, rounds: int, seeds: int,
                   seed: int = 0, lam: float = 1.0, trust: float = 0.5) -> dict:
    """A general mediator on ``games`` unseen games of a family (its reserved evaluation seeds), with the
    summed gap closed overall, per generator (a mixture) and per shape."""
    family = game_family(spec)
    if family is None:
        raise UsageError(f"--generalize needs a game family (mix:v1, or a random-game spec without seed), got {spec!r}")
    drawn = [family(UNSEEN_SEED + j) for j in range(games)]
    rows = judge_games(model, drawn, learners, rounds, seeds, seed, lam, trust)
    mixture = is_mixture_spec(spec)
    for j, row in enumerate(rows):
        row["generator"] = describe(UNSEEN_SEED + j, split="eval")[0] if mixture else spec
    compared = [k for k in ("none", *counterparts(FAMILIES), "learned") if rows and k in rows[0]]
    return {"family": spec, "model": str(model), "learners": learners, "rounds": rounds, "seeds": seeds,
            "first_seed": UNSEEN_SEED, "mediators": compared, "games": rows, **summary(rows),
            "by_generator": grouped(rows, "generator"), "by_shape": grouped(rows, "shape"),
            "mean_net": {k: float(np.mean([r[k] for r in rows])) for k in compared}}
