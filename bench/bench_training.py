"""Benchmark of PPO mediator training: VecEnv and PPO throughput, and the time to close the gap.

Run from the repository root:

    python bench/bench_training.py            # full run (about 5-8 minutes)
    python bench/bench_training.py --quick    # small budgets, a smoke test (< 60 s)

Everything runs on ``example1`` with (non-contextual) Hedge stakeholders, the mediator family
``restrict``, 200 stakeholder rounds an episode and a mediator decision every 50 rounds (train.py's
defaults), on the CPU with ``torch.set_num_threads(1)``. One PPO step is one mediator decision in
one environment, i.e. ``act_every`` = 50 stakeholder rounds of that environment.

  1. Throughput of `envs.views.MediatorVecEnv` (wrapped in ``VecMonitor`` as train.py does) at
     num_envs = 1, 4, 16, 64, each for the same fixed budget of PPO steps:
       (a) env only: uniform random actions through ``venv.step``, no learning;
       (b) PPO: SB3 ``PPO("MlpPolicy")`` with train.py's hyper-parameters (gamma 0.9, learning rate
           3e-4, batch 256, 10 epochs) and ``n_steps = 1024 / num_envs``, so every rollout has
           1024 steps; the time of ``model.learn(budget)`` (rollouts and updates).
  2. Time to close 95% of the gap: a PPO mediator with train.py's defaults (16 envs, n_steps 64,
     batch 256, seed 0) is trained in chunks of ``model.learn(chunk, reset_num_timesteps=False)``;
     after each chunk the current policy is saved with a config.json as train.py writes it and run
     deterministically as `mediator.learned.LearnedMediator` through `envs.simulate.simulate` (Hedge
     learners with the bounds of `ActionCodec.learner_bounds`, as `evaluate.run_dynamics` does). Its
     long-run net welfare (`summarise`: mean of the last 20% of rounds) is placed on the scale from
     no mediation (0%) to the analytic restriction mediator (100%), both simulated once on the same
     rounds, seeds and random stream. The first chunk with gap closed >= 95% ends the run.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from tables import fmt_rate, print_table  # noqa: E402

from envs.catalog import load_game  # noqa: E402
from envs.game import DesignGame  # noqa: E402
from envs.intervention import Intervention  # noqa: E402
from envs.simulate import simulate, summarise  # noqa: E402
from envs.views import MediatorVecEnv  # noqa: E402
from mediator.analytic import restriction_mediator  # noqa: E402
from mediator.learned import LearnedMediator  # noqa: E402
from train import TrainConfig, resolve, stakeholder_factory  # noqa: E402

GAME = "example1"
NUM_ENVS = (1, 4, 16, 64)
ROLLOUT = 1024                 # PPO steps per rollout in part 1 (n_steps = ROLLOUT / num_envs)
TARGET = 0.95                  # share of the gap (no mediation -> restriction mediator) to close

#: Budgets per mode: part 1 steps per configuration; part 2 PPO steps per chunk, at most, and the
#: evaluation (rounds x seeds of Hedge learners per chunk).
BUDGETS = {
    "full": {"throughput_steps": 16_384, "chunk": 2048, "max_steps": 200_000, "eval_rounds": 3000, "eval_seeds": 5},
    "quick": {"throughput_steps": 2048, "chunk": 2048, "max_steps": 16_384, "eval_rounds": 1000, "eval_seeds": 5},
}


# --------------------------------------------------------------------------- helpers
def make_venv(game: DesignGame, c: TrainConfig, num_envs: int):
    """The mediator's VecEnv exactly as train.py builds it."""
    from stable_baselines3.common.vec_env import VecMonitor

    return VecMonitor(MediatorVecEnv(game, stakeholder_factory(c), num_envs, c.rounds, c.act_every, c.families,
                                     c.lam, c.budget, seed=c.seed))


def make_ppo(venv, c: TrainConfig, n_steps: int, batch_size: int):
    """PPO with train.py's hyper-parameters (no TensorBoard, no callbacks)."""
    from stable_baselines3 import PPO

    return PPO("MlpPolicy", venv, n_steps=n_steps, batch_size=batch_size, learning_rate=c.learning_rate,
               ent_coef=c.ent_coef, gamma=c.gamma, seed=c.seed, device="cpu", verbose=0,
               policy_kwargs={"log_std_init": c.log_std_init})


