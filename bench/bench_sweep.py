"""Sweep throughput (tasks per second) of batched and per-task runs and of the backends on the same sweep, in one run.

Run from the repository root (Ray installed: ``pip install -e ".[distributed]"``):

    python bench/bench_sweep.py            # 3 games x 2 learners x 5 mediators x 4 seeds, 2000 rounds
    python bench/bench_sweep.py --quick    # 2 seeds, 300 rounds (a smoke test)
    python bench/bench_sweep.py --spec examples/sweep.yaml

Each run writes the whole sweep into a fresh folder; the wall time includes starting the worker
processes and writing the outputs, as a user sees it. Rows: one worker running every task as its own
engine run (the per-task path, the baseline), one worker running the tasks of a game and learner rule as
one engine batch (what sweeps do), the batched local pool with one worker per core, Ray with as many CPUs
when the sweep starts the runtime itself, and Ray when the runtime is already up (as on a cluster; its
workers still start cold). The CSVs of all runs are checked to be identical. Ratios are against the
per-task baseline.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import ray  # noqa: E402

from sweep import default_workers, load_spec, run_sweep  # noqa: E402
from tables import print_table  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--spec", help="a sweep spec to time instead of the built-in one")
    args = p.parse_args()
    seeds, rounds = (2, 300) if args.quick else (4, 2000)
    cores = default_workers()
    with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
        spec_path = Path(args.spec) if args.spec else Path(tmp) / "spec.json"
        if not args.spec:
            spec_path.write_text(json.dumps({"games": ["example1", "prisoners_dilemma", "stag_hunt"],
                                             "learners": ["hedge", "regret-matching"],
                                             "mediators": ["none", "analytic"], "seeds": seeds, "rounds": rounds}))
        spec = load_spec(spec_path)
        n, rounds = len(spec.tasks()), spec.options.rounds
        runs = [("local, 1 worker, task by task", "per-task", 1), ("local, 1 worker, batched", "local", 1),
                (f"local, {cores} workers, batched", "local", cores),
                (f"ray, {cores} CPUs, runtime started by the sweep", "ray", cores),
                (f"ray, {cores} CPUs, runtime already up (a cluster)", "ray-up", cores)]
        rows, csvs, base = [], [], None
        for label, backend, workers in runs:
            out = Path(tmp) / f"{backend}{workers}"
            if backend == "ray-up":
                ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
            start = time.perf_counter()
            run_sweep(spec, out, backend.removesuffix("-up").replace("per-task", "local"), workers, progress=False,
                      batched=backend != "per-task")
            seconds = time.perf_counter() - start
            csvs.append((out / "results.csv").read_text())
            base = base or seconds
            rows.append([label, n, f"{seconds:.1f}", f"{n / seconds:.2f}", f"{base / seconds:.2f}x"])
        ray.shutdown()
    print_table(f"Sweep throughput: {n} tasks ({rounds} rounds each), {cores} cores",
                ["run", "tasks", "wall s", "tasks/s", "vs task by task"], rows)
    print("CSVs identical across runs:", all(c == csvs[0] for c in csvs))


if __name__ == "__main__":
    main()
