"""Write a :class:`~predictors.evaluation.PredictorEvaluation` as the predictor leaderboard.

``predictors.md`` (headline, Kendall tau by train size and every metric at the headline size, per target, the
noise ceiling beside the predictors), ``predictors.csv`` (:meth:`PredictorEvaluation.summary`: mean and std
over seeds of every metric, with the ceiling) and two plots: ``predictors_tau.png`` (Kendall tau vs train
size per target) and ``predictors_scatter.png`` (predicted vs measured for each target's best predictor).
"""

from __future__ import annotations

import math
import os
import platform
from pathlib import Path
from typing import Any

import pandas as pd

from nasbench_mt.plotting import pyplot
from nasbench_mt.release.provenance import package_versions
from predictors.evaluation import PredictorEvaluation
from predictors.registry import list_predictors, predictor_class

__all__ = ["CEILING_MARGIN", "HEADLINE_SIZE", "headline_size", "write_predictor_leaderboard"]

HEADLINE_SIZE = 100  # the reference point: "at 100 training archs"
CEILING_MARGIN = 0.05  # "within 0.05 tau of the noise ceiling"
_LABELS = {
    "pairwise_acc": "pairwise acc",
    "kendall_tau": "Kendall tau",
    "spearman": "Spearman",
    "precision_top5": "p@top-5%",
    "within_10pct": "+-10%",
    "rmse": "RMSE",
}


def _predicts_units(name: str) -> bool:
    """Whether predictor ``name`` outputs the target's units (a ranker outputs scores)."""
    return name not in list_predictors() or predictor_class(name).predicts_units


def _baseline(name: str) -> bool:
    return name in list_predictors() and predictor_class(name).baseline


def headline_size(sizes: list[int]) -> int:
    """100 if evaluated, else the largest size below it, else the smallest."""
    below = [s for s in sizes if s <= HEADLINE_SIZE]
    return max(below) if below else min(sizes)


def _pm(mean: float, std: float) -> str:
    if mean is None or math.isnan(mean):
        return "-"
    if std is None or math.isnan(std):
        return f"{mean:.3f}"
    return f"{mean:.3f} +- {std:.3f}"


