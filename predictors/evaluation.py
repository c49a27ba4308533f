"""The fixed predictor evaluation protocol: train sizes x seeds, one held-out test split, every target.

Protocol (:func:`evaluate_predictors`):

1. Rows: the release's rows whose every target is finite, ordered by ``arch_id`` (so neither shard order nor
   row order changes the split).
2. Test split: ``test_size`` rows drawn with ``split_seed`` (default 1,000 rows, or 20% of the rows when the
   table holds fewer than 5,000); no training sample ever contains one of them.
3. Training samples: per seed ``s`` a seeded permutation of the remaining rows (the pool); the sample of size
   ``n`` is its first ``n`` rows, so the samples of one seed are nested (25 in 50 in 100 ...).
4. Fit (``fit``): ``"joint"``, every target at once (one model); ``"separate"``, one model per target;
   ``"both"``, each multi-target predictor both ways on the same samples (``multi_target`` predictors share
   what they learn across targets; the others are fitted once, as ``"joint"``, which for them is one model
   per target anyway).  Each target is standardised on the training sample and mapped back,
   ``random_state=s``.
   Derived targets (``derive_means=True``, the default): ``mean_acc`` (``val_mean_acc``) is by definition the
   mean of the higher-is-better tasks' test (validation) scores, so when those task columns are targets too
   its prediction is the mean of theirs instead of a separate fit of the mean.  With 100 training archs of
   v1 that raises the Kendall tau of XGBoost and LightGBM on mean_acc by 0.05-0.07 (see docs/results.md).
5. Scores on the test split per target: pairwise accuracy, Kendall tau, Spearman, precision@top-5% (top =
   best: lowest latency, params and FLOPs, highest accuracy), and for predictors that predict target units
   (every predictor whose ``predicts_units`` is true: not the rankers) RMSE and, on latency, +-10% accuracy.
6. Free auxiliary targets (``aux_archs=M``): every predictor that masks missing labels is also fitted
   jointly, at the ``aux_sizes``, on its training sample plus ``M`` unlabelled archs, with the free targets
   (:func:`predictors.auxiliary.free_target_names`: exact parameters and MACs, per task and per exit) as extra
   columns for all of them and NaN (masked) for every measured target of the unlabelled archs.  The ``M``
   archs are drawn per seed from the search space (``aux_source="space"``, never one of the test split) or
   from the end of the seed's pool order (``"pool"``, never in a training sample), the same for every size.
7. Features (``features``): a feature set of :data:`predictors.features.FEATURE_SETS`; ``"+proxies"``
   appends the release's zero-cost proxy columns (to the global node of graphs and the global token of
   sequences, :mod:`predictors.sequence`).

Each score row carries its variant: ``fit`` (``"joint"`` / ``"separate"``) and ``aux_archs`` (0, or ``M``).

Example (any release directory; here the test fixture)::

    from nasbench_mt import load_benchmark
    from predictors import evaluate_predictors

    ev = evaluate_predictors(load_benchmark(path="tests/fixtures/tiny"), ["xgb", "flops"], [10, 20], seeds=2)
    ev.summary()[["predictor", "target", "train_size", "kendall_tau_mean", "ceiling_tau"]]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nasbench_mt import __version__
from nasbench_mt.params import check_param
from nasbench_mt.workers import map_jobs
from predictors.fitting import (
    FitContext,
    FitJob,
    cached_job_prediction,
    fit_store,
    params_tag,
    take,
    training_order,
)
from predictors.metrics import (
    accuracy_within,
    kendall_tau,
    pairwise_accuracy,
    precision_at_k,
    rmse,
    spearman,
)

__all__ = [
    "AUX_SOURCES",
    "FIT_MODES",
    "METRICS",
    "TRAIN_SIZES",
    "PredictorEvaluation",
    "default_targets",
    "derived_means",
    "evaluate_predictors",
    "noise_ceiling",
    "split_rows",
]

TRAIN_SIZES = (25, 50, 100, 200, 500, 1000)
FIT_MODES = ("joint", "separate", "both")
AUX_SOURCES = ("space", "pool")
AUX_MAX_SIZE = 200  # default aux_sizes: the train sizes up to this (where labels are scarce)
METRICS = ("pairwise_acc", "kendall_tau", "spearman", "precision_top5", "within_10pct", "rmse")
# predictors whose output is a ranking score, not target units: no RMSE or +-10% accuracy for them
TOP_FRACTION = 0.05
_AUX_STREAM = 11  # the stream of the unlabelled archs drawn from the space


def default_targets(bench: Any) -> list[str]:
    """``latency_norm``, each task's final-exit test score, ``mean_acc``, ``params`` and ``flops``.

    Latency as ``latency_norm`` (over the reference network timed in the same round), not raw ``latency_ms``:
    CPU speed drifts between the runs of a long latency pass, and raw milliseconds carry that drift as
    label noise (v1 run-to-run Kendall tau 0.71 for ``latency_ms``, 0.95 for ``latency_norm``).  Pass
    ``targets=["latency_ms", ...]`` to score raw milliseconds.  A release with ONNX Runtime latency adds its
    ``ort_latency_norm`` (the same ratio on the second runtime) after ``latency_norm``; a column the release
    does not hold is left out by the evaluation."""
    tasks = [f"test_{t.name}" for t in bench.tasks]
    return ["latency_norm", "ort_latency_norm", *tasks, "mean_acc", "params", "flops"]


def _is_latency(target: str) -> bool:
    return "latency" in target


def _is_cost(target: str) -> bool:
    return target in ("params", "flops", "macs") or target.startswith(("params_", "macs_"))


def split_rows(
    n: int, test_size: int | float | None = None, split_seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(test, pool)`` of a table of ``n`` rows: the held-out test split and the training pool.

    ``test_size``: an int (rows), a float in (0, 1) (fraction), or None (1,000 rows, or 20% when ``n`` is
    below 5,000).

    >>> test, pool = split_rows(30)
    >>> len(test), len(pool), len(set(test) & set(pool))
    (6, 24, 0)
    """
    if test_size is None:
        size = 1000 if n >= 5000 else math.ceil(0.2 * n)
    elif isinstance(test_size, float) and 0 < test_size < 1:
        size = math.ceil(test_size * n)
    elif isinstance(test_size, (int, np.integer)) and not isinstance(test_size, bool):
        size = int(test_size)
    else:
        raise ValueError(f"invalid test_size: {test_size!r}; allowed: None, an int, or a float in (0, 1)")
    if not 2 <= size <= n - 2:
        raise ValueError(f"invalid test_size: {size} test rows of {n}; allowed: 2..{n - 2} rows")
    perm = np.random.default_rng(split_seed).permutation(n)
    return np.sort(perm[:size]), np.sort(perm[size:])


