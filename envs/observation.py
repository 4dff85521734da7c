"""What a learned mediator observes of the dynamics (numpy only: the engine, the simulation and the
SB3 views all build it, and none of them needs stable-baselines3 or torch for it).

The protocol, the same in training (envs.views.MediatorVecEnv) and in judging (envs.simulate): the
mediator observes before round 0 and after every ``act_every`` rounds, without drawing anything; its
intervention is then in force for the next ``act_every`` rounds, each of which draws its
recommendations and plays (Engine.step)."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from envs.engine import Engine


def mediator_observation(engine: Engine, strategies: Sequence[np.ndarray] | None = None) -> np.ndarray:
    """(B, sum_i k_i): the stakeholders' masked mixed strategies for the coming round (under the
    recommendation context of the round just played). No clock: nothing in it saturates past a training
    horizon, so a policy sees the same kind of observation at round 200 and at round 20,000. (A general
    mediator also sees each game's payoffs: `envs.padding.PaddedLayout.encode` of these strategies.)"""
    return np.concatenate(list(strategies or engine.strategies()), axis=1).astype(np.float32)
