"""Latency on your own device: measure a few architectures there, predict the rest of the table.

Two steps (``nasbench-mt measure-latency`` and ``nasbench-mt transfer-latency``):

1. :func:`measure_device` times a seeded sample of the table's architectures on this machine with the
   release's latency protocol (PyTorch eager, or ONNX Runtime with ``backend="onnx"``; batch 1, ``threads``
   threads, interleaved with the reference network, median of ``rounds``).
2. :class:`LatencyTransfer` learns the device from those few rows, HELP-style: the shipped latency is the
   prior (the device is assumed proportional to it, ``log y = log shipped + c``) and a ridge regression
   (penalty chosen by leave-one-out) fits the residual ``log y - log shipped`` on the standardised
   log shipped latency, log MACs and the counts of blocks and exit heads run, so with 10 measured
   architectures it stays close to a rescaled shipped column and with more it learns where the device
   departs from it (e.g. less per-layer overhead under ONNX Runtime than under PyTorch eager).  Every exit
   position is a separate target (``latency_e{k}_ms``, NaN where an architecture has no exit there).

Example::

    >>> from nasbench_mt import load_benchmark
    >>> from nasbench_mt.measure.latency_transfer import LatencyTransfer, measure_device
    >>> bench = load_benchmark(path="tests/fixtures/tiny")
    >>> mine = measure_device(bench.table, n=10, rounds=5)          # doctest: +SKIP
    >>> pred = LatencyTransfer().fit(bench.table, mine).predict(bench.table)  # doctest: +SKIP
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from nasbench_mt.release.schema import EXIT_POSITIONS
from nasbench_mt.space.arch import V1, Arch, SearchSpace

__all__ = ["BACKENDS", "TARGETS", "LatencyTransfer", "measure_device", "structure_counts"]

BACKENDS = ("torch", "onnx")
# k = 4 is the whole network (latency_ms == latency_e4_ms)
TARGETS = {"latency_ms": 4, **{f"latency_e{k}_ms": k for k in EXIT_POSITIONS[:-1]}}


def structure_counts(arch: Arch, upto: int) -> tuple[int, int]:
    """(MBConv blocks, exit heads) that a forward up to stage ``upto`` runs: trunk once, each branch own."""
    depths = [len(s) for s in arch.stages]
    shared = max(arch.written_branches)
    blocks = sum(depths[s] for s in range(min(shared, upto)))
    blocks += sum(depths[s] for b in arch.written_branches for s in range(b, upto))
    heads = len(arch.branches) * sum(1 for k in arch.all_exits if k <= upto)
    return blocks, heads


def _normalised(table: pd.DataFrame, k: int) -> np.ndarray:
    """Latency at position ``k`` divided by the row's reference latency (when measured): drift-free."""
    lat = table["latency_ms" if k == EXIT_POSITIONS[-1] else f"latency_e{k}_ms"].to_numpy(dtype=float)
    if "ref_latency_ms" in table.columns:
        ref = table["ref_latency_ms"].to_numpy(dtype=float)
        lat = np.where(np.isfinite(ref) & (ref > 0), lat / ref, lat)
    return lat


def _features(table: pd.DataFrame, k: int, space: SearchSpace) -> np.ndarray:
    """Rows of [log shipped latency, log MACs, blocks, heads] for position ``k`` (NaN where no exit)."""
    macs = table["macs"] if k == EXIT_POSITIONS[-1] else table[f"macs_e{k}"]
    archs = [Arch.from_string(a, space=space) for a in table["arch"]]
    counts = np.array([structure_counts(a, k) for a in archs], dtype=float)
    x = np.column_stack([np.log(_normalised(table, k)), np.log(macs.astype(float)), counts])
    has_exit = np.array([k in a.all_exits for a in archs])
    x[~has_exit] = np.nan
    return x


class LatencyTransfer:
    """Few-shot latency predictor for a new device (see the module docstring).

    ``fit(table, measured)``: ``table`` holds the shipped columns (``arch``, ``latency_ms``,
    ``latency_e{k}_ms``, ``macs``, ``macs_e{k}``) for every architecture; ``measured`` holds ``arch_id`` and
    the device's latency columns for a few of them.  ``predict(table)`` returns ``arch_id`` and the device's
    predicted ``latency_ms`` / ``latency_e{k}_ms``.  ``alphas`` is the ridge penalty grid (leave-one-out);
    ``prior_only=True`` fits the scale ``c`` alone (the shipped ranking, rescaled); ``space`` is the
    release's search space (``bench.space``), in which the table's architecture strings parse.
    """

    def __init__(
        self, alphas: Sequence[float] | None = None, prior_only: bool = False, space: SearchSpace = V1
    ) -> None:
        self.alphas = alphas
        self.prior_only = prior_only
        self.space = space

    def fit(self, table: pd.DataFrame, measured: pd.DataFrame) -> LatencyTransfer:
        from sklearn.linear_model import RidgeCV

        missing = [c for c in ("arch_id", "latency_ms") if c not in measured.columns]
        if missing:
            raise ValueError(f"invalid measured: lacks columns {missing}; allowed: measure-latency's output")
        rows = table.set_index("arch_id")
        unknown = sorted(set(measured["arch_id"]) - set(rows.index))
        if unknown:
            raise ValueError(f"invalid measured: arch ids {unknown[:3]} are not in the table")
        shipped = rows.loc[measured["arch_id"]].reset_index()
        alphas = np.logspace(-2, 4, 25) if self.alphas is None else np.asarray(self.alphas, dtype=float)
        self.models_: dict[str, tuple] = {}
        for col, k in TARGETS.items():
            if col not in measured.columns:
                continue
            x = _features(shipped, k, self.space)
            y = np.log(_normalised(measured, k))
            ok = np.isfinite(x).all(axis=1) & np.isfinite(y)
            if ok.sum() < 3:
                continue
            resid = y[ok] - x[ok, 0]
            if self.prior_only or ok.sum() < 5:
                self.models_[col] = (float(np.median(resid)), None, None, None)
                continue
            mu, sd = x[ok].mean(axis=0), x[ok].std(axis=0)
            sd[sd == 0] = 1.0
            ridge = RidgeCV(alphas=alphas).fit((x[ok] - mu) / sd, resid)
            self.models_[col] = (float(ridge.intercept_), ridge.coef_.copy(), mu, sd)
        if "latency_ms" not in self.models_:
            raise ValueError("invalid measured: needs at least 3 rows with a finite latency_ms")
        ref = measured["ref_latency_ms"] if "ref_latency_ms" in measured.columns else pd.Series([1.0])
        self.ref_ms_ = float(ref.median()) if ref.notna().any() else 1.0
        self.n_measured_ = len(measured)
        return self

    def predict(self, table: pd.DataFrame) -> pd.DataFrame:
        if not hasattr(self, "models_"):
            raise ValueError("LatencyTransfer is not fitted; call fit(table, measured) first")
        out = pd.DataFrame({"arch_id": table["arch_id"].to_numpy()})
        for col, (c, coef, mu, sd) in self.models_.items():
            x = _features(table, TARGETS[col], self.space)
            resid = np.full(len(x), c) if coef is None else c + ((x - mu) / sd) @ coef
            out[col] = np.exp(x[:, 0] + resid) * self.ref_ms_
        return out


