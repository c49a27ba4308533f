"""Baselines every learned predictor must beat: ``flops``, ``params`` and ``random``.

``flops`` and ``params`` read one cost column of the features and fit, per target, a least-squares line
``y = a + b * cost``: the ranking is the cost order (reversed where the fitted slope is negative, e.g. an
error target), and the predictions are in target units so RMSE is meaningful.  Which column: ``cost_index``
if given; else the column named ``cost`` of a generic encoding (:class:`~predictors.encoding.LayerTable`,
:class:`~predictors.encoding.GraphList`: any of its ``columns``, e.g. ``cost="latency_gpu"``); else, for a
plain array, the position of ``macs`` / ``params`` in :func:`predictors.features.feature_names` (``V1``,
with costs, one-hot).  ``random`` predicts uniform noise drawn from ``random_state`` (the same noise for the
same ``random_state`` and number of rows).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from predictors.base import Predictor, check_param, seed_of
from predictors.features import feature_names
from predictors.registry import register_predictor

__all__ = ["CostBaseline", "RandomBaseline"]


@register_predictor("flops", cost="macs")
@register_predictor("params", cost="params")
class CostBaseline(Predictor):
    """Linear fit of each target on one cost column: ``cost`` names it, ``cost_index`` places it."""

    baseline = True

    def __init__(
        self, cost: str = "macs", cost_index: int | None = None, random_state: int | None = None
    ) -> None:
        self.cost = cost
        self.cost_index = cost_index
        self.random_state = random_state

    def _validate_params(self) -> None:
        super()._validate_params()
        if not isinstance(self.cost, str) or not self.cost:
            raise ValueError(
                f"invalid cost: {self.cost!r}; allowed: a column name such as 'macs' or 'params'"
            )
        if self.cost_index is not None:
            check_param("cost_index", self.cost_index, "int", low=0)

    def _cost_index(self, n_features: int) -> int:
        """Where the cost column is: ``cost_index``, the column named ``cost``, or its default position."""
        if self.cost_index is not None:
            index, where = self.cost_index, "cost_index"
        elif "feature_names_in_" in vars(self):
            names = self.feature_names_in_
            if self.cost not in names:
                raise ValueError(
                    f"invalid cost: {self.cost!r} is not a column of X; allowed: one of its named columns "
                    f"(the architecture-level columns come last: {names[-5:]})"
                )
            return names.index(self.cost)
        else:
            default = feature_names()
            if self.cost not in default:
                raise ValueError(
                    f"invalid cost: {self.cost!r} for an unnamed array; allowed: 'macs' or 'params' (the "
                    "default feature layout), cost_index, or an encoding with named columns"
                )
            index, where = default.index(self.cost), f"the {self.cost!r} column of the default feature layout"
        if index >= n_features:
            raise ValueError(
                f"invalid cost_index: {index} ({where}) for X with {n_features} features; allowed: "
                f"0..{n_features - 1}, pass cost_index for your layout"
            )
        return index

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        index = self._cost_index(X.shape[1])
        self.cost_index_ = index
        cost = X[:, index]
        centred = cost - cost.mean()
        var = float(centred @ centred)
        self.slope_ = (centred @ (y - y.mean(axis=0))) / var if var > 0 else np.zeros(y.shape[1])
        self.intercept_ = y.mean(axis=0) - self.slope_ * cost.mean()

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.intercept_ + np.outer(X[:, self.cost_index_], self.slope_)

    def _save_state(self, path: Path) -> dict[str, Any]:
        return {"cost_index_": self.cost_index_, "slope_": self.slope_, "intercept_": self.intercept_}

    def _load_state(self, path: Path, state: dict[str, Any]) -> None:
        self.cost_index_ = int(state["cost_index_"])
        self.slope_ = np.asarray(state["slope_"], dtype=np.float64)
        self.intercept_ = np.asarray(state["intercept_"], dtype=np.float64)


@register_predictor("random")
class RandomBaseline(Predictor):
    """Uniform random scores in [0, 1): the floor of every ranking metric."""

    baseline = True
    predicts_units = False

    def __init__(self, random_state: int | None = None) -> None:
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.seed_ = seed_of(self.random_state)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.random.default_rng(self.seed_).random((len(X), self.n_targets_))

    def _save_state(self, path: Path) -> dict[str, Any]:
        return {"seed_": self.seed_}

    def _load_state(self, path: Path, state: dict[str, Any]) -> None:
        self.seed_ = int(state["seed_"])
