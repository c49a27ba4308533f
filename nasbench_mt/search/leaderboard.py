"""The search leaderboard: every strategy x budgets x seeds under the standard constraint set.

Strategies never see the budget (see :mod:`nasbench_mt.search.base`), so each (strategy, seed) is run once
for the largest budget and every smaller budget is read off its first queries - the same numbers separate
runs would give.  Regret is in the objective's units (mean accuracy: points); before the first feasible arch
a run's regret counts as the oracle minus the worst feasible table value.  Queries to the top 1%: the first
query whose best-so-far is among the best ceil(1%) feasible table rows; runs that never get there count as
the largest budget, so that mean is a lower bound (marked >=) whenever some runs miss.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nasbench_mt.release.provenance import package_versions
from nasbench_mt.search.base import create_strategy, list_strategies
from nasbench_mt.search.loop import run_grid
from nasbench_mt.search.problem import SearchProblem

__all__ = ["run_leaderboard", "standard_constraints", "write_leaderboard"]


def standard_constraints(bench: Any) -> list[str]:
    """The standard constraint set of a release: ``latency_norm`` at most the table's median (2 significant
    digits).

    ``latency_norm`` (latency over the reference network timed in the same round), not ``latency_ms``: the v1
    latency pass ran over several runs whose CPU speed drifted by about 10 %, which moves raw milliseconds
    between shards of uniformly sampled archs; the ratio cancels it (run-to-run Kendall tau 0.95, against 0.71
    for raw milliseconds; docs/methodology.md, "Noise floors")."""
    lat = bench.table["latency_norm"].to_numpy(dtype=float) if "latency_norm" in bench.table else np.array([])
    lat = lat[np.isfinite(lat)]
    if not len(lat):
        raise ValueError("the release has no latency measurements: pass the constraints explicitly")
    med = float(np.median(lat))
    bound = float(f"{med:.2g}")
    return [f"latency_norm <= {bound:g}"]


def run_leaderboard(
    bench: Any,
    strategies: Sequence[str] | None = None,
    seeds: int = 20,
    budgets: Sequence[int] = (25, 50, 100, 200),
    objective: str = "mean_acc",
    constraints: Sequence[str] | None = None,
    strategy_params: dict[str, dict[str, Any]] | None = None,
    progress: Callable[[str, int], None] | None = None,
    workers: int = 1,
) -> dict[str, Any]:
    """Run the grid; returns ``summary`` (per strategy and budget), ``hits`` (per strategy), ``curves`` (mean
    and std of regret per query) and ``info`` (problem, oracle, constraints).  ``progress(name, seed)`` is
    called after each run; ``workers``: runs side by side in that many processes (same results)."""
    names = list_strategies() if strategies is None else list(strategies)
    budgets = sorted({int(b) for b in budgets})
    if not budgets or budgets[0] < 1:
        raise ValueError(f"invalid budgets {budgets}; allowed: ints >= 1")
    if isinstance(seeds, bool) or not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"invalid seeds: {seeds!r}; allowed: an int >= 1")
    cons = standard_constraints(bench) if constraints is None else list(constraints)
    problem = SearchProblem(bench, objective, cons)
    oracle = problem.oracle()
    worst = float(oracle["scores"][:, 0].min())
    top = budgets[-1]
    size = problem.candidates.size
    if size is not None and top > size:
        raise ValueError(f"invalid budgets {budgets}: the pool holds only {size} admissible archs")
    jobs = [(name, "", seed) for name in names for seed in range(seeds)]
    results = run_grid({"": problem}, jobs, top, strategy_params, workers)
    regrets: dict[str, list] = {name: [] for name in names}
    firsts: dict[str, list] = {name: [] for name in names}
    for (name, _, seed), res in zip(jobs, results):
        reg = res.trajectory["regret"].to_numpy(dtype=float)
        regrets[name].append(np.where(np.isfinite(reg), reg, oracle["best_score"] - worst))
        firsts[name].append(res.queries_to_top1)
        if progress is not None:
            progress(name, seed)
    rows, hits, curves = [], [], []
    for name in names:
        first = firsts[name]
        reg = np.vstack(regrets[name])
        for b in budgets:
            reached = [q for q in first if q is not None and q <= b]
            rows.append(
                {
                    "strategy": name,
                    "budget": b,
                    "seeds": seeds,
                    "regret_mean": float(reg[:, b - 1].mean()),
                    "regret_std": float(reg[:, b - 1].std(ddof=1)) if seeds > 1 else 0.0,
                    "top1_rate": len(reached) / seeds,
                    "queries_to_top1_mean": float(np.mean(reached)) if reached else math.nan,
                    "queries_to_top1_std": float(np.std(reached, ddof=1)) if len(reached) > 1 else math.nan,
                }
            )
        censored = np.array([q if q is not None else top for q in first], dtype=float)
        hits.append(
            {
                "strategy": name,
                "reached": sum(q is not None for q in first),
                "seeds": seeds,
                "mean": float(censored.mean()),
                "std": float(censored.std(ddof=1)) if seeds > 1 else 0.0,
                "median": float(np.median(censored)),
                "lower_bound": any(q is None for q in first),
            }
        )
        curves.append(
            pd.DataFrame(
                {"strategy": name, "query": np.arange(1, top + 1), "mean": reg.mean(0), "std": reg.std(0)}
            )
        )
    info = {
        "problem": problem.describe(),
        "constraints": [str(c) for c in problem.constraints],
        "objective": objective,
        "oracle_value": oracle["value"],
        "oracle_arch": str(bench.table["arch"].iloc[oracle["best_row"]]),
        "n_feasible": oracle["n_feasible"],
        "top1_k": oracle["top1_k"],
        "budgets": budgets,
        "seeds": seeds,
        "strategy_params": {n: dict(v) for n, v in (strategy_params or {}).items() if n in names},
        "settings": {n: repr(create_strategy(n, **(strategy_params or {}).get(n, {}))) for n in names},
    }
    return {
        "summary": pd.DataFrame(rows),
        "hits": pd.DataFrame(hits),
        "curves": pd.concat(curves, ignore_index=True),
        "info": info,
    }


def write_leaderboard(board: dict[str, Any], out: str | Path, bench: Any, command: str) -> list[Path]:
    """Write ``search.md``, ``search.csv`` and ``search.png`` into ``out``."""
    from nasbench_mt.search.plot import plot_leaderboard

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    info, summary, hits = board["info"], board["summary"], board["hits"]
    gen = bench.manifest.get("generation", {})
    synthetic = " **SYNTHETIC data: not a result**" if gen.get("synthetic") else ""
    lines = [
        "# Search leaderboard",
        "",
        "Generated by `nasbench_mt.search.leaderboard`; do not edit by hand.",
        "",
        f"- command: `{command}`",
        f"- versions: {package_versions()}",
        f"- release: {bench.version} ({len(bench):,} rows, {bench.root}){synthetic}",
        f"- problem: {info['problem']} (the standard constraint set)",
        f"- oracle: {info['oracle_value']:.4g} ({info['oracle_arch']}); {info['n_feasible']:,} feasible "
        f"rows, top 1% = best {info['top1_k']}",
        f"- {info['seeds']} seeds (0..{info['seeds'] - 1}) per strategy; budgets {info['budgets']} read off "
        f"one run of {info['budgets'][-1]} queries per seed (strategies never see the budget)",
        "",
        "## Queries to reach the top 1%",
        "",
        f"Runs that miss within {info['budgets'][-1]} queries count as {info['budgets'][-1]} (the mean is "
        "then shown as >=, a lower bound).",
        "",
        "| strategy | reached | mean +- std | median |",
        "|---|---|---|---|",
    ]
    for h in hits.itertuples():
        ge = ">= " if h.lower_bound else ""
        lines.append(
            f"| {h.strategy} | {h.reached}/{h.seeds} | {ge}{h.mean:.1f} +- {h.std:.1f} | {h.median:.0f} |"
        )
    lines += [
        "",
        "## Regret by budget",
        "",
        "Regret: oracle minus the best feasible value found, objective units, mean +- std over seeds. "
        "top-1% rate: fraction of seeds in the top 1% by that budget; queries: mean +- std over those seeds.",
        "",
        "| strategy | budget | regret | top-1% rate | queries to top 1% |",
        "|---|---|---|---|---|",
    ]
    for r in summary.itertuples():
        q = "-" if math.isnan(r.queries_to_top1_mean) else f"{r.queries_to_top1_mean:.1f}"
        if not math.isnan(r.queries_to_top1_std):
            q += f" +- {r.queries_to_top1_std:.1f}"
        lines.append(
            f"| {r.strategy} | {r.budget} | {r.regret_mean:.3f} +- {r.regret_std:.3f} | {r.top1_rate:.2f} "
            f"| {q} |"
        )
    if info.get("settings"):
        lines += ["", "## Strategy settings", ""]
        lines += ["Each strategy as it ran (its defaults and any `--param`):", ""]
        lines += [f"- {name}: `{text}`" for name, text in info["settings"].items()]
    paths = [out / "search.md", out / "search.csv", out / "search.png"]
    paths[0].write_text("\n".join(lines) + "\n")
    summary.to_csv(paths[1], index=False)
    plot_leaderboard(board["curves"], paths[2], info["problem"], info["budgets"])
    return paths
