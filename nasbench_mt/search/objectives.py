"""Objectives, constraints and Pareto utilities of a search.

An objective names a stored metric (``"mean_acc"``, ``"test_{task}"``, ``"latency_ms"``, any numeric column of
:mod:`nasbench_mt.release.schema`), optionally with a direction prefix (``"max:params"``,
``"min:latency_ms"``; the default comes from :meth:`~nasbench_mt.query.benchmark.Benchmark.higher_is_better`),
or ``"delta_p"``: LibMTL's multi-task gain over a reference architecture (Maninis et al.; Lin & Zhang,
LibMTL),

    Delta_p = 100 / T * sum_t (-1)^{l_t} (M_t - M_t^ref) / M_t^ref,   l_t = 1 if task t is lower-is-better,

over the final-exit test score of every task (higher is better).  A constraint is a string
``"<metric> <op> <number>"`` with ``op`` in ``<=, <, >=, >, ==`` and numbers such as ``3``, ``200e3``,
``200k``, ``1.5M``::

    >>> c = Constraint.parse("params<=200k")
    >>> c.metric, c.op, c.bound
    ('params', '<=', 200000.0)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

# one constraint grammar for the whole package: the query API owns it, the search uses it
from nasbench_mt.query.constraints import Constraint, check_metric, parse_constraints

__all__ = [
    "Constraint",
    "Objective",
    "crowding_distance",
    "parse_constraints",
    "parse_objectives",
]


@dataclass(frozen=True)
class Objective:
    """One objective: a metric and its direction.  ``reference`` holds Delta-p's reference scores."""

    name: str
    maximize: bool
    metric: str  # the table column, or "delta_p"
    reference: tuple[tuple[str, float, bool], ...] = ()  # (column, reference score, higher_is_better)

    @property
    def columns(self) -> tuple[str, ...]:
        """Table columns the value is computed from."""
        return tuple(c for c, _, _ in self.reference) if self.metric == "delta_p" else (self.metric,)

    def value(self, values: Mapping[str, float]) -> float:
        """The objective from metric values (a dict or a DataFrame of columns: vectorised)."""
        if self.metric != "delta_p":
            return values[self.metric]
        total = 0.0
        for col, ref, up in self.reference:
            total = total + (1.0 if up else -1.0) * (values[col] - ref) / ref
        return 100.0 * total / len(self.reference)

    def score(self, value: float) -> float:
        """The value oriented so that larger is better."""
        return value if self.maximize else -value


def parse_objectives(
    objectives: str | Sequence[str],
    metrics: Sequence[str],
    higher_is_better: Callable[[str], bool],
    tasks: Sequence[tuple[str, bool]] = (),
    reference_row: Mapping[str, float] | None = None,
) -> tuple[Objective, ...]:
    """Objectives from names such as ``"mean_acc"``, ``"min:latency_ms"``, ``"delta_p"`` (or a list of them).

    ``tasks`` lists ``(name, higher_is_better)`` per task and ``reference_row`` the reference architecture's
    metrics, both needed by ``delta_p`` only.
    """
    if isinstance(objectives, str):
        objectives = [o for o in re.split(r"[,\s]+", objectives) if o]
    if not objectives:
        raise ValueError("invalid objectives: none given; allowed: metric names such as 'mean_acc'")
    out = []
    for text in objectives:
        if not isinstance(text, str):
            raise ValueError(f"invalid objective: {text!r}; allowed: a metric name such as 'mean_acc'")
        direction, _, name = text.rpartition(":")
        if direction not in ("", "max", "min"):
            raise ValueError(
                f"invalid objective direction {direction!r} in {text!r}; allowed: 'max:', 'min:'"
            )
        if name == "delta_p":
            if reference_row is None:
                raise ValueError("objective 'delta_p' needs a reference architecture (reference=ARCH)")
            ref = tuple((f"test_{t}", float(reference_row[f"test_{t}"]), up) for t, up in tasks)
            bad = [c for c, v, _ in ref if not (math.isfinite(v) and v != 0)]
            if bad:
                raise ValueError(f"invalid delta_p reference: its {bad} scores are zero or missing")
            out.append(Objective(text, direction != "min", "delta_p", ref))
            continue
        check_metric(name, [*metrics, "delta_p"], "objective")
        up = higher_is_better(name) if direction == "" else direction == "max"
        out.append(Objective(text, up, name))
    names = [o.name for o in out]
    if len(set(names)) != len(names):
        raise ValueError(f"invalid objectives {names}: each may appear once")
    return tuple(out)


# ------------------------------------------------ NSGA-II's crowding (fronts and hypervolume: query.pareto)
def crowding_distance(scores: np.ndarray) -> np.ndarray:
    """NSGA-II crowding distance of each row of one front (boundary rows get inf)."""
    scores = np.asarray(scores, dtype=float)
    n, m = scores.shape
    dist = np.zeros(n)
    if n <= 2:
        return np.full(n, np.inf)
    for j in range(m):
        order = np.argsort(scores[:, j], kind="stable")
        col = scores[order, j]
        span = col[-1] - col[0]
        dist[order[0]] = dist[order[-1]] = np.inf
        if span > 0:
            dist[order[1:-1]] += (col[2:] - col[:-2]) / span
    return dist
