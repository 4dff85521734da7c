"""A trained PPO mediator policy, run through the engine like any other mediator.

Two kinds, read from the run's config.json: a per-game model (``policy: mlp``) sees the stakeholders'
strategies and serves the one game it was trained on; a general model (``policy: equivariant``) sees
the padded payoff tensor too (envs.padding) and serves any game that fits its layout."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Sequence

import numpy as np

from envs.catalog import game_family
from envs.codec import ActionCodec
from envs.game import DesignGame, GameError
from envs.intervention import Intervention
from envs.padding import PaddedLayout
from mediator.model_io import ModelFileError, load_sb3


class LearnedMediatorError(GameError):
    """A model file that is missing, corrupt, or trained on another game."""


#: The general mediators shipped with the package, by name (``--mediator general``, ``general-subsidize``): each
#: trained on mix:v1 for one family by the commands of README, "The general mediator".
SHIPPED_MODELS = {name: Path(__file__).parent / "models" / name / "final.zip"
                  for name in ("general", "general-subsidize")}
GENERAL_MODEL = SHIPPED_MODELS["general"]


def model_file(name: str | Path) -> Path:
    """A model path, or the shipped general model of that name (`SHIPPED_MODELS`)."""
    shipped = SHIPPED_MODELS.get(str(name))
    if shipped is not None and not shipped.is_file():
        raise LearnedMediatorError(f"the {name} model is not installed ({shipped} is missing)")
    return shipped or Path(name)


def read_run_config(model_path: str | Path) -> dict:
    """The config.json that train.py wrote next to the model (one folder up for checkpoints)."""
    path = Path(model_path)
    for folder in (path.parent, path.parent.parent):
        if (folder / "config.json").is_file():
            try:
                return json.loads((folder / "config.json").read_text())
            except json.JSONDecodeError as e:
                raise LearnedMediatorError(f"{folder / 'config.json'}: not valid JSON ({e.msg})") from None
    raise LearnedMediatorError(f"{path}: no config.json of its training run next to it")


def run_layout(config: dict) -> PaddedLayout | None:
    """The padded layout of a general model's run (None for a per-game model)."""
    if config.get("policy") != "equivariant":
        return None
    return PaddedLayout(int(config["n_max"]), int(config["k_max"]), tuple(config["families"]),
                        bool(config.get("vouchers", False)))


class LearnedMediator:
    """Every ``act_every`` rounds, maps the stakeholders' strategies (and, for a general model, each
    copy's game) to an Intervention per copy; ``games`` (one per copy of the batch, all of ``game``'s
    shape) lets a general model serve a different game per copy."""

    def __init__(self, path: str | Path, game: DesignGame, games: Sequence[DesignGame] | None = None):
        path = model_file(path)
        if not path.is_file():
            raise LearnedMediatorError(f"{path}: no such model file")
        config = read_run_config(path)
        self.layout = run_layout(config)
        trained = [list(d) for d in config.get("designs", [])]
        if self.layout is not None:
            try:
                self.layout.check_shape(game.shape)
            except ValueError:
                raise LearnedMediatorError(f"{path}: serves games of at most {self.layout.n_max} players and "
                                           f"{self.layout.k_max} designs each, not a {' x '.join(map(str, game.shape))} "
                                           "game") from None
        elif game_family_run(config):
            raise LearnedMediatorError(f"{path}: a flat game-conditioned model of an older version; retrain it "
                                       "(train.py now trains one equivariant model for a family)")
        elif [list(d) for d in game.designs] != trained:
            raise LearnedMediatorError(f"{path}: trained on designs {trained}, "
                                       f"not on this game's {[list(d) for d in game.designs]}")
        self.name = config.get("run_name", path.stem)
        options = dict(budget=config.get("budget"), temperature=float(config.get("temperature", 4.0)))
        self.codec = (self.layout.codec(game, **options) if self.layout is not None else
                      ActionCodec(game, tuple(config["families"]), vouchers=config.get("vouchers", False),
                                  subsidy=config.get("subsidy", "profile"), **options))
        self.model = load_model(path, spaces=run_spaces(self.layout, game, self.codec))
        self.act_every, self.rounds = int(config["act_every"]), int(config["rounds"])
        self.games = list(games) if games else [game]
        distinct = {id(g): dataclasses.replace(self.codec, game=g) for g in self.games}
        self.codecs = [distinct[id(g)] for g in self.games]
        self.payoffs = np.stack([g.payoffs for g in self.games])
        self.shape = game.shape

    def decide(self, profiles: np.ndarray) -> Intervention:
        """The intervention for the coming ``act_every`` rounds of one game from the designs its stakeholders
        played in the last rounds, ``profiles`` (T, n): their frequencies stand in for the strategies the model
        saw in training (outside agents, e.g. in the PettingZoo env, show only what they play)."""
        profiles = np.asarray(profiles, dtype=np.int64).reshape(-1, len(self.shape))
        if not len(profiles) or (profiles < 0).any() or (profiles >= np.array(self.shape)).any():
            raise ValueError(f"profiles must be a nonempty (T, {len(self.shape)}) array of designs of {self.shape}")
        frequencies = [np.bincount(a, minlength=k) / len(a) for a, k in zip(profiles.T, self.shape)]
        return self.interventions(np.concatenate(frequencies)[None])[0]

    def interventions(self, observation: np.ndarray) -> list[Intervention]:
        n = len(observation)
        if self.layout is not None:
            strategies = np.split(observation[:, :sum(self.shape)], np.cumsum(self.shape)[:-1], axis=1)
            payoffs = np.broadcast_to(self.payoffs, (n,) + self.payoffs.shape[1:]) if len(self.payoffs) == 1 else self.payoffs
            observation = self.layout.encode(payoffs, strategies)
        actions, _ = self.model.predict(observation.astype(np.float32), deterministic=True)
        if self.layout is not None:
            actions = self.layout.unpad(actions, self.shape)
        codecs = self.codecs if len(self.codecs) == n else self.codecs * n
        return [codec.decode(a) for codec, a in zip(codecs, actions)]


