"""Every registered strategy goes through the same contract (tests/search/conftest.py), in every mode."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_mt.search import SearchProblem, create_strategy, list_strategies, run
from nasbench_mt.space.arch import Arch

STRATEGIES = list_strategies()


def test_registry():
    assert {"random", "evolution", "local", "brp", "nsga2"} <= set(STRATEGIES)
    with pytest.raises(ValueError, match=r"unknown strategy: 'nope'; allowed: \['brp'"):
        create_strategy("nope")
    with pytest.raises(ValueError, match=r"invalid keyword arguments for strategy 'evolution'.*allowed"):
        create_strategy("evolution", size=3)


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize(
    "problem_kw",
    [
        {},
        {"constraints": ["latency_ms <= 3"]},
        {"constraints": ["params <= 800k", "latency_ms < 3.5"]},
        {"objective": ["mean_acc", "latency_ms"]},
    ],
    ids=["plain", "latency", "params+latency", "multi-objective"],
)
def test_pool_contract(name, problem_kw, search_contract, tiny_problem, fast_strategy):
    problem = tiny_problem(**problem_kw)
    res = search_contract(lambda: fast_strategy(name), problem, budget=12)
    static = [c for c in problem.constraints if c.metric == "params"]
    for e in res.evaluations:  # exact-cost constraints are known up front: never violated by a proposal
        assert all(c.satisfied(e.result.params) for c in static)


@pytest.mark.parametrize("name", STRATEGIES)
def test_exit_threshold_contract(name, search_contract, tiny_problem, bench, fast_strategy):
    problem = tiny_problem(constraints=["policy_latency_ms <= 2.6"], exit_thresholds=[0.6, 0.9, 1.0])
    res = search_contract(lambda: fast_strategy(name), problem, budget=8)
    for e in res.evaluations[:3]:
        assert set(e.thresholds) == {t.name for t in bench.tasks}
        em = bench.exit_metrics(e.arch, e.thresholds)
        assert e.metrics["policy_mean_acc"] == pytest.approx(float(em.policy_mean_acc[0]))
        assert e.metrics["policy_latency_ms"] == pytest.approx(float(em.policy_latency_ms[0]))
        assert e.feasible == (e.metrics["policy_latency_ms"] <= 2.6)


def test_exit_policy_normalises_latency_by_the_rows_reference(tiny_problem, bench):
    problem = tiny_problem(constraints=["policy_latency_norm <= 0.5"], exit_thresholds=[0.6, 1.0])
    arch = bench[0].arch
    e = problem.evaluate(arch)
    em = bench.exit_metrics(arch, e.thresholds)
    row = bench.query(arch)
    assert e.metrics["policy_latency_norm"] == pytest.approx(float(em.policy_latency_norm[0]))
    assert float(em.policy_latency_norm[0]) == pytest.approx(
        float(em.policy_latency_ms[0]) * row.latency_norm / row.latency_ms
    )
    full = bench.exit_metrics(arch, {t.name: 1.0 for t in bench.tasks})
    assert float(full.policy_latency_norm[0]) == pytest.approx(row.latency_norm)
    assert e.feasible == (e.metrics["policy_latency_norm"] <= 0.5)


@pytest.fixture(scope="module")
def full_problem(bench):
    return SearchProblem(
        bench, "mean_acc", ["latency_ms <= 3", "params <= 1e6"], full_space=True, surrogate="flops"
    )


@pytest.mark.parametrize("name", STRATEGIES)
def test_full_space_contract(name, full_problem, search_contract, fast_strategy):
    res = search_contract(lambda: fast_strategy(name), full_problem, budget=5)
    assert res.trajectory["predicted"].any()  # the space is far larger than the table
    for e in res.evaluations:
        assert e.result.params <= 1e6  # exact-cost constraint checked before proposing
    best = res.to_dict()["best"]
    assert "surrogate_values" in best and "in_table" in best


def test_pool_mode_never_queries_outside_the_table(tiny_problem):
    from nasbench_mt.search import Strategy
    from nasbench_mt.space.arch import V1

    class Outside(Strategy):
        def ask(self):
            return V1.smallest()

    with pytest.raises(ValueError, match="not an admissible arch of the pool"):
        run(tiny_problem(), Outside(), 3)


def test_budget_errors(tiny_problem):
    with pytest.raises(ValueError, match="invalid budget"):
        run(tiny_problem(), "random", 0)
    with pytest.raises(ValueError, match="pool holds only 30"):
        run(tiny_problem(), "random", 31)


def test_search_finds_the_oracle_with_the_whole_pool(tiny_problem):
    problem = tiny_problem(constraints=["latency_ms <= 3"])
    res = run(problem, "random", problem.candidates.size, seed=3)
    assert res.regret == 0 and res.queries_to_top1 is not None
    assert res.best.arch.to_string() == res.oracle["arch"]
    assert res.oracle["value"] == pytest.approx(problem.bench.best("mean_acc", "latency_ms <= 3").mean_acc)


def test_simulated_time_is_the_tables_measure_s(tiny_problem, bench):
    res = run(tiny_problem(), "evolution", 10, seed=1)
    measured = [bench.query(e.arch).measure_s for e in res.evaluations]
    assert np.allclose(res.trajectory["sim_time_s"], np.cumsum(measured))


def test_multi_objective_front_and_hypervolume(tiny_problem, bench):
    problem = tiny_problem(objective=["mean_acc", "latency_ms"])
    res = run(problem, "nsga2", problem.candidates.size, seed=0)
    hv = res.trajectory["hv_regret"].to_numpy()
    assert (np.diff(hv) <= 1e-12).all() and hv[-1] == pytest.approx(0.0, abs=1e-12)
    table_front = {
        Arch.from_string(s).to_string() for s in bench.pareto(["mean_acc", "latency_ms"]).table["arch"]
    }
    assert {e.arch.to_string() for e in res.pareto} == table_front
