"""The release card as one PNG: how the supernet ranks against training from scratch, how two supernet seeds,
two standalone training seeds and two latency passes agree (the noise ceilings), and the accuracy-latency
Pareto front of the table.

``nasbench-mt summarize --release data/v1 --plot FILE.png`` writes it; every panel is computed from the
release's own files with the pairing and rank statistics of :mod:`nasbench_mt.release.stats`, so its titles
quote the same figures as the manifest."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nasbench_mt.plotting import pyplot
from nasbench_mt.release.stats import (
    STANDALONE_KIND,
    calibration_pairs,
    noise_pairs,
    proxy_ceiling,
    rank_agreement,
    stat_targets,
)

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


def _ceiling_panel(ax, cal: pd.DataFrame | None, again: pd.DataFrame | None, targets: list[str]) -> None:
    """Per target: supernet-vs-standalone Kendall tau next to the most a perfect proxy could reach given the
    standalone seed-to-seed noise (:func:`nasbench_mt.release.stats.proxy_ceiling`)."""
    if cal is None or again is None:
        ax.set_title("agreement vs ceiling\nneeds calibration and standalone noise tiers", fontsize=9)
        ax.axis("off")
        return
    supernet = [
        rank_agreement(cal[c], cal[f"{c}_standalone"]).get("kendall_tau", float("nan")) for c in targets
    ]
    ceiling = [
        proxy_ceiling(rank_agreement(again[c], again[f"{c}_again"]).get("kendall_tau", float("nan")))
        for c in targets
    ]
    x = range(len(targets))
    ax.bar([i - 0.2 for i in x], supernet, width=0.4, label="supernet vs standalone")
    ax.bar([i + 0.2 for i in x], ceiling, width=0.4, label="ceiling (perfect proxy)")
    ax.set_xticks(list(x), [c.removeprefix("test_") for c in targets], fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("Kendall tau", fontsize=8)
    ax.set_title(f"agreement vs ceiling\n(ceiling from {len(again)} archs trained twice)", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(alpha=0.3, axis="y")


def plot_release(bench, path: str | Path) -> Path:
    """Write ``path`` (PNG) for the loaded release ``bench``.

    Top row: per target, supernet (table) against standalone (calibration tier) accuracy, then the table's
    ``mean_acc``-``latency_norm`` Pareto front.  Bottom row: per target, supernet seed 0 against seed 1 (the
    seed noise tier), then ``latency_norm`` of the first latency pass against the second.  Third row: per
    target, standalone training seed 0 against seed 1 (the standalone noise tier), then supernet-vs-standalone
    tau next to the ceiling that noise allows.  Each pair panel carries its n and Kendall tau; the dashed line
    is y = x.  A panel whose tier the release lacks says so.
    """
    plt = pyplot()
    targets = stat_targets(bench.tasks)
    cal = calibration_pairs(bench.table, bench.calibration) if bench.calibration is not None else None
    noise = noise_pairs(bench.table, bench.noise, bench.calibration) if bench.noise is not None else {}
    again = noise.get(STANDALONE_KIND)
    ncols = len(targets) + 1
    fig, axes = plt.subplots(3, ncols, figsize=(3.4 * ncols, 10.5), squeeze=False)
    for ax, col in zip(axes[0], targets):
        _pair_panel(ax, cal, col, f"{col}_standalone", "supernet vs standalone", ("supernet", "standalone"))
    for ax, col in zip(axes[1], targets):
        _pair_panel(ax, noise.get("seed"), col, f"{col}_again", "seed to seed", ("seed 0", "seed 1"))
    for ax, col in zip(axes[2], targets):
        _pair_panel(ax, again, col, f"{col}_again", "standalone seed to seed", ("seed 0", "seed 1"))
    _ceiling_panel(axes[2, -1], cal, again, targets)
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
