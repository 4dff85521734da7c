"""Where sweep tasks run: a local process pool, or Ray (a local runtime or an existing cluster).

Both run groups of tasks (`sweep.tasks.groups`, one engine batch each) and call ``on_result`` in the
driver for each task of a group as the group finishes, so results are stored as they arrive; the tasks
of a group whose worker dies are reported as failed and the others go on.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Sequence

from sweep.spec import Options, Task
from sweep.tasks import failed_record, groups, run_group

OnResult = Callable[[dict], None]
BACKENDS = ("local", "ray")


def default_workers() -> int:
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def batches(tasks: Sequence[Task], workers: int, batched: bool = True) -> list[list[Task]]:
    """The units of work: `groups` of tasks (one engine batch each) or, not ``batched``, every task alone
    (the same numbers; bench/bench_sweep.py compares the two)."""
    return groups(tasks, workers) if batched else [[task] for task in tasks]


def run_local(tasks: Sequence[Task], options: Options, on_result: OnResult, workers: int,
              batched: bool = True) -> None:
    """Tasks in a pool of ``workers`` fresh (spawned) processes, in `batches`."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(run_group, group, options): group for group in batches(tasks, workers, batched)}
        for future in as_completed(futures):
            try:
                records = future.result()
            except Exception as e:  # the worker process died (BrokenProcessPool) or the result did not pickle
                records = [failed_record(task, e) for task in futures[future]]
            for record in records:
                on_result(record)


def run_ray(tasks: Sequence[Task], options: Options, on_result: OnResult, workers: int,
            address: str | None = None) -> None:
    """Tasks as Ray remote calls, in `batches`: on a local runtime of ``workers`` CPUs started here, or on
    the cluster at ``address`` (every node must have the project installed)."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, logging_level=logging.ERROR)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_group)
        shared = ray.put(options)
        pending = {remote.remote(group, shared): group for group in batches(tasks, workers)}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                group = pending.pop(ref)
                try:
                    records = ray.get(ref)
                except Exception as e:  # a worker that died; the group itself never raises
                    records = [failed_record(task, e) for task in group]
                for record in records:
                    on_result(record)
    finally:
        if started:
            ray.shutdown()
