"""Run learning stakeholders under a fixed intervention through the engine and summarise the dynamics.

All S seeds run at once as the B = S games of one engine, so every mediator is compared on the
same learners, the same number of rounds and the same random stream; `simulate_blocks` runs many fixed
mediators (and seeds of their own streams) as blocks of one batch, each block as it would run alone.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol, Sequence, Union

import numpy as np
from scipy.special import stdtrit
from tqdm.auto import tqdm

from envs.bayes import BayesGame, Signals, expected_outcome
from envs.engine import Engine, Stream
from envs.game import DesignGame
from envs.intervention import Intervention
from envs.learner import LearnerFactory
from envs.observation import mediator_observation


class MediatorPolicy(Protocol):
    """A mediator that acts during play (a learned one): every ``act_every`` rounds it maps the
    observation of `envs.observation.mediator_observation` to one Intervention per game; ``rounds``
    is the horizon it was trained at."""

    act_every: int
    rounds: int

    def interventions(self, observation: np.ndarray) -> list[Intervention]: ...


Mediator = Union[Intervention, MediatorPolicy]


@dataclass(frozen=True)
class Trajectory:
    """Per-round, per-seed series of one simulation, plus the final strategies."""

    gross: np.ndarray              # (R, S)
    net: np.ndarray                # (R, S)
    paid: np.ndarray               # (R, S)
    obeyed: np.ndarray             # (R, S) fraction of stakeholders (with a choice, in a state game) that obeyed
    utilities: np.ndarray          # (R, S, n) each stakeholder's own utility
    final_strategies: list[np.ndarray]   # per player (S, k_i)
    has_recommendation: bool
    objective: np.ndarray | None = None  # (R, S) the mediator's objective v(s, a) (games with a state)
    final_objective: np.ndarray | None = None   # (S,) exact E[v] of the learners' final per-signal strategies
    final_payoffs: np.ndarray | None = None     # (S, n) their exact E[u_i]

    def copies(self, index: slice) -> "Trajectory":
        """The same series for a subset of the copies (one game's seeds in a batch of games), contiguous as
        in a run of those copies alone, so that a summary reduces them in the same order."""
        def pick(x: np.ndarray | None, per_round: bool = False) -> np.ndarray | None:
            return None if x is None else np.ascontiguousarray(x[:, index] if per_round else x[index])

        return Trajectory(*(pick(x, True) for x in (self.gross, self.net, self.paid, self.obeyed, self.utilities)),
                          [pick(s) for s in self.final_strategies], self.has_recommendation,
                          pick(self.objective, True), pick(self.final_objective), pick(self.final_payoffs))


def simulate(game: DesignGame | BayesGame, mediator: Mediator | Sequence[Intervention],
             learner_factory: LearnerFactory, rounds: int, seeds: int, seed: int = 0, lam: float = 1.0,
             progress: str | None = None, bounds: tuple[float, float] | None = None,
             payoffs: np.ndarray | None = None, signals: Signals | None = None) -> Trajectory:
    """``rounds`` rounds of ``seeds`` independent copies of the game under a fixed intervention (or one
    per copy) or a policy (with a progress bar labelled ``progress`` on a terminal). Learners normalise
    payoffs by ``bounds`` (default: the range under the fixed interventions). ``payoffs`` (seeds, n,
    k_1, ..., k_n) makes each copy a different game of ``game``'s shape. A game with a state (a
    `BayesGame`) is informed by ``signals`` (envs.bayes: no information, full disclosure, a scheme)."""
    bayes = game if isinstance(game, BayesGame) else None
    if (bayes is None) != (signals is None) or (bayes is not None and payoffs is not None):
        raise ValueError("a game with a state needs signals (and no per-copy payoffs); an ordinary game takes none")
    engine = Engine(game if bayes is None else bayes.averaged(), None, batch=seeds, lam=lam, seed=seed)
    if payoffs is not None:
        engine.set_payoffs(payoffs)
    fixed = [mediator] * seeds if isinstance(mediator, Intervention) else mediator if isinstance(mediator, Sequence) else None
    policy = None if fixed is not None else mediator
    engine.set_interventions(fixed or [Intervention()] * seeds)
    if bayes is not None:
        engine.set_signals(bayes, signals)
    bounds = bounds or engine.payoff_bounds
    engine.learners = [learner_factory(i, k, seeds, bounds) for i, k in enumerate(game.shape)]
    recommends = (fixed is not None and any(m.recommendation is not None for m in fixed)
                  or bayes is not None and signals.recommends)
    return _run(engine, rounds, recommends, policy, progress)


def simulate_blocks(game: DesignGame, interventions: Sequence[Intervention], learner_factory: LearnerFactory,
                    rounds: int, streams: Sequence[Stream], lam: float = 1.0,
                    progress: str | None = None) -> list[Trajectory]:
    """One engine batch of a block of copies per intervention, the block's copies drawing from ``streams``
    ((seed, width) each, `envs.engine.BlockStreams`): per intervention, the trajectory ``simulate`` gives
    under it alone (a stream of ``seeds`` copies per (seed, seeds)), its copies in the streams' order. Each
    block's learners normalise by the bounds its own intervention gives (`Engine.copy_bounds`); a learner
    factory that builds its rule the same way for every block keeps every copy's trajectory exact."""
    width = sum(w for _, w in streams)
    engine = Engine(game, None, batch=width * len(interventions), lam=lam, seed=streams, repeats=len(interventions))
    engine.set_interventions([m for m in interventions for _ in range(width)])
    low, high = engine.copy_bounds
    bounds = (low[0], high[0]) if (high == high[0]).all() else (low, high)       # one range: plain numbers
    engine.learners = [learner_factory(i, k, engine.batch, bounds) for i, k in enumerate(game.shape)]
    traj = _run(engine, rounds, False, None, progress)
    return [replace(traj.copies(slice(j * width, (j + 1) * width)), has_recommendation=m.recommendation is not None)
            for j, m in enumerate(interventions)]


