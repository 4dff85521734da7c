"""A trained PPO mediator policy, run through the engine like any other mediator (a game-conditioned
one also sees the game's normalised payoff tensor, and serves any game of its training shape)."""
from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path
from typing import Sequence

import numpy as np

from envs.catalog import game_family
from envs.codec import ActionCodec
from envs.game import DesignGame, GameError
from envs.intervention import Intervention
from envs.observation import payoff_features


class LearnedMediatorError(GameError):
    """A model file that is missing, corrupt, or trained on another game."""


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


class LearnedMediator:
    """Every ``act_every`` rounds, maps the stakeholders' strategies to an Intervention per game;
    ``games`` (one per copy of the batch, all of ``game``'s shape) lets it serve a different game per copy."""

    def __init__(self, path: str | Path, game: DesignGame, games: Sequence[DesignGame] | None = None):
        from stable_baselines3 import PPO  # lazy: torch is only needed for learned mediators


        path = Path(path)
        if not path.is_file():
            raise LearnedMediatorError(f"{path}: no such model file")
        config = read_run_config(path)
        self.conditioned = game_family(str(config.get("game", ""))) is not None
        trained = [list(d) for d in config.get("designs", [])]
        if self.conditioned and [len(d) for d in trained] != list(game.shape):
            raise LearnedMediatorError(f"{path}: trained on games of shape {' x '.join(str(len(d)) for d in trained)}, "
                                       f"not on this game's {' x '.join(map(str, game.shape))}")
        if not self.conditioned and [list(d) for d in game.designs] != trained:
            raise LearnedMediatorError(f"{path}: trained on designs {trained}, "
                                       f"not on this game's {[list(d) for d in game.designs]}")
        try:
            self.model = PPO.load(path, device="cpu")
        except (zipfile.BadZipFile, EOFError, KeyError, ValueError, RuntimeError) as e:
            raise LearnedMediatorError(f"{path}: cannot load the model ({type(e).__name__}: {e})") from None
        self.name = config.get("run_name", path.stem)
        self.codec = ActionCodec(game, tuple(config["families"]), config.get("budget"), config.get("vouchers", False),
                                 subsidy=config.get("subsidy", "profile"))
        self.act_every, self.rounds = int(config["act_every"]), int(config["rounds"])
        distinct = {id(g): dataclasses.replace(self.codec, game=g) for g in games or ()}
        self.codecs = [distinct[id(g)] for g in games] if games else None
        payoffs = np.stack([g.payoffs for g in games]) if games else game.payoffs[None]
        self.features = payoff_features(payoffs) if self.conditioned else None

    def interventions(self, observation: np.ndarray) -> list[Intervention]:
        n = len(observation)
        if self.features is not None:
            features = np.broadcast_to(self.features, (n, self.features.shape[1]))
            observation = np.concatenate([observation, features], axis=1)
        actions, _ = self.model.predict(observation.astype(np.float32), deterministic=True)
        return [codec.decode(a) for codec, a in zip(self.codecs or [self.codec] * n, actions)]