def game_family_run(config: dict) -> bool:
    """A run trained on a game family (``mix:v1``, ``random:n=2,k=4``; not one of their games, ``mix:v1:seed=7``)
    with the flat (pre-equivariant) game-conditioned policy."""
    if config.get("policy") == "equivariant":
        return False
    try:
        return game_family(str(config.get("game", ""))) is not None
    except GameError:
        return False


def run_spaces(layout: PaddedLayout | None, game: DesignGame, codec: ActionCodec):
    """The observation and action spaces of the run's training environment (as envs.views.MediatorVecEnv
    builds them): a per-game model sees the strategies in [0, 1], a general model the padded layout in [-1, 1]."""
    from gymnasium import spaces

    if layout is None:
        return (spaces.Box(0.0, 1.0, (sum(game.shape),), np.float32), spaces.Box(-1.0, 1.0, (codec.dim,), np.float32))
    return (spaces.Box(-1.0, 1.0, (layout.obs_dim,), np.float32), spaces.Box(-1.0, 1.0, (layout.action_dim,), np.float32))


def run_objects(path: Path, config: dict, observation_space, action_space) -> dict:
    """What replaces each pickled entry of a model train.py saved (mediator.model_io), rebuilt from its run's
    config.json as train.py's new_model built the model, and from the spaces of its environment; the last
    observation and episode statistics are left for SB3 to rebuild (it resets the environment on resume)."""
    from stable_baselines3.common.buffers import RolloutBuffer
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.common.utils import FloatSchedule

    try:
        layout = run_layout(config)
        if layout is None:
            policy, kwargs = ActorCriticPolicy, {"net_arch": [int(x) for x in config.get("net_arch", (64, 64))],
                                                 "log_std_init": float(config.get("log_std_init", 0.0))}
        else:
            from mediator.equivariant import EquivariantPolicy

            policy, kwargs = EquivariantPolicy, {"layout": layout, "width": int(config["width"]),
                                                 "layers": int(config["layers"]),
                                                 "log_std_init": float(config["log_std_init"])}
        learning_rate, clip_range = float(config.get("learning_rate", 3e-4)), float(config.get("clip_range", 0.2))
    except (KeyError, TypeError, ValueError) as e:
        raise LearnedMediatorError(f"{path}: its run's config.json is from another version "
                                   f"({type(e).__name__}: {e})") from None
    return {"policy_class": policy, "policy_kwargs": kwargs, "observation_space": observation_space,
            "action_space": action_space, "lr_schedule": FloatSchedule(learning_rate),
            "clip_range": FloatSchedule(clip_range), "clip_range_vf": None, "rollout_buffer_class": RolloutBuffer,
            "rollout_buffer_kwargs": {}, "_last_obs": None, "_last_episode_starts": None, "_last_original_obs": None,
            "ep_info_buffer": None, "ep_success_buffer": None}


def load_model(path: Path, env=None, spaces=None, **kwargs):
    """The SB3 PPO model in ``path``, loaded without unpickling anything from it (mediator.model_io): every
    pickled entry is rebuilt from the run's config.json and ``spaces`` (observation, action), or ``env``'s spaces
    when training resumes on ``env`` (``kwargs`` as for ``PPO.load``); one clear line when the file is not a
    usable model."""
    from stable_baselines3 import PPO  # lazy: torch is only needed for learned mediators

    path = Path(path)
    if env is not None:
        spaces = (env.observation_space, env.action_space)
    if spaces is None:
        raise ValueError("load_model needs the model's spaces (or the environment it resumes on)")
    try:
        return load_sb3(path, PPO, run_objects(path, read_run_config(path), *spaces), env=env, device="cpu", **kwargs)
    except ModelFileError as e:
        what = "cannot resume from this checkpoint: " if env is not None else ""
        raise LearnedMediatorError(f"{path}: {what}{e.reason}") from None
