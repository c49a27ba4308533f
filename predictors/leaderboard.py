"""Write a :class:`~predictors.evaluation.PredictorEvaluation` as the predictor leaderboard.

``predictors.md`` (headline, Kendall tau by train size and every metric at the headline size, per target, the
noise ceiling beside the predictors, all for each predictor's main variant; then, where evaluated, joint vs
separate fitting of the multi-target predictors and the effect of free auxiliary targets, each as paired
differences with 90% intervals over seeds), ``predictors.csv`` (:meth:`PredictorEvaluation.summary`: mean
and std over seeds of every metric and variant, with the ceiling) and two plots: ``predictors_tau.png``
(Kendall tau vs train size per target) and ``predictors_scatter.png`` (predicted vs measured for each
target's best predictor).
"""

from __future__ import annotations

import math
import os
import platform
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import t as student_t

from nasbench_mt.plotting import pyplot
from nasbench_mt.release.provenance import package_versions
from predictors.evaluation import PredictorEvaluation
from predictors.features import PROXY_PREFIX
from predictors.metrics import kendall_tau
from predictors.registry import list_predictors, predictor_class

__all__ = [
    "CEILING_MARGIN",
    "HEADLINE_SIZE",
    "INTERVAL",
    "headline_size",
    "paired_difference",
    "write_predictor_leaderboard",
]

HEADLINE_SIZE = 100  # the reference point: "at 100 training archs"
CEILING_MARGIN = 0.05  # "within 0.05 tau of the noise ceiling"
INTERVAL = 0.90  # two-sided level of the intervals over seeds
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


def _fits_text(info: dict) -> str:
    if "fits" not in info:
        return ""
    text = f"; {info['fits']:,} fits, {info['fit_s_total']:,.0f} s of fitting summed over them"
    reused = info.get("reused_fits", 0)
    return text + (f" ({reused:,} read back from an earlier run's `--work` folder)" if reused else "")


def _markdown(full: PredictorEvaluation, bench: Any, command: str, wall_s: float) -> str:
    ev = full.main_variant()
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
        f"OMP_NUM_THREADS={threads}{_fits_text(info)}",
        f"- protocol: {info['complete_rows']:,} rows with every target measured, ordered by arch_id; a "
        f"fixed test split of {info['test_rows']:,} archs (split seed {info['split_seed']}) that no training "
        f"sample touches; training samples of {sizes} archs from the other {info['pool_rows']:,} (seeds "
        f"{seed_text}, nested: each seed's smaller samples are the start of its larger ones); "
        + (
            f"all {len(targets)} targets fitted at once by one model per predictor"
            if info["fit_modes"][0] == "joint"
            else "one model per target"
        )
        + ", each target standardised on the training sample; `random_state` = seed"
        + (f"; features `{info['features']}`" if info["features"] != "onehot" else ""),
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
    lines += _joint_vs_separate(full) + _auxiliary(full) + _proxies(ev, bench, summary)
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


# ---------------------------------------------------------------------------------------------- variants
def paired_difference(a: np.ndarray, b: np.ndarray, level: float = INTERVAL) -> tuple[float, float, float]:
    """Mean of ``a - b`` over paired seeds and its two-sided Student-t interval at ``level``:
    ``(mean, low, high)``; the interval is NaN for fewer than two pairs."""
    d = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
    d = d[np.isfinite(d)]
    if len(d) == 0:
        return math.nan, math.nan, math.nan
    mean = float(d.mean())
    if len(d) < 2:
        return mean, math.nan, math.nan
    half = float(student_t.ppf(0.5 + level / 2, len(d) - 1) * d.std(ddof=1) / math.sqrt(len(d)))
    return mean, mean - half, mean + half


def _diff_cell(a: pd.Series, b: pd.Series) -> tuple[str, int]:
    """``"a / b (diff [low, high])"`` over the seeds both have, bold where the interval excludes 0; and the
    sign of a clear difference (+1, -1, 0 when the interval holds 0 or is missing)."""
    both = pd.DataFrame({"a": a, "b": b}).dropna()
    if both.empty:
        return "-", 0
    mean, lo, hi = paired_difference(both["a"].to_numpy(), both["b"].to_numpy())
    sign = 1 if lo > 0 else -1 if hi < 0 else 0
    diff = f"{mean:+.3f} [{lo:+.3f}, {hi:+.3f}]" if not math.isnan(lo) else f"{mean:+.3f}"
    if sign:
        diff = f"**{diff}**"
    return f"{both['a'].mean():.3f} / {both['b'].mean():.3f} ({diff})", sign