def _num(v: float, fmt: str = ".3f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _ceiling_label(c: pd.Series) -> str:
    if c["ceiling_kind"] == "none":
        return "noise ceiling: not measured in this release"
    if c["ceiling_kind"] == "exact":
        return "noise ceiling: exact (computed, no measurement noise)"
    return (
        f"noise ceiling: {c['ceiling_kind']} tau {c['ceiling_tau']:.3f}, Spearman "
        f"{_num(c['ceiling_spearman'])} over {int(c['ceiling_n'])} re-measured archs ({c['ceiling_source']})"
    )


def _best(summary: pd.DataFrame, target: str, size: int, units_only: bool = False) -> pd.Series | None:
    """Row of the predictor with the highest mean tau for ``target`` at ``size`` (ties: first by name)."""
    rows = summary[(summary["target"] == target) & (summary["train_size"] == size)]
    if units_only:
        rows = rows[rows["predictor"].map(_predicts_units).astype(bool)]
    rows = rows.dropna(subset=["kendall_tau_mean"])
    if rows.empty:
        return None
    return rows.sort_values(["kendall_tau_mean", "predictor"], ascending=[False, True], kind="stable").iloc[0]


def _checks(ev: PredictorEvaluation, summary: pd.DataFrame, head: int, ceiling: pd.DataFrame) -> list[str]:
    """Per measured target: how far the best predictor is from the ceiling at each size (the first size
    within :data:`CEILING_MARGIN`), and the learned predictors that do not beat the ``flops`` baseline."""
    sizes, names = ev.info["train_sizes"], ev.info["predictors"]
    learned = [n for n in names if not _baseline(n)]
    lines = [
        "",
        "## Against the ceiling and the flops baseline",
        "",
        f'Gap = ceiling tau minus the best predictor\'s tau at each train size; "within" = the first size '
        f"with gap <= {CEILING_MARGIN}. Not above flops = learned predictors whose mean tau at {head} "
        "archs is not above the `flops` baseline's"
        + ("." if "flops" in names else " (`flops` was not evaluated)."),
        "",
        "| target | " + " | ".join(f"gap @{s}" for s in sizes) + " | within | not above flops |",
        "|---|" + "---|" * (len(sizes) + 2),
    ]
    for t in ev.info["targets"]:
        ctau = ceiling.loc[t, "ceiling_tau"]
        if ceiling.loc[t, "ceiling_kind"] in ("none", "exact") or math.isnan(ctau):
            continue
        gaps = []
        for s in sizes:
            b = _best(summary, t, s)
            gaps.append(math.nan if b is None else ctau - b["kendall_tau_mean"])
        within = next((str(s) for s, g in zip(sizes, gaps) if g <= CEILING_MARGIN), f"> {sizes[-1]}")
        weak = "-"
        if "flops" in names:
            at = summary[(summary["target"] == t) & (summary["train_size"] == head)].set_index("predictor")
            floor = at.loc["flops", "kendall_tau_mean"]
            weak = ", ".join(n for n in learned if not at.loc[n, "kendall_tau_mean"] > floor) or "none"
        lines.append(f"| {t} | " + " | ".join(_num(g, "+.3f") for g in gaps) + f" | {within} | {weak} |")
    return lines


def _markdown(ev: PredictorEvaluation, bench: Any, command: str, wall_s: float) -> str:
    info, summary = ev.info, ev.summary()
    sizes, targets = info["train_sizes"], info["targets"]
    head = headline_size(sizes)
    ceiling = ev.ceiling.set_index("target")
    gen = bench.manifest.get("generation", {})
    synthetic = " **SYNTHETIC data: not a result**" if gen.get("synthetic") else ""
    seeds = info["seeds"]
    seed_text = f"{seeds[0]}..{seeds[-1]}" if seeds == list(range(seeds[0], seeds[-1] + 1)) else str(seeds)
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    lines = [
        "# Predictor leaderboard",
        "",
        "Generated by `nasbench-mt evaluate-predictors` (`predictors.evaluation`); do not edit by hand.",
        "",
        f"- command: `{command}`",
        f"- versions: {package_versions()}",
        f"- release: {bench.version} ({info['rows']:,} rows, {bench.root}){synthetic}",
        f"- wall time: {wall_s:,.1f} s on {platform.machine()}, {os.cpu_count()} CPU cores, "
        f"OMP_NUM_THREADS={threads}",
        f"- protocol: {info['complete_rows']:,} rows with every target measured, ordered by arch_id; a "
        f"fixed test split of {info['test_rows']:,} archs (split seed {info['split_seed']}) that no training "
        f"sample touches; training samples of {sizes} archs from the other {info['pool_rows']:,} (seeds "
        f"{seed_text}, nested: each seed's smaller samples are the start of its larger ones); "
        + (
            f"all {len(targets)} targets fitted at once by one model per predictor"
            if info["multi_target"]
            else "one model per target"
        )
        + ", each target standardised on the training sample; `random_state` = seed",
        f"- metrics on the test split, mean +- std over seeds: pairwise accuracy, Kendall tau, Spearman, "
        f"p@top-5% (share of the true best {info['top_k']} - lowest latency/params/FLOPs, highest accuracy - "
        "among the predicted best), +-10% (latency predictions within 10% of the measurement, nn-Meter) and "
        f"RMSE; the rankers {[n for n in sorted(info['predictors']) if not _predicts_units(n)]} output "
        "scores, not units, so they have no +-10% or RMSE",
        "- noise ceiling: tau between the table and a re-measurement of the same archs (accuracy: another "
        "training seed; latency: another timing run), i.e. how well re-measuring ranks the table. It is a "
        "reference, not a bound: a predictor scores one measurement, not two, and one trained on this table "
        "also learns what is particular to it (for accuracy, this supernet's own preferences, which another "
        "seed does not share), so with enough training archs it can pass the ceiling",
    ]
    for mean, parts in (info.get("derived_targets") or {}).items():
        lines.append(f"- derived: {mean} is the mean of the predictions of {parts} (its definition), no fit")
    if info["dropped_targets"]:
        lines.append(f"- targets without measurements in this release, left out: {info['dropped_targets']}")
    lines += [
        "",
        f"## Headline: {head} training archs",
        "",
        "Best predictor by Kendall tau per target; gap = noise-ceiling tau minus its tau.",
        "",
        "| target | best predictor | Kendall tau | pairwise acc | p@top-5% | +-10% | ceiling tau | gap |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for t in targets:
        b = _best(summary, t, head)
        c = ceiling.loc[t]
        ctau = c["ceiling_tau"]
        if b is None:
            lines.append(f"| {t} | - | - | - | - | - | {_num(ctau)} | - |")
            continue
        gap = ctau - b["kendall_tau_mean"] if not math.isnan(ctau) else math.nan
        lines.append(
            f"| {t} | {b['predictor']} | {_pm(b['kendall_tau_mean'], b['kendall_tau_std'])} "
            f"| {_pm(b['pairwise_acc_mean'], b['pairwise_acc_std'])} "
            f"| {_pm(b['precision_top5_mean'], b['precision_top5_std'])} "
            f"| {_pm(b['within_10pct_mean'], b['within_10pct_std'])} "
            f"| {_num(ctau)} ({c['ceiling_kind']}) | {_num(gap, '+.3f')} |"
        )
    lines += _checks(ev, summary, head, ceiling)
    lines += ["", "## Kendall tau by train size", ""]
    for t in targets:
        c = ceiling.loc[t]
        part = summary[summary["target"] == t]
        order = part[part["train_size"] == head].sort_values(
            ["kendall_tau_mean", "predictor"], ascending=[False, True], na_position="last"
        )["predictor"]
        direction = "higher" if bench.higher_is_better(t) else "lower"
        lines += [
            f"### {t} ({direction} is better; {_ceiling_label(c)})",
            "",
            "| predictor | " + " | ".join(str(s) for s in sizes) + " |",
            "|---|" + "---|" * len(sizes),
        ]
        lines.append(
            f"| *noise ceiling ({c['ceiling_kind']})* | "
            + " | ".join(_num(c["ceiling_tau"]) for _ in sizes)
            + " |"
        )
        for name in order:
            row = part[part["predictor"] == name].set_index("train_size")
            cells = [_pm(row.loc[s, "kendall_tau_mean"], row.loc[s, "kendall_tau_std"]) for s in sizes]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    fit = ev.scores.drop_duplicates(["predictor", "train_size", "seed"])
    fit_s = fit.groupby(["predictor", "train_size"])["fit_s"].mean()
    lines += [f"## Every metric at {head} training archs", ""]
    for t in targets:
        c = ceiling.loc[t]
        part = summary[(summary["target"] == t) & (summary["train_size"] == head)].sort_values(
            ["kendall_tau_mean", "predictor"], ascending=[False, True], na_position="last"
        )
        lines += [
            f"### {t}",
            "",
            "| predictor | " + " | ".join(_LABELS.values()) + " | fit+predict (s) |",
            "|---|" + "---|" * (len(_LABELS) + 1),
            f"| *noise ceiling ({c['ceiling_kind']})* | - | {_num(c['ceiling_tau'])} "
            f"| {_num(c['ceiling_spearman'])} | - | - | - | - |",
        ]
        for r in part.itertuples():
            cells = [_pm(getattr(r, f"{m}_mean"), getattr(r, f"{m}_std")) for m in _LABELS]
            if not math.isnan(r.rmse_mean):
                cells[-1] = f"{r.rmse_mean:.4g}" + ("" if math.isnan(r.rmse_std) else f" +- {r.rmse_std:.2g}")
            lines.append(
                f"| {r.predictor} | " + " | ".join(cells) + f" | {fit_s.loc[(r.predictor, head)]:.2f} |"
            )
        lines.append("")
    lines += [
        "## Fit + predict time (s, mean over seeds)",
        "",
        "| predictor | " + " | ".join(str(s) for s in sizes) + " |",
        "|---|" + "---|" * len(sizes),
    ]
    for name in info["predictors"]:
        lines.append(f"| {name} | " + " | ".join(f"{fit_s.loc[(name, s)]:.2f}" for s in sizes) + " |")
    nonfinite = int(ev.scores["nonfinite"].sum())
    if nonfinite:
        bad = sorted(ev.scores.loc[ev.scores["nonfinite"] > 0, "predictor"].unique())
        lines += ["", f"{nonfinite} non-finite predictions (scored NaN) from {bad}."]
    lines += [
        "",
        "## Plots",
        "",
        "![Kendall tau vs train size](predictors_tau.png)",
        "",
        f"![predicted vs measured, best predictor per target at {sizes[-1]} archs, seed {seeds[0]}]"
        "(predictors_scatter.png)",
        "",
        "Every number: `predictors.csv` (mean and std over seeds per predictor, target and train size).",
    ]
    return "\n".join(lines) + "\n"


def _plot_tau(ev: PredictorEvaluation, path: Path) -> None:
    plt = pyplot()
    summary, targets, sizes = ev.summary(), ev.info["targets"], ev.info["train_sizes"]
    ceiling = ev.ceiling.set_index("target")
    ncols = min(4, len(targets))
    nrows = math.ceil(len(targets) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.4 * nrows), squeeze=False)
    colors = plt.get_cmap("tab20")
    for ax, t in zip(axes.ravel(), targets):
        for i, name in enumerate(ev.info["predictors"]):
            part = summary[(summary["target"] == t) & (summary["predictor"] == name)].sort_values(
                "train_size"
            )
            ax.errorbar(
                part["train_size"],
                part["kendall_tau_mean"],
                yerr=part["kendall_tau_std"],
                label=name,
                color=colors(i % 20),
                linestyle=":" if _baseline(name) else "-",
                marker="o",
                markersize=3,
                capsize=2,
                linewidth=1,
            )
        ctau = ceiling.loc[t, "ceiling_tau"]
        if not math.isnan(ctau):
            ax.axhline(ctau, color="black", linestyle="--", linewidth=1, label="noise ceiling")
        ax.set_xscale("log")
        ax.set_xticks(sizes, [str(s) for s in sizes])
        ax.minorticks_off()
        ax.set_title(t)
        ax.set_xlabel("train size")
        ax.set_ylabel("Kendall tau")
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(targets) :]:
        ax.axis("off")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=min(7, len(labels)), fontsize=8, frameon=False)
    fig.tight_layout(rect=(0, 0.06 + 0.02 * math.ceil(len(labels) / 7), 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _plot_scatter(ev: PredictorEvaluation, path: Path) -> None:
    plt = pyplot()
    summary, targets, top = ev.summary(), ev.info["targets"], ev.info["train_sizes"][-1]
    ncols = min(4, len(targets))
    nrows = math.ceil(len(targets) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.8 * ncols, 3.6 * nrows), squeeze=False)
    for ax, t in zip(axes.ravel(), targets):
        best = _best(summary, t, top, units_only=True)
        best = _best(summary, t, top) if best is None else best
        if best is None:
            ax.set_title(f"{t}: no scored predictor")
            continue
        name = best["predictor"]
        pts = ev.predictions[(ev.predictions["predictor"] == name) & (ev.predictions["target"] == t)]
        ax.scatter(pts["measured"], pts["predicted"], s=8, alpha=0.6)
        if _predicts_units(name):
            lo = float(min(pts["measured"].min(), pts["predicted"].min()))
            hi = float(max(pts["measured"].max(), pts["predicted"].max()))
            ax.plot([lo, hi], [lo, hi], color="black", linewidth=1, linestyle="--")
        ax.set_title(f"{t}: {name} (tau {best['kendall_tau_mean']:.3f})", fontsize=9)
        ax.set_xlabel("measured")
        ax.set_ylabel("predicted" if _predicts_units(name) else "predicted score")
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(targets) :]:
        ax.axis("off")
    fig.suptitle(f"test split, {top} training archs, seed {ev.info['seeds'][0]}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_predictor_leaderboard(
    ev: PredictorEvaluation, out: str | Path, bench: Any, command: str, wall_s: float
) -> list[Path]:
    """Write ``predictors.md``, ``predictors.csv``, ``predictors_tau.png`` and ``predictors_scatter.png``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = [
        out / n for n in ("predictors.md", "predictors.csv", "predictors_tau.png", "predictors_scatter.png")
    ]
    paths[0].write_text(_markdown(ev, bench, command, wall_s))
    ev.summary().to_csv(paths[1], index=False, float_format="%.6g")
    _plot_tau(ev, paths[2])
    _plot_scatter(ev, paths[3])
    return paths
