"""The estimator contract, checked over every registered predictor on the 30-row fixture."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.utils.estimator_checks import (
    check_get_params_invariance,
    check_no_attributes_set_in_init,
    check_parameters_default_constructible,
    check_set_params,
)

from predictors import create_predictor, list_predictors, load_predictor, predictor_class
from predictors.metrics import kendall_tau

# keep the default run fast: fewer epochs / trees than the defaults, and a light two-setting grid (the
# default grid boosts 1,000 trees per setting and fold), where a predictor has them
FAST = {
    "epochs": 30,
    "n_estimators": 60,
    "grid": [{"n_estimators": 20, "max_depth": 3}, {"n_estimators": 60, "max_depth": 2}],
}


def make(name: str, **kw):
    params = create_predictor(name).get_params()
    fast = {k: v for k, v in FAST.items() if k in params}
    return create_predictor(name, **{**fast, "random_state": 0, **kw})


@pytest.fixture(scope="module")
def fitted(fixture):
    """One multi-target fit per predictor, shared by the read-only checks."""
    cache = {}

    def get(name):
        if name not in cache:
            model = make(name)
            cache[name] = model.fit(fixture.inputs(model), fixture.y)
        return cache[name]

    return get


def test_registry_is_complete():
    expected = {
        "xgb",
        "lgb",
        "xgb_mt",
        "xgb_stack",
        "xgb_rank",
        "lgb_rank",
        "gin",
        "gcn",
        "brp",
        "flops",
        "mtlp_jr",
    }
    assert expected | {"params", "random"} <= set(list_predictors())


@pytest.mark.parametrize("name", list_predictors())
def test_sklearn_parameter_checks(name):
    model = create_predictor(name)
    check_no_attributes_set_in_init(name, model)
    check_parameters_default_constructible(name, model)
    check_get_params_invariance(name, model)
    check_set_params(name, model)


@pytest.mark.parametrize("name", list_predictors())
def test_fit_returns_self_and_learned_state_ends_in_underscore(name, fixture):
    model = make(name)
    before = set(vars(model))
    assert before == set(model.get_params())
    assert model.fit(fixture.inputs(model), fixture.y[:, 1]) is model
    learned = set(vars(model)) - before
    assert learned and all(a.endswith("_") and not a.startswith("_") for a in learned)
    assert model.get_params() == make(name).get_params()  # fit does not change parameters


@pytest.mark.parametrize("name", list_predictors())
def test_predict_shape(name, fixture, fitted):
    model = fitted(name)
    inputs = fixture.inputs(model)
    assert model.predict(inputs).shape == (30, 3)
    assert model.predict(inputs[:7]).shape == (7, 3)
    single = make(name).fit(inputs, fixture.y[:, 0])
    pred = single.predict(inputs)
    assert pred.shape == (30,) and pred.dtype == np.float64 and np.isfinite(pred).all()


@pytest.mark.parametrize("name", list_predictors())
def test_same_random_state_same_predictions(name, fixture, fitted):
    model = fitted(name)
    inputs = fixture.inputs(model)
    again = make(name).fit(inputs, fixture.y)
    np.testing.assert_array_equal(model.predict(inputs), again.predict(inputs))


@pytest.mark.parametrize("name", list_predictors())
def test_no_random_state_means_one_seed_for_every_predictor(name, fixture, fitted):
    """``random_state=None`` is seed 0 for every registered predictor: an unseeded fit is repeatable."""
    inputs = fixture.inputs(fitted(name))
    a = make(name, random_state=None).fit(inputs, fixture.y)
    np.testing.assert_array_equal(a.predict(inputs), fitted(name).predict(inputs))


@pytest.mark.parametrize("name", list_predictors())
def test_rank_is_a_permutation(name, fixture, fitted):
    model = fitted(name)
    order = model.rank(fixture.inputs(model), target=2)
    assert sorted(order.tolist()) == list(range(30))
    with pytest.raises(ValueError, match="target"):
        model.rank(fixture.inputs(model), target=3)


@pytest.mark.parametrize("name", list_predictors())
def test_save_load_round_trip(name, fixture, fitted, tmp_path):
    model = fitted(name)
    inputs = fixture.inputs(model)
    model.save(tmp_path / name)
    assert not list((tmp_path / name).glob("*.pkl"))
    loaded = load_predictor(tmp_path / name)
    assert type(loaded) is type(model) and loaded.get_params() == model.get_params()
    np.testing.assert_allclose(loaded.predict(inputs), model.predict(inputs), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("name", [n for n in list_predictors() if not predictor_class(n).baseline])
def test_learns_an_easy_target(name, fixture):
    """Held-out Kendall tau on log(MACs) (a cost the encoders expose) clears a floor."""
    model = make(name)
    inputs = fixture.inputs(model)
    y = np.log(fixture.y[:, 1])
    model.fit(inputs[:20], y[:20])
    assert kendall_tau(y[20:], model.predict(inputs[20:])) > 0.4


@pytest.mark.parametrize("name", list_predictors())
def test_bad_input_raises_value_error(name, fixture):
    model = make(name)
    inputs = fixture.inputs(model)
    with pytest.raises(ValueError, match="not fitted"):
        model.predict(inputs)
    assert issubclass(NotFittedError, ValueError)
    y_bad = fixture.y.copy()
    y_bad[3, 1] = np.inf  # never a label, even where NaN marks a missing one
    with pytest.raises(ValueError, match=r"inf in rows \[3\]"):
        model.fit(inputs, y_bad)
    with pytest.raises(ValueError, match="invalid y shape"):
        model.fit(inputs, fixture.y[:-1])
    with pytest.raises(ValueError, match="invalid X"):
        model.fit(np.zeros((30, 2, 2)), fixture.y)
    with pytest.raises(ValueError, match="invalid random_state"):
        make(name, random_state=-1).fit(inputs, fixture.y)
    with pytest.raises(ValueError, match=r"invalid keyword arguments.*not_a_param.*allowed"):
        create_predictor(name, not_a_param=1)
    model.fit(inputs, fixture.y)
    if model.input_kind == "features":
        with pytest.raises(ValueError, match="features; allowed"):
            model.predict(fixture.X[:, :-1])
    elif model.input_kind == "sequences":
        with pytest.raises(ValueError, match="token features; allowed"):
            model.predict([fixture.sequences[0][:, :-1]])
    else:
        g = fixture.graphs[0].clone()
        g.x = g.x[:, :-1]
        with pytest.raises(ValueError, match="node features; allowed"):
            model.predict([g])


@pytest.mark.parametrize("name", list_predictors())
def test_missing_labels_are_masked_or_refused(name, fixture):
    """NaN in y: a masking predictor fits (and predicts every target); any other refuses with a clear error
    that names the predictors that mask."""
    model = make(name)
    inputs = fixture.inputs(model)
    y = fixture.y.copy()
    y[3:9, 2] = np.nan
    if model.accepts_missing_targets:
        assert model.multi_target
        pred = model.fit(inputs, y).predict(inputs)
        assert pred.shape == (30, 3) and np.isfinite(pred).all()
        y[:, 0] = np.nan
        y[0, 0] = 1.0
        with pytest.raises(ValueError, match="target 0 has 1 labelled rows; allowed: at least 2"):
            make(name).fit(inputs, y)
    else:
        with pytest.raises(
            ValueError, match=r"NaN or inf in rows \[3, 4, 5, 6, 7\].*every label.*brp, .*gin"
        ):
            model.fit(inputs, y)
