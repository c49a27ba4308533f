"""Hyper-parameters chosen on inner folds of the training rows (``xgb_tuned``)."""

from __future__ import annotations

import numpy as np
import pytest

from predictors import create_predictor
from predictors.selection import InnerSplitSelection

GOOD, BAD = {"n_estimators": 60, "max_depth": 3}, {"n_estimators": 1, "learning_rate": 0.01, "max_depth": 1}


def data(n=60, seed=0):
    X = np.random.default_rng(seed).random((n, 5))
    return X, np.c_[X @ [3, -2, 1, 0.5, 0], X[:, 0] * X[:, 1] + X[:, 2]]


@pytest.mark.parametrize("grid", [[BAD, GOOD], [GOOD, BAD]])
def test_the_setting_that_ranks_best_on_held_out_folds_wins_and_is_refit_on_every_row(grid):
    X, y = data()
    model = create_predictor("xgb_tuned", grid=grid, random_state=0).fit(X, y)
    assert model.best_params_ == GOOD and len(model.scores_) == 2
    assert model.scores_[grid.index(GOOD)] > model.scores_[grid.index(BAD)]
    direct = create_predictor("xgb", **GOOD, random_state=0).fit(X, y)
    np.testing.assert_array_equal(model.predict(X), direct.predict(X))


def test_it_sees_only_the_rows_it_is_fitted_on(monkeypatch):
    X, y = data(30)
    sizes = []
    original = InnerSplitSelection._make

    def make(self, setting):
        inner = original(self, setting)
        fit = inner.fit
        inner.fit = lambda X_, y_: (sizes.append(len(X_)), fit(X_, y_))[1]
        return inner

    monkeypatch.setattr(InnerSplitSelection, "_make", make)
    create_predictor("xgb_tuned", grid=[GOOD, BAD], folds=3, random_state=0).fit(X, y)
    assert sizes == [20, 20, 20, 20, 20, 20, 30]  # 2 settings x 3 folds of 2/3 of the rows, then the refit


def test_invalid_settings_are_named():
    X, y = data(20)
    with pytest.raises(ValueError, match=r"invalid keyword arguments for 'xgb': \['depth'\]"):
        create_predictor("xgb_tuned", grid=[{"depth": 3}]).fit(X, y)
    with pytest.raises(ValueError, match="invalid max_depth: 0"):
        create_predictor("xgb_tuned", grid=[{"max_depth": 0}]).fit(X, y)
    with pytest.raises(ValueError, match="invalid grid: \\[\\]; allowed: a non-empty list"):
        create_predictor("xgb_tuned", grid=[]).fit(X, y)
    with pytest.raises(ValueError, match="invalid folds: 1; allowed: an int >= 2"):
        create_predictor("xgb_tuned", folds=1).fit(X, y)
    with pytest.raises(ValueError, match="invalid predictor: 'gin'; allowed: a predictor of flat features"):
        create_predictor("xgb_tuned", predictor="gin").fit(X, y)


def test_a_missing_xgboost_names_the_install_before_any_fit(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "xgboost", None)
    with pytest.raises(ValueError, match=r"nasbench-mt\[xgboost\]"):
        create_predictor("xgb_tuned")._validate_params()
    X, y = data(20)
    assert create_predictor("xgb_tuned", predictor="lgb", grid=[{"n_estimators": 5}]).fit(X, y).predict(
        X
    ).shape == (20, 2)
