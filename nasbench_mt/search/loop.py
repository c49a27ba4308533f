"""The search loop: ``run(benchmark, strategy, budget, objective, constraints, seed)`` -> ``SearchResult``.

Example::

    >>> from nasbench_mt import load_benchmark
    >>> from nasbench_mt.search import run
    >>> bench = load_benchmark()
    >>> res = run(bench, "brp", budget=100, objective="mean_acc", constraints=["latency_norm <= 2.3"], seed=0)
    >>> res.best.arch, res.regret, res.queries_to_top1
    >>> res.trajectory  # one row per query: simulated time, best so far, regret
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from nasbench_mt.query.pareto import hypervolume, non_dominated_sort
from nasbench_mt.query.results import json_ready
from nasbench_mt.search.base import Candidate, Evaluation, Strategy, create_strategy
from nasbench_mt.search.exits import format_threshold
from nasbench_mt.search.problem import SearchProblem
from nasbench_mt.space.arch import Arch
from nasbench_mt.workers import map_jobs

__all__ = ["SearchResult", "run", "run_grid"]


@dataclass
class SearchResult:
    """What a search found, and how fast.

    ``trajectory`` has one row per query: ``query`` (1-based), ``arch``, ``feasible``, ``value`` (primary
    objective), ``predicted``, ``sim_time_s`` (cumulative simulated time: an arch's training is charged once
    per run, so another exit policy of an already queried arch adds none), ``best`` (best feasible primary
    value so far, NaN before the first feasible arch) and ``regret`` (oracle minus best, in the objective's
    units, >= 0 in pool mode; NaN before the first feasible arch); multi-objective adds ``hv_regret`` (1 - the
    normalised hypervolume of the feasible archs found over the table's Pareto front's); joint exit mode adds
    ``thresholds`` (one per task, ``off``: never leaves early).
    ``queries_to_top1``: the first query whose best reaches the table's top 1% under the same constraints
    (multi-objective: ``hv_regret <= 0.01``), None if never.
    """

    strategy: str
    seed: int
    budget: int
    problem: str
    objectives: list[str]
    constraints: list[str]
    trajectory: pd.DataFrame
    evaluations: list[Evaluation]
    oracle: dict[str, Any]
    queries_to_top1: int | None
    sim_time_s: float
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best(self) -> Evaluation:
        """The best evaluation: feasible first, then by the primary objective."""
        return max(self.evaluations, key=lambda e: e.key)

    @property
    def regret(self) -> float:
        return float(self.trajectory["regret"].iloc[-1])

    @property
    def pareto(self) -> list[Evaluation]:
        """Non-dominated feasible evaluations, best primary objective first."""
        ok = [e for e in self.evaluations if e.feasible and np.isfinite(e.scores).all()]
        if not ok:
            return []
        front = [ok[int(i)] for i in non_dominated_sort(np.array([e.scores for e in ok]))[0]]
        return sorted(front, key=lambda e: e.scores[0], reverse=True)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready summary: the best arch with its metrics, the Pareto front and the trajectory."""

        def summary(e: Evaluation) -> dict[str, Any]:
            return {
                "arch": e.arch.to_string(),
                "arch_id": e.arch.id,
                "values": dict(zip(self.objectives, e.values)),
                "feasible": e.feasible,
                "metrics": e.metrics,
                "thresholds": e.thresholds,
                "predicted": e.result.predicted,
            }

        best = summary(self.best)
        best["result"] = self.best.result.to_dict()
        best.update(self.extra.get("best", {}))
        out = {
            "strategy": self.strategy,
            "seed": self.seed,
            "budget": self.budget,
            "problem": self.problem,
            "objectives": self.objectives,
            "constraints": self.constraints,
            "best": best,
            "regret": self.regret,
            "queries_to_top1": self.queries_to_top1,
            "sim_time_s": self.sim_time_s,
            "wall_s": self.wall_s,
            "oracle": {
                "arch": self.oracle["arch"],
                "value": self.oracle["value"],
                "n_feasible": self.oracle["n_feasible"],
                "top1_k": self.oracle["top1_k"],
                **({"thresholds": self.oracle["thresholds"]} if "thresholds" in self.oracle else {}),
            },
            "trajectory": self.trajectory.to_dict(orient="list"),
        }
        if len(self.objectives) > 1:
            out["pareto"] = [summary(e) for e in self.pareto]
        return json_ready(out)


