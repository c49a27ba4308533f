"""XGBoost is an optional dependency: without it the XGBoost predictors say how to install it, before any
work starts, and everything else works."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from nasbench_mt import load_benchmark
from predictors import create_predictor, evaluate_predictors
from predictors.boosted_trees import xgboost_module

XGB = ["xgb", "xgb_mt", "xgb_stack", "xgb_rank"]


@pytest.fixture
def no_xgboost(monkeypatch):
    monkeypatch.setitem(sys.modules, "xgboost", None)  # `import xgboost` now raises ImportError


def test_the_module_comes_from_either_distribution():
    xgb = pytest.importorskip("xgboost", reason="the XGBoost predictors need the [xgboost] extra")
    assert xgboost_module() is xgb


@pytest.mark.parametrize("name", XGB)
def test_a_missing_xgboost_names_the_install(no_xgboost, name):
    X = np.random.default_rng(0).random((20, 3))
    with pytest.raises(ValueError, match=r"nasbench-mt\[xgboost\]"):
        create_predictor(name, n_estimators=5).fit(X, X.sum(1))


def test_other_predictors_work_without_xgboost(no_xgboost):
    X = np.random.default_rng(0).random((30, 3))
    model = create_predictor("lgb", n_estimators=5, random_state=0).fit(X, X.sum(1))
    assert model.predict(X).shape == (30,)


def test_evaluation_fails_before_any_fit(no_xgboost, tiny_path):
    fits = []
    with pytest.raises(ValueError, match=r"nasbench-mt\[xgboost\]"):
        evaluate_predictors(
            load_benchmark(path=tiny_path),
            ["flops", "xgb"],
            [10],
            seeds=1,
            progress=lambda *a: fits.append(a),
        )
    assert fits == []
