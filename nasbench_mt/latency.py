"""CPU latency of a network: PyTorch eager, batch 1, one thread, per exit and whole network.

Method: set one intra-op thread, warm up, then run ``rounds`` rounds; each round times, in turn, the fixed
reference network and a forward that stops after every exit position (``upto=k``).  Interleaving cancels slow
drift (frequency scaling, other load) between the architecture and the reference.  Reported: the median and
inter-quartile range per position, and the reference median, so rows can be normalised across runs and
machines (``latency_norm = latency_ms / ref_latency_ms``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from nasbench_mt.model import MultiTaskNet, build_model
from nasbench_mt.space import Arch
from nasbench_mt.tasks import TaskSpec

__all__ = ["REFERENCE_ARCH", "Latency", "measure_latency", "reference_net"]

# a fixed mid-size network (depth 2, k5, e4 everywhere, fully shared, no early exit)
REFERENCE_ARCH = "k5e4,k5e4|k5e4,k5e4|k5e4,k5e4|k5e4,k5e4|b=4,4,4|x="


@dataclass(frozen=True)
class Latency:
    """Milliseconds: median and IQR for every exit position (``upto=k``), and the reference median."""

    median_ms: dict[int, float]
    iqr_ms: dict[int, float]
    ref_ms: float
    rounds: int

    def as_row(self) -> dict[str, float]:
        last = max(self.median_ms)
        row = {"latency_ms": self.median_ms[last], "latency_iqr_ms": self.iqr_ms[last]}
        row.update({f"latency_e{k}_ms": v for k, v in self.median_ms.items()})
        row["ref_latency_ms"] = self.ref_ms
        row["latency_norm"] = self.median_ms[last] / self.ref_ms
        return row


def reference_net(tasks: Sequence[TaskSpec] | None = None) -> MultiTaskNet:
    torch.manual_seed(0)
    return build_model(Arch.from_string(REFERENCE_ARCH), tasks).eval()


def _prepare(net: torch.nn.Module) -> torch.nn.Module:
    return net.eval().to(memory_format=torch.channels_last)


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
        for _ in range(warmup):
            ref(x)
            for k in positions:
                net(x, upto=k)
        times = np.empty((rounds, len(positions) + 1))
        clock = time.perf_counter
        for r in range(rounds):
            t0 = clock()
            ref(x)
            times[r, 0] = clock() - t0
            for j, k in enumerate(positions, start=1):
                t0 = clock()
                net(x, upto=k)
                times[r, j] = clock() - t0
    finally:
        torch.set_num_threads(saved_threads)
    ms = times * 1e3
    q1, med, q3 = np.percentile(ms, [25, 50, 75], axis=0)
    return Latency(
        median_ms={k: float(med[j]) for j, k in enumerate(positions, start=1)},
        iqr_ms={k: float(q3[j] - q1[j]) for j, k in enumerate(positions, start=1)},
        ref_ms=float(med[0]),
        rounds=rounds,
    )
