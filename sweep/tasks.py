"""Run sweep tasks in whatever process a backend chose: records of plain JSON values, never an exception.

The tasks of one game and one learner rule under fixed mediators run as one engine batch (`groups`,
`run_group`), each with the numbers of its own run. Games and mediators are cached per process, so a
worker that runs many groups of one game solves its analytic mediators once.
"""
from __future__ import annotations

import functools
import time
from typing import Sequence

from agents.dynamics import run_fixed, run_learners, shares_policy
from envs.catalog import load_game
from envs.game import DesignGame
from envs.intervention import Intervention
from envs.simulate import Mediator, Trajectory, summarise
from mediator.analytic import analytic_mediator

from sweep.spec import Options, Task

#: The per-task values of the tidy CSV, in its column order (after the task's own fields).
VALUES = ("welfare", "net", "transfers_per_round", "cumulative_transfers", "convergence_round", "obedience_rate")


@functools.lru_cache(maxsize=32)
def _game(source: str) -> DesignGame:
    return load_game(source)


@functools.lru_cache(maxsize=128)
def _mediator(game_source: str, mediator_source: str, options: Options) -> Mediator:
    """The mediator a task names: no intervention, an analytic family, or a trained model file."""
    game = _game(game_source)
    if mediator_source == "none":
        return Intervention()
    if mediator_source.endswith(".zip"):
        from mediator.learned import LearnedMediator  # lazy: torch only for learned mediators
        return LearnedMediator(mediator_source, game)
    return analytic_mediator(mediator_source, game, options.objective, options.lam, options.margin,
                             options.voucher_margin).intervention


def base_record(task: Task) -> dict:
    """The task's identity, as every record and CSV row starts."""
    return {"task": task.index, "key": task.key, "game": task.game, "learner": task.learner,
            "mediator": task.mediator, "seed": task.seed}


def failed_record(task: Task, error: BaseException) -> dict:
    """A task that raised: its error in one line."""
    message = " ".join(f"{type(error).__name__}: {error}".split())
    return {**base_record(task), "status": "error", "error": message}


def groups(tasks: Sequence[Task], workers: int = 1) -> list[list[Task]]:
    """The tasks that run as one engine batch: those of one game and one learner rule under fixed mediators
    (seeds x mediators), split by seeds into enough groups to keep ``workers`` busy; a learned mediator's
    tasks one by one, and a rule that shares one policy across a batch (ppo) one seed at a time."""
    batched: dict[tuple, list[Task]] = {}
    alone = []
    for task in tasks:
        if task.mediator_source.endswith(".zip"):
            alone.append([task])
        else:
            batched.setdefault((task.game, task.learner) + ((task.seed,) if shares_policy(task.learner) else ()),
                               []).append(task)
    parts = -(-workers // len(batched)) if batched else 1
    out = []
    for group in batched.values():
        seeds = sorted({t.seed for t in group})
        for chunk in (seeds[j::parts] for j in range(min(parts, len(seeds)))):
            out.append([t for t in group if t.seed in chunk])
    return out + alone


def run_group(tasks: Sequence[Task], options: Options) -> list[dict]:
    """The records of ``tasks`` (one of `groups`): every remaining mediator on every remaining seed in one
    batch (`agents.dynamics.run_fixed`; each task's numbers are those of its run alone), or one learned
    mediator's task. A task whose game or mediator fails, or a batch that raises, gives failed records."""
    start = time.perf_counter()
    records, runs = {}, {}
    for task in tasks:
        try:
            runs[task] = _game(task.source), _mediator(task.source, task.mediator_source, options)
        except Exception as e:  # a task's failure is data for the report, not the end of the sweep
            records[task] = failed_record(task, e)
    try:
        if runs:
            records.update(_simulate(runs, options))
    except Exception as e:
        records.update({task: failed_record(task, e) for task in runs})
    share = (time.perf_counter() - start) / len(tasks)
    return [{**records[task], "seconds": share} for task in tasks]


def _simulate(runs: dict[Task, tuple[DesignGame, Mediator]], options: Options) -> dict[Task, dict]:
    """The records of tasks of one game and learner rule whose game and mediator loaded."""
    first = next(iter(runs))
    game, mediator = runs[first]
    if not isinstance(mediator, Intervention):
        traj = run_learners(game, mediator, first.learner, options.rounds, 1, first.seed, options.lam,
                            options.contextual, options.trust)
        return {first: _record(first, game, mediator, traj)}
    fixed = {task.mediator: m for task, (_, m) in runs.items()}
    seeds = sorted({task.seed for task in runs})
    trajectories = run_fixed(game, list(fixed.values()), first.learner, options.rounds, [(s, 1) for s in seeds],
                             options.lam, options.contextual, options.trust)
    by_mediator = dict(zip(fixed, trajectories))
    return {task: _record(task, game, m, by_mediator[task.mediator].copies(slice(seeds.index(task.seed),
                                                                                 seeds.index(task.seed) + 1)))
            for task, (_, m) in runs.items()}


def _record(task: Task, game: DesignGame, mediator: Mediator, traj: Trajectory) -> dict:
    """A finished task's record: its identity and one seed's summary (without the seconds)."""
    dynamic = summarise(game, traj)
    families = {} if isinstance(mediator, Intervention) else {"families": list(mediator.codec.families)}
    return {**base_record(task), "status": "ok", "error": "",
            **{k: dynamic.get(k) for k in VALUES}, "payoffs": dynamic["payoffs"],
            "scale": game.scale, "players": list(game.players), "designs": [list(d) for d in game.designs],
            "curve": dynamic["curve"], "final_strategies": dynamic["final_strategies"], **families}
