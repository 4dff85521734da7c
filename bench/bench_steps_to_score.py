"""Benchmark: PPO steps (and minutes) for the general mediator to close 80% of the summed gap on unseen games.

Run from the repository root:

    python bench/bench_steps_to_score.py            # the shipped model's command, up to 200,000 steps
    python bench/bench_steps_to_score.py --quick    # a smoke test: 2 small checkpoints, 4 games (a few minutes)

It runs the documented training command of the shipped general model (`python train.py --game mix:v1
--act-every 50`, Hedge stakeholders, family restrict) in a temporary run folder and follows its
TensorBoard scalar ``validation/summed_gap_closed`` (the held-out validation games, scored at every
checkpoint at the training horizon). At the first checkpoint at or above the target it stops the run
(SIGINT: train.py checkpoints and exits) and scores that checkpoint on the reserved *unseen* games with
`evaluate.py --mediator CHECKPOINT --generalize N` (5 seeds x 20,000 rounds each, the one score of
comparison/score.py), so the number reported is the unseen-set score, not the validation one.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tables import print_table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TAG = "validation/summed_gap_closed"
BUDGETS = {
    "full": {"total_steps": 200_000, "checkpoint_every": 10_000, "validation_games": 16, "generalize": 50,
             "rounds": 20_000, "seeds": 5},
    "quick": {"total_steps": 4096, "checkpoint_every": 2048, "validation_games": 4, "generalize": 4,
              "rounds": 2000, "seeds": 2},
}


def validation_scores(run: Path) -> dict[int, float]:
    """Step -> validation summed gap closed, from the run's TensorBoard events (empty while none is logged)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    scores: dict[int, float] = {}
    for events in (run / "tb").glob("**/events.out.tfevents.*"):
        acc = EventAccumulator(str(events.parent), size_guidance={"scalars": 0})
        acc.Reload()
        if TAG in acc.Tags()["scalars"]:
            scores.update({e.step: e.value for e in acc.Scalars(TAG)})
    return scores


def train_until(run: Path, budget: dict, target: float, seed: int) -> tuple[list[list], dict | None]:
    """Train, polling the validation score; SIGINT the run at the first checkpoint >= ``target``."""
    cmd = [sys.executable, "train.py", "--game", "mix:v1", "--act-every", "50", "--seed", str(seed),
           "--total-steps", str(budget["total_steps"]), "--checkpoint-every", str(budget["checkpoint_every"]),
           "--validation-games", str(budget["validation_games"]), "--keep-checkpoints", "1000",
           "--runs-dir", str(run.parent), "--run-name", run.name]
    print("$", " ".join(cmd[1:]), flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    rows, seen, reached = [], set(), None
    while proc.poll() is None and reached is None:
        time.sleep(5)
        for step, score in sorted(validation_scores(run).items()):
            if step in seen:
                continue
            seen.add(step)
            wall = time.perf_counter() - start
            rows.append([f"{step:,}", f"{wall / 60:.1f}", f"{score:.1%}"])
            print(f"  step {step:,}: validation {score:.1%} after {wall / 60:.1f} min", flush=True)
            if score >= target and reached is None:
                reached = {"step": step, "minutes": wall / 60, "validation": score}
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate()
    if proc.returncode not in (0, 130) and reached is None:
        raise SystemExit(f"train.py failed (exit {proc.returncode}): {err.strip().splitlines()[-1:]}")
    return rows, reached


def unseen_score(checkpoint: Path, budget: dict, report: Path) -> dict:
    """evaluate.py's generalization report of ``checkpoint`` on the reserved unseen games."""
    cmd = [sys.executable, "evaluate.py", "--mediator", str(checkpoint), "--generalize", str(budget["generalize"]),
           "--rounds", str(budget["rounds"]), "--seeds", str(budget["seeds"]), "--json", str(report)]
    print("$", " ".join(cmd[1:]), flush=True)
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return json.loads(report.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke test at a tiny budget")
    ap.add_argument("--target", type=float, help="share of the summed gap to reach (default 0.8; --quick: 0, "
                                                "the first checkpoint)")
    ap.add_argument("--seed", type=int, default=0, help="training seed (default 0)")
    args = ap.parse_args(argv)
    budget = BUDGETS["quick" if args.quick else "full"]
    if args.target is None:
        args.target = 0.0 if args.quick else 0.8
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start; target {args.target:.0%}")
    with tempfile.TemporaryDirectory(prefix="bench_steps_") as tmp:
        run = Path(tmp) / "general"
        rows, reached = train_until(run, budget, args.target, args.seed)
        print_table("Validation score over training (held-out games, training horizon)",
                    ["PPO steps", "minutes", "summed gap closed"], rows)
        if reached is None:
            print(f"target {args.target:.0%} not reached on the validation games within {budget['total_steps']:,} steps")
            return 1
        checkpoint = run / "checkpoints" / f"step_{reached['step']}.zip"
        report = unseen_score(checkpoint, budget, Path(tmp) / "unseen.json")
    closed = report["summed_gap_closed"]
    print(f"Summary: {args.target:.0%} on the validation games after {reached['step']:,} PPO steps "
          f"({reached['minutes']:.1f} min of training on this machine); that checkpoint closes "
          + ("no gap (none to close)" if closed is None else f"{closed:.1%}")
          + f" of the summed gap on {report['n_games']} unseen games ({report['games_with_gap']} with a gap) ({budget['seeds']} seeds x "
          f"{budget['rounds']:,} rounds); load average {os.getloadavg()[0]:.2f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
