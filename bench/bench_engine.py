"""Benchmark of the batched `Engine` against a plain Python loop over the PettingZoo API.

Run from the repository root:

    python bench/bench_engine.py            # full run (about 40 s)
    python bench/bench_engine.py --quick    # fewer rounds, a smoke test (< 20 s)

Both methods play the same dynamics: every stakeholder is a (non-contextual) Hedge learner with
full-information feedback, the payoff range of `Engine.payoff_bounds`, and no intervention.

  (a) ``pettingzoo``: the loop a user writes with the ParallelEnv API (``envs.parallel_env``,
      the B = 1 view). One B = 1 Hedge learner per stakeholder, driven from outside the env: per
      step each stakeholder's ``strategy`` is read from its observation (recommendation, action
      mask), a design is sampled with ``numpy.random.Generator.choice``, the actions (with a zero
      mediator action; ``families=("restrict",)`` makes it a no-op) go to ``env.step``, and each
      learner is updated with the Hedge feedback built from its observed ``payoffs`` slice and the
      others' designs in ``env.last.profile``. The env is reset when it truncates (1000 rounds an
      episode); learners persist across episodes.
  (b) ``engine``: `Engine` with embedded Hedge learners at B = 1, 64, 1024, ``engine.step()`` in a loop.

Throughput is stakeholder-rounds per second: rounds x B x stakeholders / seconds (each
stakeholder's decision in each game counted once). Each configuration runs a fixed number of
rounds (fewer for large B, so one measurement takes about 1-3 s) after a short warm-up; the time
shown is the median of ``--repeat`` measurements. The issue's target: (b) at B = 1024 at least
100x (a) on the same game.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from tables import fmt_rate, print_table  # noqa: E402

import envs  # noqa: E402
from agents.no_regret import make_learner  # noqa: E402
from envs.catalog import make_game, random_game  # noqa: E402
from envs.engine import Engine  # noqa: E402
from envs.game import DesignGame  # noqa: E402
from envs.learner import Feedback  # noqa: E402

EPISODE = 1000          # rounds per PettingZoo episode (the env truncates, the loop resets it)
BATCHES = (1, 64, 1024)
TARGET = 100.0          # the target ratio, engine at B = 1024 vs the PettingZoo loop
TARGET_B = 1024

#: Rounds timed per configuration, keyed by (method, B), per game; sized for ~1-3 s on a 2-CPU
#: x86-64 machine. Quick mode divides every count by QUICK_DIVISOR.
ROUNDS_FULL: dict[str, dict[tuple[str, int], int]] = {
    "example1": {("pettingzoo", 1): 4000, ("engine", 1): 8000, ("engine", 64): 8000, ("engine", 1024): 1500},
    "random 13x13": {("pettingzoo", 1): 4000, ("engine", 1): 8000, ("engine", 64): 6000, ("engine", 1024): 600},
}
QUICK_DIVISOR = 5
WARMUP = 50             # rounds played (untimed) before each timed run


# --------------------------------------------------------------------------- helpers
def timed(make_runner: Callable[[], Callable[[int], None]], rounds: int, repeat: int) -> float:
    """Median wall time of ``runner(rounds)``; each repetition builds a fresh runner and warms it up."""
    times = []
    for _ in range(repeat):
        runner = make_runner()
        runner(WARMUP)
        t0 = time.perf_counter()
        runner(rounds)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# --------------------------------------------------------------------------- (a) PettingZoo loop
def pettingzoo_runner(game: DesignGame, seed: int) -> Callable[[int], None]:
    """The loop over the ParallelEnv API, with B = 1 Hedge learners driven from outside the env."""
    env = envs.parallel_env(game=game, rounds=EPISODE, families=("restrict",))
    obs, _ = env.reset(seed=seed)
    names = list(env.stakeholders)
    shape = game.shape
    bounds = env.engine.payoff_bounds
    learners = {name: make_learner("hedge", k, 1, bounds=bounds) for name, k in zip(names, shape)}
    rng = np.random.default_rng(seed + 1)
    mediator_noop = np.zeros(env.action_space("mediator").shape, np.float32)
    others = {i: [j for j in range(len(names)) if j != i] for i in range(len(names))}
    state = {"obs": obs}

    def run(rounds: int) -> None:
        obs = state["obs"]
        for _ in range(rounds):
            actions: dict[str, Any] = {"mediator": mediator_noop}
            seen = {}
            for name, k in zip(names, shape):
                context = np.array([obs[name]["recommendation"]])
                mask = obs[name]["action_mask"][None].astype(bool)
                p = learners[name].strategy(context=context, mask=mask)[0]
                a = int(rng.choice(k, p=p))
                actions[name] = a
                seen[name] = (a, p[a], context, mask)
            obs, rewards, _, truncations, _ = env.step(actions)
            profile = env.last.profile[0]
            for i, name in enumerate(names):
                a, prob, context, mask = seen[name]
                # column of the payoffs slice: the others' designs, flattened in player order
                col = np.ravel_multi_index(tuple(profile[others[i]]), tuple(shape[j] for j in others[i]))
                learners[name].update(Feedback(
                    action=np.array([a]), reward=np.array([rewards[name]]),
                    payoff_vector=obs[name]["payoffs"][:, col][None], probability=np.array([prob]),
                    context=context, mask=mask))
            if any(truncations.values()):
                obs, _ = env.reset()
        state["obs"] = obs

    return run


# --------------------------------------------------------------------------- (b) engine
def engine_runner(game: DesignGame, batch: int, seed: int) -> Callable[[int], None]:
    """`Engine` with embedded Hedge learners (B copies each), stepped in a loop."""
    engine = Engine(game, None, batch=batch, seed=seed)
    engine.learners = [make_learner("hedge", k, batch, bounds=engine.payoff_bounds) for k in game.shape]

    def run(rounds: int) -> None:
        for _ in range(rounds):
            engine.step()

    return run


# --------------------------------------------------------------------------- main
def bench_game(label: str, game: DesignGame, rounds_of: dict[tuple[str, int], int], repeat: int,
               seed: int) -> tuple[list[list[Any]], dict[int, float]]:
    """Table rows of one game and the engine/PettingZoo ratio for each B."""
    n = game.n_players
    configs = [("pettingzoo", 1)] + [("engine", b) for b in BATCHES]
    measured = []
    for method, batch in configs:
        rounds = rounds_of[(method, batch)]
        if method == "pettingzoo":
            seconds = timed(lambda: pettingzoo_runner(game, seed), rounds, repeat)
        else:
            seconds = timed(lambda: engine_runner(game, batch, seed), rounds, repeat)
        measured.append((method, batch, rounds, seconds, rounds * batch * n / seconds))
    base = measured[0][4]
    rows, ratios = [], {}
    for method, batch, rounds, seconds, rate in measured:
        if method == "engine":
            ratios[batch] = rate / base
        rows.append([label, method, batch, f"{rounds:,}", f"{seconds:.2f}", fmt_rate(rate), f"{rate / base:,.1f}x"])
    return rows, ratios


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help=f"1/{QUICK_DIVISOR} of the rounds, one repetition (< 20 s)")
    ap.add_argument("--repeat", type=int, default=None, help="measurements per configuration (median; default 3, quick 1)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the random game and of every run (default 0)")
    args = ap.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)

    import pettingzoo
    print(f"Python {platform.python_version()}, numpy {np.__version__}, pettingzoo {pettingzoo.__version__}; "
          f"{platform.machine()}, {os.cpu_count()} CPUs; {'quick' if args.quick else 'full'} run, "
          f"seed {args.seed}, median of {repeat}")
    print()
    t0 = time.perf_counter()
    games = {"example1": make_game("example1"), "random 13x13": random_game(n=2, k=13, seed=args.seed)}
    rows, ratios = [], {}
    for label, game in games.items():
        rounds_of = {key: max(r // (QUICK_DIVISOR if args.quick else 1), 1) for key, r in ROUNDS_FULL[label].items()}
        game_rows, ratios[label] = bench_game(label, game, rounds_of, repeat, args.seed)
        rows += game_rows
    print_table("Stakeholder-rounds per second, Hedge stakeholders, no intervention "
                "(pettingzoo = Python loop over the ParallelEnv API, B = 1; engine = Engine.step() with "
                "embedded learners; ratio vs pettingzoo on the same game)",
                ["game", "method", "B", "rounds", "seconds", "stakeholder-rounds/s", "ratio"], rows)
    verdicts = []
    for label, r in ratios.items():
        x = r[TARGET_B]
        verdicts.append(f"{label} {x:,.0f}x ({'PASS' if x >= TARGET else 'MISS'})")
    print(f"Summary: engine at B = {TARGET_B} vs the PettingZoo loop (target >= {TARGET:.0f}x): "
          + "; ".join(verdicts) + "; engine at B = 1 vs the loop: "
          + ", ".join(f"{label} {r[1]:.1f}x" for label, r in ratios.items()) + ".")
    print(f"(total benchmark time {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
