"""What a learned mediator observes of the dynamics (numpy only: the engine, the simulation and the
SB3 views all build it, and none of them needs stable-baselines3 or torch for it)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from envs.engine import Engine


def mediator_observation(engine: Engine, t: int, rounds: int, strategies: Sequence[np.ndarray] | None = None,
                         features: np.ndarray | None = None) -> np.ndarray:
    """(B, sum_i k_i + 1): the stakeholders' masked mixed strategies and the progress min(t / rounds, 1),
    followed by ``features`` (B, m) when given (a game-conditioned mediator's `payoff_features`)."""
    progress = np.full((engine.batch, 1), min(t / rounds, 1.0))
    extra = [] if features is None else [features]
    return np.concatenate([*(strategies or engine.strategies()), progress, *extra], axis=1).astype(np.float32)


def payoff_features(payoffs: np.ndarray) -> np.ndarray:
    """(B, n K): each game's payoff tensor (B, n, k_1, ..., k_n) divided by its payoff scale max |u|."""
    flat = np.asarray(payoffs, dtype=float).reshape(len(payoffs), -1)
    return flat / np.maximum(np.abs(flat).max(axis=1, keepdims=True), 1e-12)
