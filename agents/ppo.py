"""Stakeholders trained by MaskablePPO (sb3-contrib) in the PettingZoo `DesignEnv`, under a fixed intervention.

`StakeholderView` is one stakeholder's `gymnasium.Env` view of a DesignEnv: the others act with
given policies and the mediator is never sent an action, so the env's intervention stays in force.
`train_ppo_stakeholders` trains every stakeholder in turn against the others' frozen policies
(iterated best response), then plays them against each other and reports what they did.
"""
from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass
from typing import Callable, Iterator, Mapping

import numpy as np
import torch
from gymnasium import Env, spaces
from sb3_contrib import MaskablePPO
from stable_baselines3.common.vec_env import DummyVecEnv

from envs.catalog import load_game
from envs.design_env import DesignEnv
from envs.game import DesignGame
from envs.intervention import Intervention

Policy = Callable[[dict], int]   # a stakeholder's dict observation -> design index


def encode(game: DesignGame, i: int, obs: dict) -> np.ndarray:
    """Stakeholder i's dict observation as one float32 vector: action mask, one-hot recommendation,
    payoff slice / game scale, one-hot last profile."""
    last = [np.eye(k + 1)[a] for k, a in zip(game.shape, obs["last_profile"])]
    return np.concatenate([obs["action_mask"], np.eye(game.shape[i] + 1)[obs["recommendation"]],
                           obs["payoffs"].ravel() / game.scale, *last]).astype(np.float32)


