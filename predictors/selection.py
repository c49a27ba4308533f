"""Hyper-parameters chosen on the training architectures alone: ``xgb_tuned``.

:class:`InnerSplitSelection` fits a registered predictor with each setting of a small ``grid`` on ``folds``
inner splits of the rows it is given (a seeded k-fold), scores each setting by its mean Kendall tau over the
targets on the held-out folds, and refits the best setting on every row.  It sees only what ``fit`` is
given -- in the evaluation protocol, a training sample of the pool -- so the test split never takes part in
the choice.  The first setting wins ties.

``xgb_tuned``: XGBoost with its defaults (depth 6, 300 trees, learning rate 0.05) against shallow, slower
boosting (depth 3 or 2, 1,000 trees, learning rate 0.02), the settings a search over 24 of them picked on
1,000 validation archs of v1 (``benchmarks/predictor_ablations.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from predictors.base import Predictor, check_param
from predictors.metrics import kendall_tau
from predictors.registry import create_predictor, load_predictor, register_predictor

__all__ = ["DEFAULT_XGB_GRID", "InnerSplitSelection"]

DEFAULT_XGB_GRID = (
    {},
    {"max_depth": 3, "n_estimators": 1000, "learning_rate": 0.02},
    {"max_depth": 2, "n_estimators": 1000, "learning_rate": 0.02},
)


@register_predictor("xgb_tuned")
class InnerSplitSelection(Predictor):
    """``predictor`` (a registered name) with the setting of ``grid`` (keyword-argument dicts; None: the
    XGBoost grid above) that ranks best on ``folds`` inner folds of the training rows.

    Example::

        >>> import numpy as np
        >>> from predictors import create_predictor
        >>> X = np.random.default_rng(0).random((40, 4))
        >>> grid = [{"n_estimators": 5}, {"n_estimators": 50}]
        >>> model = create_predictor("xgb_tuned", grid=grid, random_state=0).fit(X, X @ [1, 2, 3, 4])
        >>> model.best_params_
        {'n_estimators': 50}
    """

    def __init__(
        self,
        predictor: str = "xgb",
        grid: list[dict[str, Any]] | None = None,
        folds: int = 3,
        random_state: int | None = None,
    ) -> None:
        self.predictor = predictor
        self.grid = grid
        self.folds = folds
        self.random_state = random_state

    def _settings(self) -> list[dict[str, Any]]:
        return [dict(s) for s in (DEFAULT_XGB_GRID if self.grid is None else self.grid)]

    def _validate_params(self) -> None:
        super()._validate_params()
        check_param("folds", self.folds, "int", low=2)
        base = create_predictor(self.predictor)
        if base.input_kind != "features" or isinstance(base, InnerSplitSelection):
            raise ValueError(f"invalid predictor: {self.predictor!r}; allowed: a predictor of flat features")
        settings = self._settings() if isinstance(self.grid, (list, tuple)) or self.grid is None else None
        if not settings or not all(isinstance(s, dict) for s in settings):
            raise ValueError(
                f"invalid grid: {self.grid!r}; allowed: a non-empty list of keyword-argument dicts"
            )
        for s in settings:  # unknown names, bad values or a missing library fail here, before any fit
            create_predictor(self.predictor, **s)._validate_params()

    def _make(self, setting: dict[str, Any]) -> Predictor:
        return create_predictor(self.predictor, **{**setting, "random_state": self.random_state})

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        n = len(X)
        folds = min(self.folds, n // 2)
        rows = np.random.default_rng([3, 0 if self.random_state is None else self.random_state]).permutation(
            n
        )
        parts = np.array_split(rows, max(folds, 2))
        scores = []
        for setting in self._settings():
            taus = []
            for held in parts:
                train = np.setdiff1d(rows, held)
                pred = self._make(setting).fit(X[train], y[train]).predict(X[held]).reshape(len(held), -1)
                taus += [kendall_tau(y[held, j], pred[:, j]) for j in range(y.shape[1])]
            scores.append(float(np.nanmean(taus)) if np.isfinite(taus).any() else -np.inf)
        best = int(np.argmax(scores))  # the first of equal scores
        self.scores_ = scores
        self.best_params_ = self._settings()[best]
        self.model_ = self._make(self.best_params_).fit(X, y)

    def _predict(self, X: np.ndarray) -> np.ndarray:
        return self.model_.predict(X)

    def _save_state(self, path: Path) -> dict[str, Any]:
        inner = self.model_.save(path / "selected")
        files = sorted(str(f.relative_to(path)) for f in inner.iterdir() if f.is_file())
        return {
            "files": files,
            "scores_": self.scores_,
            "best_params_": json.loads(json.dumps(self.best_params_)),
        }

    def _load_state(self, path: Path, state: dict[str, Any]) -> None:
        self.scores_ = [float(s) for s in state["scores_"]]
        self.best_params_ = dict(state["best_params_"])
        self.model_ = load_predictor(path / "selected")
