"""Summarize a release: its card figures (:mod:`nasbench_mt.release.stats`) stored in its manifest."""

from __future__ import annotations

from pathlib import Path

from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.provenance import update_manifest
from nasbench_mt.release.stats import (
    calibration_stats,
    compute_stats,
    gain_stats,
    noise_stats,
    proxy_stats,
    split_stats,
    spread_stats,
)

__all__ = ["summarize_release"]


def summarize_release(path: str | Path, plot: str | Path | None = None) -> dict:
    """Compute the spread, calibration, noise and CPU-time figures of release ``path``; store them in its
    manifest.  With ``plot``, also draw them as a PNG at that path
    (:func:`nasbench_mt.publish.card_plot.plot_release`)."""
    bench = load_benchmark(path=path)
    tasks = bench.tasks
    calibration = {"spread": spread_stats(bench.table, tasks), "val_vs_test": split_stats(bench.table, tasks)}
    if bench.calibration is not None:
        calibration["supernet_vs_standalone"] = calibration_stats(bench.table, bench.calibration, tasks)
        calibration["standalone_spread"] = spread_stats(bench.calibration, tasks)
        calibration["standalone_gain"] = gain_stats(bench.table, bench.calibration, tasks)
    proxies = proxy_stats(bench.table, tasks, bench.calibration)
    if proxies:
        calibration["proxies"] = proxies
    noise = {}
    if bench.noise is not None:
        noise = noise_stats(bench.table, bench.noise, tasks, calibration=bench.calibration)
    extra = {"calibration": calibration, "noise": noise, "compute": compute_stats(bench)}
    if plot is not None:
        from nasbench_mt.publish.card_plot import plot_release

        plot_release(bench, plot)
    return update_manifest(path, bench.manifest["version"], extra=extra)
