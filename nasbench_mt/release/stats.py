"""Release card figures: spread of the table, supernet-vs-standalone calibration, noise floors, CPU time.

Plain functions of a release's tables; :func:`nasbench_mt.publish.summarize.summarize_release` computes them
from the release's own files and stores them in its manifest (``calibration`` and ``noise``), so the docs,
``nasbench-mt info`` and the leaderboards quote one source.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import ConstantInputWarning, kendalltau, spearmanr

from nasbench_mt.release.schema import MEAN_COLUMNS, RELEASE_MINIMUMS, score_column
from nasbench_mt.space.tasks import TaskSpec

__all__ = [
    "RELEASE_MINIMUMS",
    "STANDALONE_KIND",
    "agreement_intervals",
    "calibration_pairs",
    "calibration_stats",
    "compute_stats",
    "gain_stats",
    "noise_pairs",
    "noise_stats",
    "proxy_ceiling",
    "proxy_stats",
    "rank_agreement",
    "split_stats",
    "spread_stats",
    "stat_targets",
    "tau_interval",
]


# the noise kind of calibration archs trained again from scratch with another seed (files noise-standalone-*)
STANDALONE_KIND = "standalone"


def stat_targets(tasks: Sequence[TaskSpec]) -> list[str]:
    """The columns the release statistics rank: each task's test score, then ``mean_acc``."""
    return [score_column(t.name, "test") for t in tasks] + ["mean_acc"]


def _paired(a: pd.Series, b: pd.Series) -> np.ndarray:
    """The rows where both ``a`` and ``b`` have a value, as an ``(n, 2)`` array."""
    return pd.concat([a, b], axis=1).dropna().to_numpy()


def rank_agreement(a: pd.Series, b: pd.Series) -> dict[str, float]:
    ok = _paired(a, b)
    if len(ok) < 3:
        return {"n": len(ok)}
    x, y = ok.T
    return {
        "n": len(ok),
        "kendall_tau": float(kendalltau(x, y).statistic),
        "spearman": float(spearmanr(x, y).statistic),
        "mean_abs_diff": float(np.mean(np.abs(x - y))),
    }


def spread_stats(
    table: pd.DataFrame, tasks: Sequence[TaskSpec], n_boot: int = 1000, seed: int = 0
) -> dict[str, dict[str, float]]:
    """Per target: 10th/50th/90th percentile, the 10-90 spread, best and worst (in the table's units).

    The spread also gets a 90% percentile-bootstrap interval (``spread_ci90``: ``n_boot`` resamples of the
    rows, seeded), so a spread measured on a few dozen architectures is not mistaken for the table's.
    """
    rng = np.random.default_rng(seed)
    out = {}
    for col in stat_targets(tasks):
        v = table[col].dropna().to_numpy()
        if not len(v):
            continue
        p10, p50, p90 = np.percentile(v, [10, 50, 90])
        boot = np.percentile(v[rng.integers(0, len(v), size=(n_boot, len(v)))], [10, 90], axis=1)
        lo, hi = np.percentile(boot[1] - boot[0], [5, 95])
        out[col] = {
            "n": len(v),
            "p10": float(p10),
            "median": float(p50),
            "p90": float(p90),
            "spread_10_90": float(p90 - p10),
            "spread_ci90": [float(lo), float(hi)],
            "min": float(v.min()),
            "max": float(v.max()),
        }
    return out


def calibration_pairs(table: pd.DataFrame, calibration: pd.DataFrame) -> pd.DataFrame:
    """Each calibration row joined to its table row: ``col`` is the supernet value, ``col_standalone`` the
    value of the same architecture trained from scratch."""
    return calibration.merge(table, on="arch_id", suffixes=("_standalone", ""))


def noise_pairs(
    table: pd.DataFrame, noise: pd.DataFrame, calibration: pd.DataFrame | None = None
) -> dict[str, pd.DataFrame]:
    """Per re-measurement kind: its rows joined to the rows they repeat (``col`` as stored, ``col_again`` as
    measured again).  ``seed`` (a second supernet) and ``latency`` (a second timing) repeat table rows;
    ``standalone`` (a second training seed) repeats calibration rows, so it is paired only when
    ``calibration`` is given."""
    pairs = {}
    for kind, part in noise.groupby("kind"):
        base = calibration if kind == STANDALONE_KIND else table
        if base is None:
            continue
        pairs[str(kind)] = part.merge(base, on="arch_id", suffixes=("_again", ""))
    return pairs