class StakeholderView(Env):
    """One stakeholder's view of a DesignEnv; the other stakeholders play ``opponents[name]``
    (uniformly over their allowed designs when absent); reward is utility plus payments / scale."""

    metadata = {"render_modes": []}

    def __init__(self, env_factory: Callable[[], DesignEnv], player: str,
                 opponents: Mapping[str, Policy] | None = None):
        self.env, self.player = env_factory(), player
        self.opponents = {} if opponents is None else opponents     # read at every step, may fill later
        game = self.env.game
        self.index = self.env.stakeholders.index(player)
        k, extra = game.shape[self.index], self.env.initial.transfers
        top = 1.0 + (0.0 if extra is None else float(extra.max()) / game.scale)
        low = [np.zeros(2 * k + 1), np.full(game.n_profiles, -1.0), np.zeros(sum(game.shape) + game.n_players)]
        high = [np.ones(2 * k + 1), np.full(game.n_profiles, top), np.ones(sum(game.shape) + game.n_players)]
        self.observation_space = spaces.Box(np.concatenate(low).astype(np.float32),
                                            np.concatenate(high).astype(np.float32), dtype=np.float32)
        self.action_space = spaces.Discrete(k)

    def reset(self, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        self.obs, _ = self.env.reset(seed=seed)
        return encode(self.env.game, self.index, self.obs[self.player]), {}

    def step(self, action):
        actions = {name: self._act(name) for name in self.env.stakeholders if name != self.player}
        self.obs, rewards, _, truncations, infos = self.env.step({**actions, self.player: int(action)})
        reward = rewards[self.player] / self.env.game.scale
        return (encode(self.env.game, self.index, self.obs[self.player]), reward, False,
                truncations[self.player], infos[self.player])

    def _act(self, name: str) -> int:
        """Another stakeholder's design: its policy's, else uniform over its allowed designs."""
        if name in self.opponents:
            return int(self.opponents[name](self.obs[name]))
        return int(self.np_random.choice(np.flatnonzero(self.obs[name]["action_mask"])))

    def action_masks(self) -> np.ndarray:
        """The designs this stakeholder may play now (MaskablePPO's convention)."""
        return self.obs[self.player]["action_mask"].astype(bool)


class PPOPolicy:
    """A model as a `Policy`: samples its masked action distribution with ``rng`` (not torch's).

    Distributions are memoised per observation; call `forget` once the model has trained further.
    """

    def __init__(self, model: MaskablePPO, game: DesignGame, player: str, rng: np.random.Generator):
        self.model, self.game, self.index, self.rng = model, game, game.players.index(player), rng
        self.memo: dict[bytes, np.ndarray] = {}

    def __call__(self, obs: dict) -> int:
        x = encode(self.game, self.index, obs)
        if x.tobytes() not in self.memo:
            self.memo[x.tobytes()] = self.probabilities(x)
        p = self.memo[x.tobytes()]
        return int(self.rng.choice(len(p), p=p))

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """The model's distribution over designs for the encoded observation x (its mask leads x)."""
        mask = x[:self.game.shape[self.index]].astype(bool)
        with torch.no_grad():
            p = self.model.policy.get_distribution(self.model.policy.obs_to_tensor(x)[0], mask).distribution.probs[0]
        p = p.numpy().astype(float)
        return p / p.sum()

    def forget(self) -> None:
        """Drop the memoised distributions (the model has changed)."""
        self.memo.clear()


@dataclass(frozen=True, eq=False)
class PPOOutcome:
    """Trained models and what they did over the evaluation rounds (payoffs exclude transfers)."""

    models: dict[str, MaskablePPO]
    profiles: dict[str, float]    # profile label -> frequency, every profile listed
    payoffs: dict[str, float]     # mean utility u_i per player
    welfare: float                # mean gross welfare
    transfers: float              # mean payments made
    net: float                    # mean net welfare (the mediator's reward)
    steps: int                    # environment steps trained, all stakeholders together


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one thread (faster for tiny nets, and reproducible), then restore the count."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def play(env: DesignEnv, policies: Mapping[str, Policy], rounds: int, seed: int) -> dict:
    """Play ``rounds`` rounds (over as many episodes as needed) with every stakeholder on its policy."""
    game = env.game
    counts, utilities = np.zeros(game.shape), np.zeros(game.n_players)
    welfare = transfers = net = 0.0
    obs, _ = env.reset(seed=seed)
    for _ in range(rounds):
        obs, rewards, _, truncations, infos = env.step({p: policies[p](obs[p]) for p in env.stakeholders})
        profile = tuple(obs[env.stakeholders[0]]["last_profile"])
        counts[profile] += 1
        utilities += game.payoffs_at(profile)
        welfare += infos["mediator"]["gross_welfare"]
        transfers += infos["mediator"]["transfers"]
        net += rewards["mediator"]
        if all(truncations.values()):
            obs, _ = env.reset()
    return {"profiles": {game.profile_label(a): float(counts[a] / rounds) for a in np.ndindex(game.shape)},
            "payoffs": dict(zip(game.players, (utilities / rounds).tolist())),
            "welfare": welfare / rounds, "transfers": transfers / rounds, "net": net / rounds}


def _minibatch(rollout: int) -> int:
    """64 when it divides the rollout (SB3 drops a ragged last minibatch), else the whole rollout."""
    return 64 if rollout % 64 == 0 else rollout


def silent_logger():
    """An SB3 logger that writes nothing anywhere (SB3's default with verbose=0 and no TensorBoard
    folder still creates an empty /tmp/SB3-<timestamp> folder per model)."""
    from stable_baselines3.common.logger import Logger

    return Logger(folder=None, output_formats=[])


def train_ppo_stakeholders(game: DesignGame | str, intervention: Intervention | None = None,
                           total_steps: int = 20_000, rounds: int = 50, phases: int = 4, seed: int = 0,
                           device: str = "cpu", eval_rounds: int = 1000, gamma: float = 0.0,
                           learning_rate: float = 1e-3, n_envs: int = 4) -> PPOOutcome:
    """Train one MaskablePPO per stakeholder by iterated best response under ``intervention``, then evaluate.

    In each of ``phases``, each stakeholder in turn trains total_steps / (phases n) steps (on ``n_envs``
    copies of the env) against the others' current policies, frozen and sampled; ``gamma = 0`` makes
    stakeholders myopic, as in the meta-game. Deterministic given ``seed``: torch runs on one thread
    and the opponents sample from one seeded numpy generator.
    """
    game = load_game(game) if isinstance(game, str) else game
    per_phase = total_steps // (phases * game.n_players)
    n_steps = min(32, per_phase // n_envs)
    if n_steps < 1:
        raise ValueError(f"total_steps={total_steps} leaves fewer than {n_envs} steps per player and phase")
    factory = functools.partial(DesignEnv, game, rounds=rounds, intervention=intervention)
    rng, policies, models = np.random.default_rng(seed), {}, {}
    with _one_thread():
        for j, player in enumerate(game.players):
            view = functools.partial(StakeholderView, factory, player, policies)
            models[player] = MaskablePPO("MlpPolicy", DummyVecEnv([view] * n_envs), learning_rate,
                                         n_steps=n_steps, batch_size=_minibatch(n_steps * n_envs), gamma=gamma,
                                         policy_kwargs={"net_arch": [64, 64]}, seed=seed + j * n_envs, device=device)
            models[player].set_logger(silent_logger())
            policies[player] = PPOPolicy(models[player], game, player, rng)
        for _ in range(phases):
            for player, model in models.items():
                model.learn(per_phase, reset_num_timesteps=False)
                policies[player].forget()
        stats = play(factory(), policies, eval_rounds, seed)
    return PPOOutcome(models=models, steps=sum(m.num_timesteps for m in models.values()), **stats)
