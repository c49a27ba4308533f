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
    """Indices (ascending) of the non-dominated rows of ``scores`` (n, m), every column maximised."""
    fronts = non_dominated_sort(scores)
    return fronts[0] if fronts else np.zeros(0, dtype=np.int64)


def hypervolume(scores: np.ndarray, reference: np.ndarray) -> float:
    """Hypervolume dominated by ``scores`` (n, m; maximised) above the point ``reference`` (exact)."""
    from pymoo.indicators.hv import HV

    ref = np.asarray(reference, dtype=float)
    pts = np.asarray(scores, dtype=float).reshape(-1, len(ref))
    pts = pts[(pts > ref).all(axis=1)]
    if len(pts) == 0:
        return 0.0
    return float(HV(ref_point=-ref).do(-pts))
