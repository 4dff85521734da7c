"""Two-level training throughput: a PPO mediator learning over PPO stakeholders, who learn too.

Run from the repository root:

    python bench/bench_two_level.py            # about 2-4 minutes
    python bench/bench_two_level.py --quick    # a smoke test

On ``example1`` (family ``restrict``, 200 rounds an episode, a decision every 50 rounds: train.py's
defaults) with every stakeholder a ``ppo`` rule (agents/ppo_learner.py, one MaskablePPO policy per
stakeholder shared by the environments' copies, updated every 64 rounds), SB3's PPO trains the
mediator for the same budget of mediator decisions at 1, 4 and 16 environments (n_steps = 1024 /
num_envs, so every rollout has 1024 decisions). Reported per second of ``model.learn``: mediator
decisions (PPO steps), stakeholder steps (rounds x stakeholders x environments, each one a PPO
stakeholder's action and buffer entry), and the ratio to one environment. CPU, one torch thread.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from stable_baselines3 import PPO  # noqa: E402
from stable_baselines3.common.vec_env import VecMonitor  # noqa: E402
from tables import fmt_rate, print_table  # noqa: E402

from agents.dynamics import learner_factory  # noqa: E402
from agents.ppo import silent_logger  # noqa: E402
from envs.catalog import load_game  # noqa: E402
from envs.views import MediatorVecEnv  # noqa: E402

GAME, ROUNDS, ACT_EVERY, ROLLOUT = "example1", 200, 50, 1024
NUM_ENVS = (1, 4, 16)


def throughput(num_envs: int, decisions: int) -> float:
    """Seconds of ``model.learn(decisions)`` for a mediator over PPO stakeholders in ``num_envs`` envs."""
    game = load_game(GAME)
    venv = VecMonitor(MediatorVecEnv(game, learner_factory("ppo", contextual=False), num_envs, ROUNDS, ACT_EVERY,
                                     ("restrict",), subsidy="incentive"))
    model = PPO("MlpPolicy", venv, n_steps=ROLLOUT // num_envs, batch_size=256, n_epochs=10, gamma=0.9,
                seed=0, device="cpu", verbose=0)
    model.set_logger(silent_logger())                 # SB3's default logger would leave a /tmp/SB3-* folder
    start = time.perf_counter()
    model.learn(decisions)
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    torch.set_num_threads(1)
    decisions = ROLLOUT if args.quick else 4 * ROLLOUT
    players = load_game(GAME).n_players
    print(f"python {platform.python_version()}, torch {torch.__version__}; {GAME}, {decisions} mediator decisions "
          f"per run, {ACT_EVERY} rounds each")
    rows, base = [], None
    for n in NUM_ENVS:
        seconds = throughput(n, decisions)
        rate = decisions / seconds
        base = base or rate
        rows.append([n, f"{seconds:.1f}", fmt_rate(rate), fmt_rate(rate * ACT_EVERY * players), f"{rate / base:.2f}x"])
    print_table("Two-level training: PPO mediator over PPO stakeholders",
                ["envs", "seconds", "mediator decisions/s", "stakeholder steps/s", "vs 1 env"], rows)


if __name__ == "__main__":
    main()
