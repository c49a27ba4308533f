"""Pareto fronts and hypervolume, every objective maximised (scores oriented so that larger is better).

The one implementation of both in the package: :meth:`nasbench_mt.query.benchmark.Benchmark.pareto` and the
search (its oracle, NSGA-II, the hypervolume of a run) use it.  The work is pymoo's (non-dominated sorting,
exact hypervolume), which minimises: scores are negated on the way in.  On a 5,000-row, 2-objective table
pymoo sorts in milliseconds where the pairwise-dominance matrix this replaced took seconds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["hypervolume", "non_dominated_sort", "pareto_front"]


def non_dominated_sort(scores: np.ndarray) -> list[np.ndarray]:
    """Fronts of the rows of ``scores`` (n, m), every column maximised: a list of index arrays, best first.

    Equal rows do not dominate each other, so they share a front.
    """
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    scores = np.asarray(scores, dtype=float)
    if len(scores) == 0:
        return []
    if scores.ndim != 2 or not np.isfinite(scores).all():
        raise ValueError(f"invalid scores: shape {scores.shape}; allowed: a finite (n, m) array")
    fronts = NonDominatedSorting().do(-scores)
    return [np.sort(np.asarray(f, dtype=np.int64)) for f in fronts]


def pareto_front(scores: np.ndarray) -> np.ndarray:
    """Indices (ascending) of the non-dominated rows of ``scores`` (n, m), every column maximised.

    Two objectives take an O(n log n) sweep (a million rows in about 2 s); more go through pymoo."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim == 2 and scores.shape[1] == 2 and len(scores) and np.isfinite(scores).all():
        return _front_2d(scores)
    fronts = non_dominated_sort(scores)
    return fronts[0] if fronts else np.zeros(0, dtype=np.int64)


def _front_2d(scores: np.ndarray) -> np.ndarray:
    """Rows not dominated in 2-D: within each value of column 0 the rows of the largest column 1, if it beats
    every row of a larger column 0 (equal rows share the front, as in :func:`non_dominated_sort`)."""
    order = np.lexsort((-scores[:, 1], -scores[:, 0]))
    x, y = scores[order, 0], scores[order, 1]
    starts = np.flatnonzero(np.r_[True, x[1:] != x[:-1]])
    top = y[starts]  # the largest column 1 of each group (sorted descending within it)
    before = np.r_[-np.inf, np.maximum.accumulate(top)[:-1]]  # best column 1 among larger column 0
    group = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(x)]))
    keep = (y == top[group]) & (y > before[group])
    return np.sort(order[keep])


def hypervolume(scores: np.ndarray, reference: np.ndarray) -> float:
    """Hypervolume dominated by ``scores`` (n, m; maximised) above the point ``reference`` (exact)."""
    from pymoo.indicators.hv import HV

    ref = np.asarray(reference, dtype=float)
    pts = np.asarray(scores, dtype=float).reshape(-1, len(ref))
    pts = pts[(pts > ref).all(axis=1)]
    if len(pts) == 0:
        return 0.0
    return float(HV(ref_point=-ref).do(-pts))