def tau_interval(a: pd.Series, b: pd.Series, n_boot: int = 1000, seed: int = 0) -> list[float]:
    """90% percentile-bootstrap interval of Kendall tau between ``a`` and ``b`` (rows resampled in pairs,
    seeded): how far a tau measured on a few hundred architectures may be from the population's."""
    return agreement_intervals(a, b, n_boot, seed)["kendall_tau_ci90"]


def agreement_intervals(
    a: pd.Series, b: pd.Series, n_boot: int = 1000, seed: int = 0
) -> dict[str, list[float]]:
    """90% percentile-bootstrap intervals of Kendall tau (``kendall_tau_ci90``) and Spearman
    (``spearman_ci90``) between ``a`` and ``b``, from the same ``n_boot`` seeded resamples of row pairs.

    Each resample's tau-b and Spearman are those of ``scipy.stats.kendalltau`` / ``spearmanr`` on the
    resampled rows, computed for all resamples at once from how often each row is drawn (copies of one row
    are tied pairs, as they are in the resampled data); a constant resample gives NaN and is skipped."""
    ok = _paired(a, b)
    rng = np.random.default_rng(seed)
    n = len(ok)
    draws = [rng.integers(0, n, n) for _ in range(n_boot)]
    if n > _MATRIX_ROWS:  # (n, n) pair matrices would be large: one scipy call per resample instead
        taus, rhos = np.full(n_boot, np.nan), np.full(n_boot, np.nan)
        with warnings.catch_warnings():  # a constant resample's rho is NaN, skipped below
            warnings.simplefilter("ignore", ConstantInputWarning)
            for k, rows in enumerate(draws):
                x, y = ok[rows].T
                taus[k], rhos[k] = kendalltau(x, y).statistic, spearmanr(x, y).statistic
    else:
        counts = np.stack([np.bincount(rows, minlength=n) for rows in draws]).astype(float)
        parts = [
            _resampled_agreement(ok[:, 0], ok[:, 1], counts[i : i + _BOOT_CHUNK])
            for i in range(0, n_boot, _BOOT_CHUNK)
        ]
        taus, rhos = np.concatenate([t for t, _ in parts]), np.concatenate([r for _, r in parts])
    return {
        "kendall_tau_ci90": [float(v) for v in np.nanpercentile(taus, [5, 95])],
        "spearman_ci90": [float(v) for v in np.nanpercentile(rhos, [5, 95])],
    }


_BOOT_CHUNK = 200
_MATRIX_ROWS = 1000


