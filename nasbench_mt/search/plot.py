"""PNG plots (matplotlib, Agg backend: no display needed): a search's trajectory and Pareto front, and the
search leaderboard's regret curves."""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from nasbench_mt.plotting import pyplot

if TYPE_CHECKING:
    from nasbench_mt.search.loop import SearchResult
    from nasbench_mt.search.problem import SearchProblem

__all__ = ["plot_exit_leaderboard", "plot_leaderboard", "plot_result"]

_MAX_POINTS = 20_000


def plot_result(result: SearchResult, path: str | Path, problem: SearchProblem | None = None) -> Path:
    """Write ``path`` (PNG): best-so-far and regret per query; with several objectives, the Pareto front found
    (over every evaluated arch, and the table's feasible archs and front when ``problem`` is given)."""
    plt = pyplot()
    multi = len(result.objectives) > 1
    fig, axes = plt.subplots(1, 3 if multi else 2, figsize=(15 if multi else 10, 4))
    traj = result.trajectory
    ax = axes[0]
    ax.plot(traj["query"], traj["value"], ".", color="0.6", label="queried")
    ax.plot(traj["query"], traj["best"], "-", color="C0", label="best feasible so far")
    ax.axhline(result.oracle["value"], color="C3", ls="--", label="table oracle")
    ax.set(xlabel="query", ylabel=result.objectives[0], title=f"{result.strategy}, seed {result.seed}")
    ax.legend(fontsize=8)
    ax = axes[1]
    column = "hv_regret" if multi else "regret"
    ax.plot(traj["query"], traj[column], "-", color="C1")
    if result.queries_to_top1 is not None:
        ax.axvline(
            result.queries_to_top1, color="C2", ls=":", label=f"top 1% at query {result.queries_to_top1}"
        )
        ax.legend(fontsize=8)
    ax.set(xlabel="query", ylabel=column.replace("_", " "), title="regret vs the table's oracle")
    if multi:
        ax = axes[2]
        if problem is not None:  # values from the oracle's scores (score = value, negated when minimised)
            oracle = problem.oracle()
            sign = np.array([1.0 if o.maximize else -1.0 for o in problem.objectives[:2]])
            pts = oracle["scores"][:, :2] * sign
            if len(pts) > _MAX_POINTS:  # joint exit mode: table x exit grid can be millions of points
                pts = pts[np.random.default_rng(0).choice(len(pts), _MAX_POINTS, replace=False)]
            label = "table x exit grid (feasible)" if problem.joint else "table (feasible)"
            ax.plot(pts[:, 0], pts[:, 1], ".", color="0.85", ms=3, label=label)
            front = oracle["scores"][np.searchsorted(oracle["rows"], oracle["front_rows"]), :2] * sign
            order = np.argsort(front[:, 0])
            ax.plot(front[order, 0], front[order, 1], "x--", color="C3", zorder=3, label="table front")
        vals = np.array([e.values[:2] for e in result.evaluations])
        ax.plot(vals[:, 0], vals[:, 1], ".", color="C0", alpha=0.5, label="queried")
        front_vals = np.array([e.values[:2] for e in result.pareto]).reshape(-1, 2)
        order = np.argsort(front_vals[:, 0])
        ax.plot(front_vals[order, 0], front_vals[order, 1], "o-", color="C2", label="front found")
        ax.set(xlabel=result.objectives[0], ylabel=result.objectives[1], title="Pareto front")
        ax.legend(fontsize=8)
    fig.suptitle(result.problem, fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_leaderboard(curves: pd.DataFrame, path: str | Path, title: str, budgets: Sequence[int]) -> Path:
    """Mean regret (+- std over seeds) per query and strategy; ``curves``: strategy, query, mean, std."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, part in curves.groupby("strategy", sort=True):
        ax.plot(part["query"], part["mean"], label=name)
        low = (part["mean"] - part["std"]).clip(lower=0)  # regret is never negative
        ax.fill_between(part["query"], low, part["mean"] + part["std"], alpha=0.15)
    for b in budgets:
        ax.axvline(b, color="0.85", lw=0.8)
    ax.set(xlabel="queries", ylabel="regret (mean, band +- std over seeds)")
    ax.set_title(textwrap.fill(title, 80), fontsize=9)
    ax.set_yscale("symlog", linthresh=0.1)
    ax.legend()
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_exit_leaderboard(board: dict, path: str | Path) -> Path:
    """Three panels: hypervolume by budget (exit-aware solid, no exits dashed), the fronts (table and the
    best strategy's finds), and the cost saved at the accuracy drop along the no-exit table front."""
    plt = pyplot()
    info, summary = board["info"], board["summary"]
    fig, axes = plt.subplots(1, 3, figsize=(17, 4.8))
    ax = axes[0]
    for k, (name, part) in enumerate(summary.groupby("strategy", sort=True)):
        for mode, style in (("exit-aware", "-o"), ("no exits", "--s")):
            rows = part[part["mode"] == mode]
            ax.errorbar(
                rows["budget"],
                rows["hv_mean"],
                yerr=rows["hv_std"],
                fmt=style,
                color=f"C{k}",
                ms=4,
                capsize=2,
                label=f"{name}, {mode}",
            )
    ax.set(xlabel="budget (queries)", ylabel="hypervolume / exit-aware table front's", xscale="log")
    ax.set_xticks(info["budgets"], [str(b) for b in info["budgets"]])
    ax.minorticks_off()
    ax.set_title("hypervolume by budget (mean +- std over seeds)", fontsize=9)
    ax.legend(fontsize=7, ncol=2)
    ax = axes[1]
    for label, pts in board["fronts"].items():  # least cost at >= each accuracy: a step before each point
        pts = np.asarray(pts)[np.argsort(np.asarray(pts)[:, 0])]
        color = ("C3" if "exit-aware" in label else "0.3") if label.startswith("table") else None
        color = color or ("C0" if "exit-aware" in label else "C1")
        ls = "-" if "exit-aware" in label else "--"
        ax.step(pts[:, 0], pts[:, 1], where="pre", ls=ls, color=color, marker=".", ms=4, label=label)
    ax.set(xlabel="policy_mean_acc (percent)", ylabel=info["latency"])
    ax.set_title("Pareto fronts", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[2]
    sav = board["savings"].sort_values("acc")
    for col, style, label in (
        ("own_latency_saved", "-o", "same arch, latency"),
        ("own_macs_saved", "-s", "same arch, MACs"),
        ("any_latency_saved", "--o", "any arch, latency"),
        ("any_macs_saved", "--s", "any arch, MACs"),
    ):
        ax.plot(sav["acc"], sav[col], style, ms=4, label=label)
    ax.axhline(0, color="0.7", lw=0.8)
    ax.set(xlabel="accuracy of the no-exit front arch (percent)", ylabel="saved (%)")
    ax.set_title("cost saved at <= 1 point accuracy drop (table fronts)", fontsize=9)
    ax.legend(fontsize=7)
    fig.suptitle(f"exit grid {info['exit_grid']}; {info['seeds']} seeds", fontsize=9)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
