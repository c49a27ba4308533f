"""The predictor-guided strategy's free auxiliary targets: what the predictor is fitted on."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nasbench_mt.search import ArchPolicy, SearchProblem, create_strategy, run


@pytest.fixture
def fits(monkeypatch):
    """Every (predictor name, X, y) the strategy fits, recorded as it runs."""
    import predictors

    calls = []
    original = predictors.create_predictor

    def create(name, **kw):
        model = original(name, **kw)
        fit = model.fit

        def record(X, y):
            calls.append((name, X if isinstance(X, list) else np.asarray(X), np.asarray(y)))
            return fit(X, y)

        model.fit = record
        return model

    monkeypatch.setattr(predictors, "create_predictor", create)
    return calls


def _search(problem, seed=0, **params):
    """A short search; by default with the ranker ``brp`` on ranking targets, one fit per refit."""
    ranker = {"predictor": "brp", "targets": "rank", "ensemble": 1, "predictor_params": {"epochs": 5}}
    strategy = create_strategy("brp", **{"initial": 4, "batch": 3, **ranker, **params})
    return run(problem, strategy, 10, seed=seed)


def test_a_masking_predictor_learns_free_costs_on_unevaluated_candidates(bench, fits):
    from nasbench_mt.search.brp import FREE_TARGETS
    from predictors.auxiliary import free_targets

    problem = SearchProblem(bench, "mean_acc", ["latency_ms <= 3"], full_space=True, surrogate="flops")
    fits.clear()  # the problem's flops surrogate
    res = _search(problem, aux_archs=20)
    assert fits and all(name == "brp" for name, _, _ in fits)
    queried = {e.candidate for e in res.evaluations}
    for i, (_, X, y) in enumerate(fits):
        told = 4 + 3 * i  # evaluations before this fit
        assert X.shape[0] == told + 20 and y.shape == (told + 20, 1 + len(FREE_TARGETS))
        assert np.isfinite(y[:told, 0]).all() and np.isnan(y[told:, 0]).all()  # no search target: masked
        assert np.isfinite(y[:, 1:]).all()  # params and flops: exact for every row
    # the unevaluated rows are candidates with their exact costs (none proposed before that fit)
    last = fits[-1][2]
    told = 4 + 3 * (len(fits) - 1)
    proposed_before = [e.candidate for e in res.evaluations[:told]]
    np.testing.assert_array_equal(last[:told, 1:], free_targets(proposed_before, FREE_TARGETS))
    assert len(queried) == 10


def test_no_aux_without_masking_or_when_off(tiny_problem, fits):
    problem = tiny_problem(objective="mean_acc")
    off = _search(problem, aux_archs=0)
    xgb = _search(problem, predictor="xgb_rank", predictor_params={"n_estimators": 10}, aux_archs=20)
    assert fits and all(y.ndim == 1 and len(y) == len(X) for _, X, y in fits)
    assert len(off.evaluations) == len(xgb.evaluations) == 10
    with pytest.raises(ValueError, match="invalid aux_archs: -1; allowed: an int >= 0"):
        _search(problem, aux_archs=-1)


def test_aux_candidates_leave_the_search_stream_alone(tiny_problem):
    """The unlabelled candidates come from their own stream: with a predictor that ignores them (it needs
    every label) a search proposes the same candidates whatever ``aux_archs`` is."""
    problem = tiny_problem(objective="mean_acc")
    params = {"predictor": "xgb_rank", "predictor_params": {"n_estimators": 10}}
    a = _search(problem, aux_archs=0, **params)
    b = _search(problem, aux_archs=50, **params)
    assert [e.candidate for e in a.evaluations] == [e.candidate for e in b.evaluations]


def test_predicted_front_order_takes_fronts_in_turn_and_spreads_within_one():
    from nasbench_mt.search.brp import predicted_front_order

    pred = np.array([[1, 1], [3, 0], [0, 3], [2, 2], [0.5, 0.5], [1.5, 1.5]])
    order = predicted_front_order(pred)
    assert sorted(order) == list(range(6))
    assert set(order[:3]) == {1, 2, 3}  # the predicted non-dominated front first
    assert set(order[:2]) == {1, 2}  # its boundary points (infinite crowding) before its middle
    assert list(order[3:]) == [5, 0, 4]  # then the next fronts, one by one


def test_a_pareto_search_fits_every_objective_and_proposes_from_the_predicted_front(bench, fits):
    problem = SearchProblem(bench, ["mean_acc", "latency_ms"])
    res = _search(problem, aux_archs=0)
    assert fits and all(y.ndim == 2 and y.shape[1] == 2 for _, _, y in fits)  # one column per objective
    for i, (_, _, y) in enumerate(fits):
        told = res.evaluations[: 4 + 3 * i]
        assert np.allclose(y[:, 0], [e.scores[0] for e in told])  # unconstrained: every one feasible
        assert np.allclose(y[:, 1], [e.scores[1] for e in told])  # latency oriented: larger is better
    again = _search(problem, aux_archs=0)
    assert [e.candidate for e in res.evaluations] == [e.candidate for e in again.evaluations]  # seeded


@pytest.mark.parametrize(
    ("predictor", "kind"), [("gcn", "graphs"), ("mtlp_jr", "sequences"), ("brp", "features")]
)
@pytest.mark.parametrize("exits", ["none", "joint"])
def test_every_input_kind_guides_the_search(tiny_problem, fits, predictor, kind, exits):
    """Graph and sequence predictors guide the search too, exit thresholds included (joint exit mode): each
    fit gets its own kind of input, one per told candidate plus the unlabelled ones with free targets."""
    from predictors import create_predictor

    joint = {"exits": "joint", "exit_grid": [0.7, math.inf]} if exits == "joint" else {}
    objective = "policy_mean_acc" if joint else "mean_acc"
    problem = tiny_problem(objective=objective, **joint)
    res = _search(problem, predictor=predictor, aux_archs=5)
    assert len({e.candidate for e in res.evaluations}) == 10
    assert fits and all(name == predictor for name, _, _ in fits)
    for _, X, y in fits:
        assert len(X) == len(y) and np.isnan(y[:, 0]).sum() == 5  # the unlabelled candidates
    X = fits[-1][1]
    if kind == "features":
        assert isinstance(X, np.ndarray) and X.ndim == 2
    else:
        assert isinstance(X, list) and create_predictor(predictor).input_kind == kind
    if joint:  # the thresholds reach the predictor: two candidates of one arch get different inputs
        arch, tasks = res.evaluations[0].arch, len(problem.tasks)
        pair = [ArchPolicy(arch, (0.7,) * tasks), ArchPolicy(arch, (math.inf,) * tasks)]
        a, b = problem.candidates.encode(pair, kind)
        first, second = (a.x, b.x) if kind == "graphs" else (a, b)
        assert not np.array_equal(np.asarray(first), np.asarray(second))


def test_a_graph_surrogate_answers_the_full_space(bench):
    problem = SearchProblem(bench, "mean_acc", ["latency_ms <= 3"], full_space=True, surrogate="gcn", seed=0)
    res = run(problem, "random", 5, seed=0)
    assert len(res.evaluations) == 5
    values = problem.surrogate_values(res.evaluations[0].arch)
    assert len(values) == len(problem.surrogate_targets) and np.isfinite(values).all()
    with pytest.raises(ValueError, match=r"invalid input kind: 'pixels'; allowed: \['features', 'graphs'"):
        problem.candidates.encode([res.evaluations[0].arch], "pixels")


def test_a_bootstrap_ensemble_fits_one_model_per_resample_and_takes_each_ones_best(tiny_problem, fits):
    """``ensemble=k``: every refit fits k models, each on a resample with replacement of the evaluations
    (Thompson sampling by bootstrap), and the batch takes the models' best candidates in turn, no repeats."""
    problem = tiny_problem(objective="mean_acc")
    params = {"predictor": "xgb", "predictor_params": {"n_estimators": 10}, "ensemble": 3, "batch": 3}
    res = _search(problem, **params)
    assert len(fits) % 3 == 0 and len(fits) >= 6
    told = [e.candidate for e in res.evaluations]
    encoded = {tuple(row) for row in problem.candidates.encode(told, "features")}
    for i, (_, X, y) in enumerate(fits):
        n = 4 + 3 * (i // 3)  # evaluations before this refit
        assert X.shape[0] == len(y) == n
        assert {tuple(row) for row in X} <= encoded  # rows of evaluated candidates only
    assert any(len({tuple(row) for row in X}) < len(X) for _, X, _ in fits)  # resampled with replacement
    assert len(set(told)) == len(told) == 10
    again = _search(problem, **params)
    assert [e.candidate for e in again.evaluations] == told  # one seed, one search
    with pytest.raises(ValueError, match="invalid ensemble: 0; allowed: an int >= 1"):
        _search(problem, ensemble=0)


def _told(problem, n=8, seed=0, **params):
    """A metrics-target strategy set up on ``problem`` and told ``n`` random candidates."""
    strategy = create_strategy("brp", predictor="xgb", predictor_params={"n_estimators": 10}, **params)
    strategy.setup(problem.candidates, seed=seed, problem=problem)
    for _ in range(n):
        c = strategy.candidates.random(strategy.rng, strategy.seen)
        strategy.seen.add(c)
        strategy.tell(c, problem.evaluate(c))
    return strategy


def test_mean_accuracy_is_fitted_as_its_tasks_and_other_metrics_as_themselves(tiny_problem):
    from nasbench_mt.search.brp import metric_parts

    problem = tiny_problem(objective="mean_acc", constraints=["latency_ms <= 3"])
    history = _told(problem, targets="metrics").history
    tasks = list(history[0].result.accuracy)
    assert metric_parts(history, "mean_acc") == [f"task:accuracy:{t}" for t in tasks] and len(tasks) == 3
    assert metric_parts(history, "latency_ms") == ["latency_ms"]
    assert metric_parts([], "mean_acc") == ["mean_acc"]
    # a mean the task scores do not reproduce is fitted as itself, never silently replaced
    e = history[0]
    off = type(e)(**{**e.__dict__, "metrics": {**e.metrics, "mean_acc": e.metrics["mean_acc"] + 1.0}})
    assert metric_parts([off, *history[1:]], "mean_acc") == ["mean_acc"]


def test_metric_targets_are_in_units_and_the_order_puts_predicted_feasible_first(tiny_problem):
    problem = tiny_problem(objective="mean_acc", constraints=["latency_ms <= 3"])
    strategy = _told(problem, targets="metrics")
    y, order = strategy._metric_targets()
    history = strategy.history
    assert y.shape == (len(history), 4)  # three task accuracies, then latency
    np.testing.assert_allclose(
        y.mean(axis=1, where=[True, True, True, False]), [e.metrics["mean_acc"] for e in history]
    )
    np.testing.assert_allclose(y[:, 3], [e.metrics["latency_ms"] for e in history])
    # predicted: 5 candidates, accuracy by task, latency; two break the bound (3.5 by less than 4.0)
    pred = np.array(
        [[50, 50, 50, 1.0], [90, 90, 90, 3.5], [70, 70, 70, 2.0], [80, 80, 80, 4.0], [60, 60, 60, 2.9]], float
    )
    np.testing.assert_array_equal(order(pred), [2, 4, 0, 1, 3])


def test_a_metrics_target_search_runs_and_refuses_a_ranker_or_a_missing_problem(tiny_problem, fits):
    problem = tiny_problem(objective="mean_acc", constraints=["latency_ms <= 3"])
    params = {"predictor": "xgb", "predictor_params": {"n_estimators": 10}, "targets": "metrics"}
    res = _search(problem, **params, ensemble=2)
    assert len({e.candidate for e in res.evaluations}) == 10
    assert fits and all(y.shape[1] == 4 for _, _, y in fits)
    with pytest.raises(ValueError, match="invalid targets: 'metrics' with predictor 'brp'"):
        _search(problem, targets="metrics")
    with pytest.raises(ValueError, match="invalid targets: 'values'; allowed: \\['rank', 'metrics'\\]"):
        _search(problem, targets="values")
    strategy = create_strategy("brp", **params)
    with pytest.raises(ValueError, match="problem=problem"):
        strategy.setup(problem.candidates, seed=0)


def test_an_evaluation_missing_a_metric_is_left_out_of_the_metric_fit(tiny_problem, fits):
    problem = tiny_problem(objective="mean_acc", constraints=["latency_ms <= 3"])
    strategy = _told(problem, targets="metrics", ensemble=1, batch=2)
    e = strategy.history[0]
    strategy.history[0] = type(e)(**{**e.__dict__, "metrics": {**e.metrics, "latency_ms": float("nan")}})
    fits.clear()
    batch = strategy._ranked()
    assert len(batch) == 2 and not set(batch) & strategy.seen
    ((_, X, y),) = fits
    assert len(X) == len(y) == len(strategy.history) - 1 and np.isfinite(y).all()
