"""What a benchmark query returns (:class:`QueryResult`) and the error for an arch not in the table."""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from nasbench_mt.release.schema import EXIT_POSITIONS
from nasbench_mt.space.tasks import TaskSpec

__all__ = ["ArchNotInBenchmarkError", "QueryResult"]


class ArchNotInBenchmarkError(KeyError):
    """The architecture is valid but was not measured; use surrogate mode to predict it."""

    def __init__(self, arch: object, version: str, rows: int) -> None:
        self.arch = arch
        self.message = (
            f"architecture {arch} is not in the benchmark table {version!r} ({rows} measured rows); "
            "only measured architectures can be queried. To answer any architecture of the space, use "
            "surrogate mode: bench.with_surrogate(predictor).query(arch) (results marked predicted)"
        )
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryResult:
    """Metrics of one architecture, built by keyword.  Scores are in percent (see
    :mod:`nasbench_mt.release.schema`); an exit the architecture does not have is absent from the per-exit
    dicts.  ``predicted`` results come from a surrogate: ``predicted_fields`` names the table columns it
    predicted, the other unmeasured values are NaN.  ``arch`` and ``arch_id`` are the row's as stored (the v1
    release stores the spec as sampled; ``Arch.from_string(arch)`` is the canonical architecture).
    """

    arch_id: str
    arch: str
    accuracy: dict[str, float]  # test score per task at the final exit
    exit_accuracy: dict[str, dict[int, float]]  # test score per task and exit
    val_accuracy: dict[str, float]
    mean_acc: float
    val_mean_acc: float
    latency_ms: float
    exit_latency_ms: dict[int, float]
    latency_norm: float
    params: int
    params_per_task: dict[str, int]
    macs: int
    flops: int
    macs_per_exit: dict[int, int]
    peak_mem_bytes: int
    measure_s: float
    protocol: str
    seed: int
    predicted: bool = False
    predicted_fields: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready dict (NaN becomes None)."""
        return json_ready(asdict(self))


def json_ready(v: Any) -> Any:
    """``v`` with string dict keys, lists for tuples, Python for numpy scalars and None for NaN / inf."""
    if isinstance(v, dict):
        return {str(k): json_ready(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [json_ready(x) for x in v]
    if isinstance(v, (np.floating, float)):
        return None if not math.isfinite(v) else float(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


class ResultBuilder:
    """Builds :class:`QueryResult` values from table rows fast: each row is one tuple of Python values,
    and the per-exit fields are read with getters planned once per distinct exit set."""

    _SCALARS = ("arch_id", "arch", "mean_acc", "val_mean_acc", "latency_ms", "latency_norm", "params", "macs")
    _SCALARS += ("flops", "peak_mem_bytes", "measure_s", "protocol", "seed")

    def __init__(self, table: pd.DataFrame, tasks: Sequence[TaskSpec]) -> None:
        self.table = table
        self.names = tuple(t.name for t in tasks)
        self._rows: list[tuple[Any, ...]] | None = None

    def _prepare(self) -> list[tuple[Any, ...]]:
        t, names = self.table, self.names
        cols = list(self._SCALARS)
        cols += [f"test_{n}" for n in names] + [f"val_{n}" for n in names] + [f"params_{n}" for n in names]
        cols += [f"test_{n}_e{k}" for n in names for k in EXIT_POSITIONS]
        cols += [f"latency_e{k}_ms" for k in EXIT_POSITIONS] + [f"macs_e{k}" for k in EXIT_POSITIONS]
        pos = {c: j for j, c in enumerate(cols)}
        values = [t[c].tolist() for c in cols[: -len(EXIT_POSITIONS)]]
        values += [t[f"macs_e{k}"].fillna(-1).astype("int64").tolist() for k in EXIT_POSITIONS]

        def getter(columns: list[str]) -> operator.itemgetter:
            idx = [pos[c] for c in columns]
            return operator.itemgetter(*idx) if len(idx) > 1 else operator.itemgetter(idx[0], idx[0])

        plans: dict[str, tuple[Any, ...]] = {}
        plan_of_row = []
        for arch in values[1]:
            x = arch.rpartition("x=")[2]
            if x not in plans:
                exits = tuple(int(v) for v in x.split(",") if v) + (EXIT_POSITIONS[-1],)
                plans[x] = (
                    exits,
                    tuple((n, getter([f"test_{n}_e{k}" for k in exits])) for n in names),
                    getter([f"latency_e{k}_ms" for k in exits]),
                    getter([f"macs_e{k}" for k in exits]),
                )
            plan_of_row.append(plans[x])
        self._plans = plan_of_row
        s, n = len(self._SCALARS), len(names)
        self._slices = (slice(s, s + n), slice(s + n, s + 2 * n), slice(s + 2 * n, s + 3 * n))
        self._rows = list(zip(*values))
        return self._rows

    def build(self, i: int) -> QueryResult:
        rows = self._rows if self._rows is not None else self._prepare()
        r = rows[i]
        exits, acc_getters, lat, macs = self._plans[i]
        names, (acc, val, per_task) = self.names, self._slices
        return QueryResult(
            arch_id=r[0],
            arch=r[1],
            accuracy=dict(zip(names, r[acc])),
            exit_accuracy={n: dict(zip(exits, g(r))) for n, g in acc_getters},
            val_accuracy=dict(zip(names, r[val])),
            mean_acc=r[2],
            val_mean_acc=r[3],
            latency_ms=r[4],
            exit_latency_ms=dict(zip(exits, lat(r))),
            latency_norm=r[5],
            params=r[6],
            params_per_task=dict(zip(names, r[per_task])),
            macs=r[7],
            flops=r[8],
            macs_per_exit=dict(zip(exits, macs(r))),
            peak_mem_bytes=r[9],
            measure_s=r[10],
            protocol=r[11],
            seed=r[12],
        )
