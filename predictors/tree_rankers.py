"""Learning-to-rank boosted trees: ``xgb_rank`` and ``lgb_rank`` (the libraries' own ranking objectives).

All training rows form one query group: the model learns to order architectures, and ``predict`` returns
ranking scores (larger = larger target), not target units.  One ranker is fitted per target.

- ``xgb_rank``: XGBoost ``rank:pairwise`` on the raw targets; ``num_pairs`` pairs are sampled per row and
  round (``lambdarank_pair_method="mean"``).
- ``lgb_rank``: LightGBM ``lambdarank``.  It needs integer relevance grades, so each target is binned into
  ``n_grades`` equal-count (quantile) grades by rank - tied targets always share a grade - with linear gains
  (grade ``g`` has gain ``g``) and a truncation level covering the whole query, so every pair counts and
  not only the top of the list.  Rows are dealt (seeded) into random query groups of at most
  ``group_size``: lambdarank's cost grows with the square of a group's size, and pairs within random
  groups of 128 rank as well as all pairs of one group at a fraction of the time.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
from scipy.stats import rankdata

from predictors.base import check_param, seed_of
from predictors.boosted_trees import _LGBParams, _XGBParams, xgboost_module
from predictors.registry import register_predictor

__all__ = ["LGBRanker", "XGBRanker", "quantile_grades"]


def quantile_grades(y: np.ndarray, n_grades: int) -> np.ndarray:
    """Integer grades 0..n_grades-1 of equal size by rank of ``y`` (1-D); equal values get equal grades.

    >>> quantile_grades(np.array([5.0, 1.0, 3.0, 3.0]), 2).tolist()
    [1, 0, 0, 0]
    """
    ranks = rankdata(y, method="min") - 1  # 0-based; ties take the lowest rank
    return np.minimum((ranks * n_grades) // len(y), n_grades - 1).astype(np.int64)


@register_predictor("xgb_rank")
class XGBRanker(_XGBParams):
    """XGBoost ``rank:pairwise`` ranker, one per target, on flat features."""

    predicts_units = False  # a ranking score

    def __init__(
        self,
        num_pairs: int = 8,
        n_estimators: int = 300,
        max_depth: int = 6,
        learning_rate: float = 0.1,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        min_child_weight: float = 1.0,
        reg_lambda: float = 1.0,
        n_jobs: int | None = None,
        random_state: int | None = None,
    ) -> None:
        self.num_pairs = num_pairs
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.learning_rate = learning_rate
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_child_weight = min_child_weight
        self.reg_lambda = reg_lambda
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _validate_params(self) -> None:
        super()._validate_params()
        check_param("num_pairs", self.num_pairs, "int", low=1)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        qid = np.zeros(len(X), dtype=np.int64)
        self.models_ = []
        for j in range(y.shape[1]):
            model = xgboost_module().XGBRanker(
                objective="rank:pairwise",
                lambdarank_pair_method="mean",
                lambdarank_num_pair_per_sample=self.num_pairs,
                **self._xgb_kwargs(),
            )
            self.models_.append(model.fit(X, y[:, j], qid=qid))

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return np.column_stack([m.predict(X) for m in self.models_])

    def _save_state(self, path: Path) -> dict[str, Any]:
        return {"files": self._save_models(self.models_, path)}

    def _load_state(self, path: Path, state: dict[str, Any]) -> None:
        self.models_ = self._load_models(xgboost_module().XGBRanker, path, state["files"])


@register_predictor("lgb_rank")
class LGBRanker(_LGBParams):
    """LightGBM ``lambdarank`` ranker, one per target, on quantile grades of the targets."""

    predicts_units = False  # a ranking score

    def __init__(
        self,
        n_grades: int = 16,
        group_size: int | None = 128,
        truncation_level: int | None = None,
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
        self.n_grades = n_grades
        self.group_size = group_size
        self.truncation_level = truncation_level
        self.n_estimators = n_estimators
        self.num_leaves = num_leaves
        self.learning_rate = learning_rate
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _validate_params(self) -> None:
        super()._validate_params()
        check_param("n_grades", self.n_grades, "int", low=2)
        if self.group_size is not None:
            check_param("group_size", self.group_size, "int", low=2)
        if self.truncation_level is not None:
            check_param("truncation_level", self.truncation_level, "int", low=1)

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        n = len(X)
        size = n if self.group_size is None else min(n, self.group_size)
        n_groups = -(-n // size)
        groups = [len(g) for g in np.array_split(np.arange(n), n_groups)]
        order = np.random.default_rng(seed_of(self.random_state)).permutation(n)
        X, y = X[order], y[order]
        kwargs = self._lgb_kwargs()
        truncation = max(groups) if self.truncation_level is None else self.truncation_level
        gains = list(range(self.n_grades))
        kwargs.update(objective="lambdarank", label_gain=gains, lambdarank_truncation_level=truncation)
        self.boosters_ = []
        for j in range(y.shape[1]):
            grades = quantile_grades(y[:, j], self.n_grades)
            model = lgb.LGBMRanker(**kwargs).fit(X, grades, group=groups)
            self.boosters_.append(model.booster_)