def _variant_tables(
    ev: PredictorEvaluation,
    names: list[str],
    sizes: list[int],
    a: tuple,
    b: tuple,
    labels: tuple[str, str],
    heading: str = "###",
) -> list[str]:
    """A tally of clear differences per predictor, then per target a table predictor x size of variant
    ``a`` (fit, aux_archs) against ``b`` by Kendall tau, paired over seeds."""
    keys = ["predictor", "target", "train_size", "seed"]
    scores = ev.scores
    tau = {
        label: scores[(scores["fit"] == key[0]) & (scores["aux_archs"] == key[1])].set_index(keys)[
            "kendall_tau"
        ]
        for label, key in (("a", a), ("b", b))
    }
    paired = pd.concat(tau, axis=1).sort_index()
    cells: dict[tuple[str, str, int], tuple[str, int]] = {}
    for key, group in paired.groupby(level=[0, 1, 2], sort=False):
        cells[key] = _diff_cell(group["a"], group["b"])
    cells = {
        (n, t, s): cells.get((n, t, s), ("-", 0)) for n in names for t in ev.info["targets"] for s in sizes
    }
    lines = [
        f"| predictor | {labels[0]} clearly better | no clear difference | {labels[1]} clearly better "
        f"| fit+predict s, {labels[0]} / {labels[1]} |",
        "|---|---|---|---|---|",
    ]
    fits = scores[scores["train_size"].isin(sizes)].drop_duplicates(
        ["predictor", "fit", "aux_archs", "train_size", "seed"]
    )
    fit_s = fits.groupby(["predictor", "fit", "aux_archs"])["fit_s"].mean()
    for name in names:
        signs = [cells[(name, t, s)][1] for t in ev.info["targets"] for s in sizes]
        times = " / ".join(_num(fit_s.get((name, *key), math.nan), ".1f") for key in (a, b))
        lines.append(f"| {name} | {signs.count(1)} | {signs.count(0)} | {signs.count(-1)} | {times} |")
    for t in ev.info["targets"]:
        lines += [
            "",
            f"{heading} {t}",
            "",
            "| predictor | " + " | ".join(str(s) for s in sizes) + " |",
            "|---|" + "---|" * len(sizes),
        ]
        for name in names:
            lines.append(f"| {name} | " + " | ".join(cells[(name, t, s)][0] for s in sizes) + " |")
    return lines


_TALLY = "First table: cells (target x train size) per outcome, and the mean seconds of one fit and predict."


def _interval_text(ev: PredictorEvaluation) -> str:
    n = len(ev.info["seeds"])
    return (
        f"mean over {n} seeds of the paired difference (same training sample and seed) with its "
        f"{INTERVAL:.0%} Student-t interval; **bold** where the interval excludes 0"
    )


def _joint_vs_separate(ev: PredictorEvaluation) -> list[str]:
    names = [n for n in ev.info["multi_target"] if n in ev.info["predictors"]]
    if set(ev.info["fit_modes"]) != {"joint", "separate"} or not names:
        return []
    lines = [
        "",
        "## Joint vs separate fitting",
        "",
        "Kendall tau of each multi-target predictor fitted on every target at once (joint: one model, one "
        "shared encoder, tree structure or chain) and with one model per target (separate). Cells: joint / "
        f"separate (joint - separate), {_interval_text(ev)}. {_TALLY}",
        "",
    ]
    sizes = ev.info.get("separate_sizes") or ev.info["train_sizes"]
    if sizes != ev.info["train_sizes"]:
        lines[-2] += f" Separate fits at {sizes} archs only (`--separate-sizes`)."
    return lines + _variant_tables(ev, names, sizes, ("joint", 0), ("separate", 0), ("joint", "separate"))


