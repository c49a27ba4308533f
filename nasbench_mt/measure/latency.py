"""CPU latency of a network: PyTorch eager, batch 1, one thread, per exit and whole network.

Method: set one intra-op thread, warm up, then run ``rounds`` rounds; each round times, in turn, the fixed
reference network and a forward that stops after every exit position (``upto=k``).  Interleaving cancels slow
drift (frequency scaling, other load) between the architecture and the reference.  Reported: the median and
inter-quartile range per position, and the reference median, so rows can be normalised across runs and
machines (``latency_norm = latency_ms / ref_latency_ms``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from nasbench_mt.space.arch import V1, Arch, Block, SearchSpace
from nasbench_mt.space.model import MultiTaskNet, build_model
from nasbench_mt.space.tasks import TaskSpec

__all__ = [
    "Latency",
    "interleaved_times",
    "measure_latency",
    "reference_arch",
    "reference_net",
    "summarize_times",
]


def reference_arch(space: SearchSpace = V1) -> Arch:
    """The fixed mid-size network of ``space`` every latency is normalised by: depth 2, k5, e4 everywhere,
    fully shared, no early exit (v1: ``k5e4,k5e4|k5e4,k5e4|k5e4,k5e4|k5e4,k5e4|b=4,4,4|x=``)."""
    stages = [[Block(5, 4)] * 2] * space.num_stages
    return Arch(stages, (space.num_stages,) * space.num_tasks, (), space=space)


@dataclass(frozen=True)
class Latency:
    """Milliseconds: median and IQR for every exit position (``upto=k``), and the reference median."""

    median_ms: dict[int, float]
    iqr_ms: dict[int, float]
    ref_ms: float
    rounds: int

    def as_row(self, prefix: str = "") -> dict[str, float]:
        """Table columns (``latency_ms``, ``latency_e{k}_ms``, ...), each name preceded by ``prefix``."""
        last = max(self.median_ms)
        row = {f"{prefix}latency_ms": self.median_ms[last], f"{prefix}latency_iqr_ms": self.iqr_ms[last]}
        row.update({f"{prefix}latency_e{k}_ms": v for k, v in self.median_ms.items()})
        row[f"{prefix}ref_latency_ms"] = self.ref_ms
        row[f"{prefix}latency_norm"] = self.median_ms[last] / self.ref_ms
        return row


def reference_net(tasks: Sequence[TaskSpec] | None = None) -> MultiTaskNet:
    """:func:`reference_arch` with the heads of ``tasks`` (default: the v1 tasks), seeded weights."""
    torch.manual_seed(0)
    space = V1 if tasks is None else V1.with_tasks(tasks)
    return build_model(reference_arch(space)).eval()


def _prepare(net: torch.nn.Module) -> torch.nn.Module:
    return net.eval().to(memory_format=torch.channels_last)


def interleaved_times(
    reference: Callable[[], object], runs: Sequence[Callable[[], object]], warmup: int, rounds: int
) -> np.ndarray:
    """Milliseconds, shape ``(rounds, 1 + len(runs))``: column 0 the reference, then each run, interleaved."""
    if rounds < 5:
        raise ValueError(f"invalid rounds: {rounds}; allowed: >= 5 (median and IQR need repeats)")
    for _ in range(warmup):
        reference()
        for run in runs:
            run()
    times = np.empty((rounds, len(runs) + 1))
    clock = time.perf_counter
    for r in range(rounds):
        t0 = clock()
        reference()
        times[r, 0] = clock() - t0
        for j, run in enumerate(runs, start=1):
            t0 = clock()
            run()
            times[r, j] = clock() - t0
    return times * 1e3


def summarize_times(ms: np.ndarray, positions: Sequence[int]) -> Latency:
    """Median and IQR per column of :func:`interleaved_times` (column ``j`` is ``positions[j - 1]``)."""
    q1, med, q3 = np.percentile(ms, [25, 50, 75], axis=0)
    return Latency(
        median_ms={k: float(med[j]) for j, k in enumerate(positions, start=1)},
        iqr_ms={k: float(q3[j] - q1[j]) for j, k in enumerate(positions, start=1)},
        ref_ms=float(med[0]),
        rounds=len(ms),
    )


@torch.inference_mode()
def measure_latency(
    net: MultiTaskNet,
    reference: MultiTaskNet | None = None,
    positions: Sequence[int] | None = None,
    warmup: int = 10,
    rounds: int = 30,
    threads: int = 1,
) -> Latency:
    """Time ``net`` at batch 1 (see the module docstring); ``positions`` default to every stage 1..4."""
    if rounds < 5:
        raise ValueError(f"invalid rounds: {rounds}; allowed: >= 5 (median and IQR need repeats)")
    saved_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        space = net.arch.space
        positions = tuple(positions or range(1, space.num_stages + 1))
        net = _prepare(net)
        ref = _prepare(reference if reference is not None else reference_net(net.tasks))
        x = torch.randn(1, space.input_channels, space.input_size, space.input_size).contiguous(
            memory_format=torch.channels_last
        )
        runs = [functools.partial(net, x, upto=k) for k in positions]
        ms = interleaved_times(functools.partial(ref, x), runs, warmup, rounds)
    finally:
        torch.set_num_threads(saved_threads)
    return summarize_times(ms, positions)