def _run(engine: Engine, rounds: int, recommends: bool, policy: MediatorPolicy | None,
         progress: str | None) -> Trajectory:
    """``rounds`` rounds of the engine's learners (a ``policy`` deciding every ``act_every`` rounds), recorded."""
    seeds, n, bayes = engine.batch, engine.n, engine.bayes
    series = np.zeros((4, rounds, seeds))
    utilities = np.zeros((rounds, seeds, n))
    objective = None if bayes is None else np.zeros((rounds, seeds))
    choosers = np.array(engine.shape) > 1          # a state game's dummy (the persuasion sender) cannot disobey
    obeyers = choosers if bayes is not None and choosers.any() else slice(None)
    for t in tqdm(range(rounds), desc=progress, disable=None if progress else True, leave=False, mininterval=0.5):
        if policy is not None and t % policy.act_every == 0:
            engine.set_interventions(policy.interventions(mediator_observation(engine)))
            recommends = recommends or bool(engine.has_rec.any())
        r = engine.step()
        series[0, t], series[1, t], series[2, t] = r.gross, r.net, r.paid
        series[3, t] = r.obeyed[:, obeyers].mean(axis=1)
        utilities[t] = r.utilities
        if objective is not None:
            objective[t] = r.objective
    final = (None, None) if bayes is None else expected_outcome(bayes, engine.signals, engine.signal_strategies(),
                                                               engine.state_objective)
    engine.draw_recommendations()
    return Trajectory(*series, utilities, engine.strategies(), recommends, objective, *final)


def mean_ci(x: np.ndarray, level: float = 0.95) -> tuple[float, float, float]:
    """Mean over seeds with a Student-t confidence interval (degenerate for one seed)."""
    m = float(np.mean(x))
    if len(x) < 2:
        return m, m, m
    half = float(stdtrit(len(x) - 1, 0.5 + level / 2) * np.std(x, ddof=1) / np.sqrt(len(x)))   # Student's t quantile
    return m, m - half, m + half


def smooth(x: np.ndarray, window: int) -> np.ndarray:
    """Trailing moving average (the first values average what is available)."""
    c = np.cumsum(np.insert(x, 0, 0.0))
    idx = np.arange(1, len(x) + 1)
    return (c[idx] - c[np.maximum(idx - window, 0)]) / np.minimum(idx, window)


def convergence_round(curve: np.ndarray, target: float, tolerance: float = 0.01) -> int | None:
    """First round after which ``curve`` stays within ``tolerance`` (relative) of ``target``."""
    outside = np.abs(curve - target) > tolerance * max(abs(target), 1e-12)
    if outside[-1]:
        return None
    last = np.flatnonzero(outside)
    return int(last[-1] + 2) if last.size else 1


def summarise(game: DesignGame, traj: Trajectory, tail: float = 0.2, points: int = 100) -> dict:
    """The report's ``dynamic`` object: long-run welfare with 95% intervals over seeds, transfers,
    convergence, final strategies and (with a recommendation) the obedience rate."""
    rounds = traj.gross.shape[0]
    last = slice(max(0, int(round(rounds * (1 - tail)))), rounds)
    gross, lo_g, hi_g = mean_ci(traj.gross[last].mean(axis=0))
    net, lo_n, hi_n = mean_ci(traj.net[last].mean(axis=0))
    window = max(1, rounds // 50)
    welfare_curve = smooth(traj.gross.mean(axis=1), window)
    transfer_curve = smooth(traj.paid.mean(axis=1), window)
    at = np.unique(np.linspace(0, rounds - 1, min(points, rounds)).astype(int))
    out = {
        "rounds": rounds, "seeds": traj.gross.shape[1], "tail_fraction": tail,
        "welfare": gross, "welfare_ci95": [lo_g, hi_g], "net": net, "net_ci95": [lo_n, hi_n],
        "payoffs": traj.utilities[last].mean(axis=(0, 1)).tolist(),
        "transfers_per_round": float(traj.paid[last].mean()),
        "cumulative_transfers": float(traj.paid.sum(axis=0).mean()),
        "convergence_round": convergence_round(welfare_curve, gross),
        "curve": {"round": (at + 1).tolist(), "welfare": welfare_curve[at].tolist(),
                  "net": smooth(traj.net.mean(axis=1), window)[at].tolist(),
                  "transfers": transfer_curve[at].tolist()},
        "final_strategies": {p: dict(zip(ds, np.round(s.mean(axis=0), 6).tolist()))
                             for p, ds, s in zip(game.players, game.designs, traj.final_strategies)},
    }
    if traj.has_recommendation:
        out["obedience_rate"] = float(traj.obeyed[last].mean())
    if traj.objective is not None:
        value, lo, hi = mean_ci(traj.objective[last].mean(axis=0))
        out.update(objective=value, objective_ci95=[lo, hi], final_objective=float(traj.final_objective.mean()),
                   final_welfare=float(traj.final_payoffs.sum(axis=1).mean()))
        out["curve"]["objective"] = smooth(traj.objective.mean(axis=1), window)[at].tolist()
    return out
