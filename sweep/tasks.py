"""Run one sweep task in whatever process a backend chose: a record of plain JSON values, never an exception.

Games and mediators are cached per process, so a worker that runs many seeds of one game solves its
analytic mediators once.
"""
from __future__ import annotations

import functools
import time

from agents.dynamics import run_learners
from envs.catalog import load_game
from envs.game import DesignGame
from envs.intervention import Intervention
from envs.simulate import Mediator, summarise
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


def run_task(task: Task, options: Options) -> dict:
    """One seed of ``task.learner`` stakeholders under one mediator on one game, summarised."""
    start = time.perf_counter()
    try:
        game = _game(task.source)
        mediator = _mediator(task.source, task.mediator_source, options)
        traj = run_learners(game, mediator, task.learner, options.rounds, 1, task.seed, options.lam,
                            options.contextual, options.trust)
        dynamic = summarise(game, traj)
        families = {} if isinstance(mediator, Intervention) else {"families": list(mediator.codec.families)}
    except Exception as e:  # a task's failure is data for the report, not the end of the sweep
        return {**failed_record(task, e), "seconds": time.perf_counter() - start}
    return {**base_record(task), "status": "ok", "error": "",
            **{k: dynamic.get(k) for k in VALUES}, "payoffs": dynamic["payoffs"],
            "scale": game.scale, "players": list(game.players), "designs": [list(d) for d in game.designs],
            "curve": dynamic["curve"], "final_strategies": dynamic["final_strategies"], **families,
            "seconds": time.perf_counter() - start}
