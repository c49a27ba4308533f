"""Boosted-tree regressors on flat features: ``xgb``, ``lgb`` and the multi-task ``xgb_mt``, ``xgb_stack``.

- ``xgb``: one XGBoost model; a 2-D ``y`` grows one tree per target per round (``one_output_per_tree``).
- ``xgb_mt``: XGBoost multi-output trees (``multi_strategy="multi_output_tree"``): every tree splits on all
  targets at once and carries a vector leaf, so targets share the tree structure.
- ``xgb_stack``: a regressor chain: targets are fitted in ``order`` (cheap ones first, e.g. params, MACs,
  latency), and each later target's model also sees the earlier targets as features - their true values in
  fit, their predictions in predict.  A missing label (NaN in ``y``) leaves its row out of that target's
  model, and reaches later models as a missing feature (XGBoost's own handling), never a made-up value.
- ``lgb``: one LightGBM booster per target (LightGBM has no multi-output objective).

Models are saved in the libraries' own formats (XGBoost JSON, LightGBM text).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np

from predictors.base import Predictor, check_param, seed_of
from predictors.registry import register_predictor

__all__ = ["LGBRegressor", "XGBRegressor", "XGBStackRegressor", "xgboost_module"]


def xgboost_module() -> Any:
    """The ``xgboost`` module, imported on first use: the ``xgboost`` distribution (CPU or CUDA build) and the
    CPU-only ``xgboost-cpu`` both provide it, and neither is a dependency of the base install."""
    try:
        import xgboost
    except ImportError:
        raise ValueError(
            "the XGBoost predictors need the xgboost module, which is not installed; allowed: "
            "pip install 'nasbench-mt[xgboost]' (the CPU build, xgboost-cpu, on Linux), or an xgboost "
            "(CPU or CUDA) you install yourself"
        ) from None
    return xgboost


class _BoostedTrees(Predictor):
    """Checks shared by the XGBoost and LightGBM predictors: ``_checked`` lists ``(name, kind, low)`` in the
    order they are checked, then ``n_jobs`` and the (0, 1] range of ``subsample`` / ``colsample_bytree``."""

    _checked: tuple[tuple[str, str, float], ...] = ()

    def _validate_params(self) -> None:
        super()._validate_params()
        for name, kind, low in self._checked:
            check_param(name, getattr(self, name), kind, low=low)
        if self.n_jobs is not None:
            check_param("n_jobs", self.n_jobs, "int", low=1)
        if not 0 < self.subsample <= 1 or not 0 < self.colsample_bytree <= 1:
            pair = f"{self.subsample}/{self.colsample_bytree}"
            raise ValueError(f"invalid subsample/colsample_bytree: {pair}; allowed: each in (0, 1]")


class _XGBParams(_BoostedTrees):
    """Hyper-parameters, checks and model files shared by the XGBoost predictors."""

    _checked = (
        ("n_estimators", "int", 1),
        ("max_depth", "int", 1),
        ("learning_rate", "float", 0),
        ("subsample", "float", 0),
        ("colsample_bytree", "float", 0),
        ("min_child_weight", "float", 0),
        ("reg_lambda", "float", 0),
    )

    def _validate_params(self) -> None:
        xgboost_module()  # a missing xgboost is named before any work starts
        super()._validate_params()

    def _xgb_kwargs(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "max_depth": self.max_depth,
            "learning_rate": self.learning_rate,
            "subsample": self.subsample,
            "colsample_bytree": self.colsample_bytree,
            "min_child_weight": self.min_child_weight,
            "reg_lambda": self.reg_lambda,
            "tree_method": "hist",
            "n_jobs": self.n_jobs,
            "random_state": seed_of(self.random_state),
        }

    @staticmethod
    def _save_models(models: list, path: Path) -> list[str]:
        """Write one XGBoost JSON file per model; return the file names."""
        files = [f"model_{j}.json" for j in range(len(models))]
        for model, name in zip(models, files):
            model.save_model(path / name)
        return files

    @staticmethod
    def _load_models(kind: type, path: Path, files: list[str]) -> list:
        """Models of class ``kind`` (``XGBRegressor`` / ``XGBRanker``) read back from ``files``."""
        models = []
        for name in files:
            model = kind()
            model.load_model(path / name)
            models.append(model)
        return models


@register_predictor("xgb")
@register_predictor("xgb_mt", multi_strategy="multi_output_tree")
class XGBRegressor(_XGBParams):
    """XGBoost regressor on flat features; ``multi_strategy`` picks how a 2-D ``y`` is fitted.

    Example::

        >>> import numpy as np
        >>> from predictors import create_predictor
        >>> X = np.random.default_rng(0).random((50, 4))
        >>> y = np.c_[X.sum(1), X[:, 0] * X[:, 1]]
        >>> create_predictor("xgb_mt", n_estimators=30, random_state=0).fit(X, y).predict(X).shape
        (50, 2)
    """

    def __init__(
        self,
        n_estimators: int = 300,
        max_depth: int = 6,
        learning_rate: float = 0.05,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        multi_strategy: str = "one_output_per_tree",
        n_jobs: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.multi_strategy = multi_strategy
        self.n_jobs = n_jobs
        self.random_state = random_state

    @property
    def multi_target(self) -> bool:
        """True for ``multi_output_tree``: every tree is shared by all targets."""
        return self.multi_strategy == "multi_output_tree"

    def _validate_params(self) -> None:
        super()._validate_params()
        check_param("multi_strategy", self.multi_strategy, "choice", choices=_MULTI_STRATEGIES)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.model_ = xgboost_module().XGBRegressor(multi_strategy=self.multi_strategy, **self._xgb_kwargs())
        self.model_.fit(X, y if y.shape[1] > 1 else y[:, 0])

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)

    def _save_state(self, path: Path) -> dict[str, Any]:
        self.model_.save_model(path / "model.json")
        return {"files": ["model.json"]}

    def _load_state(self, path: Path, state: dict[str, Any]) -> None:
        self.model_ = xgboost_module().XGBRegressor()
        self.model_.load_model(path / state["files"][0])


_MULTI_STRATEGIES = ("one_output_per_tree", "multi_output_tree")


@register_predictor("xgb_stack")
class XGBStackRegressor(_XGBParams):
    """Regressor chain of XGBoost models: target ``order[j]`` is fitted on the features plus targets
    ``order[:j]``; ``order=None`` keeps the column order of ``y`` (put cheap targets first)."""

    multi_target = True  # later targets see earlier ones
    accepts_missing_targets = True  # each target's model is fitted on the rows that carry it

    def __init__(
        self,
        order: list[int] | None = None,
        n_estimators: int = 300,
        max_depth: int = 6,
        learning_rate: float = 0.05,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        n_jobs: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.order = order
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        t = y.shape[1]
        order = list(range(t)) if self.order is None else list(self.order)
        if sorted(order) != list(range(t)):
            raise ValueError(f"invalid order: {self.order!r}; allowed: a permutation of 0..{t - 1} (or None)")
        self.order_ = order
        self.models_ = []
        for j, target in enumerate(order):
            rows = np.isfinite(y[:, target])
            model = xgboost_module().XGBRegressor(**self._xgb_kwargs())
            model.fit(np.hstack([X, y[:, order[:j]]])[rows], y[rows, target])
            self.models_.append(model)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        pred = np.zeros((len(X), len(self.order_)))
        for j, (target, model) in enumerate(zip(self.order_, self.models_)):
            pred[:, target] = model.predict(np.hstack([X, pred[:, self.order_[:j]]]))
        return pred

    def _save_state(self, path: Path) -> dict[str, Any]:
        return {"files": self._save_models(self.models_, path), "order_": self.order_}

    def _load_state(self, path: Path, state: dict[str, Any]) -> None:
        self.order_ = list(state["order_"])
        self.models_ = self._load_models(xgboost_module().XGBRegressor, path, state["files"])


class _LGBParams(_BoostedTrees):
    """Hyper-parameters, checks and model files shared by the LightGBM predictors."""

    _checked = (
        ("n_estimators", "int", 1),
        ("num_leaves", "int", 2),
        ("learning_rate", "float", 0),
        ("min_child_samples", "int", 1),
        ("subsample", "float", 0),
        ("colsample_bytree", "float", 0),
        ("reg_lambda", "float", 0),
    )

    def _lgb_kwargs(self) -> dict[str, Any]:
        return {
            "n_estimators": self.n_estimators,
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_child_samples": self.min_child_samples,
            "subsample": self.subsample,
            "subsample_freq": 1 if self.subsample < 1 else 0,
            "colsample_bytree": self.colsample_bytree,
            "reg_lambda": self.reg_lambda,
            "n_jobs": 0 if self.n_jobs is None else self.n_jobs,
            "random_state": seed_of(self.random_state),
            "deterministic": True,
            "force_row_wise": True,
            "min_data_in_bin": 1,
            "verbose": -1,
        }

    def _save_state(self, path: Path) -> dict[str, Any]:
        files = [f"model_{j}.txt" for j in range(len(self.boosters_))]
        for booster, name in zip(self.boosters_, files):
            booster.save_model(str(path / name))
        return {"files": files}

    def _load_state(self, path: Path, state: dict[str, Any]) -> None:
        self.boosters_ = [lgb.Booster(model_file=str(path / name)) for name in state["files"]]

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([b.predict(X) for b in self.boosters_])


@register_predictor("lgb")
class LGBRegressor(_LGBParams):
    """LightGBM regressor on flat features, one booster per target."""

    def __init__(
        self,
        n_estimators: int = 300,
        num_leaves: int = 15,
        learning_rate: float = 0.05,
        min_child_samples: int = 5,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        reg_lambda: float = 0.0,
        n_jobs: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.n_estimators = n_estimators
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        self.boosters_ = []
        for j in range(y.shape[1]):
            model = lgb.LGBMRegressor(**self._lgb_kwargs()).fit(X, y[:, j])
            self.boosters_.append(model.booster_)
