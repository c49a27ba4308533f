"""The exit leaderboard: exit-aware search against the same search without early exits.

Both searches run in joint exit mode with the same two objectives, accuracy under the exit policy
(``policy_mean_acc``) and expected latency (``policy_latency_norm`` by default), and differ only in the
thresholds they may choose: **exit-aware** picks each task's threshold from the exit grid next to the arch;
**no exits** has the one setting ``inf`` for every task (never leave early), which is the table's network
read at its final exits with its own latency and MACs, scored on the same per-sample records (so dense tasks
count pixel accuracy on both sides).  Each search is charged per candidate (the budget counts queries);
another exit policy of an arch already queried costs no simulated training.

Hypervolume of the feasible candidates found within a budget, over the union of both tables' objective ranges
(reference 0.1 below the worst), as a fraction of the exit-aware table front's: 1.0 is the best any search
of the joint space can find.  Strategies never see the budget, so each (strategy, mode, seed) runs once for
the largest budget and smaller budgets are read off its first queries.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nasbench_mt.query.pareto import hypervolume, pareto_front
from nasbench_mt.release.provenance import package_versions
from nasbench_mt.search.exits import DEFAULT_EXIT_GRID, format_threshold
from nasbench_mt.search.loop import run_grid
from nasbench_mt.search.problem import SearchProblem

__all__ = ["EXIT_STRATEGIES", "exit_problems", "run_exit_leaderboard", "write_exit_leaderboard"]

EXIT_STRATEGIES = ("random", "evolution", "nsga2", "brp")
MODES = ("exit-aware", "no exits")
DROP = 1.0  # accuracy points given up in the savings tables
_SHOWN = 10  # exit-free front points listed in the savings table


def exit_problems(
    bench: Any, exit_grid: Sequence[float] = DEFAULT_EXIT_GRID, latency: str = "latency_norm"
) -> dict[str, SearchProblem]:
    """The two problems of the leaderboard, keyed by mode (see the module doc)."""
    if latency not in ("latency_norm", "latency_ms"):
        raise ValueError(f"invalid latency: {latency!r}; allowed: 'latency_norm', 'latency_ms'")
    objectives = ["policy_mean_acc", f"policy_{latency}"]
    return {
        "exit-aware": SearchProblem(bench, objectives, exits="joint", exit_grid=exit_grid),
        "no exits": SearchProblem(bench, objectives, exits="joint", exit_grid=[math.inf]),
    }


def _front_scores(oracle: dict[str, Any]) -> np.ndarray:
    return oracle["scores"][np.searchsorted(oracle["rows"], oracle["front_rows"])]


def run_exit_leaderboard(
    bench: Any,
    strategies: Sequence[str] | None = None,
    seeds: int = 20,
    budgets: Sequence[int] = (25, 50, 100, 200),
    exit_grid: Sequence[float] = DEFAULT_EXIT_GRID,
    latency: str = "latency_norm",
    strategy_params: dict[str, dict[str, Any]] | None = None,
    progress: Callable[[str, str, int], None] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Run both modes x strategies x seeds; returns ``runs`` (one row per strategy, mode, seed, budget),
    ``summary``, ``paired`` (exit-aware minus no exits, seed by seed), ``savings`` (table fronts),
    ``found_savings`` (per strategy at the largest budget), ``fronts`` (for the plot) and ``info``.
    ``progress(name, mode, seed)`` is called after each run; ``workers``: runs side by side in that many
    processes (same results)."""
    names = list(EXIT_STRATEGIES if strategies is None else strategies)
    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < 1:
        raise ValueError(f"invalid budgets {budgets}; allowed: ints >= 1")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"invalid seeds: {seeds!r}; allowed: an int >= 1")
    problems = exit_problems(bench, exit_grid, latency)
    top = budgets[-1]
    for problem in problems.values():
        if top > problem.candidates.size:
            raise ValueError(f"invalid budgets {budgets}: the pool holds only {problem.candidates.size}")
    cost = f"policy_{latency}"
    points = {m: p.joint_points(["policy_macs"]) for m, p in problems.items()}
    oracles = {m: p.oracle() for m, p in problems.items()}
    every = np.vstack([o["scores"] for o in oracles.values()])
    lo, spread = every.min(axis=0), np.ptp(every, axis=0)
    span = np.where(spread > 0, spread, 1.0)
    reference = np.full(every.shape[1], -0.1)

    def volume(scores: np.ndarray) -> float:
        pts = np.asarray(scores, dtype=float).reshape(-1, len(lo))
        return hypervolume((pts - lo) / span, reference) if len(pts) else 0.0

    best = volume(_front_scores(oracles["exit-aware"]))
    rows, found = [], {}
    jobs = [(name, mode, seed) for name in names for mode in problems for seed in range(seeds)]
    for (name, mode, seed), res in zip(jobs, run_grid(problems, jobs, top, strategy_params, workers)):
        ok = [e.feasible and np.isfinite(e.scores).all() for e in res.evaluations]
        scores = np.array([e.scores for e in res.evaluations], dtype=float)
        for b in budgets:
            rows.append(
                {
                    "strategy": name,
                    "mode": mode,
                    "seed": seed,
                    "budget": b,
                    "hv": volume(scores[:b][np.asarray(ok[:b])]) / best,
                    "archs": len({e.arch for e in res.evaluations[:b]}),
                    "sim_time_h": float(res.trajectory["sim_time_s"].iloc[b - 1]) / 3600,
                }
            )
        found[(name, mode, seed)] = [e for e, good in zip(res.evaluations, ok) if good]
        if progress is not None:
            progress(name, mode, seed)
    runs = pd.DataFrame(rows)
    info = {
        "objectives": [o.name for o in problems["exit-aware"].objectives],
        "exit_grid": [format_threshold(t) for t in problems["exit-aware"].exit_grid_values],
        "latency": cost,
        "points": {m: len(o["scores"]) for m, o in oracles.items()},
        "table_hv": {m: volume(_front_scores(o)) / best for m, o in oracles.items()},
        "front_sizes": {m: len(o["front_rows"]) for m, o in oracles.items()},
        "budgets": budgets,
        "seeds": seeds,
        "strategies": names,
        "strategy_params": {n: dict(v) for n, v in (strategy_params or {}).items() if n in names},
    }
    return {
        "runs": runs,
        "summary": _summary(runs),
        "paired": _paired(runs),
        "savings": _table_savings(points, oracles, cost, problems["exit-aware"].tasks),
        "found_savings": _found_savings(found, names, seeds, cost),
        "fronts": _fronts(oracles, found, runs, top),
        "info": info,
    }