# --------------------------------------------------------------------------- part 1: throughput
def env_only(game: DesignGame, c: TrainConfig, num_envs: int, steps: int) -> float:
    """Seconds for ``steps`` PPO steps of random actions through ``venv.step`` (after one untimed step)."""
    venv = make_venv(game, c, num_envs)
    rng = np.random.default_rng(c.seed)
    venv.reset()
    shape = (num_envs, *venv.action_space.shape)
    venv.step(rng.uniform(-1.0, 1.0, shape).astype(np.float32))
    calls = -(-steps // num_envs)
    t0 = time.perf_counter()
    for _ in range(calls):
        venv.step(rng.uniform(-1.0, 1.0, shape).astype(np.float32))
    return time.perf_counter() - t0


def ppo_learn(game: DesignGame, c: TrainConfig, num_envs: int, steps: int) -> tuple[float, int]:
    """Seconds of ``model.learn(steps)`` with 1024-step rollouts, and the steps actually taken."""
    venv = make_venv(game, c, num_envs)
    model = make_ppo(venv, c, ROLLOUT // num_envs, min(256, ROLLOUT))
    t0 = time.perf_counter()
    model.learn(steps)
    return time.perf_counter() - t0, model.num_timesteps


def bench_throughput(game: DesignGame, c: TrainConfig, steps: int) -> tuple[list[list[Any]], dict]:
    measured = []
    for n in NUM_ENVS:
        env_s = env_only(game, c, n, steps)
        env_steps = -(-steps // n) * n
        ppo_s, ppo_steps = ppo_learn(game, c, n, steps)
        measured.append((n, env_steps / env_s, env_s, ppo_steps / ppo_s, ppo_s, ppo_steps))
    base_env, base_ppo = measured[0][1], measured[0][3]
    rows, rates = [], {}
    for n, env_rate, env_s, ppo_rate, ppo_s, ppo_steps in measured:
        rates[n] = (env_rate, ppo_rate)
        rows.append([n, ROLLOUT // n, f"{ppo_steps:,}", f"{env_s:.2f}", fmt_rate(env_rate),
                     fmt_rate(env_rate * c.act_every * game.n_players), f"{env_rate / base_env:.1f}x",
                     f"{ppo_s:.2f}", fmt_rate(ppo_rate), f"{ppo_rate / base_ppo:.1f}x", f"{ppo_rate / env_rate:.0%}"])
    return rows, {"rates": rates}


# --------------------------------------------------------------------------- part 2: time to 95% of the gap
def evaluate_policy(game: DesignGame, c: TrainConfig, mediator, rounds: int, seeds: int, seed: int) -> float:
    """Long-run net welfare of ``mediator`` (an Intervention or a LearnedMediator) as evaluate.run_dynamics
    computes it: Hedge learners, bounds of the learned mediator's codec (default bounds for interventions)."""
    bounds = None if isinstance(mediator, Intervention) else mediator.codec.learner_bounds()
    traj = simulate(game, mediator, stakeholder_factory(c), rounds, seeds, seed, c.lam, bounds=bounds)
    return summarise(game, traj)["net"]


def bench_gap(game: DesignGame, c: TrainConfig, budget: dict, eval_seed: int) -> tuple[list[list[Any]], dict]:
    rounds, seeds = budget["eval_rounds"], budget["eval_seeds"]
    t0 = time.perf_counter()
    none = evaluate_policy(game, c, Intervention(), rounds, seeds, eval_seed)
    best = evaluate_policy(game, c, restriction_mediator(game).intervention, rounds, seeds, eval_seed)
    reference_s = time.perf_counter() - t0
    gap = best - none

    rows: list[list[Any]] = []
    result: dict[str, Any] = {"none": none, "best": best, "reference_s": reference_s, "reached": None}
    with tempfile.TemporaryDirectory(prefix="bench_training_") as tmp:
        folder = Path(tmp) / c.run_name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(dataclasses.asdict(c), indent=2) + "\n")
        start = time.perf_counter()
        train_s = 0.0
        t = time.perf_counter()
        venv = make_venv(game, c, c.num_envs)
        steps_per_rollout = max(64, 1024 // c.num_envs) * c.num_envs
        model = make_ppo(venv, c, steps_per_rollout // c.num_envs, min(256, steps_per_rollout))
        train_s += time.perf_counter() - t
        while model.num_timesteps < budget["max_steps"]:
            t = time.perf_counter()
            model.learn(budget["chunk"], reset_num_timesteps=False)
            train_s += time.perf_counter() - t
            path = folder / f"step_{model.num_timesteps}.zip"
            model.save(path)
            net = evaluate_policy(game, c, LearnedMediator(path, game), rounds, seeds, eval_seed)
            path.unlink()
            closed = (net - none) / gap if gap > 1e-12 else float("nan")
            wall = time.perf_counter() - start
            rows.append([f"{model.num_timesteps:,}", f"{train_s:.1f}", f"{wall:.1f}", f"{net:.4f}", f"{closed:.1%}"])
            if closed >= TARGET:
                result["reached"] = {"steps": model.num_timesteps, "train_s": train_s, "wall_s": wall, "net": net,
                                     "closed": closed, "chunk": len(rows)}
                break
        result.update(final_steps=model.num_timesteps, final_train_s=train_s, final_wall_s=time.perf_counter() - start,
                      last_closed=closed)
    return rows, result


# --------------------------------------------------------------------------- main
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="small budgets, a smoke test (< 60 s)")
    ap.add_argument("--seed", type=int, default=0, help="seed of environments, PPO and evaluation (default 0)")
    args = ap.parse_args(argv)
    mode = "quick" if args.quick else "full"
    budget = BUDGETS[mode]

    import gymnasium
    import stable_baselines3
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(args.seed)
    np.random.seed(args.seed)
    game = load_game(GAME)
    c = resolve(TrainConfig(game=GAME, seed=args.seed, run_name="bench-training", total_steps=budget["max_steps"],
                    eval_rounds=budget["eval_rounds"], eval_seeds=budget["eval_seeds"]))
    c.designs = [list(d) for d in game.designs]
    eval_seed = c.seed + 1000   # train.py's compare() evaluates on seed + 1000

    print(f"Python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__} "
          f"({torch.get_num_threads()} thread), stable-baselines3 {stable_baselines3.__version__}, "
          f"gymnasium {gymnasium.__version__}; {platform.machine()}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.2f} at start; {mode} run, "
          f"seed {args.seed} (evaluation seed {eval_seed})")
    print(f"Game {GAME}, {c.stakeholders} stakeholders, families {','.join(c.families)}, rounds {c.rounds}, "
          f"act_every {c.act_every} (1 PPO step = {c.act_every} rounds x {game.n_players} stakeholders), device cpu")
    print()
    t_total = time.perf_counter()

    steps = budget["throughput_steps"]
    rows, thr = bench_throughput(game, c, steps)
    print_table(f"PPO steps per second of MediatorVecEnv, {steps:,} steps per configuration "
                f"(env only = random actions through venv.step; PPO = model.learn with 1024-step rollouts, "
                f"batch 256, 10 epochs; ratios vs num_envs = 1; PPO/env = PPO rate as a share of the env-only rate)",
                ["num_envs", "n_steps", "steps", "env s", "env steps/s", "stakeholder-rounds/s", "env ratio",
                 "PPO s", "PPO steps/s", "PPO ratio", "PPO/env"], rows)

    rows, gap = bench_gap(game, c, budget, eval_seed)
    print(f"Reference on the same dynamics ({budget['eval_rounds']:,} rounds x {budget['eval_seeds']} seeds of "
          f"Hedge learners, long-run = last 20% of rounds, {gap['reference_s']:.1f} s): no mediation net welfare "
          f"{gap['none']:.4f}; restriction mediator {gap['best']:.4f}; gap {gap['best'] - gap['none']:.4f}; "
          f"{TARGET:.0%} of the gap = net welfare {gap['none'] + TARGET * (gap['best'] - gap['none']):.4f}")
    print()
    print_table(f"PPO mediator training (train.py defaults: {c.num_envs} envs, n_steps "
                f"{max(64, 1024 // c.num_envs)}, batch 256, seed {c.seed}) evaluated deterministically after every "
                f"{budget['chunk']:,}-step chunk (up to {budget['max_steps']:,} steps; train s = building the model and learn() only, "
                f"wall s = including saving and evaluation)",
                ["PPO steps", "train s", "wall s", "learned net", "gap closed"], rows)

    env_rates = thr["rates"]
    summary = (f"Summary: env-only {fmt_rate(env_rates[1][0])} -> {fmt_rate(env_rates[64][0])} PPO steps/s "
               f"({env_rates[64][0] / env_rates[1][0]:.1f}x) and PPO learn {fmt_rate(env_rates[1][1])} -> "
               f"{fmt_rate(env_rates[64][1])} steps/s ({env_rates[64][1] / env_rates[1][1]:.1f}x) from 1 to 64 envs; "
               f"at {c.num_envs} envs PPO learn {fmt_rate(env_rates[c.num_envs][1])} steps/s. ")
    r = gap["reached"]
    if r:
        summary += (f"{TARGET:.0%} of the gap closed after {r['steps']:,} PPO steps (chunk {r['chunk']}, "
                    f"gap closed {r['closed']:.1%}): {r['train_s']:.1f} s of training, {r['wall_s']:.1f} s "
                    f"including evaluation.")
    else:
        summary += (f"{TARGET:.0%} of the gap NOT reached within {gap['final_steps']:,} PPO steps "
                    f"({gap['final_train_s']:.1f} s of training, {gap['final_wall_s']:.1f} s including evaluation; "
                    f"last gap closed {gap['last_closed']:.1%}).")
    print(summary)
    print(f"(total benchmark time {time.perf_counter() - t_total:.1f} s; load average {os.getloadavg()[0]:.2f} at end)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
