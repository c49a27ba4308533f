"""Independent, seeded jobs side by side: in this process, or in spawned worker processes.

The leaderboards and the predictor protocol run a grid of jobs (predictor x size x seed, strategy x seed)
that share one large read-only context (the encoded table, the search problem).  :func:`map_jobs` sends the
context to each worker once, runs ``fn(context, job)`` for every job and yields the results in job order, so
a caller's output does not depend on how many workers computed it as long as each job seeds itself.
Workers are spawned, not forked: a forked copy of a process whose torch or OpenMP threads already ran can
hang.
"""

from __future__ import annotations

import multiprocessing
import pickle
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any, TypeVar

from nasbench_mt.params import check_param

__all__ = ["map_jobs"]

C = TypeVar("C")
J = TypeVar("J")
R = TypeVar("R")

_WORKER: tuple[Callable[[Any, Any], Any], Any] | None = None


def _start_worker(payload: bytes, threads: int | None) -> None:
    global _WORKER
    _WORKER = pickle.loads(payload)  # the (fn, context) this process pickled in _pooled, not a file
    if threads is not None:
        import torch

        torch.set_num_threads(threads)


def _run_in_worker(job: Any) -> Any:
    if _WORKER is None:
        raise RuntimeError("a job reached a worker that was started without its context")
    fn, context = _WORKER
    return fn(context, job)


def map_jobs(
    fn: Callable[[C, J], R],
    context: C,
    jobs: Iterable[J],
    workers: int = 1,
    threads: int | None = None,
) -> Iterator[R]:
    """``fn(context, job)`` for each of ``jobs``, yielded in job order.

    ``workers=1`` runs them here, one after another; more runs them in that many spawned processes (at most
    one per job), each receiving ``fn`` and ``context`` once (both must pickle; ``fn`` a module-level
    function).  ``threads``: torch intra-op threads in each worker (default: torch's own).
    """
    check_param("workers", workers, "int", low=1)
    jobs = list(jobs)
    if workers == 1 or len(jobs) < 2:
        return (fn(context, job) for job in jobs)
    return _pooled(fn, context, jobs, min(workers, len(jobs)), threads)


def _pooled(fn: Callable, context: Any, jobs: list, workers: int, threads: int | None) -> Iterator:
    spawn = multiprocessing.get_context("spawn")
    # pickled to bytes here, by value: handed to the pool as objects, every torch tensor of the context
    # (thousands of encoded graphs) would travel as a shared-memory file descriptor, past the open-file limit
    payload = pickle.dumps((fn, context), protocol=pickle.HIGHEST_PROTOCOL)
    with ProcessPoolExecutor(
        workers, mp_context=spawn, initializer=_start_worker, initargs=(payload, threads)
    ) as pool:
        yield from pool.map(_run_in_worker, jobs)
