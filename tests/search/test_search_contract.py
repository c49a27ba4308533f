"""Every registered strategy goes through the same contract (tests/search/conftest.py), in every mode."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nasbench_mt.search import ArchPolicy, SearchProblem, Strategy, create_strategy, list_strategies, run
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


JOINT_GRID = [0.6, 0.9, math.inf]


@pytest.mark.parametrize("name", STRATEGIES)
@pytest.mark.parametrize(
    "problem_kw",
    [
        {"objective": "policy_mean_acc", "constraints": ["policy_latency_ms <= 2.6"]},
        {"objective": ["policy_mean_acc", "policy_latency_norm"], "constraints": ["params <= 800k"]},
    ],
    ids=["joint", "joint-multi-objective"],
)
def test_joint_exit_contract(name, problem_kw, search_contract, tiny_problem, bench, fast_strategy):
    problem = tiny_problem(exits="joint", exit_grid=JOINT_GRID, **problem_kw)
    res = search_contract(lambda: fast_strategy(name), problem, budget=12)
    tasks = [t.name for t in bench.tasks]
    for e in res.evaluations:  # each candidate is scored under its own thresholds
        assert isinstance(e.candidate, ArchPolicy) and e.candidate.arch == e.arch
        assert set(e.candidate.thresholds) <= set(JOINT_GRID)
        assert e.thresholds == dict(zip(tasks, e.candidate.thresholds))
        em = bench.exit_metrics(e.arch, e.thresholds)
        assert e.metrics["policy_mean_acc"] == pytest.approx(float(em.policy_mean_acc[0]))
        assert e.metrics["policy_latency_norm"] == pytest.approx(float(em.policy_latency_norm[0]))
        if "params <= 800k" in problem_kw["constraints"]:
            assert e.result.params <= 800e3  # exact costs are still checked before proposing
    assert list(res.trajectory["thresholds"]) == [
        ",".join("off" if math.isinf(t) else f"{t:g}" for t in e.candidate.thresholds)
        for e in res.evaluations
    ]


def test_joint_search_of_every_candidate_finds_the_oracle(tiny_problem, bench):
    problem = tiny_problem(
        objective=["policy_mean_acc", "policy_latency_ms"], exits="joint", exit_grid=[0.7, math.inf]
    )
    assert problem.candidates.size == len(bench) * 2 ** len(bench.tasks)
    res = run(problem, "random", problem.candidates.size, seed=0)
    assert res.trajectory["hv_regret"].iloc[-1] == pytest.approx(0.0, abs=1e-12)
    assert res.sim_time_s == pytest.approx(bench.table["measure_s"].sum())  # each arch trained once
    single = tiny_problem(objective="policy_mean_acc", exits="joint", exit_grid=[0.7, math.inf])
    res = run(single, "random", single.candidates.size, seed=1)
    assert res.regret == 0 and res.best.thresholds == single.oracle()["thresholds"]
    assert res.best.arch.to_string() == res.oracle["arch"]


def test_never_leaving_early_is_the_table_network(tiny_problem, bench):
    problem = tiny_problem(objective="policy_mean_acc", exits="joint", exit_grid=[math.inf])
    assert problem.candidates.size == len(bench)
    for r in list(bench)[:8]:
        e = problem.evaluate(
            ArchPolicy(r.arch if isinstance(r.arch, Arch) else Arch.from_string(r.arch), (math.inf,) * 3)
        )
        assert e.metrics["policy_macs"] == pytest.approx(r.macs)
        assert e.metrics["policy_latency_ms"] == pytest.approx(r.latency_ms)


def test_joint_moves_cover_the_thresholds(tiny_problem):
    import random

    problem = tiny_problem(objective="policy_mean_acc", exits="joint", exit_grid=JOINT_GRID)
    cands = problem.candidates
    rng = random.Random(0)
    start = cands.random(rng)
    near = cands.neighbors(start, rng)
    steps = [c for c in near if c.arch == start.arch]
    assert steps and all(sum(a != b for a, b in zip(c.thresholds, start.thresholds)) == 1 for c in steps)
    assert all(c.thresholds == start.thresholds for c in near if c.arch != start.arch)
    moved_arch = moved_thr = 0
    seen = {start}
    for _ in range(60):
        child = cands.mutate(start, rng, seen)
        assert child not in seen and cands.admissible(child)
        moved_thr += child.arch == start.arch
        moved_arch += child.thresholds == start.thresholds and child.arch != start.arch
        other = cands.random(rng, seen)
        cross = cands.crossover(start, other, rng, seen)
        assert cross not in seen and all(
            t in (a, b) for t, a, b in zip(cross.thresholds, start.thresholds, other.thresholds)
        )
    assert moved_arch and moved_thr
    x = cands.encode([start, *steps])
    assert x.shape[0] == 1 + len(steps) and np.isfinite(x).all()


def test_joint_options_errors(bench, tiny_problem):
    with pytest.raises(ValueError, match=r"policy_\* metrics .*exits='joint'"):
        SearchProblem(bench, "policy_mean_acc")
    with pytest.raises(ValueError, match="pool mode only"):
        SearchProblem(bench, "policy_mean_acc", exits="joint", full_space=True)
    with pytest.raises(ValueError, match="invalid exit mode: 'both'"):
        SearchProblem(bench, exits="both")
    with pytest.raises(ValueError, match="short for exits='grid'"):
        SearchProblem(bench, exits="joint", exit_thresholds=[0.9])
    with pytest.raises(ValueError, match="invalid exit thresholds"):
        SearchProblem(bench, exits="joint", exit_grid=[0.5, 2.0])
    problem = tiny_problem(objective="policy_mean_acc", exits="joint", exit_grid=JOINT_GRID)
    with pytest.raises(ValueError, match="allowed: an ArchPolicy"):
        run(problem, _Fixed(bench[0].arch), 1)
    with pytest.raises(ValueError, match="allowed: one value of the exit grid"):
        run(problem, _Fixed(ArchPolicy(Arch.from_string(bench[0].arch), (0.5, 0.6, 0.9))), 1)


class _Fixed(Strategy):
    def __init__(self, candidate=None) -> None:
        self.candidate = candidate

    def ask(self):
        return self.candidate


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


def test_oracle_front_is_the_benchmarks_front(tiny_problem):
    # table objectives: the search asks the benchmark, directions (even overridden ones) included
    problem = tiny_problem(objective=["mean_acc", "max:params"], constraints=["latency_ms <= 3.5"])
    oracle = problem.oracle()
    front = problem.bench.pareto(["mean_acc", "params"], "latency_ms <= 3.5", maximize=[True, True])
    assert sorted(problem.bench.table["arch_id"].iloc[oracle["front_rows"]]) == sorted(front.table["arch_id"])
    default = problem.bench.pareto(["mean_acc", "params"], "latency_ms <= 3.5")
    assert set(front.table["arch_id"]) != set(default.table["arch_id"])  # the direction matters here
    best = problem.bench.best("mean_acc", "latency_ms <= 3.5")
    assert problem.bench.table["arch_id"].iloc[oracle["best_row"]] == best.arch_id


def test_pareto_rejects_bad_directions(bench):
    with pytest.raises(ValueError, match=r"invalid maximize: .*allowed: one True/False per objective \(2\)"):
        bench.pareto(["mean_acc", "params"], maximize=[True])


def test_simulated_time_is_the_tables_measure_s(tiny_problem, bench):
    res = run(tiny_problem(), "evolution", 10, seed=1)
    measured = [bench.query(e.arch).measure_s for e in res.evaluations]
    assert np.allclose(res.trajectory["sim_time_s"], np.cumsum(measured))


def test_a_runs_times_do_not_depend_on_what_the_benchmark_was_charged_before(tiny_problem):
    problem = tiny_problem()
    first = run(problem, "random", 10, seed=3)
    problem.answers.clock_s = 1234.5678901  # an earlier run's charge, as in a serial leaderboard
    again = run(problem, "random", 10, seed=3)
    assert again.trajectory["sim_time_s"].tolist() == first.trajectory["sim_time_s"].tolist()  # bit for bit
    assert problem.answers.clock_s == 1234.5678901 + again.sim_time_s  # the charge is kept


def test_multi_objective_front_and_hypervolume(tiny_problem, bench):
    problem = tiny_problem(objective=["mean_acc", "latency_ms"])
    res = run(problem, "nsga2", problem.candidates.size, seed=0)
    hv = res.trajectory["hv_regret"].to_numpy()
    assert (np.diff(hv) <= 1e-12).all() and hv[-1] == pytest.approx(0.0, abs=1e-12)
    table_front = {
        Arch.from_string(s).to_string() for s in bench.pareto(["mean_acc", "latency_ms"]).table["arch"]
    }
    assert {e.arch.to_string() for e in res.pareto} == table_front