def _summary(runs: pd.DataFrame) -> pd.DataFrame:
    g = runs.groupby(["strategy", "mode", "budget"], sort=True)
    out = g.agg(
        seeds=("seed", "size"),
        hv_mean=("hv", "mean"),
        hv_std=("hv", "std"),
        archs_mean=("archs", "mean"),
        sim_time_h_mean=("sim_time_h", "mean"),
    )
    return out.reset_index().fillna({"hv_std": 0.0})


def _paired(runs: pd.DataFrame) -> pd.DataFrame:
    wide = runs.pivot_table(index=["strategy", "budget", "seed"], columns="mode", values="hv")
    if not set(MODES) <= set(wide.columns):
        return pd.DataFrame(columns=["strategy", "budget", "diff_mean", "diff_std", "wins", "seeds"])
    diff = (wide["exit-aware"] - wide["no exits"]).rename("diff").reset_index()
    g = diff.groupby(["strategy", "budget"], sort=True)["diff"]
    out = pd.DataFrame(
        {
            "diff_mean": g.mean(),
            "diff_std": g.std().fillna(0.0),
            "wins": g.apply(lambda d: int((d > 0).sum())),
            "seeds": g.size(),
        }
    )
    return out.reset_index()


def _saved(new: float, old: float) -> float:
    return 100.0 * (1.0 - new / old) if old > 0 and np.isfinite(new) else math.nan


def _table_savings(
    points: dict[str, Any], oracles: dict[str, Any], cost: str, tasks: Sequence[str]
) -> pd.DataFrame:
    """Along the no-exit table front (most accurate first): the cost each exit-free arch saves with its own
    cheapest exit policy within ``DROP`` points of its final-exit accuracy (same arch), and the cheapest
    exit-aware candidate of any arch against the cheapest exit-free arch, both within ``DROP`` points."""
    pm, prow, _ = points["no exits"]
    jm, jrow, settings = points["exit-aware"]
    front = oracles["no exits"]["front_rows"]
    front = front[np.argsort(-pm["policy_mean_acc"][front], kind="stable")]
    if len(front) > _SHOWN:
        front = front[np.unique(np.linspace(0, len(front) - 1, _SHOWN).round().astype(int))]
    out = []
    for i in front:
        acc, floor = pm["policy_mean_acc"][i], pm["policy_mean_acc"][i] - DROP
        mine = np.flatnonzero(jrow == prow[i])
        mine = mine[jm["policy_mean_acc"][mine] >= floor]
        anyj = jm["policy_mean_acc"] >= floor
        anyp = pm["policy_mean_acc"] >= floor
        row = {"arch_row": int(prow[i]), "acc": acc, "latency": pm[cost][i], "macs": pm["policy_macs"][i]}
        row["own_thresholds"] = "-"
        for metric, key in ((cost, "latency"), ("policy_macs", "macs")):
            j = mine[np.argmin(jm[metric][mine])] if len(mine) else None
            row[f"own_{key}_saved"] = _saved(jm[metric][j], pm[metric][i]) if j is not None else 0.0
            if key == "macs" and row["own_macs_saved"] > 0:
                row["own_thresholds"] = ",".join(map(format_threshold, settings[j % len(settings)]))
            row[f"any_{key}_saved"] = _saved(jm[metric][anyj].min(), pm[metric][anyp].min())
        out.append(row)
    return pd.DataFrame(out)