# ---------------------------------------------------------------------------------------------- noise ceiling
def noise_ceiling(bench: Any, targets: Sequence[str]) -> pd.DataFrame:
    """Per target, the tau a perfect predictor could reach given the release's measurement noise.

    Accuracy targets: seed-to-seed tau (the same arch measured again with another seed); latency:
    run-to-run tau (timed again in another run); exact costs (params, FLOPs): 1.  Read from the manifest's
    ``noise`` section (:func:`nasbench_mt.publish.summarize.summarize_release`) when it holds the
    figures, else computed from the release's noise files with the same function.  Also the
    supernet-vs-standalone tau (``protocol_tau``, calibration) where the release has it.
    """
    from nasbench_mt.release.stats import calibration_stats, noise_stats

    manifest_noise = bench.manifest.get("noise") or {}
    computed: dict[str, Any] | None = None
    calib = (bench.manifest.get("calibration") or {}).get("supernet_vs_standalone")
    if not isinstance(calib, dict) and bench.calibration is not None:
        calib = calibration_stats(bench.table, bench.calibration, bench.tasks)
    rows = []
    for target in targets:
        row: dict[str, Any] = {"target": target, "ceiling_kind": "none", "ceiling_tau": math.nan}
        row.update(ceiling_spearman=math.nan, ceiling_n=0, ceiling_source="")
        if _is_cost(target):
            row.update(ceiling_kind="exact", ceiling_tau=1.0, ceiling_spearman=1.0, ceiling_source="exact")
        else:
            kind = (
                ("ort-latency" if target.startswith("ort_") else "latency") if _is_latency(target) else "seed"
            )
            entry = manifest_noise.get(kind)
            source = "manifest"
            if not (isinstance(entry, dict) and isinstance(entry.get(target), dict)):
                if computed is None:
                    noise = bench.noise
                    computed = noise_stats(bench.table, noise, bench.tasks) if noise is not None else {}
                entry, source = computed.get(kind, {}), "noise files"
            stats = entry.get(target) if isinstance(entry, dict) else None
            if isinstance(stats, dict) and "kendall_tau" in stats:
                row.update(
                    ceiling_kind="run-to-run" if _is_latency(target) else "seed-to-seed",
                    ceiling_tau=float(stats["kendall_tau"]),
                    ceiling_spearman=float(stats.get("spearman", math.nan)),
                    ceiling_n=int(stats.get("n", 0)),
                    ceiling_source=source,
                )
        cal = calib.get(target) if isinstance(calib, dict) else None
        row["protocol_tau"] = (
            float(cal["kendall_tau"]) if isinstance(cal, dict) and "kendall_tau" in cal else math.nan
        )
        rows.append(row)
    return pd.DataFrame(rows)