def run(
    benchmark: Any,
    strategy: str | Strategy,
    budget: int,
    objective: str | Sequence[str] | None = None,
    constraints: str | Sequence[str] | None = None,
    seed: int = 0,
    *,
    progress: bool | Callable[[int, Evaluation], None] = False,
    **problem_kwargs: Any,
) -> SearchResult:
    """Run ``strategy`` (a registered name or a :class:`Strategy`) for ``budget`` queries.

    ``benchmark`` is a :class:`~nasbench_mt.query.benchmark.Benchmark` (then ``objective``, ``constraints``
    and ``problem_kwargs`` - ``reference``, ``full_space``, ``surrogate``, ``exits``, ``exit_grid``,
    ``exit_thresholds`` - build a
    :class:`SearchProblem`) or a prebuilt :class:`SearchProblem` (reused caches; then those arguments must be
    left at their defaults).  Every query is charged to the benchmark's simulated clock.  ``progress``: True
    for a tqdm bar, or a callback ``f(query_index, evaluation)``."""
    import time

    if isinstance(benchmark, SearchProblem):
        if objective is not None or constraints is not None or problem_kwargs:
            raise ValueError(
                "pass objective/constraints/options when building the SearchProblem, not to run()"
            )
        problem = benchmark
    else:
        problem = SearchProblem(benchmark, objective, constraints, seed=seed, **problem_kwargs)
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget < 1:
        raise ValueError(f"invalid budget: {budget!r}; allowed: an int >= 1 (number of queries)")
    size = problem.candidates.size
    if size is not None and budget > size:
        raise ValueError(
            f"invalid budget: {budget}; the pool holds only {size} admissible candidates "
            "(pool mode never proposes one twice)"
        )
    strat = create_strategy(strategy) if isinstance(strategy, str) else strategy
    if not isinstance(strat, Strategy):
        raise ValueError(f"invalid strategy: {strategy!r}; allowed: a registered name or a Strategy")
    oracle = problem.oracle()
    start_wall = time.perf_counter()
    strat.setup(problem.candidates, seed, problem)
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(
            total=int(budget), desc=f"search {strat.registry_name or type(strat).__name__}", unit="query"
        )
    evaluations: list[Evaluation] = []
    trained: set[Arch] = set()
    times: list[float] = []
    cache: dict[Candidate, Evaluation] = {}
    # the run's own clock starts at zero, so its times do not depend on what the benchmark was charged
    # before (a float difference from a larger clock would round differently); the total is added back after
    outer_clock = problem.answers.clock_s
    problem.answers.reset_clock()
    try:
        for i in range(int(budget)):
            candidate = problem.candidates.check(strat.ask(), strat)
            ev = cache.get(candidate)  # a repeat is answered from the cache, not charged
            if ev is None:
                arch = getattr(candidate, "arch", candidate)
                ev = problem.evaluate(candidate, charge=arch not in trained)
                trained.add(arch)
            cache[candidate] = ev
            evaluations.append(ev)
            times.append(problem.answers.clock_s)
            strat.tell(candidate, ev)
            if bar is not None:
                bar.update(1)
            elif callable(progress):
                progress(i + 1, ev)
    finally:
        problem.answers.clock_s += outer_clock
    if bar is not None:
        bar.close()
    traj = _trajectory(problem, evaluations, times)
    hit = _first_hit(problem, traj)
    oracle_info = dict(oracle)
    stored = str(problem.bench.table["arch"].iloc[oracle["best_row"]])
    oracle_info["arch"] = Arch.from_string(
        stored, space=problem.bench.space
    ).to_string()  # as archs are shown
    result = SearchResult(
        strategy=strat.registry_name or type(strat).__name__,
        seed=seed,
        budget=int(budget),
        problem=problem.describe(),
        objectives=[o.name for o in problem.objectives],
        constraints=[str(c) for c in problem.constraints],
        trajectory=traj,
        evaluations=evaluations,
        oracle=oracle_info,
        queries_to_top1=hit,
        sim_time_s=times[-1],
        wall_s=time.perf_counter() - start_wall,
    )
    result.extra["best"] = _best_report(problem, result.best)
    return result


