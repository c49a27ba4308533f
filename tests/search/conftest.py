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

FAST_PARAMS = {"brp": {"initial": 4, "batch": 3, "ensemble": 2, "predictor_params": {"n_estimators": 10}}}


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
    # the budget: exactly `budget` queries; each new arch is charged simulated time, and only a new one (joint
    # exit mode: another exit policy of an arch already queried costs no training)
    assert len(res.evaluations) == len(res.trajectory) == budget
    times = res.trajectory["sim_time_s"].to_numpy()
    archs = [e.arch for e in res.evaluations]
    new = np.array([a not in archs[:i] for i, a in enumerate(archs)])
    steps = np.diff(np.r_[0.0, times])
    assert (steps[new] > 0).all() and (steps[~new] == 0).all()
    # never an invalid candidate, never one twice; pool mode: never one outside the table
    candidates = [e.candidate for e in res.evaluations]
    assert len(set(candidates)) == budget
    if not problem.joint:
        assert candidates == archs
    for c, a in zip(candidates, archs):
        assert V1.validate(a.to_string()) == a and problem.candidates.admissible(c)
        if problem.candidates.pool_mode:
            assert a in bench and problem.candidates.admissible(a)
            assert not res.trajectory["predicted"].any()
    # same seed -> same trajectory; a shorter run is the prefix of a longer one (no strategy sees the budget)
    again = run(problem, make_strategy(), budget, seed=seed)
    assert [e.candidate for e in again.evaluations] == candidates
    assert np.allclose(again.trajectory["value"], res.trajectory["value"], equal_nan=True)
    short = run(problem, make_strategy(), max(1, budget // 2), seed=seed)
    assert [e.candidate for e in short.evaluations] == candidates[: len(short.evaluations)]
    # constraints honoured by the reported best (checked against the table, not the evaluation, for the
    # table's columns; grid exit mode gives them expected values)
    best = res.best
    if any(e.feasible for e in res.evaluations):
        assert best.feasible
        if best.arch in bench and not best.result.predicted and not problem.exit_mode:
            row = bench.table[bench.table["arch_id"] == best.result.arch_id].iloc[
                0
            ]  # the id it is stored under
            for c in problem.constraints:
                value = float(row[c.metric]) if c.metric in row.index else best.metrics[c.metric]
                assert c.satisfied(value), (str(c), value)
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
