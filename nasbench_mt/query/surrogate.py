"""Surrogate mode: answer architectures absent from the table with a fitted predictor (marked predicted).

Any object with ``predict(X)`` works (scikit-learn style); the encoder turns a list of :class:`Arch` into X.
Costs are never predicted: params, MACs and peak memory of a surrogate answer are exact
(:func:`~nasbench_mt.space.costs.analytic_costs`, equal to measuring the built model, without building it).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nasbench_mt.query.results import QueryResult
from nasbench_mt.space.arch import Arch
from nasbench_mt.space.tasks import TaskSpec

__all__ = ["Surrogate"]

_NAN = float("nan")


class Surrogate:
    """A fitted predictor plus its encoder, answering for ``targets`` (table column names)."""

    def __init__(
        self,
        predictor: Any,
        encoder: Any,
        targets: Sequence[str] | None,
        tasks: Sequence[TaskSpec],
        metrics: Sequence[str],
    ) -> None:
        if not callable(getattr(predictor, "predict", None)):
            raise ValueError(f"invalid predictor: {type(predictor).__name__} has no predict(X) method")
        encoder = getattr(predictor, "encoder", None) if encoder is None else encoder
        if encoder is None or not (callable(encoder) or callable(getattr(encoder, "transform", None))):
            raise ValueError(
                "invalid encoder: pass encoder= (a callable list[Arch] -> X, or an object with transform)"
            )
        targets = getattr(predictor, "targets", None) if targets is None else targets
        if targets is None or isinstance(targets, str) or len(targets) == 0:
            raise ValueError(
                f"invalid targets: {targets!r}; allowed: a list of table columns, e.g. ['mean_acc']"
            )
        unknown = [t for t in targets if t not in metrics]
        if unknown:
            raise ValueError(f"unknown target columns {unknown}; valid: {list(metrics)}")
        self.predictor, self.encoder, self.targets, self.tasks = (
            predictor,
            encoder,
            list(targets),
            tuple(tasks),
        )
        self._costs: dict[Arch, dict[str, Any]] = {}

    def _encode(self, archs: list[Arch]) -> Any:
        return self.encoder(archs) if callable(self.encoder) else self.encoder.transform(archs)

    def predict(self, archs: Sequence[Arch]) -> pd.DataFrame:
        """Predicted targets for ``archs``: columns ``arch_id``, ``arch`` and the targets."""
        archs = list(archs)
        y = np.asarray(self.predictor.predict(self._encode(archs)), dtype=float) if archs else np.zeros((0,))
        if y.ndim == 1 and len(self.targets) == 1:
            y = y[:, None]
        if y.shape != (len(archs), len(self.targets)):
            raise ValueError(
                f"predictor returned shape {y.shape}; expected ({len(archs)}, {len(self.targets)}) "
                f"for targets {self.targets}"
            )
        out = pd.DataFrame(y, columns=self.targets)
        out.insert(0, "arch", [a.to_string() for a in archs])
        out.insert(0, "arch_id", [a.id for a in archs])
        return out

    def _exact_costs(self, arch: Arch) -> dict[str, Any]:
        if arch not in self._costs:
            from nasbench_mt.space.costs import analytic_costs

            self._costs[arch] = analytic_costs(arch, self.tasks, peak_memory=True).as_row()
        return self._costs[arch]

    def query(self, arch: Arch) -> QueryResult:
        """A predicted :class:`QueryResult` (targets predicted, costs exact, everything else NaN)."""
        costs = self._exact_costs(arch)
        predicted = [t for t in self.targets if t not in costs and not t.startswith("macs_seg_")]
        values = {k: float(v) for k, v in self.predict([arch]).iloc[0].items() if k in predicted}
        names = [t.name for t in self.tasks]

        def get(col: str) -> float:
            return values.get(col, _NAN)

        return QueryResult(
            arch_id=arch.id,
            arch=arch.to_string(),
            accuracy={n: get(f"test_{n}") for n in names},
            exit_accuracy={n: {k: get(f"test_{n}_e{k}") for k in arch.all_exits} for n in names},
            val_accuracy={n: get(f"val_{n}") for n in names},
            mean_acc=get("mean_acc"),
            val_mean_acc=get("val_mean_acc"),
            latency_ms=get("latency_ms"),
            exit_latency_ms={k: get(f"latency_e{k}_ms") for k in arch.all_exits},
            latency_norm=get("latency_norm"),
            params=costs["params"],
            params_per_task={n: costs[f"params_{n}"] for n in names},
            macs=costs["macs"],
            flops=costs["flops"],
            macs_per_exit={k: costs[f"macs_e{k}"] for k in arch.all_exits},
            peak_mem_bytes=costs["peak_mem_bytes"],
            measure_s=get("measure_s"),
            protocol="surrogate",
            seed=-1,
            predicted=True,
            predicted_fields=tuple(predicted),
        )
