"""The fits of the predictor evaluation protocol (:mod:`predictors.evaluation`), one job each.

A job fits one predictor on one seed's training sample (optionally with unlabelled archs carrying only free
targets) and predicts the test split.  Jobs read one shared :class:`FitContext` and seed themselves, so
:func:`nasbench_mt.workers.map_jobs` may run them in any process with the same predictions.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

__all__ = ["FitContext", "FitJob", "concat_inputs", "fit_predict", "job_prediction", "take", "training_order"]

SAMPLE_STREAM = 7  # keeps training-sample streams apart from the test split's stream


def training_order(pool: np.ndarray, seed: int) -> np.ndarray:
    """The pool in seed ``seed``'s order: the training sample of size n is its first n entries."""
    return np.random.default_rng([SAMPLE_STREAM, seed]).permutation(pool)


def take(inputs: Any, rows: np.ndarray) -> Any:
    """Rows ``rows`` of an input: an array's rows or a list's items (graphs, sequences)."""
    return inputs[rows] if isinstance(inputs, np.ndarray) else [inputs[i] for i in rows]


def concat_inputs(a: Any, b: Any) -> Any:
    """Input ``a`` followed by input ``b`` (arrays stacked, lists joined)."""
    return np.vstack([a, b]) if isinstance(a, np.ndarray) else [*a, *b]


def fit_predict(
    name: str,
    params: dict[str, Any],
    seed: int,
    X_train: Any,
    y: np.ndarray,
    X_test: Any,
    joint: bool,
    skip: Sequence[int] = (),
) -> np.ndarray:
    """Standardise ``y`` (n, t) on the training sample (over the labelled rows of each column: NaN is a
    missing label), fit, predict ``X_test``, map back: (n_test, t).  A separate fit leaves the columns
    ``skip`` unfitted (NaN; derived afterwards)."""
    from predictors.registry import create_predictor

    mu, sd = np.nanmean(y, axis=0), np.nanstd(y, axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z = (y - mu) / sd
    if joint:
        pred = create_predictor(name, **{**params, "random_state": seed}).fit(X_train, z).predict(X_test)
    else:
        n_test = X_test.shape[0] if isinstance(X_test, np.ndarray) else len(X_test)
        cols = [
            np.full(n_test, np.nan)
            if j in skip
            else create_predictor(name, **{**params, "random_state": seed})
            .fit(X_train, z[:, j])
            .predict(X_test)
            for j in range(z.shape[1])
        ]
        pred = np.column_stack(cols)
    return np.asarray(pred, dtype=np.float64).reshape(-1, y.shape[1]) * sd + mu


class FitJob(NamedTuple):
    """One fit of the protocol: predictor ``name`` on seed ``seed``'s first ``size`` pool rows, ``mode``
    ``"joint"``/``"separate"``, with ``m`` unlabelled archs (0: none)."""

    name: str
    seed: int
    size: int
    mode: str
    m: int


@dataclass
class FitContext:
    """Everything a fit job reads: the encoded inputs per input kind, the targets, the split, and the
    unlabelled sets per seed (drawn once, in the calling process)."""

    inputs: dict[str, Any]
    kinds: dict[str, str]  # predictor name -> its input kind
    Y: np.ndarray
    test: np.ndarray
    pool: np.ndarray
    targets: list[str]
    derived: dict[int, list[int]]
    params: dict[str, dict[str, Any]]
    archs: list
    tasks: Any
    aux_sets: dict[int, tuple[list, dict[str, Any]]]


def job_prediction(ctx: FitContext, job: FitJob) -> tuple[np.ndarray, float]:
    """The test-split predictions (n_test, targets) of ``job``, derived targets filled in, and its fit
    seconds."""
    from predictors.auxiliary import with_free_targets

    X = ctx.inputs[ctx.kinds[job.name]]
    X_test = take(X, ctx.test)
    train = training_order(ctx.pool, job.seed)[: job.size]
    params = ctx.params.get(job.name, {})
    t0 = time.perf_counter()
    if job.m:
        aux, aux_inputs = ctx.aux_sets[job.seed]
        train_archs = [ctx.archs[i] for i in train]
        _, Y_aux, _ = with_free_targets(train_archs, ctx.Y[train], ctx.targets, aux, tasks=ctx.tasks)
        X_train = concat_inputs(take(X, train), aux_inputs[ctx.kinds[job.name]])
        pred = fit_predict(job.name, params, job.seed, X_train, Y_aux, X_test, True)
        pred = pred[:, : len(ctx.targets)]
    else:
        skip = list(ctx.derived) if job.mode == "separate" else []
        pred = fit_predict(
            job.name, params, job.seed, take(X, train), ctx.Y[train], X_test, job.mode == "joint", skip
        )
    for j, parts in ctx.derived.items():
        pred[:, j] = pred[:, parts].mean(axis=1)
    return pred, time.perf_counter() - t0
