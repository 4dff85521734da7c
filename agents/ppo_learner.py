"""PPO stakeholders inside the engine: one stakeholder's MaskablePPO (sb3-contrib) policy over the B copies.

A `PPOLearner` is a `envs.learner.Learner` like Hedge, so it runs wherever no-regret rules run (the
mediator's VecEnv, evaluate.py's dynamics, sweeps) and a mixed population (``hedge,ppo``) is one rule
per player. Its observation is what the stakeholder knows before acting, as in the PettingZoo env: the
designs allowed to it, the recommendation it received (one-hot, "none" included) and the payoffs it is
offered, transfers included: each design's worst and best u_i + t_i over the others' designs (given by
the engine through `see_payoffs`). Without the offer a policy shared by copies under different payments
could not tell them apart, and a mediator's subsidy would move its own stakeholders no more than the others'. The engine draws the design from the
policy's probabilities with its own random stream, so one seed gives one trajectory; every ``n_steps``
rounds the B copies' rounds fill SB3's rollout buffer (the engine's probability is the log-prob of the
action taken) and SB3's own PPO step updates the policy. Rewards are utilities (with payments)
normalised by the engine's payoff bounds; ``gamma = 0``: the stakeholder's action does not change what
it will observe, so each round is a contextual-bandit step and the advantage is reward - value.

Unlike the no-regret rules, whose B copies are independent, the B copies share one policy (parameter
sharing, as in population-based multi-agent RL): each copy acts on its own observation, and all of them
train it. Copies of a batch are therefore not independent seeds, and every copy must be the same game
(train.py refuses PPO stakeholders for a game family).
"""
from __future__ import annotations

import numpy as np
import torch
from gymnasium import Env, spaces
from sb3_contrib import MaskablePPO
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.ppo import silent_logger
from envs.learner import Feedback

#: PPO settings of an engine stakeholder (`make_learner("ppo:lr=...,n_steps=...")` overrides these).
PPO_DEFAULTS = {"lr": 3e-3, "n_steps": 64, "n_epochs": 4, "ent_coef": 0.0, "width": 32}


class _Spaces(Env):
    """A placeholder env that only carries the spaces SB3 builds the model from (it is never stepped)."""

    def __init__(self, observation_space: spaces.Box, action_space: spaces.Discrete):
        self.observation_space, self.action_space = observation_space, action_space


class PPOLearner:
    """One stakeholder's MaskablePPO policy over its k designs, shared by B copies, updated online."""

    def __init__(self, k: int, batch: int, contextual: bool = False, bounds: tuple[float, float] = (-1.0, 1.0),
                 seed: int = 0, lr: float = PPO_DEFAULTS["lr"], n_steps: float = PPO_DEFAULTS["n_steps"],
                 n_epochs: float = PPO_DEFAULTS["n_epochs"], ent_coef: float = PPO_DEFAULTS["ent_coef"],
                 width: float = PPO_DEFAULTS["width"]):
        low, high = map(float, bounds)
        if k < 1 or batch < 1 or not (np.isfinite([low, high]).all() and low < high):
            raise ValueError(f"ppo needs k >= 1, batch >= 1 and finite bounds low < high, got {k}, {batch}, {bounds}")
        if not (lr > 0 and n_steps >= 1 and n_epochs >= 1 and ent_coef >= 0 and width >= 1):
            raise ValueError(f"ppo options must be positive, got lr={lr}, n_steps={n_steps}, n_epochs={n_epochs}, "
                             f"ent_coef={ent_coef}, width={width}")
        self.k, self.batch, self.contextual = k, batch, contextual
        self.low, self.width = low, high - low
        self.offer = np.zeros((batch, 2 * k), np.float32)          # until the engine shows the payoffs
        obs_space = spaces.Box(0.0, 1.0, (4 * k + 1,), np.float32)
        venv = DummyVecEnv([lambda: _Spaces(obs_space, spaces.Discrete(k))] * batch)
        with torch.random.fork_rng():        # the policy's initial weights from its own seed, not the global stream
            torch.manual_seed(seed)
            self.model = MaskablePPO("MlpPolicy", venv, learning_rate=lr, n_steps=int(n_steps),
                                     batch_size=int(n_steps) * batch, n_epochs=int(n_epochs), gamma=0.0, gae_lambda=1.0,
                                     ent_coef=ent_coef, policy_kwargs={"net_arch": [int(width)]}, device="cpu",
                                     verbose=0)
        self.model.set_logger(silent_logger())
        self.buffer, self.policy = self.model.rollout_buffer, self.model.policy
        self.starts = np.ones(batch, dtype=np.float32)
        self.shuffles = np.random.RandomState(seed)     # SB3 shuffles minibatches with the global numpy stream

    def see_payoffs(self, payoffs: np.ndarray) -> None:
        """The round's offer: ``payoffs`` (B, k, K_-i) is u_i + t_i per own design and others' profile; the
        policy sees each design's worst and best value, mapped to [0, 1] by the payoff bounds."""
        worst_best = np.concatenate([payoffs.min(axis=2), payoffs.max(axis=2)], axis=1)
        self.offer = np.clip((worst_best - self.low) / self.width, 0.0, 1.0).astype(np.float32)

    def _observation(self, context: np.ndarray, mask: np.ndarray) -> torch.Tensor:
        """(B, 4k + 1): the allowed designs, the one-hot recommendation (index k: none, or not contextual)
        and the offer (`see_payoffs`)."""
        rec = np.zeros((self.batch, self.k + 1), np.float32)
        rec[np.arange(self.batch), np.asarray(context) if self.contextual else self.k] = 1.0
        return torch.as_tensor(np.concatenate([np.asarray(mask, np.float32), rec, self.offer], axis=1))

    def strategy(self, context: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """The masked softmax of the policy's logits (what MaskablePPO's distribution samples from)."""
        with torch.no_grad():
            logits = self.policy.action_net(self.policy.mlp_extractor.forward_actor(self._observation(context, mask)))
        logits = np.where(mask, logits.numpy().astype(np.float64), -np.inf)
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        return p / p.sum(axis=1, keepdims=True)

    def update(self, feedback: Feedback) -> None:
        obs = self._observation(feedback.context, feedback.mask)
        with torch.no_grad():
            values = self.policy.predict_values(obs)
        reward = np.clip((feedback.reward - self.low) / self.width, 0.0, 1.0).astype(np.float32)
        log_prob = torch.as_tensor(np.log(np.maximum(feedback.probability, 1e-12)))
        self.buffer.add(obs.numpy(), feedback.action.reshape(-1, 1), reward, self.starts, values, log_prob,
                        action_masks=np.asarray(feedback.mask))
        self.starts = np.zeros(self.batch, dtype=np.float32)
        if self.buffer.full:
            self.buffer.compute_returns_and_advantage(last_values=torch.zeros(self.batch), dones=np.ones(self.batch))
            outside = np.random.get_state()
            np.random.set_state(self.shuffles.get_state())
            try:
                self.model.train()
            finally:
                self.shuffles.set_state(np.random.get_state())
                np.random.set_state(outside)
            self.buffer.reset()