def _found_savings(found: dict, names: Sequence[str], seeds: int, cost: str) -> pd.DataFrame:
    """Per strategy at the largest budget: the accuracy ``a`` of the most accurate arch the exit-free search
    found; the cheapest exit-aware find with accuracy >= a - DROP against the cheapest exit-free one."""
    out = []
    for name in names:
        lat, macs, acc, reached = [], [], [], 0
        for seed in range(seeds):
            plain, joint = found.get((name, "no exits", seed)), found.get((name, "exit-aware", seed))
            if not plain or not joint:
                continue
            a = max(e.metrics["policy_mean_acc"] for e in plain)
            acc.append(a)
            near_p = [e for e in plain if e.metrics["policy_mean_acc"] >= a - DROP]
            near_j = [e for e in joint if e.metrics["policy_mean_acc"] >= a - DROP]
            if not near_j:
                continue
            reached += 1
            for values, metric in ((lat, cost), (macs, "policy_macs")):
                new, old = (min(e.metrics[metric] for e in near) for near in (near_j, near_p))
                values.append(_saved(new, old))
        out.append(
            {
                "strategy": name,
                "acc_mean": float(np.mean(acc)) if acc else math.nan,
                "reached": reached,
                "seeds": seeds,
                "latency_saved_mean": float(np.mean(lat)) if lat else math.nan,
                "latency_saved_std": float(np.std(lat, ddof=1)) if len(lat) > 1 else math.nan,
                "macs_saved_mean": float(np.mean(macs)) if macs else math.nan,
                "macs_saved_std": float(np.std(macs, ddof=1)) if len(macs) > 1 else math.nan,
            }
        )
    return pd.DataFrame(out)


def _fronts(oracles: dict[str, Any], found: dict, runs: pd.DataFrame, top: int) -> dict[str, Any]:
    """Objective values (accuracy, cost) of both table fronts and, for the strategy with the largest
    exit-aware hypervolume at the largest budget, the front of its finds pooled over seeds, per mode."""
    values = {f"table, {m}": _front_scores(o) * [1.0, -1.0] for m, o in oracles.items()}
    last = runs[(runs["budget"] == top) & (runs["mode"] == "exit-aware")]
    name = last.groupby("strategy")["hv"].mean().idxmax()
    for mode in MODES:
        pooled = [e.scores for (s, m, _), evs in found.items() if s == name and m == mode for e in evs]
        if pooled:
            pts = np.array(pooled, dtype=float)
            values[f"{name} found, {mode}"] = pts[pareto_front(pts)] * [1.0, -1.0]
    return values


def _pm(mean: float, std: float) -> str:
    if not np.isfinite(mean):
        return "-"
    return f"{mean:.1f}%" + (f" +- {std:.1f}" if np.isfinite(std) else "")