def run_grid(
    problems: Mapping[str, SearchProblem],
    jobs: Sequence[tuple[str, str, int]],
    budget: int,
    strategy_params: Mapping[str, Mapping[str, Any]] | None = None,
    workers: int = 1,
) -> Iterator[SearchResult]:
    """:func:`run` for each ``(strategy, problem key, seed)`` of ``jobs`` on ``problems[key]`` for ``budget``
    queries, a new strategy per run (``strategy_params[strategy]`` its settings); the results in job order.

    ``workers`` > 1 runs them in that many spawned processes, one torch thread each
    (:func:`nasbench_mt.workers.map_jobs`); every run seeds itself, so the results do not change with it.
    """
    params = {name: dict(v) for name, v in (strategy_params or {}).items()}
    return map_jobs(_grid_run, (dict(problems), params, budget), jobs, workers, threads=1)


def _grid_run(context: tuple[dict, dict, int], job: tuple[str, str, int]) -> SearchResult:
    problems, params, budget = context
    name, key, seed = job
    return run(problems[key], create_strategy(name, **params.get(name, {})), budget, seed=seed)


def _trajectory(problem: SearchProblem, evals: list[Evaluation], times: list[float]) -> pd.DataFrame:
    oracle = problem.oracle()
    primary = problem.objectives[0]
    scores = np.array([e.scores[0] if e.feasible else -np.inf for e in evals])
    best_score = np.maximum.accumulate(scores)
    best_value = np.where(np.isfinite(best_score), best_score if primary.maximize else -best_score, np.nan)
    frame = pd.DataFrame(
        {
            "query": np.arange(1, len(evals) + 1),
            "arch": [e.arch.to_string() for e in evals],
            "feasible": [e.feasible for e in evals],
            "value": [e.values[0] for e in evals],
            "predicted": [bool(e.result.predicted) for e in evals],
            "sim_time_s": times,
            "best": best_value,
            "regret": np.where(np.isfinite(best_score), oracle["best_score"] - best_score, np.nan),
        }
    )
    if problem.joint:
        frame["thresholds"] = [",".join(map(format_threshold, e.candidate.thresholds)) for e in evals]
    if problem.multi_objective:
        lo, span = oracle["norm"]
        hv, found = [], []
        for e in evals:
            if e.feasible and np.isfinite(e.scores).all():
                found.append((np.asarray(e.scores) - lo) / span)
            hv.append(hypervolume(np.array(found), oracle["hv_reference"]) if found else 0.0)
        frame["hv_regret"] = 1.0 - np.asarray(hv) / oracle["hv"] if oracle["hv"] > 0 else np.nan
    return frame


def _first_hit(problem: SearchProblem, traj: pd.DataFrame) -> int | None:
    if problem.multi_objective:
        hit = traj["hv_regret"].to_numpy() <= 0.01
    else:
        oracle = problem.oracle()
        best = traj["best"].to_numpy(dtype=float)
        best_score = best if problem.objectives[0].maximize else -best
        hit = np.isfinite(best_score) & (best_score >= oracle["top1_score"] - 1e-12)
    idx = np.flatnonzero(hit)
    return int(idx[0]) + 1 if len(idx) else None


def _best_report(problem: SearchProblem, best: Evaluation) -> dict[str, Any]:
    """Full-space mode: the surrogate's value of the found arch and, if in the table, the measured one."""
    if not problem.full_space:
        return {}
    out: dict[str, Any] = {"in_table": best.arch in problem.bench}
    if problem.predictor is not None:
        pred = dict(zip(problem.surrogate_targets, problem.surrogate_values(best.arch)))
        costs = problem.candidates.exact_costs(best.arch)
        metrics = {c: pred[c] if c in pred else costs.get(c, math.nan) for c in problem.columns}
        out["surrogate_values"] = dict(
            zip([o.name for o in problem.objectives], (o.value(metrics) for o in problem.objectives))
        )
    if out["in_table"]:
        row = problem.bench.query(best.arch)
        metrics = problem._metrics(best.arch, row)
        out["measured_values"] = {o.name: o.value(metrics) for o in problem.objectives}
    return out
