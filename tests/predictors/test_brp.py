import numpy as np
import pytest

from predictors import create_predictor


@pytest.fixture(scope="module")
def brp(fixture):
    return create_predictor("brp", epochs=30, random_state=0).fit(fixture.X, fixture.y)


def test_antisymmetric_by_construction(brp, fixture):
    a, b = fixture.X[:15], fixture.X[15:]
    p_ab, p_ba = brp.predict_proba_pairs(a, b), brp.predict_proba_pairs(b, a)
    assert p_ab.shape == (15, 3)
    np.testing.assert_allclose(p_ab + p_ba, 1.0, atol=1e-6)
    np.testing.assert_allclose(brp.predict_proba_pairs(a, a), 0.5, atol=1e-6)
    with pytest.raises(ValueError, match="equal lengths"):
        brp.predict_proba_pairs(a, b[:3])


def test_scores_are_win_probabilities(brp, fixture):
    s = brp.predict(fixture.X)
    assert s.shape == (30, 3) and (s >= 0).all() and (s <= 1).all()


def test_rank_refines_only_the_top(fixture):
    plain = create_predictor("brp", epochs=30, refine_top=0, random_state=0).fit(fixture.X, fixture.y)
    refined = create_predictor("brp", epochs=30, refine_top=8, random_state=0).fit(fixture.X, fixture.y)
    a, b = plain.rank(fixture.X, 1), refined.rank(fixture.X, 1)
    assert set(a[:8]) == set(b[:8]) and (a[8:] == b[8:]).all()
    np.testing.assert_array_equal(a, np.argsort(-plain.predict(fixture.X)[:, 1], kind="stable"))


def test_rank_of_a_large_pool_is_a_permutation(brp):
    # speed (rank of 10,000 < 5 s) is measured by benchmarks/bench_predictors.py, not asserted here
    pool = np.random.default_rng(0).random((5000, brp.n_features_in_)) * 2
    order = brp.rank(pool, target=1)
    assert np.array_equal(np.sort(order), np.arange(5000))
