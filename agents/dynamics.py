"""Learning stakeholders under one mediator: the composition that evaluate.py, train.py and sweeps share."""
from __future__ import annotations

from typing import Sequence

from envs.bayes import BayesGame, Signals
from envs.engine import Stream
from envs.game import DesignGame
from envs.intervention import Intervention
from envs.learner import LearnerFactory
from envs.simulate import Mediator, Trajectory, simulate, simulate_blocks

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
    if isinstance(mediator, Intervention):
        return run_fixed(game, [mediator], learners, rounds, [(seed, seeds)], lam, contextual, trust, progress)[0]
    ctx = contextual == "on" or (contextual == "auto" and recommends(mediator))
    return simulate(game, mediator, learner_factory(learners, ctx, trust), rounds, seeds, seed, lam,
                    progress=progress, bounds=mediator.codec.learner_bounds())


def shares_policy(learners: str) -> bool:
    """Whether a rule of ``learners`` is one policy shared by all copies of a batch (``ppo``), so that copies
    under different mediators cannot share its batch."""
    return any(rule.partition(":")[0] == "ppo" for rule in population(learners))


def run_fixed(game: DesignGame, interventions: Sequence[Intervention], learners: str, rounds: int,
              streams: Sequence[Stream], lam: float = 1.0, contextual: str = "auto", trust: float = 0.5,
              progress: str | None = None) -> list[Trajectory]:
    """``learners`` stakeholders under each fixed intervention, each on the copies of ``streams`` ((seed,
    width): a seed's stream for that many copies), all in one engine batch (`simulate_blocks`) unless a rule
    shares one policy across the batch (then one stream only, and one batch per intervention). Every
    trajectory is the one its intervention gives alone: on "auto" the learners are contextual if any
    intervention recommends, and a contextual learner that is never told a design is the plain one, bit for
    bit (it only ever reads and updates its no-recommendation row, with zero weight on trust)."""
    if shares_policy(learners):
        if len(streams) > 1:
            raise ValueError(f"{learners!r} shares one policy across a batch: run one stream at a time")
        if len(interventions) > 1:
            return [run_fixed(game, [m], learners, rounds, streams, lam, contextual, trust, progress)[0]
                    for m in interventions]
    ctx = contextual == "on" or (contextual == "auto" and any(map(recommends, interventions)))
    return simulate_blocks(game, interventions, learner_factory(learners, ctx, trust), rounds, streams, lam, progress)


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
