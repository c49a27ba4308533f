import numpy as np
import pytest

from predictors import create_predictor
from predictors.tree_rankers import quantile_grades


def test_quantile_grades_equal_count_and_ties():
    y = np.random.default_rng(0).random(100)
    g = quantile_grades(y, 10)
    assert g.min() == 0 and g.max() == 9 and (np.bincount(g) == 10).all()
    assert (np.diff(g[np.argsort(y)]) >= 0).all()
    assert len(set(quantile_grades(np.array([1.0, 1.0, 1.0, 2.0]), 4))) == 2


def test_stack_order_is_validated_and_used(fixture):
    with pytest.raises(ValueError, match="invalid order"):
        create_predictor("xgb_stack", order=[0, 0, 1], n_estimators=5).fit(fixture.X, fixture.y)
    model = create_predictor("xgb_stack", order=[2, 0, 1], n_estimators=5).fit(fixture.X, fixture.y)
    widths = [m.n_features_in_ for m in model.models_]
    assert model.order_ == [2, 0, 1] and widths == [fixture.X.shape[1] + j for j in range(3)]


def test_baseline_uses_the_cost_column(fixture):
    model = create_predictor("flops").fit(fixture.X, fixture.y[:, 1])
    np.testing.assert_allclose(model.predict(fixture.X), fixture.y[:, 1], rtol=1e-9)  # macs is the column
    with pytest.raises(ValueError, match="pass cost_index"):
        create_predictor("flops").fit(fixture.X[:, :10], fixture.y)
    other = create_predictor("params", cost_index=3).fit(fixture.X[:, :10], -fixture.X[:, 3])
    assert other.slope_[0] == pytest.approx(-1.0)
