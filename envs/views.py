"""The mediator's training view: a stable-baselines3 VecEnv backed directly by the engine.

Each of the ``num_envs`` environments is one game of the engine's batch, with the stakeholders'
learners embedded and vectorised (no subprocesses). Every mediator step: the action decodes (via
`envs.codec.ActionCodec`) into the intervention of the next ``act_every`` rounds, those rounds are
played, and the reward is their mean net welfare divided by the game's payoff scale. The
observation is every stakeholder's current masked mixed strategy (envs.observation: the same
protocol as envs.simulate, tested).
An episode ends by truncation (the dynamics go on), so PPO bootstraps its value at the boundary.
Given a source of game batches and a padded layout (a general mediator), every environment draws a
fresh game at each episode reset (one shape per batch) and the observation is the layout's: payoff
tensor, strategies and masks, padded (envs.padding).
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.vec_env import VecEnv

from envs.codec import ActionCodec, joint_bounds
from envs.engine import Engine
from envs.game import DesignGame
from envs.intervention import Intervention
from envs.learner import LearnerFactory
from envs.observation import mediator_observation
from envs.padding import PaddedLayout


def _entropy(strategies: Sequence[np.ndarray]) -> np.ndarray:
    """Mean over stakeholders of the entropy (nats) of their strategies, per env."""
    return np.mean([-(p * np.log(np.where(p > 0, p, 1.0))).sum(axis=1) for p in strategies], axis=0)


class MediatorVecEnv(VecEnv):
    """``num_envs`` copies of the meta-game with learning stakeholders, seen by a learning mediator."""

    def __init__(self, game: DesignGame, learner_factory: LearnerFactory, num_envs: int = 16,
                 rounds: int = 200, act_every: int = 10, families: Sequence[str] = ("restrict",),
                 lam: float = 1.0, budget: float | None = None, vouchers: bool = False, seed: int = 0,
                 subsidy: str = "profile", batches: Callable[[int, int], list[DesignGame]] | None = None, layout: PaddedLayout | None = None,
                 temperature: float = 4.0):
        if rounds < act_every or act_every < 1:
            raise ValueError(f"need 1 <= act_every <= rounds, got act_every={act_every}, rounds={rounds}")
        if (batches is None) != (layout is None):
            raise ValueError("a padded layout and a source of game batches go together")
        self.game, self.factory, self.layout = game, learner_factory, layout
        self.batches = batches
        self.rounds, self.act_every, self.lam = rounds, act_every, lam
        self.codec = (layout.codec(game, budget=budget, temperature=temperature) if layout else
                      ActionCodec(game, tuple(families), budget, vouchers, temperature, subsidy))
        self.codecs, self.scales = [self.codec] * num_envs, np.full(num_envs, game.scale)
        self.bounds, self.drawn = self.codec.learner_bounds(), 0
        self.engine = Engine(game, None, batch=num_envs, lam=lam, seed=seed)
        size = layout.obs_dim if layout else sum(game.shape)
        obs_space = spaces.Box(-1.0 if self.batches else 0.0, 1.0, (size,), np.float32)
        act_space = spaces.Box(-1.0, 1.0, (layout.action_dim if layout else self.codec.dim,), np.float32)
        self.render_mode = None
        super().__init__(num_envs, obs_space, act_space)
        self.metrics: dict[str, np.ndarray] = {}
        self._actions: np.ndarray | None = None

    def _draw_games(self) -> None:
        """Every environment's next game: seeds ``drawn``, ``drawn + 1``, ... of the game source (one
        shape per batch; a new shape gets a new engine that continues the same random stream)."""
        games = self.batches(self.drawn, self.num_envs)
        self.drawn += self.num_envs
        if games[0].shape != self.game.shape:
            rng, self.game = self.engine.rng, games[0]
            self.engine = Engine(self.game, None, batch=self.num_envs, lam=self.lam)
            self.engine.rng = rng
        self.codecs = [dataclasses.replace(self.codec, game=g) for g in games]
        self.scales = np.array([g.scale for g in games])
        self.bounds = joint_bounds(self.codecs)
        self.engine.set_payoffs(np.stack([g.payoffs for g in games]))

    def observe(self, strategies: Sequence[np.ndarray] | None = None) -> np.ndarray:
        """The mediator's observation (envs.observation; padded to the layout for a general mediator)."""
        if self.layout is None:
            return mediator_observation(self.engine, strategies)
        payoffs = self.engine.flat_payoffs.reshape(self.num_envs, *self.game.payoffs.shape)
        return self.layout.encode(payoffs, strategies or self.engine.strategies())

    def decode(self, actions: np.ndarray) -> list[Intervention]:
        """One intervention per environment from the policy's actions (cut from the padded layout)."""
        if self.layout is not None:
            actions = self.layout.unpad(actions, self.game.shape)
        return [codec.decode(a) for codec, a in zip(self.codecs, actions)]

    # ----------------------------------------------------------------- VecEnv API
    def reset(self) -> np.ndarray:
        if self.batches is not None:
            self._draw_games()
        self.engine.set_intervention(Intervention())
        self.engine.learners = [self.factory(i, k, self.num_envs, self.bounds) for i, k in enumerate(self.game.shape)]
        self.t = 0
        self.engine.clear_recommendations()
        return self.observe()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        self.engine.set_interventions(self.decode(self._actions))
        totals = np.zeros((5, self.num_envs))
        received = np.zeros((self.num_envs, self.game.n_players))
        for _ in range(self.act_every):
            r = self.engine.step()
            totals += np.stack([r.gross, r.net, r.paid, r.obeyed.mean(axis=1), self.engine.has_rec.astype(float)])
            received += r.rewards
        self.t += self.act_every
        gross, net, paid, obeyed, recommended = totals / self.act_every
        strategies = self.engine.strategies()
        self.metrics = {"gross_welfare": gross, "net_welfare": net, "transfers_per_round": paid,
                        "obedience_rate": np.where(recommended > 0, obeyed, np.nan),
                        "strategy_entropy": _entropy(strategies)}
        for i, player in enumerate(self.game.players):     # per stakeholder: what it received, how it mixes
            self.metrics[f"{player}/reward"] = received[:, i] / self.act_every
            self.metrics[f"{player}/strategy_entropy"] = _entropy([strategies[i]])
        rewards = (net / self.scales).astype(np.float32)
        done = self.t >= self.rounds
        obs = self.observe(strategies)
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if done:
            for b, info in enumerate(infos):
                info["terminal_observation"], info["TimeLimit.truncated"] = obs[b], True
            obs = self.reset()
        return obs, rewards, np.full(self.num_envs, done), infos

    def close(self) -> None:
        pass

    def seed(self, seed: int | None = None) -> Sequence[None]:
        self.engine.rng = np.random.default_rng(seed)
        return [None] * self.num_envs

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        setattr(self, attr_name, value)

    def env_method(self, method_name: str, *args, indices=None, **kwargs) -> list[Any]:
        return [getattr(self, method_name)(*args, **kwargs)] * len(self._indices(indices))

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices) -> Sequence[int]:
        if indices is None:
            return range(self.num_envs)
        return [indices] if isinstance(indices, int) else indices
