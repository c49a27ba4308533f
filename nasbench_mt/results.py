"""What a benchmark query returns (:class:`QueryResult`) and the error for an arch not in the table."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import pandas as pd

from nasbench_mt.schema import EXIT_POSITIONS
from nasbench_mt.tasks import TaskSpec

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


@dataclass(frozen=True, slots=True)
class QueryResult:
    """Metrics of one architecture.  Scores are in percent (see :mod:`nasbench_mt.schema`); an exit the
    architecture does not have is absent from the per-exit dicts.  ``predicted`` results come from a
    surrogate: ``predicted_fields`` names the table columns it predicted, the other unmeasured values are NaN.
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

        def clean(v: Any) -> Any:
            if isinstance(v, dict):
                return {str(k): clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            if isinstance(v, float) and not math.isfinite(v):
                return None
            return v

        return clean(asdict(self))


class ResultBuilder:
    """Builds :class:`QueryResult` values from table rows fast (columns kept as Python lists)."""

    def __init__(self, table: pd.DataFrame, tasks: Sequence[TaskSpec]) -> None:
        self.table = table
        self.names = [t.name for t in tasks]
        self._cols: dict[str, list[Any]] | None = None
        self._exits: list[tuple[int, ...]] = []

    def _prepare(self) -> dict[str, list[Any]]:
        names, t = self.names, self.table
        wanted = ["arch_id", "arch", "mean_acc", "val_mean_acc", "latency_ms", "latency_norm", "params"]
        wanted += ["macs", "flops", "peak_mem_bytes", "measure_s", "protocol", "seed"]
        wanted += [f"test_{n}" for n in names] + [f"val_{n}" for n in names] + [f"params_{n}" for n in names]
        wanted += [f"test_{n}_e{k}" for n in names for k in EXIT_POSITIONS]
        wanted += [f"latency_e{k}_ms" for k in EXIT_POSITIONS] + [f"macs_e{k}" for k in EXIT_POSITIONS]
        self._cols = {c: t[c].tolist() for c in wanted}
        cache: dict[str, tuple[int, ...]] = {}
        for s in self._cols["arch"]:
            x = s.rpartition("x=")[2]
            if x not in cache:
                cache[x] = tuple(int(v) for v in x.split(",") if v) + (EXIT_POSITIONS[-1],)
        self._exits = [cache[s.rpartition("x=")[2]] for s in self._cols["arch"]]
        self._keys = {
            "exit": {n: [(k, f"test_{n}_e{k}") for k in EXIT_POSITIONS] for n in names},
            "lat": [(k, f"latency_e{k}_ms") for k in EXIT_POSITIONS],
            "macs": [(k, f"macs_e{k}") for k in EXIT_POSITIONS],
        }
        return self._cols

    def build(self, i: int) -> QueryResult:
        c = self._cols if self._cols is not None else self._prepare()
        names, exits, keys = self.names, self._exits[i], self._keys
        return QueryResult(
            c["arch_id"][i],
            c["arch"][i],
            {n: c[f"test_{n}"][i] for n in names},
            {n: {k: c[col][i] for k, col in keys["exit"][n] if k in exits} for n in names},
            {n: c[f"val_{n}"][i] for n in names},
            c["mean_acc"][i],
            c["val_mean_acc"][i],
            c["latency_ms"][i],
            {k: c[col][i] for k, col in keys["lat"] if k in exits},
            c["latency_norm"][i],
            c["params"][i],
            {n: c[f"params_{n}"][i] for n in names},
            c["macs"][i],
            c["flops"][i],
            {k: int(c[col][i]) for k, col in keys["macs"] if k in exits},
            c["peak_mem_bytes"][i],
            c["measure_s"][i],
            c["protocol"][i],
            c["seed"][i],
        )