def _auxiliary(ev: PredictorEvaluation) -> list[str]:
    info = ev.info
    names, m = info["aux_predictors"], info["aux_archs"]
    if not names or not m:
        return []
    source = (
        "drawn from the search space (none in the test split)"
        if info["aux_source"] == "space"
        else "taken from the training pool without their labels (none in a training sample)"
    )
    lines = [
        "",
        "## Free auxiliary targets",
        "",
        f"Kendall tau of each predictor that masks missing labels, fitted jointly on its labelled training "
        f"sample alone (plain) and with {m:,} unlabelled archs {source}, all of them (labelled too) carrying "
        f"the free targets {info['free_targets']} (exact costs, computed); the measured targets of the "
        f"unlabelled archs are missing labels, masked out of the loss. Cells: with aux / plain "
        f"(with - plain), {_interval_text(ev)}. {_TALLY}",
        "",
    ]
    lines += _variant_tables(ev, names, info["aux_sizes"], ("joint", m), ("joint", 0), ("with aux", "plain"))
    against = [n for n in names if n in info["multi_target"]]
    if "separate" in info["fit_modes"] and against:
        lines += [
            "",
            "### With aux against the separate fit",
            "",
            f"The same with-aux fits against one model per target without aux. Cells: with aux / separate "
            f"(with aux - separate), {_interval_text(ev)}.",
            "",
        ]
        lines += _variant_tables(
            ev, against, info["aux_sizes"], ("joint", m), ("separate", 0), ("with aux", "separate"), "####"
        )
    return lines


def proxy_taus(ev: PredictorEvaluation, table: pd.DataFrame) -> pd.DataFrame:
    """Kendall tau of each zero-cost proxy column (``proxy_*``) of ``table`` against every target of ``ev``
    on its test split (the same archs the predictors are scored on), with no training: one row per proxy,
    one column per target, and ``rows`` (test archs with the proxy measured).  Empty without proxies."""
    test_ids = ev.predictions["arch_id"].unique()
    rows = table.set_index("arch_id").loc[test_ids]
    out = []
    for proxy in [c for c in rows.columns if str(c).startswith(PROXY_PREFIX)]:
        have = rows[proxy].notna().to_numpy()
        y, x = rows[ev.info["targets"]].to_numpy()[have], rows[proxy].to_numpy()[have]
        taus = {t: kendall_tau(y[:, j], x) for j, t in enumerate(ev.info["targets"])}
        out.append({"proxy": proxy.removeprefix(PROXY_PREFIX), **taus, "rows": int(have.sum())})
    return pd.DataFrame(out)


def _proxies(ev: PredictorEvaluation, bench: Any, summary: pd.DataFrame) -> list[str]:
    taus = proxy_taus(ev, bench.table)
    if taus.empty:
        return []
    targets, smallest = ev.info["targets"], ev.info["train_sizes"][0]
    lines = [
        "",
        "## Zero-cost proxies alone",
        "",
        f"Kendall tau of each zero-cost proxy (computed from the network at initialisation, no training, no "
        f"labels) against every target on the same {ev.info['test_rows']:,} test archs; a positive tau "
        "ranks the larger value higher, so for latency, params and FLOPs (lower is better) it means "
        "the proxy grows with the cost. Last rows: the best learned predictor at the smallest train size "
        f"({smallest} archs) and the flops baseline, for scale.",
        "",
        "| proxy | " + " | ".join(targets) + " | archs |",
        "|---|" + "---|" * (len(targets) + 1),
    ]
    for r in taus.to_dict("records"):
        cells = [_num(r[t]) for t in targets]
        lines.append(f"| {r['proxy']} | " + " | ".join(cells) + f" | {r['rows']:,} |")
    learned = summary[~summary["predictor"].map(_baseline).astype(bool)]
    best = [_best(learned, t, smallest) for t in targets]
    cells = [f"{b.kendall_tau_mean:.3f} ({b.predictor})" if b is not None else "-" for b in best]
    lines.append(f"| best predictor @{smallest} | " + " | ".join(cells) + f" | {ev.info['test_rows']:,} |")
    flops = summary[(summary["predictor"] == "flops") & (summary["train_size"] == smallest)]
    if not flops.empty:
        by = flops.set_index("target")["kendall_tau_mean"]
        cells = [_num(by.get(t, math.nan)) for t in targets]
        lines.append("| flops baseline | " + " | ".join(cells) + f" | {ev.info['test_rows']:,} |")
    lines += [
        "",
        "The proxies are also predictor features: `--features onehot+proxies` appends them to the flat "
        "features, to each graph's global node and to each sequence's global token.",
    ]
    return lines


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
    _plot_tau(ev.main_variant(), paths[2])
    _plot_scatter(ev.main_variant(), paths[3])
    return paths
