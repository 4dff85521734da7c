"""Benchmark: PPO steps per second of the equivariant policy against the MLP, at 16 and 64 environments.

Run from the repository root:

    python bench/bench_equivariant.py            # 4,096 PPO steps per cell
    python bench/bench_equivariant.py --steps 1024

Both policies train as train.py builds them (`train.mediator_env`, `train.new_model`: the same PPO
hyperparameters, ``n_steps = 1024 / num_envs`` so that every rollout has 1,024 steps) on Hedge
stakeholders, family ``restrict``: the MLP on example1 (its only game), the equivariant policy on
example1 through the padded layout (3 players x 16 designs) and on mix:v1 (a fresh game of a fresh
shape every episode). One run; the ratio column is each cell's rate over the MLP's at the same
number of environments.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from tables import fmt_rate, print_table  # noqa: E402

from envs.catalog import load_game  # noqa: E402
from train import TrainConfig, mediator_env, new_model, resolve  # noqa: E402

CELLS = (("mlp", "example1"), ("equivariant", "example1"), ("equivariant", "mix:v1"))


def rate(policy: str, game: str, num_envs: int, steps: int) -> float:
    """PPO steps per second of ``model.learn(steps)`` (rollouts and updates)."""
    import torch
    from stable_baselines3.common.vec_env import VecMonitor

    torch.set_num_threads(1)
    c = resolve(TrainConfig(game=game, policy=policy, num_envs=num_envs, n_steps=1024 // num_envs, act_every=10))
    with tempfile.TemporaryDirectory() as folder:
        model = new_model(c, VecMonitor(mediator_env(c, load_game(game))), Path(folder))
        start = time.perf_counter()
        model.learn(steps)
        return steps / (time.perf_counter() - start)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=4096)
    args = p.parse_args()
    rows = []
    for num_envs in (16, 64):
        base = None
        for policy, game in CELLS:
            r = rate(policy, game, num_envs, args.steps)
            base = base or r
            rows.append([policy, game, str(num_envs), fmt_rate(r), f"{r / base:.2f}"])
    print_table("PPO steps per second, equivariant policy vs MLP", ["policy", "game", "envs", "PPO steps/s", "vs MLP"], rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
