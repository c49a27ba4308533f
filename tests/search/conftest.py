"""Search fixtures: problems on the tiny release and the strategy contract, reusable for any new strategy.

``search_contract(make_strategy, problem, budget)`` runs a strategy twice with the same seed and once with a
shorter budget, checks every contract and returns the first :class:`SearchResult`::

    def test_my_strategy(search_contract, tiny_problem):
        search_contract(lambda: MyStrategy(), tiny_problem(constraints=["latency_ms <= 3"]), budget=12)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from nasbench_mt.search import SearchProblem, SearchResult, Strategy, run
from nasbench_mt.space.arch import V1

FAST_PARAMS = {"brp": {"initial": 4, "batch": 3, "predictor_params": {"epochs": 5}}}


def _fast_strategy(name: str) -> Strategy:
    """A registered strategy with test-sized settings (same code paths, less work)."""
    from nasbench_mt.search import create_strategy

    params = dict(FAST_PARAMS.get(name, {}))
    if name in ("evolution", "nsga2"):
        params["population"] = 4
    return create_strategy(name, **params)


@pytest.fixture(scope="session")
def fast_strategy() -> Callable[[str], Strategy]:
    """``fast_strategy(name)``: a registered strategy with test-sized settings."""
    return _fast_strategy


@pytest.fixture(scope="session")
def tiny_problem(bench) -> Callable[..., SearchProblem]:
    """``tiny_problem(objective=..., constraints=...)``: a cached SearchProblem on the tiny release."""
    cache: dict[str, SearchProblem] = {}

    def make(**kwargs) -> SearchProblem:
        key = repr(sorted(kwargs.items()))
        if key not in cache:
            cache[key] = SearchProblem(bench, **kwargs)
        return cache[key]

    return make


def _check(
    make_strategy: Callable[[], Strategy], problem: SearchProblem, budget: int, seed: int = 0
) -> SearchResult:
    res = run(problem, make_strategy(), budget, seed=seed)
    bench = problem.bench
    # the budget: exactly `budget` queries, each charged simulated time
    assert len(res.evaluations) == len(res.trajectory) == budget
    times = res.trajectory["sim_time_s"].to_numpy()
    assert (np.diff(times) > 0).all() and times[0] > 0
    # never an invalid arch, never one twice; pool mode: never one outside the table
    archs = [e.arch for e in res.evaluations]
    assert len(set(archs)) == budget
    for a in archs:
        assert V1.validate(a.to_string()) == a
        if problem.candidates.pool_mode:
            assert a in bench and problem.candidates.admissible(a)
            assert not res.trajectory["predicted"].any()
    # same seed -> same trajectory; a shorter run is the prefix of a longer one (no strategy sees the budget)
    again = run(problem, make_strategy(), budget, seed=seed)
    assert [e.arch for e in again.evaluations] == archs
    assert np.allclose(again.trajectory["value"], res.trajectory["value"], equal_nan=True)
    short = run(problem, make_strategy(), max(1, budget // 2), seed=seed)
    assert [e.arch for e in short.evaluations] == archs[: len(short.evaluations)]
    # constraints honoured by the reported best (checked against the table, not the evaluation)
    best = res.best
    if any(e.feasible for e in res.evaluations):
        assert best.feasible
        if best.arch in bench and not best.result.predicted and not problem.exit_mode:
            row = bench.table[bench.table["arch_id"] == best.result.arch_id].iloc[
                0
            ]  # the id it is stored under
            for c in problem.constraints:
                assert c.satisfied(float(row[c.metric])), (str(c), row[c.metric])
    # regret vs the oracle: >= 0 in pool mode, and the best-so-far never gets worse
    regret = res.trajectory["regret"].to_numpy(dtype=float)
    finite = regret[np.isfinite(regret)]
    assert (np.diff(finite) <= 1e-12).all()
    if problem.candidates.pool_mode:
        assert (finite >= -1e-9).all()
    return res


@pytest.fixture(scope="session")
def search_contract() -> Callable[..., SearchResult]:
    return _check
