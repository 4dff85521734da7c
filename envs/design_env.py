"""The PettingZoo ParallelEnv of the meta-game: the B = 1 view of the engine.

Agents: ``mediator`` and one per stakeholder (named after the game's players). Timing is
commitment: the mediator's action at round t sets the intervention for round t + 1, so all
agents act in parallel at every step. An episode lasts ``rounds`` rounds (then every agent is
truncated).

Stakeholder i observes a dict: ``action_mask`` (its allowed designs), ``recommendation`` (its
private recommendation; k_i = none), ``payoffs`` (its own u_i + t_i slice under the current
intervention, own design first) and ``last_profile`` (k_j = none before the first round). Its
action is a design index; its reward is utility plus payments received.
The mediator observes the last profile (one-hot per player) and the progress t / rounds; its
action is a Box decoded by `envs.codec.ActionCodec`, or an `Intervention` itself (what an analytic or a
learned mediator decided, `mediator.learned.LearnedMediator.decide`); its reward is net welfare. ``intervention``
is the one in force from the first round (e.g. an analytic mediator's); a step whose actions
omit the mediator keeps the intervention in force.

Illegal stakeholder actions (a masked design or an index out of range) are replaced by a design
drawn uniformly from the allowed ones, and the agent's info says ``illegal_action: True``. Instead of
designs, the stakeholders may all give strategies (weights over their designs): the engine then draws
each design from its own seeded stream exactly as it draws embedded learners' (masked, normalised), so a
policy run here meets the trajectory it meets inside the engine; each info's ``probability`` is that of
the design drawn (1 for a design given).

A game with a state (`envs.bayes.BayesGame`, or its catalog name) is informed by ``signals`` (default:
no information): every round the engine draws the state and the signals; stakeholder i additionally
observes ``signal``, its private signal for the coming round (for recommendation signals it is also its
``recommendation``), and ``payoffs`` is its slice of the prior-averaged game (it does not see the state).
The mediator's info reports the round's ``state``; its action cannot recommend (the signals do).
"""
from __future__ import annotations

import functools

import numpy as np
from gymnasium import spaces
from pettingzoo import ParallelEnv

from envs.bayes import BayesGame, Signals, no_information
from envs.catalog import load_any
from envs.codec import FAMILIES, ActionCodec
from envs.engine import Engine
from envs.game import DesignGame
from envs.intervention import Intervention

MEDIATOR = "mediator"


