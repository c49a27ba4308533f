"""The fits of the predictor evaluation protocol (:mod:`predictors.evaluation`), one job each.

A job fits one predictor on one seed's training sample (optionally with unlabelled archs carrying only free
targets) and predicts the test split.  Jobs read one shared :class:`FitContext` and seed themselves, so
:func:`nasbench_mt.workers.map_jobs` may run them in any process with the same predictions.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "FitContext",
    "FitJob",
    "cached_job_prediction",
    "concat_inputs",
    "fit_predict",
    "fit_store",
    "job_prediction",
    "params_tag",
    "take",
    "training_order",
]

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
    store: Path | None = None  # where finished fits are kept (:func:`fit_store`); None: nowhere
    tags: dict[str, str] | None = None  # predictor name -> digest of its full parameters (file names)


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


# ------------------------------------------------------------------------------------------- stored fits
def fit_store(work: str | Path, settings: dict[str, Any], arrays: Sequence[np.ndarray]) -> Path:
    """The folder under ``work`` that keeps the finished fits of one protocol run.

    Its name is a digest of ``settings`` (JSON-able: targets, features, auxiliary settings, package
    version) and of ``arrays`` (the targets, the split, the flat features); each fit's file name carries
    its predictor's :func:`params_tag`.  So a rerun with the same settings on the same table finds its fits
    again, and any other run gets files of its own.  The settings are written beside the fits
    (``settings.json``) for a person to read.  Code is not part of the key: after changing a predictor's
    code, use another ``work`` folder.
    """
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode())
    for a in arrays:
        a = np.ascontiguousarray(a.astype(str) if a.dtype == object else a)  # objects: by value
        digest.update(f"{a.dtype.str}{a.shape}".encode())
        digest.update(a.tobytes())
    folder = Path(work) / digest.hexdigest()[:16]
    folder.mkdir(parents=True, exist_ok=True)
    info = folder / "settings.json"
    if not info.exists():
        tmp = info.with_name(f".{info.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(settings, sort_keys=True, indent=1, default=str) + "\n")
        os.replace(tmp, info)
    return folder


def params_tag(params: dict[str, Any]) -> str:
    """A short digest of a predictor's full parameters: a fit stored under other parameters is not reused."""
    return hashlib.sha256(json.dumps(params, sort_keys=True, default=str).encode()).hexdigest()[:8]


def _job_path(store: Path, job: FitJob, tag: str) -> Path:
    return store / f"{job.name}-{tag}-{job.mode}-m{job.m}-n{job.size}-s{job.seed}.npz"


def _read_fit(path: Path, shape: tuple[int, int]) -> tuple[np.ndarray, float] | None:
    """The predictions and fit seconds stored at ``path``, or None when there are none (or the file does not
    hold predictions of ``shape``)."""
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            pred, fit_s = np.asarray(z["pred"], dtype=np.float64), float(z["fit_s"])
    except (OSError, ValueError, KeyError):
        return None  # a damaged file is fitted again and replaced
    return (pred, fit_s) if pred.shape == shape else None


def cached_job_prediction(ctx: FitContext, job: FitJob) -> tuple[np.ndarray, float, bool]:
    """:func:`job_prediction`, read from ``ctx.store`` when the job finished before (then the last item is
    True); a new fit is written there atomically as soon as it finishes, so a killed run loses at most the
    fits in progress."""
    if ctx.store is None:
        return (*job_prediction(ctx, job), False)
    path = _job_path(ctx.store, job, (ctx.tags or {}).get(job.name, ""))
    found = _read_fit(path, (len(ctx.test), len(ctx.targets)))
    if found is not None:
        return (*found, True)
    pred, fit_s = job_prediction(ctx, job)
    tmp = path.with_name(f".{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(tmp, pred=pred, fit_s=np.float64(fit_s))
    os.replace(tmp, path)
    return pred, fit_s, False
