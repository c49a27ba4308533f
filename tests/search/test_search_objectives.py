"""Objectives, constraints, Delta-p, Pareto utilities: parsing errors and exact values."""

from __future__ import annotations

import numpy as np
import pytest

from nasbench_mt.query.pareto import hypervolume, non_dominated_sort, pareto_front
from nasbench_mt.search import Constraint, SearchProblem, parse_constraints
from nasbench_mt.search.objectives import crowding_distance


@pytest.mark.parametrize(
    "text, metric, op, bound",
    [
        ("latency_ms<=3", "latency_ms", "<=", 3.0),
        ("params <= 200e3", "params", "<=", 200e3),
        ("params<=200k", "params", "<=", 200e3),
        ("macs < 1.5M", "macs", "<", 1.5e6),
        ("mean_acc>=80", "mean_acc", ">=", 80.0),
        (" test_digit > .5 ", "test_digit", ">", 0.5),
    ],
)
def test_constraint_parsing(text, metric, op, bound):
    c = Constraint.parse(text)
    assert (c.metric, c.op, c.bound) == (metric, op, bound)


@pytest.mark.parametrize(
    "text, match",
    [
        ("latency_ms =< 3", "invalid constraint operator '=<'"),
        ("latency_ms != 3", "invalid constraint operator '!='"),
        ("latency_ms <= fast", "invalid constraint bound 'fast'"),
        ("<= 3", "invalid constraint '<= 3'"),
        ("latency <= 3", "unknown constraint metric 'latency' \\(did you mean 'latency_ms'"),
    ],
)
def test_constraint_errors(text, match, bench):
    with pytest.raises(ValueError, match=match):
        parse_constraints(text, bench.metrics)


def test_constraint_lists_and_violation():
    cs = parse_constraints("latency_ms <= 3 and params <= 2e5")
    assert [str(c) for c in cs] == ["latency_ms <= 3", "params <= 200000"]
    c = cs[0]
    assert c.violation(2.0) == 0 and c.violation(4.5) == pytest.approx(0.5, abs=1e-6)
    assert c.violation(float("nan")) > 1 and not c.satisfied(float("nan"))


@pytest.mark.parametrize(
    "objective, match",
    [
        ("accuracy", "unknown objective metric 'accuracy'"),
        ("up:mean_acc", "invalid objective direction 'up'"),
        (["mean_acc", "mean_acc"], "each may appear once"),
        ([], "none given"),
    ],
)
def test_objective_errors(objective, match, bench):
    with pytest.raises(ValueError, match=match):
        SearchProblem(bench, objective)


def test_objective_directions(bench):
    p = SearchProblem(bench, ["mean_acc", "latency_ms", "max:params", "min:test_digit"])
    assert [o.maximize for o in p.objectives] == [True, False, True, False]


def test_delta_p_matches_libmtl_formula(bench):
    ref = bench[3]
    p = SearchProblem(bench, "delta_p", reference=ref.arch)
    r = bench[7]
    ev = p.evaluate(r.arch)
    expected = 100 / 3 * sum((r.accuracy[t] - ref.accuracy[t]) / ref.accuracy[t] for t in r.accuracy)
    assert ev.values[0] == pytest.approx(expected)
    assert p.evaluate(ref.arch).values[0] == pytest.approx(0.0)
    default = SearchProblem(bench, "delta_p")  # reference: the median-mean_acc row
    assert default.reference in bench


def test_static_constraints_are_never_proposed_and_unsatisfiable_ones_fail(bench):
    p = SearchProblem(bench, "mean_acc", ["params <= 500k"])
    assert p.candidates.size == int((bench.table["params"] <= 5e5).sum())
    with pytest.raises(ValueError, match="no architecture of the table satisfies"):
        SearchProblem(bench, "mean_acc", ["params <= 10"])


def test_exit_mode_errors(bench):
    with pytest.raises(ValueError, match="pool mode only"):
        SearchProblem(bench, exit_thresholds=[0.9], full_space=True)
    with pytest.raises(ValueError, match="one objective"):
        SearchProblem(bench, ["mean_acc", "latency_ms"], exit_thresholds=[0.9])
    with pytest.raises(ValueError, match="invalid exit thresholds"):
        SearchProblem(bench, exit_thresholds=[1.5])


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(objective="mean_acc"), "invalid objective 'mean_acc' in early-exit mode"),
        (dict(objective="test_seg"), "'policy_acc_seg'"),
        (dict(constraints="latency_norm <= 2"), "invalid constraint 'latency_norm'.*'policy_latency_norm'"),
        (dict(constraints="macs <= 2e6"), "'policy_macs'"),
        (dict(objective="delta_p"), "invalid objective 'delta_p' in early-exit mode"),
    ],
)
def test_exit_mode_refuses_the_table_names_the_policy_changes(bench, kwargs, match):
    with pytest.raises(ValueError, match=match):
        SearchProblem(bench, exit_thresholds=[0.6, 1.0], **kwargs)


