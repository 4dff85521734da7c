"""Learning stakeholders under one mediator: the composition that evaluate.py, train.py and sweeps share."""
from __future__ import annotations

from envs.game import DesignGame
from envs.intervention import Intervention
from envs.learner import LearnerFactory
from envs.simulate import Mediator, Trajectory, simulate

from agents.no_regret import make_learner


def recommends(mediator: Mediator) -> bool:
    """Whether ``mediator`` may send recommendations (a fixed device, or a policy with that family)."""
    if isinstance(mediator, Intervention):
        return mediator.recommendation is not None
    return "recommend" in mediator.codec.families


def learner_factory(learners: str, contextual: bool, trust: float = 0.5) -> LearnerFactory:
    """A factory of ``learners`` rules (e.g. ``hedge:eta=0.5``); contextual ones start with ``trust``."""
    options = {"trust": trust} if contextual else {}
    return lambda i, k, batch, bounds: make_learner(learners, k, batch, contextual=contextual, bounds=bounds,
                                                    **options)


def run_learners(game: DesignGame, mediator: Mediator, learners: str, rounds: int, seeds: int, seed: int = 0,
                 lam: float = 1.0, contextual: str = "auto", trust: float = 0.5,
                 progress: str | None = None) -> Trajectory:
    """``seeds`` runs of ``learners`` stakeholders under ``mediator``: contextual when ``contextual`` is
    "on", or "auto" and the mediator recommends; a learned policy fixes the learners' payoff bounds."""
    ctx = contextual == "on" or (contextual == "auto" and recommends(mediator))
    bounds = None if isinstance(mediator, Intervention) else mediator.codec.learner_bounds()
    return simulate(game, mediator, learner_factory(learners, ctx, trust), rounds, seeds, seed, lam,
                    progress=progress, bounds=bounds)
