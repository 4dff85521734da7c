"""Learning stakeholders under one mediator: the composition that evaluate.py, train.py and sweeps share."""
from __future__ import annotations

from envs.bayes import BayesGame, Signals
from envs.game import DesignGame
from envs.intervention import Intervention
from envs.learner import LearnerFactory
from envs.simulate import Mediator, Trajectory, simulate

from agents.no_regret import make_learner, population


def recommends(mediator: Mediator) -> bool:
    """Whether ``mediator`` may send recommendations (a fixed device, or a policy with that family)."""
    if isinstance(mediator, Intervention):
        return mediator.recommendation is not None
    return "recommend" in mediator.codec.families


def learner_factory(learners: str, contextual: bool, trust: float = 0.5) -> LearnerFactory:
    """A factory of ``learners`` rules: one for everyone (``hedge:eta=0.5``) or one per player (``hedge,ppo``,
    `population`); contextual ones start with ``trust``. Player i's PPO policy starts from seed i."""
    rules = population(learners)
    options = {"trust": trust} if contextual else {}

    def make(i: int, k: int, batch: int, bounds: tuple[float, float]):
        if len(rules) > 1 and i >= len(rules):
            raise ValueError(f"{learners!r} names {len(rules)} rules, one per player, but the game has more players")
        rule = rules[i] if len(rules) > 1 else rules[0]
        seed = {"seed": i} if rule.partition(":")[0] == "ppo" else {}
        return make_learner(rule, k, batch, contextual=contextual, bounds=bounds, **options, **seed)
    return make


def run_learners(game: DesignGame, mediator: Mediator, learners: str, rounds: int, seeds: int, seed: int = 0,
                 lam: float = 1.0, contextual: str = "auto", trust: float = 0.5,
                 progress: str | None = None) -> Trajectory:
    """``seeds`` runs of ``learners`` stakeholders under ``mediator``: contextual when ``contextual`` is
    "on", or "auto" and the mediator recommends; a learned policy fixes the learners' payoff bounds."""
    ctx = contextual == "on" or (contextual == "auto" and recommends(mediator))
    bounds = None if isinstance(mediator, Intervention) else mediator.codec.learner_bounds()
    return simulate(game, mediator, learner_factory(learners, ctx, trust), rounds, seeds, seed, lam,
                    progress=progress, bounds=bounds)


def signal_learner_factory(learners: str, signals: Signals, contextual: bool = True,
                           trust: float = 0.5) -> LearnerFactory:
    """Learners of a game with a state that learn per private signal: recommendation contexts (starting
    with ``trust``) when the signals recommend designs, one context per signal value otherwise (full
    disclosure: per state), a plain learner where a stakeholder gets one signal value or ``contextual`` is off."""
    def make(i: int, k: int, batch: int, bounds: tuple[float, float]):
        m = signals.sizes[i]
        if not contextual or m == 1:
            return make_learner(learners, k, batch, bounds=bounds)
        options = {"trust": trust} if signals.recommends else {"contexts": m}
        return make_learner(learners, k, batch, contextual=True, bounds=bounds, **options)
    return make


def run_signals(game: BayesGame, signals: Signals, learners: str, rounds: int, seeds: int, seed: int = 0,
                lam: float = 1.0, contextual: str = "auto", trust: float = 0.5,
                progress: str | None = None) -> Trajectory:
    """``seeds`` runs of ``learners`` stakeholders in a game with a state informed by ``signals``: per-signal
    learners unless ``contextual`` is "off". The same seed draws the same states whatever the signals."""
    factory = signal_learner_factory(learners, signals, contextual != "off", trust)
    return simulate(game, Intervention(), factory, rounds, seeds, seed, lam, progress=progress, signals=signals)
