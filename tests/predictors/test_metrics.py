import itertools

import numpy as np
import pytest
from scipy import stats

from predictors.metrics import accuracy_within, kendall_tau, pairwise_accuracy, precision_at_k, rmse, spearman


def brute_pairwise(t, p):
    right = total = 0.0
    for i, j in itertools.combinations(range(len(t)), 2):
        if t[i] == t[j]:
            continue
        total += 1
        right += 0.5 if p[i] == p[j] else float((t[i] > t[j]) == (p[i] > p[j]))
    return right / total


def test_pairwise_accuracy_matches_brute_force_with_ties():
    rng = np.random.default_rng(0)
    for _ in range(20):
        t = rng.integers(0, 5, 25).astype(float)
        p = rng.integers(0, 6, 25).astype(float)
        assert pairwise_accuracy(t, p) == pytest.approx(brute_pairwise(t, p), abs=1e-12)


def test_pairwise_accuracy_edge_cases():
    y = np.arange(10.0)
    assert pairwise_accuracy(y, y * 3) == 1.0 and pairwise_accuracy(y, -y) == 0.0
    assert pairwise_accuracy(y, np.zeros(10)) == 0.5
    assert np.isnan(pairwise_accuracy(np.ones(5), np.arange(5.0)))


def test_correlations_are_scipys():
    rng = np.random.default_rng(1)
    t, p = rng.random(50), rng.random(50)
    assert kendall_tau(t, p) == pytest.approx(stats.kendalltau(t, p).statistic)
    assert spearman(t, p) == pytest.approx(stats.spearmanr(t, p).statistic)


def test_precision_within_rmse():
    t = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    assert precision_at_k(t, t, 2) == 1.0 and precision_at_k(t, -t, 2) == 0.0
    assert precision_at_k(t, [5, 4, 3, 2, 1], 5) == 1.0
    assert accuracy_within(t, t * 1.05) == 1.0 and accuracy_within(t, t * 1.2) == 0.0
    assert accuracy_within(t, t * 1.2, tolerance=0.25) == 1.0
    assert rmse(t, t + 2) == pytest.approx(2.0)


def test_bad_input():
    with pytest.raises(ValueError, match="invalid shapes"):
        kendall_tau([1, 2, 3], [1, 2])
    with pytest.raises(ValueError, match="NaN"):
        rmse([1, np.nan], [1, 2])
    with pytest.raises(ValueError, match="invalid k"):
        precision_at_k([1, 2, 3], [1, 2, 3], 0)
