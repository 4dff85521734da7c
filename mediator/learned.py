"""A trained PPO mediator policy, run through the engine like any other mediator."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from envs.codec import ActionCodec
from envs.game import DesignGame, GameError
from envs.intervention import Intervention


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
    """Every ``act_every`` rounds, maps the stakeholders' strategies to an Intervention per game."""

    def __init__(self, path: str | Path, game: DesignGame):
        from stable_baselines3 import PPO  # lazy: torch is only needed for learned mediators

        path = Path(path)
        if not path.is_file():
            raise LearnedMediatorError(f"{path}: no such model file")
        config = read_run_config(path)
        if [list(d) for d in game.designs] != config.get("designs"):
            raise LearnedMediatorError(f"{path}: trained on designs {config.get('designs')}, "
                                       f"not on this game's {[list(d) for d in game.designs]}")
        try:
            self.model = PPO.load(path, device="cpu")
        except (zipfile.BadZipFile, EOFError, KeyError, ValueError, RuntimeError) as e:
            raise LearnedMediatorError(f"{path}: cannot load the model ({type(e).__name__}: {e})") from None
        self.name = config.get("run_name", path.stem)
        self.codec = ActionCodec(game, tuple(config["families"]), config.get("budget"), config.get("vouchers", False))
        self.act_every, self.rounds = int(config["act_every"]), int(config["rounds"])

    def interventions(self, observation: np.ndarray) -> list[Intervention]:
        actions, _ = self.model.predict(observation, deterministic=True)
        return [self.codec.decode(a) for a in actions]