class DesignEnv(ParallelEnv):
    """Stakeholders choose agent designs round after round while a mediator intervenes."""

    metadata = {"name": "agent_design_v0", "render_modes": ["ansi"], "is_parallelizable": True}

    def __init__(self, game: DesignGame | BayesGame | str = "example1", rounds: int = 100,
                 families: tuple[str, ...] | None = None, lam: float = 1.0, budget: float | None = None,
                 vouchers: bool = False, intervention: Intervention | None = None,
                 render_mode: str | None = None, signals: Signals | None = None):
        game = load_any(game) if isinstance(game, str) else game
        self.bayes = game if isinstance(game, BayesGame) else None
        self.game = game if self.bayes is None else game.averaged()
        if families is None:
            families = FAMILIES if self.bayes is None else tuple(f for f in FAMILIES if f != "recommend")
        if self.bayes is None and signals is not None:
            raise ValueError("signals need a game with states")
        if self.bayes is not None and ("recommend" in families or intervention and intervention.recommendation is not None):
            raise ValueError("in a game with states the signals recommend; the mediator cannot")
        if rounds < 1:
            raise ValueError(f"rounds must be >= 1, got {rounds}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self.rounds, self.render_mode = rounds, render_mode
        self.initial = (intervention or Intervention()).validate(self.game)
        self.codec = ActionCodec(self.game, tuple(families), budget, vouchers)
        self.engine = Engine(self.game, learners=None, batch=1, lam=lam)
        if self.bayes is not None:
            self.engine.set_signals(self.bayes, signals or no_information(self.bayes))
        self.stakeholders = list(self.game.players)
        if MEDIATOR in self.stakeholders:
            raise ValueError(f"a stakeholder cannot be called {MEDIATOR!r}")
        self.possible_agents = [MEDIATOR, *self.stakeholders]
        self.agents: list[str] = []
        self._spaces()

    def _spaces(self) -> None:
        """Build every space once (PettingZoo requires the same object on every call)."""
        g = self.game
        none_profile = np.array(g.shape) + 1
        self._obs = {MEDIATOR: spaces.Box(0.0, 1.0, (int(none_profile.sum()) + 1,), np.float32)}
        self._act = {MEDIATOR: spaces.Box(-1.0, 1.0, (self.codec.dim,), np.float32)}
        for i, (name, k) in enumerate(zip(self.stakeholders, g.shape)):
            self._obs[name] = spaces.Dict({
                "action_mask": spaces.Box(0, 1, (k,), np.int8),
                "recommendation": spaces.Discrete(k + 1),
                "payoffs": spaces.Box(-np.inf, np.inf, (k, g.n_profiles // k), np.float64),
                "last_profile": spaces.MultiDiscrete(none_profile),
                **({"signal": spaces.Discrete(self.engine.signals.sizes[i])} if self.bayes is not None else {}),
            })
            self._act[name] = spaces.Discrete(k)

    @functools.lru_cache(maxsize=None)
    def observation_space(self, agent: str) -> spaces.Space:
        return self._obs[agent]

    @functools.lru_cache(maxsize=None)
    def action_space(self, agent: str) -> spaces.Space:
        return self._act[agent]

    # ----------------------------------------------------------------- episode
    def reset(self, seed: int | None = None, options: dict | None = None):
        if seed is not None or not hasattr(self, "_seeded"):
            self.engine.reseed(seed)
            self._seeded = True
        self.engine.set_intervention(self.initial)
        self.engine.draw_recommendations()
        self.agents = list(self.possible_agents)
        self.t, self.last = 0, None
        return self._observations(), {a: {} for a in self.agents}

    def step(self, actions: dict):
        if not self.agents:
            raise RuntimeError("the episode is over; call reset() before step()")
        given = [actions.get(name, -1) for name in self.stakeholders]
        mixed = [np.ndim(a) == 1 for a in given]
        if any(mixed) and not all(mixed):
            raise ValueError("every stakeholder's action must be a design, or every one a strategy over its designs")
        if all(mixed):                      # strategies: the engine draws the designs from its seeded stream
            self.last = self.engine.play(strategies=[np.asarray(a, dtype=float)[None] for a in given])
        else:
            self.last = self.engine.play(np.array([given], dtype=np.int64))
        self.t += 1
        if MEDIATOR in actions:
            action = actions[MEDIATOR]
            self.engine.set_intervention(action if isinstance(action, Intervention) else self.codec.decode(action))
        self.engine.draw_recommendations()
        rewards = {MEDIATOR: float(self.last.net[0]),
                   **{name: float(self.last.rewards[0, i]) for i, name in enumerate(self.stakeholders)}}
        done = self.t >= self.rounds
        infos = {MEDIATOR: {"gross_welfare": float(self.last.gross[0]), "transfers": float(self.last.paid[0]),
                            **({"state": self.bayes.states[int(self.last.state[0])]} if self.bayes is not None else {})},
                 **{name: {"illegal_action": bool(self.last.illegal[0, i]),
                           "probability": float(self.last.probabilities[0, i])}
                    for i, name in enumerate(self.stakeholders)}}
        obs = self._observations()
        truncations = {a: done for a in self.agents}
        terminations = {a: False for a in self.agents}
        if done:
            self.agents = []
        return obs, rewards, terminations, truncations, infos

    def _observations(self) -> dict:
        g, e = self.game, self.engine
        last = (np.array(g.shape) if self.last is None else self.last.profile[0])
        onehot = np.concatenate([np.eye(k + 1, dtype=np.float32)[a] for k, a in zip(g.shape, last)])
        obs = {MEDIATOR: np.append(onehot, np.float32(self.t / self.rounds)).astype(np.float32)}
        u = g.payoffs + e.transfers[0].reshape(g.payoffs.shape)
        for i, name in enumerate(self.stakeholders):
            obs[name] = {"action_mask": e.masks[i][0].astype(np.int8),
                         "recommendation": int(e.recommendation[0, i]),
                         "payoffs": np.moveaxis(u[i], i, 0).reshape(g.shape[i], -1),
                         "last_profile": last.astype(np.int64)}
            if self.bayes is not None:
                obs[name]["signal"] = int(e.signal[0, i])
        return obs

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        if self.last is None:
            return f"round 0/{self.rounds}: no round played yet"
        r = self.last
        played = ", ".join(f"{p}={self.game.designs[i][a]}" for i, (p, a) in enumerate(zip(self.stakeholders, r.profile[0])))
        return (f"round {self.t}/{self.rounds}: {played}; rewards "
                + ", ".join(f"{x:.3f}" for x in r.rewards[0])
                + f"; welfare {r.gross[0]:.3f}, transfers {r.paid[0]:.3f}, net {r.net[0]:.3f}")

    def close(self) -> None:
        pass


def parallel_env(game: DesignGame | BayesGame | str = "example1", **kwargs) -> DesignEnv:
    """PettingZoo-style constructor: ``envs.parallel_env(game="bos", rounds=50)``."""
    return DesignEnv(game, **kwargs)
