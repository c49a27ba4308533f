"""The estimator contract every predictor follows, and the input checks they share.

A predictor is a scikit-learn estimator: ``__init__`` only stores its keyword arguments, ``fit(X, y)``
validates them and the data and returns ``self``, learned state ends in ``_``, randomness comes from
``random_state``.  ``X`` is a 2-D numeric array (``input_kind == "features"``), a list of PyG graphs
(``"graphs"``) or a list of ``(tokens, width)`` float arrays (``"sequences"``) -- or, for every predictor,
a generic encoding of any search space (:class:`~predictors.encoding.LayerTable`,
:class:`~predictors.encoding.GraphList`), from which it takes the view it needs.  ``y`` is ``(n,)`` for one
target or ``(n, n_targets)``, and ``predict`` returns the same shape.  Larger predictions mean larger targets
(ranking predictors return scores, not target units): negate a lower-is-better target.

Two traits say what a predictor does with several targets (read them on an instance: ``xgb`` and ``xgb_mt``
are one class with different parameters):

- ``multi_target``: a fit of every target at once shares what it learns across them (one encoder, shared tree
  structure, a chain), so it differs from one fit per target;
- ``accepts_missing_targets``: ``fit`` takes NaN in ``y`` as a missing label and leaves it out of the loss
  (never imputed), so a model can learn accuracy from a few architectures and free targets (exact costs) from
  many more (:func:`predictors.auxiliary.with_free_targets`).  Every other predictor refuses NaN.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from nasbench_mt.params import check_param
from predictors.encoding import ArchEncoding
from predictors.pyg import pyg

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = ["INPUT_KINDS", "Predictor", "check_graphs", "check_param", "check_sequences", "seed_of"]

INPUT_KINDS = ("features", "graphs", "sequences")
_FORMAT_VERSION = 1


def check_features(X: Any, n_features: int | None = None) -> np.ndarray:
    """``X`` as a finite float64 array of shape (n, n_features)."""
    try:
        arr = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"invalid X: {type(X).__name__} is not numeric; allowed: a 2-D numeric array "
            "(n_samples, n_features)"
        ) from None
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(
            f"invalid X shape: {arr.shape}; allowed: a non-empty 2-D array (n_samples, n_features)"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"invalid X: {arr.shape[1]} features; allowed: {n_features}, as seen in fit")
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        raise ValueError(
            f"invalid X: NaN or inf in rows {np.flatnonzero(bad)[:5].tolist()}; allowed: finite numbers"
        )
    return arr


def check_graphs(X: Any, n_features: int | None = None) -> list[Data]:
    """``X`` as a non-empty list of PyG graphs with float node features of equal width."""
    Data = pyg().data.Data
    if isinstance(X, Data) or not isinstance(X, Sequence) or len(X) == 0:
        raise ValueError(
            f"invalid X: {type(X).__name__}; allowed: a non-empty list of torch_geometric.data.Data graphs"
        )
    width = n_features
    for i, g in enumerate(X):
        if not isinstance(g, Data) or getattr(g, "x", None) is None or g.edge_index is None:
            raise ValueError(f"invalid X[{i}]: {type(g).__name__}; allowed: a Data with x and edge_index")
        if g.x.dim() != 2 or not g.x.is_floating_point() or g.x.shape[0] == 0:
            raise ValueError(
                f"invalid X[{i}].x: shape {tuple(g.x.shape)}; allowed: float (num_nodes, features)"
            )
        if width is None:
            width = g.x.shape[1]
        if g.x.shape[1] != width:
            raise ValueError(f"invalid X[{i}].x: {g.x.shape[1]} node features; allowed: {width}")
        ei = g.edge_index
        if ei.dim() != 2 or ei.shape[0] != 2 or (ei.numel() and (ei.min() < 0 or ei.max() >= g.x.shape[0])):
            raise ValueError(
                f"invalid X[{i}].edge_index: shape {tuple(ei.shape)}; allowed: (2, E) node indices"
            )
        if not g.x.isfinite().all():
            raise ValueError(f"invalid X[{i}].x: NaN or inf; allowed: finite numbers")
    return list(X)


def check_sequences(X: Any, n_features: int | None = None) -> list[np.ndarray]:
    """``X`` as a non-empty list of float32 arrays ``(tokens, width)``: at least one token each, finite, one
    width for all."""
    if isinstance(X, np.ndarray) or not isinstance(X, Sequence) or len(X) == 0:
        raise ValueError(
            f"invalid X: {type(X).__name__}; allowed: a non-empty list of (tokens, features) float arrays"
        )
    out, width = [], n_features
    for i, s in enumerate(X):
        try:
            arr = np.asarray(s, dtype=np.float32)
        except (TypeError, ValueError):
            raise ValueError(
                f"invalid X[{i}]: not numeric; allowed: a (tokens, features) float array"
            ) from None
        if arr.ndim != 2 or arr.shape[0] == 0:
            raise ValueError(f"invalid X[{i}]: shape {arr.shape}; allowed: (tokens >= 1, features)")
        width = arr.shape[1] if width is None else width
        if arr.shape[1] != width:
            raise ValueError(f"invalid X[{i}]: {arr.shape[1]} token features; allowed: {width}")
        if not np.isfinite(arr).all():
            raise ValueError(f"invalid X[{i}]: NaN or inf; allowed: finite numbers")
        out.append(arr)
    return out


def check_targets(y: Any, n_samples: int, missing: bool = False, name: str = "") -> np.ndarray:
    """``y`` as a float64 array of shape (n,) or (n, n_targets): finite, or with ``missing`` NaN for a missing
    label (at least 2 labels per target); ``name`` is the predictor named in the error for NaN."""
    try:
        arr = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"invalid y: {type(y).__name__} is not numeric; allowed: numbers") from None
    if arr.ndim not in (1, 2) or arr.shape[0] != n_samples or (arr.ndim == 2 and arr.shape[1] == 0):
        raise ValueError(f"invalid y shape: {arr.shape}; allowed: ({n_samples},) or ({n_samples}, n_targets)")
    if n_samples < 2:
        raise ValueError(f"invalid y: {n_samples} samples; allowed: at least 2")
    flat = arr.reshape(n_samples, -1)
    if missing:
        rows = np.flatnonzero(np.isinf(flat).any(axis=1))
        if rows.size:
            raise ValueError(
                f"invalid y: inf in rows {rows[:5].tolist()}; allowed: finite numbers (NaN: a missing label)"
            )
        labels = np.isfinite(flat).sum(axis=0)
        if labels.min() < 2:
            j = int(np.argmin(labels))
            raise ValueError(
                f"invalid y: target {j} has {labels[j]} labelled rows; allowed: at least 2 per target"
            )
    elif not np.isfinite(arr).all():
        rows = np.flatnonzero(~np.isfinite(flat).all(axis=1))
        raise ValueError(
            f"invalid y: NaN or inf in rows {rows[:5].tolist()}; allowed: finite numbers"
            + (_masking_hint(name) if np.isnan(flat).any() else "")
        )
    return arr


def _masking_hint(name: str) -> str:
    """Which predictors would take the NaN labels: the registered names (``_registry_names``, set by
    :func:`~predictors.registry.register_predictor`) of every class that masks missing targets."""
    masking, stack = [], list(Predictor.__subclasses__())
    while stack:
        cls = stack.pop()
        stack += cls.__subclasses__()
        if cls.accepts_missing_targets is True:
            masking += cls.__dict__.get("_registry_names", [])
    who = f"{name} needs" if name else "this predictor needs"
    names = ", ".join(sorted(masking))
    return f" ({who} every label; the predictors that mask missing labels (NaN) are {names})"


class Predictor(BaseEstimator, abc.ABC):
    """Base class; subclasses implement ``_fit``, ``_predict``, ``_save_state`` and ``_load_state``.

    ``_fit`` receives checked inputs and a 2-D ``y``; ``_predict`` returns ``(n, n_targets_)``.
    """

    input_kind = "features"
    registry_name = ""  # set by @register_predictor
    _registry_names: tuple[str, ...] = ()  # every name the class is registered under (set there too)
    predicts_units = True  # False: the output is a ranking score, not the target's units (no RMSE for it)
    baseline = False  # True: nothing is learned (a cost column, chance): a reference line, not a contender
    multi_target = False  # True: a joint fit shares what it learns across targets (see the module docstring)
    accepts_missing_targets = False  # True: NaN in y is a missing label, masked out of the loss

    def _validate_params(self) -> None:
        """Check hyper-parameters (called by :meth:`fit`); subclasses extend it."""
        check_param("random_state", getattr(self, "random_state", None), "seed")

    def _check_X(self, X: Any, fitted: bool) -> Any:
        n = self.n_features_in_ if fitted else None
        if isinstance(X, ArchEncoding):
            if fitted and self.input_kind == "features" and hasattr(self, "feature_names_in_"):
                names = X.feature_names()
                if names != self.feature_names_in_:
                    raise ValueError(
                        f"invalid X: its features {_differ(names, self.feature_names_in_)} differ from "
                        "fit's; allowed: an encoding with the layout seen in fit"
                    )
            X = X.as_input(self.input_kind)
        check = {"features": check_features, "graphs": check_graphs, "sequences": check_sequences}
        return check[self.input_kind](X, n)

    def fit(self, X: Any, y: Any) -> Predictor:
        """Fit on ``X`` (features, graphs or sequences, see ``input_kind``, or a generic encoding) and targets
        ``y`` of shape (n,) or (n, t); NaN in ``y`` marks a missing label where ``accepts_missing_targets``
        (an error elsewhere)."""
        self._validate_params()
        self.__dict__.pop("feature_names_in_", None)
        if isinstance(X, ArchEncoding) and self.input_kind == "features":
            self.feature_names_in_ = X.feature_names()  # the named columns a cost baseline reads
        X = self._check_X(X, fitted=False)
        y = check_targets(y, len(X), self.accepts_missing_targets, type(self).__name__)
        self.y_ndim_ = y.ndim
        y2 = y.reshape(len(X), -1)
        self.n_targets_ = y2.shape[1]
        self.n_features_in_ = X[0].x.shape[1] if self.input_kind == "graphs" else np.shape(X[0])[-1]
        self._fit(X, y2)
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_targets_"):
            raise NotFittedError(
                f"{type(self).__name__} is not fitted yet; call fit(X, y) before predict or save"
            )

    def predict(self, X: Any) -> np.ndarray:
        """Predictions of shape (n,) if ``y`` was 1-D in fit, else (n, n_targets); larger = larger target."""
        self._check_fitted()
        X = self._check_X(X, fitted=True)
        pred = np.asarray(self._predict(X), dtype=np.float64).reshape(len(X), self.n_targets_)
        return pred[:, 0] if self.y_ndim_ == 1 else pred

    def _check_target(self, target: int) -> None:
        """Raise unless the fitted predictor has target column ``target``."""
        self._check_fitted()
        check_param("target", target, "int", low=0)
        if target >= self.n_targets_:
            raise ValueError(f"invalid target: {target}; allowed: 0..{self.n_targets_ - 1}")

    def rank(self, X: Any, target: int = 0) -> np.ndarray:
        """Indices of ``X`` from the largest predicted ``target`` to the smallest (stable for ties)."""
        self._check_target(target)
        pred = self.predict(X).reshape(len(X), self.n_targets_)[:, target]
        return np.argsort(-pred, kind="stable")

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> Path:
        """Save the fitted predictor into directory ``path`` (JSON config + native model files, no pickle)."""
        self._check_fitted()
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        config = {
            "format_version": _FORMAT_VERSION,
            "predictor": self.registry_name,
            "params": self.get_params(deep=False),
            "fitted": {
                "n_targets_": self.n_targets_,
                "n_features_in_": self.n_features_in_,
                "y_ndim_": self.y_ndim_,
                **{k: v for k, v in vars(self).items() if k == "feature_names_in_"},  # named inputs only
            },
            "state": self._save_state(path),
        }
        (path / "config.json").write_text(json.dumps(config, indent=1, default=_json_default))
        return path

    @abc.abstractmethod
    def _fit(self, X: Any, y: np.ndarray) -> None: ...

    @abc.abstractmethod
    def _predict(self, X: Any) -> np.ndarray: ...

    @abc.abstractmethod
    def _save_state(self, path: Path) -> dict[str, Any]:
        """Write model files under ``path``; return JSON-able state needed to load them."""

    @abc.abstractmethod
    def _load_state(self, path: Path, state: dict[str, Any]) -> None:
        """Restore fitted attributes from ``path`` and ``state`` (what :meth:`_save_state` returned)."""


def _differ(names: list[str], seen: list[str]) -> str:
    """The first position where two column lists differ, for an error message."""
    for j, (a, b) in enumerate(zip(names, seen)):
        if a != b:
            return f"(column {j}: {a!r}, in fit {b!r})"
    return f"({len(names)} columns, in fit {len(seen)})"


def seed_of(random_state: int | None) -> int:
    """The seed a predictor uses for ``random_state``: ``None`` means 0 for every predictor, so an unseeded
    fit is repeatable (pass different ints for different fits)."""
    return 0 if random_state is None else int(random_state)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"cannot save {type(obj).__name__} in a predictor config; allowed: JSON values")