def write_exit_leaderboard(board: dict[str, Any], out: str | Path, bench: Any, command: str) -> list[Path]:
    """Write ``exits.md``, ``exits.csv`` (the hypervolume summary) and ``exits.png`` into ``out``."""
    from nasbench_mt.search.plot import plot_exit_leaderboard

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info = board["info"]
    gen = bench.manifest.get("generation", {})
    synthetic = " **SYNTHETIC data: not a result**" if gen.get("synthetic") else ""
    cost = info["latency"]
    lines = [
        "# Exit leaderboard",
        "",
        "Generated by `nasbench_mt.search.exit_leaderboard`; do not edit by hand.",
        "",
        f"- command: `{command}`",
        f"- versions: {package_versions()}",
        f"- release: {bench.version} ({len(bench):,} rows, {bench.root}){synthetic}",
        f"- objectives: max policy_mean_acc (percent), min {cost}; no constraints",
        f"- exit-aware: each task's threshold from {info['exit_grid']} (off: never leave early), "
        f"{info['points']['exit-aware']:,} candidates; no exits: every task off, "
        f"{info['points']['no exits']:,} candidates",
        f"- {info['seeds']} seeds (0..{info['seeds'] - 1}) per strategy and mode; budgets {info['budgets']} "
        f"(queries) read off one run of {info['budgets'][-1]} per seed",
        "",
        "Hypervolume: of the feasible candidates found, objectives normalised over both tables' ranges, "
        "reference 0.1 below the worst, as a fraction of the exit-aware table front's. "
        f"The table fronts themselves: exit-aware {info['table_hv']['exit-aware']:.3f} "
        f"({info['front_sizes']['exit-aware']} candidates), no exits {info['table_hv']['no exits']:.3f} "
        f"({info['front_sizes']['no exits']} archs).",
        "",
        "## Hypervolume by budget",
        "",
        "mean +- std over seeds; difference: exit-aware minus no exits on the same seed; wins: seeds where "
        "exit-aware is larger; archs: distinct architectures queried (exit-aware also spends queries on "
        "thresholds).",
        "",
        "| strategy | budget | exit-aware | no exits | difference | wins | archs (exit-aware / no exits) |",
        "|---|---|---|---|---|---|---|",
    ]
    summary = board["summary"].set_index(["strategy", "mode", "budget"])
    for r in board["paired"].itertuples():
        ea, ne = (summary.loc[(r.strategy, mode, r.budget)] for mode in MODES)
        lines.append(
            f"| {r.strategy} | {r.budget} | {ea.hv_mean:.3f} +- {ea.hv_std:.3f} | {ne.hv_mean:.3f} +- "
            f"{ne.hv_std:.3f} | {r.diff_mean:+.3f} +- {r.diff_std:.3f} | {r.wins}/{r.seeds} | "
            f"{ea.archs_mean:.0f} / {ne.archs_mean:.0f} |"
        )
    lines += [
        "",
        f"## Cost saved at <= {DROP:g} point accuracy drop (table fronts)",
        "",
        f"Rows: archs of the no-exit table front, most accurate first ({cost}, MACs per sample). "
        f"Same arch: its cheapest exit policy whose accuracy is within {DROP:g} point of its own final-exit "
        "accuracy (0 when it has no early exit; its thresholds: the setting of least MACs, one per task in "
        f"release order). Any arch: the cheapest exit-aware candidate against the cheapest exit-free arch, "
        f"both within {DROP:g} point of the row's accuracy. Latency and MACs are minimised separately; a "
        "sample's latency is that of the deepest exit any task needed, so a task kept off saves MACs only.",
        "",
        "| accuracy | latency | MACs | same arch: latency saved | MACs saved | its thresholds "
        "| any arch: latency saved | MACs saved |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in board["savings"].itertuples():
        lines.append(
            f"| {r.acc:.2f} | {r.latency:.3g} | {r.macs / 1e6:.1f}M | {r.own_latency_saved:.1f}% | "
            f"{r.own_macs_saved:.1f}% | {r.own_thresholds} | {r.any_latency_saved:.1f}% | "
            f"{r.any_macs_saved:.1f}% |"
        )
    lines += [
        "",
        f"## Cost saved at <= {DROP:g} point accuracy drop (found, largest budget)",
        "",
        "Per seed: a = accuracy of the most accurate arch the no-exit search found; the cheapest candidate "
        f"the exit-aware search found with accuracy >= a - {DROP:g} against the cheapest no-exit find within "
        "the same bound; mean +- std over the seeds where the exit-aware search reached the bound.",
        "",
        "| strategy | a (mean) | reached | latency saved | MACs saved |",
        "|---|---|---|---|---|",
    ]
    for r in board["found_savings"].itertuples():
        lat = _pm(r.latency_saved_mean, r.latency_saved_std)
        macs = _pm(r.macs_saved_mean, r.macs_saved_std)
        lines.append(f"| {r.strategy} | {r.acc_mean:.2f} | {r.reached}/{r.seeds} | {lat} | {macs} |")
    paths = [out / "exits.md", out / "exits.csv", out / "exits.png"]
    paths[0].write_text("\n".join(lines) + "\n")
    board["summary"].to_csv(paths[1], index=False)
    plot_exit_leaderboard(board, paths[2])
    return paths
