"""Benchmark of the batched `Engine` against a plain Python loop over the PettingZoo API.

Run from the repository root:

    python bench/bench_engine.py            # full run (about 50 s)
    python bench/bench_engine.py --quick    # fewer rounds, a smoke test (< 20 s)

All methods play the same dynamics: every stakeholder is a (non-contextual) Hedge learner with
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
  (c) ``before``: `BeforeEngine`, the engine's round as it was before issue 15's rewrite (commit 939098f,
      its per-player (B, k) formulas) reduced to what is benchmarked here, at B = 64 and 1024. It plays the
      same trajectory as (b) (checked after every timed run), so (b) / (c) is the speed-up alone; it skips
      the old engine's Feedback and RoundResult objects and so runs about 5% faster than that engine did,
      which makes the ratio conservative.

Throughput is stakeholder-rounds per second: rounds x B x stakeholders / seconds (each
stakeholder's decision in each game counted once). Each configuration runs a fixed number of
rounds (fewer for large B, so one measurement takes about 1-3 s) after a short warm-up; the time
shown is the median of ``--repeat`` measurements. The targets: (b) at B = 1024 at least 100x (a) on
the same game (issue 1) and at least 3x (c) on the 13x13 game (issue 15).
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
BEFORE_BATCHES = (64, 1024)
TARGET = 100.0          # issue 1's target ratio, engine at B = 1024 vs the PettingZoo loop
TARGET_BEFORE = 3.0     # issue 15's target ratio, engine at B = 1024 vs the engine before its rewrite
TARGET_B = 1024

#: Rounds timed per configuration, keyed by (method, B), per game; sized for ~1-3 s on a 2-CPU
#: x86-64 machine, the same for the engine and the engine before (the same rounds of the same
#: trajectory). Quick mode divides every count by QUICK_DIVISOR.
ROUNDS_FULL: dict[str, dict[tuple[str, int], int]] = {
    "example1": {("pettingzoo", 1): 4000, ("engine", 1): 8000, ("engine", 64): 8000, ("engine", 1024): 2500,
                 ("before", 64): 8000, ("before", 1024): 2500},
    "random 13x13": {("pettingzoo", 1): 4000, ("engine", 1): 8000, ("engine", 64): 6000, ("engine", 1024): 1200,
                     ("before", 64): 6000, ("before", 1024): 1200},
}
QUICK_DIVISOR = 5
WARMUP = 50             # rounds played (untimed) before each timed run


# --------------------------------------------------------------------------- helpers
def timed(make_runner: Callable[[], Callable[[int], Any]], rounds: int, repeat: int,
          check: Callable[[Any, int], None] | None = None) -> float:
    """Median wall time of ``runner(rounds)``; each repetition builds a fresh runner and warms it up;
    ``check(what the runner returned, rounds played)`` after each."""
    times = []
    for _ in range(repeat):
        runner = make_runner()
        runner(WARMUP)
        t0 = time.perf_counter()
        out = runner(rounds)
        times.append(time.perf_counter() - t0)
        if check is not None:
            check(out, WARMUP + rounds)
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
def engine_runner(game: DesignGame, batch: int, seed: int) -> Callable[[int], list[np.ndarray]]:
    """`Engine` with embedded Hedge learners (B copies each), stepped in a loop; returns their states."""
    engine = Engine(game, None, batch=batch, seed=seed)
    engine.learners = [make_learner("hedge", k, batch, bounds=engine.payoff_bounds) for k in game.shape]

    def run(rounds: int) -> list[np.ndarray]:
        for _ in range(rounds):
            engine.step()
        return [learner.state[:, 0] for learner in engine.learners]

    return run


# --------------------------------------------------------------------------- (c) the engine before issue 15
class BeforeEngine:
    """`Engine.step` with plain Hedge learners and no intervention, as both were before issue 15 (commit
    939098f): per player, (B, k) arrays, the masks applied though nothing is masked, the payoff vectors
    gathered cell by cell. Same random stream and arithmetic, so the same trajectory as `Engine`."""

    def __init__(self, game: DesignGame, batch: int, seed: int):
        self.shape, self.n, self.K, self.batch = game.shape, game.n_players, game.n_profiles, batch
        self.rng = np.random.default_rng(seed)
        self.flat_payoffs = np.broadcast_to(game.payoffs, (batch, *game.payoffs.shape)).reshape(batch, self.n, -1)
        self.strides = np.array([int(np.prod(self.shape[i + 1:])) for i in range(self.n)])
        self.masks = [np.ones((batch, k), bool) for k in self.shape]
        self.vouchers, self.has_rec = np.zeros((batch, self.n, self.K)), np.zeros(batch, bool)
        low, high = Engine(game, None, batch=1).payoff_bounds
        self.low, self.width = low, high - low
        self.state = [np.zeros((batch, 1, k)) for k in self.shape]
        self.count = [np.zeros((batch, 1), np.int64) for _ in self.shape]

    def strategy(self, i: int, mask: np.ndarray) -> np.ndarray:
        """Hedge's ContextualRule.strategy, then the engine's _masked."""
        b, rows = np.arange(self.batch), np.zeros(self.batch, np.int64)
        s, n = self.state[i][b, rows], self.count[i][b, rows]
        eta = np.sqrt(8 * np.log(self.shape[i]) / (n + 1))
        s = np.where(mask, s, -np.inf)
        z = np.exp(eta[..., None] * (s - s.max(axis=-1, keepdims=True)))
        p = z / z.sum(axis=-1, keepdims=True)
        p = p * mask
        p = (p / p.sum(axis=-1, keepdims=True)) * mask
        total = p.sum(axis=1, keepdims=True)
        uniform = mask / mask.sum(axis=1, keepdims=True)
        return np.where(total > 0, p / np.where(total > 0, total, 1.0), uniform)

    def step(self) -> None:
        self.rng.random(self.batch)                                       # draw_recommendations
        recommendation = np.tile(np.array(self.shape), (self.batch, 1))
        u = self.rng.random((self.batch, self.n))
        probs = [self.strategy(i, mask) for i, mask in enumerate(self.masks)]
        profile = np.stack([np.minimum((np.cumsum(p, axis=1) < u[:, [i]]).sum(axis=1), p.shape[1] - 1)
                            for i, p in enumerate(probs)], axis=1)
        b = np.arange(self.batch)
        np.stack([p[b, profile[:, i]] for i, p in enumerate(probs)], axis=1)          # the draw probabilities
        flat = profile @ self.strides                                     # _pay
        rec_flat = np.minimum(recommendation, np.array(self.shape) - 1) @ self.strides
        follows = self.has_rec[:, None] & (profile == recommendation)
        voucher = self.vouchers[b, :, rec_flat]
        utilities = self.flat_payoffs[b, :, flat]
        utilities + voucher * follows.all(axis=1, keepdims=True)          # the rewards (Hedge's feedback is the vector)
        (~follows).sum(axis=1)                                            # the deviators (vouchers' use)
        for i, k in enumerate(self.shape):
            cells = flat[:, None] + (np.arange(k)[None, :] - profile[:, [i]]) * self.strides[i]
            vector = self.flat_payoffs[b[:, None], i, cells]
            rows = np.zeros(self.batch, np.int64)                         # ContextualRule.update
            unit = np.clip((np.asarray(vector, dtype=float) - self.low) / self.width, 0.0, 1.0)
            self.state[i][b, rows] = self.state[i][b, rows] + unit
            self.count[i][b, rows] += 1


def before_runner(game: DesignGame, batch: int, seed: int) -> Callable[[int], list[np.ndarray]]:
    """`BeforeEngine` stepped in a loop; returns its Hedge states."""
    engine = BeforeEngine(game, batch, seed)

    def run(rounds: int) -> list[np.ndarray]:
        for _ in range(rounds):
            engine.step()
        return [state[:, 0] for state in engine.state]

    return run


def same_as_engine(game: DesignGame, batch: int, seed: int) -> Callable[[list[np.ndarray], int], None]:
    """A check that `BeforeEngine`'s Hedge states after some rounds are `Engine`'s, bit for bit."""
    def check(states: list[np.ndarray], rounds: int) -> None:
        expected = engine_runner(game, batch, seed)(rounds)
        if not all(np.array_equal(a, b) for a, b in zip(states, expected)):
            raise AssertionError(f"BeforeEngine and Engine differ after {rounds} rounds at B = {batch}")
    return check


# --------------------------------------------------------------------------- main
def bench_game(label: str, game: DesignGame, rounds_of: dict[tuple[str, int], int], repeat: int,
               seed: int) -> tuple[list[list[Any]], dict[int, float]]:
    """Table rows of one game and the engine/PettingZoo ratio for each B."""
    n = game.n_players
    configs = [("pettingzoo", 1)] + [("engine", b) for b in BATCHES] + [("before", b) for b in BEFORE_BATCHES]
    measured = {}
    for method, batch in configs:
        rounds = rounds_of[(method, batch)]
        if method == "pettingzoo":
            seconds = timed(lambda: pettingzoo_runner(game, seed), rounds, repeat)
        elif method == "engine":
            seconds = timed(lambda: engine_runner(game, batch, seed), rounds, repeat)
        else:
            seconds = timed(lambda: before_runner(game, batch, seed), rounds, repeat,
                            same_as_engine(game, batch, seed))
        measured[method, batch] = (rounds, seconds, rounds * batch * n / seconds)
    base = measured["pettingzoo", 1][2]
    rows, ratios = [], {}
    for (method, batch), (rounds, seconds, rate) in measured.items():
        if method == "engine":
            ratios[batch] = rate / base
        before = (f"{rate / measured['before', batch][2]:.2f}x" if method == "engine" and batch in BEFORE_BATCHES
                  else "")
        rows.append([label, method, batch, f"{rounds:,}", f"{seconds:.2f}", fmt_rate(rate), f"{rate / base:,.1f}x",
                     before])
    ratios["before"] = measured["engine", TARGET_B][2] / measured["before", TARGET_B][2]
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
                "embedded learners; before = the engine before issue 15, same trajectory; ratio vs pettingzoo "
                "on the same game; vs before = engine / before at the same B)",
                ["game", "method", "B", "rounds", "seconds", "stakeholder-rounds/s", "ratio", "vs before"], rows)
    verdicts = []
    for label, r in ratios.items():
        x = r[TARGET_B]
        verdicts.append(f"{label} {x:,.0f}x ({'PASS' if x >= TARGET else 'MISS'})")
    print(f"Summary: engine at B = {TARGET_B} vs the PettingZoo loop (target >= {TARGET:.0f}x): "
          + "; ".join(verdicts) + "; engine at B = 1 vs the loop: "
          + ", ".join(f"{label} {r[1]:.1f}x" for label, r in ratios.items()) + ".")
    x = ratios["random 13x13"]["before"]
    print(f"Engine at B = {TARGET_B} vs the engine before issue 15 (target >= {TARGET_BEFORE:.0f}x on random "
          f"13x13): random 13x13 {x:.2f}x ({'PASS' if x >= TARGET_BEFORE else 'MISS'}), example1 "
          f"{ratios['example1']['before']:.2f}x.")
    print(f"(total benchmark time {time.perf_counter() - t0:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