def _resampled_agreement(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kendall tau-b and Spearman rho of the samples that hold row ``i`` of ``(x, y)`` ``w[k, i]`` times."""
    sx, sy = np.sign(x[:, None] - x[None, :]), np.sign(y[:, None] - y[None, :])

    def quad(m: np.ndarray) -> np.ndarray:  # w_k^T m w_k for every sample k
        return np.einsum("ki,ki->k", w @ m, w)

    with np.errstate(invalid="ignore", divide="ignore"):
        tau = quad(sx * sy) / np.sqrt(quad(np.abs(sx)) * quad(np.abs(sy)))

        def ranks(v: np.ndarray) -> np.ndarray:  # average ranks (1-based) of every row within each sample
            below, equal = (v[None, :] < v[:, None]).astype(float), (v[None, :] == v[:, None]).astype(float)
            return w @ below.T + (w @ equal.T + 1) / 2

        rx, ry = ranks(x), ranks(y)
        total = w.sum(axis=1, keepdims=True)
        dx = rx - (w * rx).sum(axis=1, keepdims=True) / total
        dy = ry - (w * ry).sum(axis=1, keepdims=True) / total
        rho = (w * dx * dy).sum(axis=1) / np.sqrt((w * dx * dx).sum(axis=1) * (w * dy * dy).sum(axis=1))
    return tau, rho


def proxy_ceiling(tau_repeat: float) -> float:
    """The Kendall tau that a perfect proxy (one that knows each architecture's expected score exactly) can
    reach against *one* noisy measurement, given the tau ``tau_repeat`` between two repeats of it.

    Classical attenuation: a measurement whose two repeats correlate at ``r`` (its reliability) correlates at
    most ``sqrt(r)`` with the noise-free score.  Kendall tau and Pearson r are linked by Greiner's relation
    ``r = sin(pi * tau / 2)`` (exact for a bivariate normal), so the ceiling is
    ``(2 / pi) * arcsin(sqrt(sin(pi * tau_repeat / 2)))``; a repeat tau of 0 or below gives 0, an undefined
    one (NaN: too few pairs, or a constant column) gives NaN.
    """
    r = np.sin(np.pi * float(tau_repeat) / 2)
    if np.isnan(r):
        return float("nan")
    return float(2 / np.pi * np.arcsin(np.sqrt(r))) if r > 0 else 0.0


def calibration_stats(
    table: pd.DataFrame, calibration: pd.DataFrame, tasks: Sequence[TaskSpec]
) -> dict[str, dict[str, float]]:
    """Kendall tau (with its 90% bootstrap interval, ``kendall_tau_ci90``) and Spearman between supernet
    (table) and standalone (calibration) scores, per target."""
    merged = calibration_pairs(table, calibration)
    out = {}
    for col in stat_targets(tasks):
        out[col] = rank_agreement(merged[col], merged[col + "_standalone"])
        if "kendall_tau" in out[col]:
            out[col]["kendall_tau_ci90"] = tau_interval(merged[col], merged[col + "_standalone"])
    return out


def gain_stats(
    table: pd.DataFrame, calibration: pd.DataFrame, tasks: Sequence[TaskSpec]
) -> dict[str, dict[str, float]]:
    """Per target: on how many calibration archs the standalone network scores above its supernet row
    (``n_above`` of ``n``), and the median of standalone minus supernet, in the table's units."""
    merged = calibration_pairs(table, calibration)
    out = {}
    for col in stat_targets(tasks):
        d = (merged[col + "_standalone"] - merged[col]).dropna().to_numpy()
        if len(d):
            out[col] = {"n": len(d), "n_above": int((d > 0).sum()), "median_gain": float(np.median(d))}
    return out


def proxy_stats(
    table: pd.DataFrame, tasks: Sequence[TaskSpec], calibration: pd.DataFrame | None = None
) -> dict[str, dict[str, dict[str, float]]]:
    """How well each zero-cost proxy column (``proxy_*``) ranks every target on its own: Kendall tau (with
    its 90% bootstrap interval) against the table's scores (``vs_table``) and, on the calibration
    architectures, against the standalone scores (``vs_standalone``).  Empty when the table has no proxies."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    merged = calibration_pairs(table, calibration) if calibration is not None else None
    for proxy in [c for c in table.columns if c.startswith("proxy_")]:
        per: dict[str, dict[str, float]] = {}
        for col in stat_targets(tasks):
            s = rank_agreement(table[proxy], table[col])
            if "kendall_tau" in s:
                s["kendall_tau_ci90"] = tau_interval(table[proxy], table[col])
            per[f"vs_table:{col}"] = s
            if merged is not None:
                per[f"vs_standalone:{col}"] = rank_agreement(merged[proxy], merged[col + "_standalone"])
        out[proxy] = per
    return out


def split_stats(table: pd.DataFrame, tasks: Sequence[TaskSpec]) -> dict[str, dict[str, float]]:
    """Kendall tau and Spearman between each target's validation and test scores, the same networks.

    Both splits are measured on the same weights, so their disagreement is evaluation-sample noise alone (plus
    the val/test distribution shift): a bound on how well one split's ranking predicts another's, and a lower
    share of the seed-to-seed noise floor.
    """
    pairs = [(score_column(t.name, "test"), score_column(t.name, "val")) for t in tasks]
    pairs.append((MEAN_COLUMNS["test"], MEAN_COLUMNS["val"]))
    return {test: rank_agreement(table[val], table[test]) for test, val in pairs if val in table.columns}


# the columns a latency re-measurement kind repeats: a second PyTorch pass (files noise-latency-*) and a
# second ONNX Runtime pass (files noise-ort-latency-*)
LATENCY_NOISE_COLUMNS = {
    "latency": ["latency_ms", "latency_norm"],
    "ort-latency": ["ort_latency_ms", "ort_latency_norm"],
}


def noise_stats(
    table: pd.DataFrame,
    noise: pd.DataFrame,
    tasks: Sequence[TaskSpec],
    columns: Sequence[str] | None = None,
    calibration: pd.DataFrame | None = None,
) -> dict[str, dict]:
    """Rank agreement between each re-measurement kind and the rows it repeats, per column.

    ``columns`` defaults to each task's test score and ``mean_acc`` for the ``seed`` and ``standalone``
    kinds, to ``latency_ms`` and ``latency_norm`` for ``latency`` and to ``ort_latency_ms`` and
    ``ort_latency_norm`` for ``ort-latency``; a column the kind did not re-measure is
    left out.  ``standalone`` (a second training seed of calibration archs, paired with ``calibration``)
    also gets 90% bootstrap intervals and the perfect-proxy ceiling (:func:`proxy_ceiling`) with its
    interval: the most any predictor or supernet can agree with the standalone protocol.
    """
    out: dict[str, dict] = {}
    for kind, merged in noise_pairs(table, noise, calibration).items():
        default = LATENCY_NOISE_COLUMNS.get(str(kind)) or stat_targets(tasks)
        stats = {
            c: rank_agreement(merged[c], merged[c + "_again"])
            for c in (columns or default)
            if c + "_again" in merged.columns
        }
        stats = {c: v for c, v in stats.items() if v["n"] >= 3}
        if kind == STANDALONE_KIND:
            for c, v in stats.items():
                v.update(agreement_intervals(merged[c], merged[c + "_again"]))
                v["ceiling_tau"] = proxy_ceiling(v["kendall_tau"])
                v["ceiling_tau_ci90"] = [proxy_ceiling(t) for t in v["kendall_tau_ci90"]]
        out[kind] = stats
    return out


def compute_stats(bench) -> dict[str, dict]:
    """CPU time the release behind the loaded benchmark ``bench`` cost, from its own records.

    Per measured tier (``archs``, ``calibration``, ``noise-seed``, ``proxies``): rows and the sum of their
    ``measure_s`` (each row is measured by one single-threaded worker, so this is core-seconds; queueing is
    not counted).
    Per supernet card beside the release (``supernet-*.json``): its training wall time and threads
    (core-seconds = wall x threads, an upper bound). The latency passes record no per-row time and are
    left out (the manifest's ``generation`` entries hold the wall time of their last run only).
    """
    import json

    from nasbench_mt.release.manifest import ReleaseError, role_paths

    root = Path(bench.root)
    costs: dict[str, pd.Series] = {"archs": bench.table["measure_s"]}
    for frame, name in ((bench.calibration, "calibration"), (bench.noise, "noise")):
        if frame is None or "measure_s" not in frame.columns:  # latency re-runs are not timed per row
            continue
        if name == "noise":
            costs.update({f"noise-{kind}": part["measure_s"] for kind, part in frame.groupby("kind")})
        else:
            costs[name] = frame["measure_s"]
    proxies = role_paths(root, bench.manifest, "proxies")  # the side table is merged without its times
    if proxies:
        frames = [pd.read_parquet(path, columns=["measure_s"]) for path in proxies]
        costs["proxies"] = pd.concat(frames)["measure_s"]
    tiers: dict[str, dict] = {}
    for tier, s in costs.items():
        s = s.dropna()
        if not len(s):
            continue
        tiers[tier] = {"rows": len(s), "core_hours": float(s.sum() / 3600), "median_s": float(s.median())}
    for card in sorted(root.glob("supernet-*.json")):
        try:
            meta = json.loads(card.read_text())
        except json.JSONDecodeError as err:
            raise ReleaseError(f"supernet card {card} is not valid JSON: {err}") from None
        wall = float(meta.get("train_seconds", float("nan")))
        threads = int(meta.get("threads", 1))
        tiers[card.stem] = {
            "wall_hours": wall / 3600,
            "threads": threads,
            "core_hours": wall * threads / 3600,
        }
    total = sum(v["core_hours"] for v in tiers.values() if np.isfinite(v["core_hours"]))
    return {"tiers": tiers, "total_core_hours": float(total)}