# ---------------------------------------------------------------------------------------------- evaluation
VARIANT_KEYS = ("fit", "aux_archs")


@dataclass
class PredictorEvaluation:
    """Result of :func:`evaluate_predictors`.

    ``scores``: tidy, one row per (predictor, variant, train_size, seed, target) with every metric,
    ``nonfinite`` (predictions that were NaN or inf) and ``fit_s`` (seconds to fit and predict); the variant
    is ``fit`` (``"joint"`` / ``"separate"``) and ``aux_archs`` (unlabelled archs with free targets, 0 for
    none); ``predictions``: the test-split predictions of each predictor's main variant
    (:meth:`main_variant`) for the first seed at the largest train size (``predictor, units, target,
    arch_id, measured, predicted``); ``ceiling``: :func:`noise_ceiling`; ``info``: the protocol's settings.
    """

    scores: pd.DataFrame
    predictions: pd.DataFrame
    ceiling: pd.DataFrame
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Mean and std (ddof=1; NaN for one seed) over seeds per (predictor, target, train_size, fit,
        aux_archs), with the noise ceiling of the target beside; timings are left out so the numbers are
        reproducible."""
        keys = ["predictor", "target", "train_size", *VARIANT_KEYS]
        grouped = self.scores.groupby(keys, sort=False)[list(METRICS)]
        mean = grouped.mean().add_suffix("_mean")
        std = grouped.std(ddof=1).add_suffix("_std")  # NaN for a single seed
        out = pd.concat([mean, std], axis=1)
        cols = [c for m in METRICS for c in (f"{m}_mean", f"{m}_std")]
        out = out[cols].reset_index()
        out.insert(len(keys), "seeds", grouped.size().to_numpy())
        return out.merge(self.ceiling, on="target", how="left")

    def main_variant(self) -> PredictorEvaluation:
        """The scores of each predictor's main variant only: the first fit mode asked for (``"joint"`` for
        ``fit="both"``), without unlabelled archs; one row per (predictor, train_size, seed, target)."""
        scores = self.scores
        keep = (scores["fit"] == self.info["fit_modes"][0]) & (scores["aux_archs"] == 0)
        return PredictorEvaluation(
            scores[keep].reset_index(drop=True), self.predictions, self.ceiling, self.info
        )


def _encode_archs(bench: Any, archs: list, kinds: Any, encoding: str, extra: np.ndarray | None) -> dict:
    """Inputs of ``archs`` for each input kind of ``kinds`` (:func:`predictors.inputs.encode_inputs`);
    ``extra`` (one row per arch) is appended to the flat features and to each graph's global node and
    sequence's global token."""
    from predictors.base import INPUT_KINDS
    from predictors.inputs import encode_inputs

    return {
        kind: encode_inputs(archs, kind, bench.tasks, bench.space, extra, encoding)
        for kind in INPUT_KINDS
        if kind in kinds
    }