def measure_device(
    table: pd.DataFrame,
    n: int,
    seed: int = 0,
    backend: str = "torch",
    threads: int = 1,
    rounds: int = 30,
    warmup: int = 10,
    progress: Callable[[int, int], None] | None = None,
    energy: str | None = None,
    energy_seconds: float = 2.0,
    space: SearchSpace = V1,
) -> pd.DataFrame:
    """Time ``n`` architectures of ``table`` (a seeded sample) on this machine; one row per architecture.

    ``space`` is the release's search space (``bench.space``): the table's strings parse in it and every
    network carries its tasks' heads.

    Columns: ``arch_id`` and the release's latency columns (``latency_ms``, ``latency_iqr_ms``,
    ``latency_e{k}_ms``, ``ref_latency_ms``, ``latency_norm``) as measured here; ONNX Runtime times only the
    positions that have an exit (NaN elsewhere).  With ``energy`` (a meter of
    :func:`~nasbench_mt.measure.energy.find_meter`: ``auto``, ``rapl``, ``nvml``), also the energy columns of
    :func:`~nasbench_mt.measure.energy.energy_columns` (PyTorch backend; millijoules per batch-1 inference
    at every exit position, and the idle power), each position run for ``energy_seconds``; a machine without
    the counter fails before anything is timed.
    """
    from nasbench_mt.measure.latency import measure_latency, reference_net
    from nasbench_mt.release.schema import latency_columns
    from nasbench_mt.space.model import build_model

    if backend not in BACKENDS:
        raise ValueError(f"invalid backend: {backend!r}; allowed: {list(BACKENDS)}")
    if not isinstance(n, int) or not 1 <= n <= len(table):
        raise ValueError(f"invalid archs: {n!r}; allowed: 1..{len(table)} (the table's size)")
    if not isinstance(threads, int) or threads < 1:
        raise ValueError(f"invalid threads: {threads!r}; allowed: an int >= 1")
    meter = None
    if energy is not None:
        from nasbench_mt.measure.energy import find_meter

        if backend != "torch":
            raise ValueError(f"invalid backend for energy: {backend!r}; allowed: 'torch'")
        meter = find_meter(energy)
    picked = np.sort(np.random.default_rng(seed).choice(len(table), size=n, replace=False))
    if backend == "onnx":
        from nasbench_mt.measure.latency_onnx import export_onnx, measure_latency_onnx, onnx_session

        reference = onnx_session(export_onnx(reference_net()), threads)
        timer = measure_latency_onnx
    else:
        reference = reference_net()
        timer = measure_latency
    rows = []
    for i, j in enumerate(picked):
        arch = Arch.from_string(table["arch"].iloc[j], space=space)
        lat = timer(build_model(arch).eval(), reference, rounds=rounds, warmup=warmup, threads=threads)
        measured = lat.as_row()
        row = {"arch_id": arch.written_id, **{c: measured.get(c, math.nan) for c in latency_columns()}}
        if meter is not None:
            row.update(_energy_row(meter, arch, threads, energy_seconds))
        rows.append(row)
        if progress is not None:
            progress(i + 1, n)
    return pd.DataFrame(rows)


def _energy_row(meter, arch: Arch, threads: int, seconds: float) -> dict[str, float]:
    """Energy columns of one architecture: batch-1 forwards to every exit position, one after another."""
    import functools

    import torch

    from nasbench_mt.measure.energy import measure_energy
    from nasbench_mt.space.model import build_model

    net = build_model(arch).eval().to(memory_format=torch.channels_last)
    space = arch.space
    x = torch.randn(1, space.input_channels, space.input_size, space.input_size)
    x = x.contiguous(memory_format=torch.channels_last)
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with torch.inference_mode():
            forwards = {k: functools.partial(net, x, upto=k) for k in range(1, space.num_stages + 1)}
            return measure_energy(meter, forwards, seconds)
    finally:
        torch.set_num_threads(saved)
