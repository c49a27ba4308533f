"""Metrics of a predictor's output against the true targets (1-D arrays of equal length, vectorised numpy).

Ranking metrics assume larger = better on both sides (negate a lower-is-better target and its prediction).

>>> y = [1.0, 2.0, 3.0, 4.0]
>>> round(pairwise_accuracy(y, [10, 20, 40, 30]), 4), precision_at_k(y, [10, 20, 40, 30], 2)
(0.8333, 1.0)
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

__all__ = ["accuracy_within", "kendall_tau", "pairwise_accuracy", "precision_at_k", "rmse", "spearman"]


def _pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t = np.asarray(y_true, dtype=np.float64)
    p = np.asarray(y_pred, dtype=np.float64)
    if t.ndim != 1 or p.shape != t.shape or len(t) < 2:
        raise ValueError(
            f"invalid shapes: y_true {t.shape}, y_pred {p.shape}; "
            "allowed: two 1-D arrays of equal length >= 2"
        )
    if not (np.isfinite(t).all() and np.isfinite(p).all()):
        raise ValueError("invalid values: NaN or inf in y_true or y_pred; allowed: finite numbers")
    return t, p


def _tied_pairs(x: np.ndarray) -> int:
    counts = np.unique(x, return_counts=True)[1]
    return int((counts * (counts - 1) // 2).sum())


def pairwise_accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of pairs whose order the prediction gets right (MTLP-JR's ranking accuracy).

    Ties: pairs tied in ``y_true`` have no right order and are left out; a pair tied in ``y_pred`` only counts
    half (a coin flip), so a constant prediction scores 0.5, like random.  NaN if every pair is tied in
    ``y_true``.  O(n log n): with S = concordant - discordant pairs (from Kendall's tau-b) and P the pairs not
    tied in ``y_true``, the accuracy is ``0.5 + S / (2 P)``.
    """
    t, p = _pair(y_true, y_pred)
    n0 = len(t) * (len(t) - 1) // 2
    untied_true, untied_pred = n0 - _tied_pairs(t), n0 - _tied_pairs(p)
    if untied_true == 0:
        return float("nan")
    if untied_pred == 0:
        return 0.5
    # S is an integer: round away the float error of going through tau-b
    s = round(stats.kendalltau(t, p).statistic * np.sqrt(float(untied_true) * float(untied_pred)))
    return float(0.5 + s / (2 * untied_true))


def kendall_tau(y_true: Any, y_pred: Any) -> float:
    """Kendall's tau-b (ties handled by ``scipy.stats.kendalltau``); NaN if either side is constant."""
    t, p = _pair(y_true, y_pred)
    return float(stats.kendalltau(t, p).statistic)


def spearman(y_true: Any, y_pred: Any) -> float:
    """Spearman's rank correlation (average ranks for ties); NaN if either side is constant."""
    t, p = _pair(y_true, y_pred)
    return float(stats.spearmanr(t, p).statistic)


def precision_at_k(y_true: Any, y_pred: Any, k: int) -> float:
    """Share of the true top-``k`` (largest ``y_true``) among the predicted top-``k`` (largest ``y_pred``).

    Ties at the cut-off are broken by position (stable sort), on both sides.
    """
    t, p = _pair(y_true, y_pred)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k <= len(t):
        raise ValueError(f"invalid k: {k!r}; allowed: an int in 1..{len(t)}")
    top_true = np.argsort(-t, kind="stable")[:k]
    top_pred = np.argsort(-p, kind="stable")[:k]
    return len(np.intersect1d(top_true, top_pred)) / k


def accuracy_within(y_true: Any, y_pred: Any, tolerance: float = 0.10) -> float:
    """Share of predictions within ``tolerance`` relative error of the truth (nn-Meter's +-10% accuracy).

    A prediction counts when ``|y_pred - y_true| <= tolerance * |y_true|``.
    """
    t, p = _pair(y_true, y_pred)
    if not (isinstance(tolerance, (int, float)) and tolerance >= 0):
        raise ValueError(f"invalid tolerance: {tolerance!r}; allowed: a number >= 0")
    return float(np.mean(np.abs(p - t) <= tolerance * np.abs(t)))


def rmse(y_true: Any, y_pred: Any) -> float:
    """Root mean squared error."""
    t, p = _pair(y_true, y_pred)
    return float(np.sqrt(np.mean((p - t) ** 2)))
