"""Sweeps: many games x learners x mediators x seeds as independent tasks, locally or on Ray.

    python evaluate.py --sweep examples/sweep.yaml --out sweeps/classic [--backend ray]

Results are appended to ``OUT/results.jsonl`` as tasks finish; running the same command again
resumes, skipping finished tasks. The tidy CSV, JSON and Markdown summaries and the figures are
written at the end (see sweep/report.py).
"""
from __future__ import annotations

import sys
from pathlib import Path

from tqdm.auto import tqdm

from sweep.backends import BACKENDS, default_workers, run_local, run_ray
from sweep.report import write_outputs
from sweep.spec import SweepSpec, SweepSpecError, load_spec
from sweep.store import ResultStore

__all__ = ["BACKENDS", "SweepSpecError", "default_workers", "load_spec", "run_sweep"]


def run_sweep(spec: SweepSpec, out: str | Path, backend: str = "local", workers: int | None = None,
              ray_address: str | None = None, progress: bool = True, batched: bool = True) -> dict:
    """Run (or resume) ``spec`` into ``out`` and write its outputs; returns the summary. ``batched=False``
    runs every task as its own engine run on the local pool (the reference the batches are held to)."""
    store = ResultStore(out)
    done = {key: r for key, r in store.open(spec).items() if r["status"] == "ok"}
    tasks = spec.tasks()
    todo = [t for t in tasks if t.key not in done]
    records = dict(done)
    if done:
        print(f"resuming {out}: {len(done)} of {len(tasks)} tasks already finished", file=sys.stderr)
    bar = tqdm(total=len(tasks), initial=len(done), desc="sweep", unit="task", disable=not progress or None,
               file=sys.stderr)

    def on_result(record: dict) -> None:
        store.append(record)
        records[record["key"]] = record
        bar.update()
        if record["status"] != "ok":
            bar.write(f"task {record['task']} ({record['key']}) failed: {record['error']}", file=sys.stderr)

    workers = workers or default_workers()
    try:
        if todo and backend == "ray" and batched:
            run_ray(todo, spec.options, on_result, workers, ray_address)
        elif todo:
            run_local(todo, spec.options, on_result, workers, batched=batched)
    finally:
        bar.close()
    return write_outputs(Path(out), spec, [records[t.key] for t in tasks if t.key in records])
