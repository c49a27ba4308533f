"""The release card as one PNG: how the supernet ranks against training from scratch, how two supernet seeds
and two latency passes agree (the noise ceilings), and the accuracy-latency Pareto front of the table.

``nasbench-mt summarize --release data/v1 --plot FILE.png`` writes it; every panel is computed from the
release's own files with the pairing and rank statistics of :mod:`nasbench_mt.release.stats`, so its titles
quote the same figures as the manifest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nasbench_mt.plotting import pyplot
from nasbench_mt.release.stats import calibration_pairs, noise_pairs, rank_agreement, stat_targets

__all__ = ["plot_release"]


def _pair_panel(ax, pairs: pd.DataFrame | None, x: str, y: str, what: str, labels: tuple[str, str]) -> None:
    if pairs is None or x not in pairs.columns or y not in pairs.columns:
        ax.set_title(f"{what}: {x}\nnot in this release", fontsize=9)
        ax.axis("off")
        return
    ok = pairs[[x, y]].dropna()
    stats = rank_agreement(ok[x], ok[y])
    ax.scatter(ok[x], ok[y], s=8, alpha=0.6)
    if len(ok):
        lo, hi = float(ok.min().min()), float(ok.max().max())
        ax.plot([lo, hi], [lo, hi], color="black", linewidth=0.8, linestyle="--")
    tau = f", tau {stats['kendall_tau']:.3f}" if "kendall_tau" in stats else ""
    ax.set_title(f"{what}: {x}\nn={stats['n']}{tau}", fontsize=9)
    ax.set_xlabel(labels[0], fontsize=8)
    ax.set_ylabel(labels[1], fontsize=8)
    ax.grid(alpha=0.3)


def _pareto_panel(ax, bench, objectives: tuple[str, str] = ("mean_acc", "latency_norm")) -> None:
    acc, lat = objectives
    table = bench.table
    if any(c not in table.columns or not table[c].notna().any() for c in objectives):
        ax.set_title(f"Pareto front: {acc} vs {lat}\nnot in this release", fontsize=9)
        ax.axis("off")
        return
    front = bench.pareto(objectives).table.sort_values(lat)
    ax.plot(table[lat], table[acc], ".", color="0.75", markersize=2, label=f"{len(table)} archs")
    ax.step(front[lat], front[acc], where="post", color="C3", marker="o", markersize=3, linewidth=1)
    ax.set_title(f"table: {acc} vs {lat}\nPareto front of {len(front)} archs (red)", fontsize=9)
    ax.set_xlabel(f"{lat} (lower is better)", fontsize=8)
    ax.set_ylabel(f"{acc} (higher is better)", fontsize=8)
    ax.grid(alpha=0.3)


def plot_release(bench, path: str | Path) -> Path:
    """Write ``path`` (PNG) for the loaded release ``bench``.

    Top row: per target, supernet (table) against standalone (calibration tier) accuracy, then the table's
    ``mean_acc``-``latency_norm`` Pareto front.  Bottom row: per target, supernet seed 0 against seed 1 (the
    seed noise tier), then ``latency_norm`` of the first latency pass against the second.  Each pair panel
    carries its n and Kendall tau; the dashed line is y = x.  A panel whose tier the release lacks says so.
    """
    plt = pyplot()
    targets = stat_targets(bench.tasks)
    cal = calibration_pairs(bench.table, bench.calibration) if bench.calibration is not None else None
    noise = noise_pairs(bench.table, bench.noise) if bench.noise is not None else {}
    ncols = len(targets) + 1
    fig, axes = plt.subplots(2, ncols, figsize=(3.4 * ncols, 7.0), squeeze=False)
    for ax, col in zip(axes[0], targets):
        _pair_panel(ax, cal, col, f"{col}_standalone", "supernet vs standalone", ("supernet", "standalone"))
    for ax, col in zip(axes[1], targets):
        _pair_panel(ax, noise.get("seed"), col, f"{col}_again", "seed to seed", ("seed 0", "seed 1"))
    _pareto_panel(axes[0, -1], bench)
    _pair_panel(
        axes[1, -1],
        noise.get("latency"),
        "latency_norm",
        "latency_norm_again",
        "run to run",
        ("first pass", "second pass"),
    )
    fig.suptitle(f"nasbench-mt {bench.manifest['version']}: calibration, noise ceilings, Pareto front")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
