"""Where sweep tasks run: a local process pool, or Ray (a local runtime or an existing cluster).

Both call ``on_result`` in the driver as each task finishes, so results are stored as they arrive;
a task whose worker dies is reported as failed and the others go on.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Callable, Sequence

from sweep.spec import Options, Task
from sweep.tasks import failed_record, run_task

OnResult = Callable[[dict], None]
BACKENDS = ("local", "ray")


def default_workers() -> int:
    """One worker per core this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def run_local(tasks: Sequence[Task], options: Options, on_result: OnResult, workers: int) -> None:
    """Tasks in a pool of ``workers`` fresh (spawned) processes."""
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = {pool.submit(run_task, task, options): task for task in tasks}
        for future in as_completed(futures):
            try:
                record = future.result()
            except Exception as e:  # the worker process died (BrokenProcessPool) or the result did not pickle
                record = failed_record(futures[future], e)
            on_result(record)


def run_ray(tasks: Sequence[Task], options: Options, on_result: OnResult, workers: int,
            address: str | None = None) -> None:
    """Tasks as Ray remote calls: on a local runtime of ``workers`` CPUs started here, or on the cluster
    at ``address`` (every node must have the project installed)."""
    import ray

    started = not ray.is_initialized()
    if started:
        ray.init(address=address, num_cpus=None if address else workers, include_dashboard=False,
                 log_to_driver=False, logging_level=logging.ERROR)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(run_task)
        shared = ray.put(options)
        pending = {remote.remote(task, shared): task for task in tasks}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                task = pending.pop(ref)
                try:
                    record = ray.get(ref)
                except Exception as e:  # a worker that died; the task itself never raises
                    record = failed_record(task, e)
                on_result(record)
    finally:
        if started:
            ray.shutdown()
