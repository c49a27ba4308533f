"""Release card figures: spread of the table, supernet-vs-standalone calibration, noise floors.

``summarize_release(path)`` computes them from the release's own files and stores them in its manifest
(``calibration`` and ``noise``), so README, ``nasbench-mt info`` and the leaderboards quote one source.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr

from nasbench_mt.schema import score_column
from nasbench_mt.tasks import TaskSpec

__all__ = ["calibration_stats", "noise_stats", "rank_agreement", "spread_stats", "summarize_release"]


def _targets(tasks: Sequence[TaskSpec]) -> list[str]:
    return [score_column(t.name, "test") for t in tasks] + ["mean_acc"]


def rank_agreement(a: pd.Series, b: pd.Series) -> dict[str, float]:
    ok = pd.concat([a, b], axis=1).dropna()
    if len(ok) < 3:
        return {"n": len(ok)}
    x, y = ok.iloc[:, 0].to_numpy(), ok.iloc[:, 1].to_numpy()
    return {
        "n": len(ok),
        "kendall_tau": float(kendalltau(x, y).statistic),
        "spearman": float(spearmanr(x, y).statistic),
        "mean_abs_diff": float(np.mean(np.abs(x - y))),
    }


def spread_stats(
    table: pd.DataFrame, tasks: Sequence[TaskSpec], n_boot: int = 1000, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Per target: 10th/50th/90th percentile, the 10-90 spread, best and worst (in the table's units).

    The spread also gets a 90% percentile-bootstrap interval (``spread_ci90``: ``n_boot`` resamples of the
    rows, seeded), so a spread measured on a few dozen architectures is not mistaken for the table's.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for col in _targets(tasks):
        v = table[col].dropna().to_numpy()
        if not len(v):
            continue
        p10, p50, p90 = np.percentile(v, [10, 50, 90])
        boot = np.percentile(v[rng.integers(0, len(v), size=(n_boot, len(v)))], [10, 90], axis=1)
        lo, hi = np.percentile(boot[1] - boot[0], [5, 95])
        out[col] = {
            "n": len(v),
            "p10": float(p10),
            "median": float(p50),
            "p90": float(p90),
            "spread_10_90": float(p90 - p10),
            "spread_ci90": [float(lo), float(hi)],
            "min": float(v.min()),
            "max": float(v.max()),
        }
    return out


def calibration_stats(
    table: pd.DataFrame, calibration: pd.DataFrame, tasks: Sequence[TaskSpec]
) -> dict[str, dict[str, float]]:
    """Kendall tau and Spearman between supernet (table) and standalone (calibration) scores, per target."""
    merged = calibration.merge(table, on="arch_id", suffixes=("_standalone", ""))
    return {col: rank_agreement(merged[col], merged[col + "_standalone"]) for col in _targets(tasks)}


def noise_stats(table: pd.DataFrame, noise: pd.DataFrame, tasks: Sequence[TaskSpec]) -> dict[str, dict]:
    """Rank agreement between the table and each re-measurement kind (``seed``: accuracy, ``latency``)."""
    out: dict[str, dict] = {}
    for kind, part in noise.groupby("kind"):
        merged = part.merge(table, on="arch_id", suffixes=("_again", ""))
        cols = _targets(tasks) if kind == "seed" else ["latency_ms", "latency_norm"]
        out[str(kind)] = {
            c: rank_agreement(merged[c], merged[c + "_again"]) for c in cols if c + "_again" in merged.columns
        }
    return out


def summarize_release(path: str | Path) -> dict:
    """Compute spread, calibration and noise figures of release ``path``; store them in its manifest."""
    from nasbench_mt.benchmark import load_benchmark
    from nasbench_mt.generate import update_manifest

    bench = load_benchmark(path=path)
    tasks = bench.tasks
    calibration = {"spread": spread_stats(bench.table, tasks)}
    if bench.calibration is not None:
        calibration["supernet_vs_standalone"] = calibration_stats(bench.table, bench.calibration, tasks)
        calibration["standalone_spread"] = spread_stats(bench.calibration, tasks)
    noise = noise_stats(bench.table, bench.noise, tasks) if bench.noise is not None else {}
    return update_manifest(
        path, bench.manifest["version"], extra={"calibration": calibration, "noise": noise}
    )