def _encode(bench: Any, table: pd.DataFrame, kinds: set[str], features: str) -> tuple[list, dict[str, Any]]:
    from predictors.features import parse_features, proxy_features

    encoding, proxies = parse_features(features)
    archs = [bench.space.validate(a) for a in table["arch"]]
    extra = proxy_features(table)[1] if proxies else None
    return archs, _encode_archs(bench, archs, kinds, encoding, extra)


def derived_means(bench: Any, targets: Sequence[str]) -> dict[int, list[int]]:
    """``{index of mean_acc / val_mean_acc in targets: indices of the task columns it averages}``, for each
    mean whose every part is among ``targets`` (see step 4 of the protocol)."""
    from nasbench_mt.release.schema import MEAN_COLUMNS, mean_parts

    targets = list(targets)
    out = {}
    for split, mean in MEAN_COLUMNS.items():
        parts = mean_parts(bench.tasks, split)
        if parts and mean in targets and all(p in targets for p in parts):
            out[targets.index(mean)] = [targets.index(p) for p in parts]
    return out


def _score(y: np.ndarray, p: np.ndarray, higher_is_better: bool, latency: bool, units: bool) -> dict:
    out = dict.fromkeys(METRICS, math.nan)
    if not np.isfinite(p).all():
        return out  # a diverged fit scores NaN everywhere (counted in ``nonfinite``)
    sign = 1.0 if higher_is_better else -1.0
    k = max(1, round(TOP_FRACTION * len(y)))
    out.update(
        pairwise_acc=pairwise_accuracy(y, p),
        kendall_tau=kendall_tau(y, p),
        spearman=spearman(y, p),
        precision_top5=precision_at_k(sign * y, sign * p, k),
    )
    if units:
        out["rmse"] = rmse(y, p)
        if latency:
            out["within_10pct"] = accuracy_within(y, p, 0.10)
    return out