def test_exit_mode_scores_policy_metrics_under_their_own_names(bench):
    p = SearchProblem(bench, exit_thresholds=[0.6, 1.0], constraints="params <= 2M and policy_macs <= 1e9")
    assert [o.metric for o in p.objectives] == ["policy_mean_acc"] and p.objectives[0].maximize
    e = p.evaluate(bench[0].arch)
    assert {"policy_mean_acc", "policy_macs"} <= set(e.metrics) and "mean_acc" not in e.metrics
    em = bench.exit_metrics(bench[0].arch, e.thresholds)
    assert e.values[0] == pytest.approx(float(em.policy_mean_acc[0]))
    assert SearchProblem(bench, "min:policy_latency_ms", exit_thresholds=[0.6]).objectives[0].metric == (
        "policy_latency_ms"
    )
    with pytest.raises(
        ValueError, match=r"invalid metric 'policy_mean_acc': policy_\* metrics are expected values"
    ):
        SearchProblem(bench, "policy_mean_acc")  # a policy metric needs the exit policy


@pytest.mark.parametrize("bad", [["0.9"], [True], "0.9", [], [0.5, float("nan")], [[0.5, 2.0]], None])
def test_exit_thresholds_must_be_numbers_in_the_unit_interval(bench, bad):
    if bad is None:
        assert not SearchProblem(bench, exit_thresholds=None).exit_mode
        return
    with pytest.raises(ValueError, match="invalid exit thresholds"):
        SearchProblem(bench, exit_thresholds=bad)


def test_non_dominated_sort_and_crowding():
    pts = np.array([[1, 5], [2, 4], [3, 3], [1, 1], [2, 2], [0, 0]], dtype=float)
    fronts = non_dominated_sort(pts)
    assert [sorted(f.tolist()) for f in fronts] == [[0, 1, 2], [4], [3], [5]]
    d = crowding_distance(pts[[0, 1, 2]])
    assert np.isinf(d[0]) and np.isinf(d[2]) and d[1] == pytest.approx(2.0)


def test_two_objective_front_matches_the_general_sort():
    rng = np.random.default_rng(0)
    for _ in range(200):  # small integer grids: many ties and duplicate rows
        pts = rng.integers(0, 5, (int(rng.integers(1, 40)), 2)).astype(float)
        assert pareto_front(pts).tolist() == non_dominated_sort(pts)[0].tolist()
    three = rng.random((50, 3))
    assert pareto_front(three).tolist() == non_dominated_sort(three)[0].tolist()


def test_hypervolume_exact():
    assert hypervolume(np.array([[1.0, 1.0]]), np.zeros(2)) == pytest.approx(1.0)
    # two boxes 2x1 and 1x2 overlapping in 1x1: area 3
    assert hypervolume(np.array([[2.0, 1.0], [1.0, 2.0]]), np.zeros(2)) == pytest.approx(3.0)
    pts = np.array([[1.0, 2.0, 1.0], [2.0, 1.0, 1.0], [1.0, 1.0, 2.0]])
    assert hypervolume(pts, np.zeros(3)) == pytest.approx(4.0)  # 3 boxes of 2, pairwise overlaps 1, triple 1
    rng = np.random.default_rng(0)  # against Monte Carlo
    pts = rng.random((6, 3))
    samples = rng.random((200_000, 3))
    mc = (samples[:, None, :] <= pts[None]).all(-1).any(-1).mean()
    assert hypervolume(pts, np.zeros(3)) == pytest.approx(mc, abs=0.01)


def test_a_constraint_object_keeps_its_exact_bound():
    c = Constraint("params", "<=", 123_456_789.0)  # its string form rounds the bound for display
    assert parse_constraints([c], ["params"]) == (c,)
    with pytest.raises(ValueError, match="nope"):
        parse_constraints([Constraint("nope", "<=", 1.0)], ["params"])