def _seed_list(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
        if seeds < 1:
            raise ValueError(f"invalid seeds: {seeds!r}; allowed: an int >= 1 or a list of ints >= 0")
        return list(range(int(seeds)))
    seed_list = [int(s) for s in seeds]
    if not seed_list or min(seed_list) < 0 or len(set(seed_list)) != len(seed_list):
        raise ValueError(f"invalid seeds: {seeds!r}; allowed: an int >= 1 or a list of distinct ints >= 0")
    return seed_list


def _check_aux(
    aux_archs: int,
    aux_source: str,
    aux_sizes: Sequence[int] | None,
    sizes: list[int],
    fit: str,
    features: str,
) -> list[int]:
    """Check the auxiliary-target settings; return the train sizes that get an aux variant."""
    if not isinstance(aux_archs, (int, np.integer)) or isinstance(aux_archs, bool) or aux_archs < 0:
        raise ValueError(f"invalid aux_archs: {aux_archs!r}; allowed: an int >= 0")
    if aux_source not in AUX_SOURCES:
        raise ValueError(f"invalid aux_source: {aux_source!r}; allowed: {list(AUX_SOURCES)}")
    if not aux_archs:
        return []
    if fit == "separate":
        raise ValueError(
            "invalid aux_archs with fit='separate': unlabelled archs carry free targets only, which help a "
            "joint fit; allowed: fit='joint' or 'both'"
        )
    if aux_source == "space" and features.endswith("+proxies"):
        raise ValueError(
            f"invalid aux_source 'space' with features {features!r}: archs drawn from the space have no "
            "measured proxies; allowed: aux_source='pool', or features without '+proxies'"
        )
    default = [s for s in sizes if s <= AUX_MAX_SIZE] or sizes[:1]
    out = default if aux_sizes is None else sorted({int(s) for s in aux_sizes})
    if not out or not set(out) <= set(sizes):
        raise ValueError(f"invalid aux_sizes: {aux_sizes}; allowed: some of the train sizes {sizes}")
    return out


def _aux_set(bench: Any, source: str, m: int, seed: int, order: np.ndarray, test_archs: set, archs: list,
             inputs: dict[str, Any], features: str) -> tuple[list, dict[str, Any]]:  # fmt: skip
    """The ``m`` unlabelled archs of ``seed`` and their inputs (step 6 of the protocol)."""
    if source == "pool":
        rows = order[len(order) - m :]
        return [archs[i] for i in rows], {kind: take(x, rows) for kind, x in inputs.items()}
    from predictors.auxiliary import sample_unlabelled
    from predictors.features import parse_features

    draw = int(np.random.default_rng([_AUX_STREAM, seed]).integers(2**31))
    drawn = sample_unlabelled(bench.space, m, draw, exclude=test_archs)
    return drawn, _encode_archs(bench, drawn, inputs, parse_features(features)[0], None)


def evaluate_predictors(
    bench: Any,
    predictors: Sequence[str] | None = None,
    train_sizes: Sequence[int] = TRAIN_SIZES,
    seeds: int | Sequence[int] = 5,
    targets: Sequence[str] | None = None,
    test_size: int | float | None = None,
    split_seed: int = 0,
    predictor_params: dict[str, dict[str, Any]] | None = None,
    fit: str = "joint",
    progress: Callable[[str, int, int], None] | None = None,
    derive_means: bool = True,
    aux_archs: int = 0,
    aux_source: str = "space",
    aux_sizes: Sequence[int] | None = None,
    features: str = "onehot",
    workers: int = 1,
    work: str | Path | None = None,
    separate_sizes: Sequence[int] | None = None,
) -> PredictorEvaluation:
    """Score ``predictors`` (registry names; default all) on release ``bench`` by the fixed protocol.

    ``seeds``: a count (seeds 0..n-1) or the seeds themselves; ``predictor_params``: per predictor name,
    keyword arguments for :func:`~predictors.registry.create_predictor`; ``fit``: ``"joint"``,
    ``"separate"`` or ``"both"`` (step 4); ``progress(name, size, seed)`` is called after each predictor,
    size and seed; ``derive_means``: predict ``mean_acc`` as the mean of the task predictions (step 4);
    ``aux_archs``, ``aux_source``, ``aux_sizes`` (default: the sizes up to 200): free auxiliary targets
    (step 6); ``features``: the flat encoding and whether to append proxies (step 7); ``workers``: fit in
    that many processes (the scores are the same as with one, only ``fit_s`` then includes the contention
    of fits running side by side); ``work``: a folder that keeps each finished fit (:func:`fit_store`), so a
    rerun with the same settings on the same table fits only what is missing (``info["reused_fits"]``);
    ``separate_sizes`` (default: every train size): the sizes at which ``fit="both"`` also fits one model per
    target (a separate fit of a neural predictor costs one fit per target).
    """
    from predictors.auxiliary import free_target_names
    from predictors.features import parse_features
    from predictors.registry import create_predictor, list_predictors

    names = list_predictors() if predictors is None else list(predictors)
    unknown = sorted(set(names) - set(list_predictors()))
    if unknown or not names:
        raise ValueError(f"unknown predictors: {unknown or names}; allowed: {list_predictors()}")
    sizes = sorted({int(s) for s in train_sizes})
    if not sizes or sizes[0] < 2:
        raise ValueError(f"invalid train_sizes: {list(train_sizes)}; allowed: ints >= 2")
    seed_list = _seed_list(seeds)
    check_param("workers", workers, "int", low=1)
    if fit not in FIT_MODES:
        raise ValueError(f"invalid fit: {fit!r}; allowed: {list(FIT_MODES)}")
    parse_features(features)
    aux_at = _check_aux(aux_archs, aux_source, aux_sizes, sizes, fit, features)
    sep_at = sizes if separate_sizes is None else sorted({int(s) for s in separate_sizes})
    if fit != "both" and separate_sizes is not None:
        raise ValueError(f"invalid separate_sizes with fit={fit!r}; allowed: only with fit='both'")
    if not sep_at or not set(sep_at) <= set(sizes):
        raise ValueError(
            f"invalid separate_sizes: {separate_sizes}; allowed: some of the train sizes {sizes}"
        )
    table = bench.table
    dropped: list[str] = []
    if targets is None:
        targets = default_targets(bench)
        dropped = [t for t in targets if t not in table.columns or not table[t].notna().any()]
        targets = [t for t in targets if t not in dropped]
    targets = list(targets)
    for t in targets:
        if t not in bench.metrics:
            raise ValueError(f"invalid target: {t!r}; allowed: numeric columns {bench.metrics}")
    if not targets:
        raise ValueError("no target has measurements in this release")

    values = table[targets].to_numpy(dtype=np.float64)
    complete = np.isfinite(values).all(axis=1)
    rows = table.loc[complete].sort_values("arch_id", kind="stable")
    Y = rows[targets].to_numpy(dtype=np.float64)
    test, pool = split_rows(len(rows), test_size, split_seed)
    if sizes[-1] > len(pool):
        raise ValueError(
            f"invalid train_sizes: {sizes[-1]} > the {len(pool)} rows left for training "
            f"({len(rows)} complete rows, {len(test)} held out); allowed: sizes <= {len(pool)}"
        )
    if aux_at and aux_source == "pool" and aux_archs > len(pool) - aux_at[-1]:
        raise ValueError(
            f"invalid aux_archs: {aux_archs} pool archs beside training samples of up to {aux_at[-1]}; "
            f"allowed: at most {len(pool) - aux_at[-1]} with aux_source='pool'"
        )
    params = predictor_params or {}
    models = {n: create_predictor(n, **params.get(n, {})) for n in names}
    for model in models.values():  # bad hyper-parameters or a missing library fail before any fit
        model._validate_params()
    modes = ["joint", "separate"] if fit == "both" else [fit]
    variants = {n: [(m, 0) for m in (modes if mdl.multi_target else modes[:1])] for n, mdl in models.items()}
    maskers = [n for n, mdl in models.items() if mdl.accepts_missing_targets]
    if aux_at and not maskers:
        masking = [n for n in list_predictors() if create_predictor(n).accepts_missing_targets]
        raise ValueError(
            f"invalid aux_archs: {aux_archs}, but none of {names} masks missing labels; allowed: 0, or "
            f"predictors among {masking}"
        )
    for n in maskers if aux_at else []:
        variants[n].append(("joint", int(aux_archs)))
    archs, inputs = _encode(bench, rows, {m.input_kind for m in models.values()}, features)
    higher = [bench.higher_is_better(t) for t in targets]
    arch_ids = rows["arch_id"].to_numpy()
    derived = derived_means(bench, targets) if derive_means else {}
    test_archs = {archs[i] for i in test}
    aux_sets = {
        seed: _aux_set(
            bench, aux_source, int(aux_archs), seed, training_order(pool, seed), test_archs, archs, inputs,
            features,
        )
        for seed in (seed_list if aux_at else [])
    }  # fmt: skip
    jobs = [
        FitJob(name, seed, size, mode, m)
        for name in models
        for seed in seed_list
        for size in sizes
        for mode, m in variants[name]
        if not (m and size not in aux_at) and not (mode == "separate" and size not in sep_at)
    ]
    ctx = FitContext(
        inputs=inputs,
        kinds={n: mdl.input_kind for n, mdl in models.items()},
        Y=Y, test=test, pool=pool, targets=targets, derived=derived, params=params, archs=archs,
        tasks=bench.tasks, aux_sets=aux_sets,
        tags={n: params_tag(mdl.get_params(deep=False)) for n, mdl in models.items()},
    )  # fmt: skip
    if work is not None:
        settings = {
            "version": __version__, "targets": targets, "features": features, "derived": derived,
            "aux_archs": int(aux_archs), "aux_source": aux_source, "split_seed": split_seed,
        }  # fmt: skip
        flat = [inputs[k] for k in sorted(inputs) if isinstance(inputs[k], np.ndarray)]
        ctx.store = fit_store(work, settings, [Y, test, pool, arch_ids, *flat])

    records, kept, reused = [], [], 0
    for i, (job, (pred, fit_s, read)) in enumerate(
        zip(jobs, map_jobs(cached_job_prediction, ctx, jobs, workers))
    ):
        reused += read
        units = models[job.name].predicts_units
        for j, target in enumerate(targets):
            scores = _score(Y[test, j], pred[:, j], higher[j], _is_latency(target), units)
            records.append(
                {
                    "predictor": job.name,
                    "fit": job.mode,
                    "aux_archs": job.m,
                    "train_size": job.size,
                    "seed": job.seed,
                    "target": target,
                    **scores,
                    "nonfinite": int((~np.isfinite(pred[:, j])).sum()),
                    "fit_s": fit_s,
                }
            )
        first_variant = (job.mode, job.m) == variants[job.name][0]
        if job.seed == seed_list[0] and job.size == sizes[-1] and first_variant:
            kept.append(
                pd.DataFrame(
                    {
                        "predictor": job.name,
                        "units": units,
                        "target": np.repeat(targets, len(test)),
                        "arch_id": np.tile(arch_ids[test], len(targets)),
                        "measured": Y[test].T.ravel(),
                        "predicted": pred.T.ravel(),
                    }
                )
            )
        group_done = i + 1 == len(jobs) or jobs[i + 1][:3] != job[:3]
        if progress is not None and group_done:
            progress(job.name, job.size, job.seed)
    info = {
        "predictors": names,
        "train_sizes": sizes,
        "seeds": seed_list,
        "targets": targets,
        "dropped_targets": dropped,
        "rows": len(table),
        "complete_rows": len(rows),
        "test_rows": len(test),
        "pool_rows": len(pool),
        "split_seed": split_seed,
        "top_k": max(1, round(TOP_FRACTION * len(test))),
        "fit": fit,
        "fit_modes": modes,
        "separate_sizes": sep_at if fit == "both" else [],
        "multi_target": [n for n, mdl in models.items() if mdl.multi_target],
        "features": features,
        "aux_archs": int(aux_archs),
        "aux_source": aux_source,
        "aux_sizes": aux_at,
        "aux_predictors": maskers if aux_at else [],
        "free_targets": free_target_names(bench.space, bench.tasks) if aux_at else [],
        "derived_targets": {targets[j]: [targets[i] for i in parts] for j, parts in derived.items()},
        "predictor_params": {n: params.get(n, {}) for n in names},
        "workers": workers,
        "fits": len(jobs),
        "reused_fits": reused,
        "fit_s_total": float(sum(r["fit_s"] for r in records[:: len(targets)])),
    }
    return PredictorEvaluation(
        pd.DataFrame(records), pd.concat(kept, ignore_index=True), noise_ceiling(bench, targets), info
    )
