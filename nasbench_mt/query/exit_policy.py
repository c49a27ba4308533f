"""Early-exit policies evaluated offline from stored per-sample confidences (no training, no network).

Policy: each task t has a confidence threshold ``thr_t`` in [0, 1], or ``inf`` (never leave early).  On a
sample, task t answers at the first of the architecture's exits whose stored confidence ``conf >= thr_t``
(confidences are ``uint8`` = round(p x 255), so the test is ``conf >= ceil(255 thr_t)``; a threshold of 1.0
still lets samples with p >= 0.998 leave, ``inf`` lets none); the final exit always answers.  Per setting this
gives:

- ``policy_acc[t]``: expected accuracy of task t in percent, the mean of the stored per-sample ``score`` at
  the exit each sample leaves from (classification: accuracy; dense tasks: pixel accuracy; regression: the
  share within the task's tolerance), over the ``n_samples`` test scenes stored per architecture;
- ``policy_mean_acc``: the mean of ``policy_acc`` over the higher-is-better tasks;
- ``exit_rate[t, j]``: fraction of samples task t answers at exit j;
- ``policy_macs``: expected MACs per sample, exact under MSDNet counting: the stem, every shared stage that
  some task still running needs, each task's own stages up to its exit, and every exit head it evaluated;
- ``policy_latency_ms``: estimated as the expectation over samples of the measured latency of the forward
  that stops after the deepest exit any task needed for that sample (``latency_e{k}_ms``).  That forward
  runs every task's path to that depth, so it over-estimates an implementation that stops computing
  finished tasks' own stages; it ignores the (small) cost of evaluating the exit test;
- ``policy_latency_norm``: ``policy_latency_ms`` divided by the row's ``ref_latency_ms`` (the reference
  network timed in the same process as the exits), in the unit of the table's ``latency_norm``; NaN when
  no reference is given.

Every name says ``policy_``: none is a table column.  The table's ``mean_acc`` and ``test_{task}`` score a
dense task by mIoU, a statistic over the whole test set that per-sample records cannot give for a mix of
exits, so the policy's dense score is pixel accuracy, a different metric (higher than mIoU), under a name of
its own.

Everything is vectorised: per task, the exit chosen at every one of the 257 threshold levels (256, and
``inf``) is tabulated once (O(exits x samples)); a setting is then a lookup, plus one (settings x samples)
comparison per early exit for the joint terms (shared stages and latency).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "ExitData",
    "ExitMetrics",
    "evaluate_policies",
    "not_thresholds",
    "policy_metric_names",
    "threshold_grid",
]

LEVELS = 256

# names an ExitMetrics once had, which a table column also has (each meant another metric there)
_RENAMED = {
    "accuracy": "policy_acc",
    "mean_acc": "policy_mean_acc",
    "macs": "policy_macs",
    "latency_ms": "policy_latency_ms",
    "latency_norm": "policy_latency_norm",
}


def policy_metric_names(tasks: Sequence[str]) -> dict[str, str]:
    """The exit policy's metric names, each with the table column it differs from (search objectives and
    constraints, :meth:`ExitMetrics.to_frame`'s columns; ``policy_flops`` is ``2 * policy_macs``)."""
    return {
        "policy_mean_acc": "mean_acc",
        **{f"policy_acc_{t}": f"test_{t}" for t in tasks},
        "policy_macs": "macs",
        "policy_flops": "flops",
        "policy_latency_ms": "latency_ms",
        "policy_latency_norm": "latency_norm",
    }


@dataclass(frozen=True)
class ExitData:
    """Per-sample records of one architecture: ``conf``, ``score`` as ``uint8`` arrays (tasks, exits, N)."""

    tasks: tuple[str, ...]
    exits: tuple[int, ...]
    conf: np.ndarray
    score: np.ndarray


@dataclass(frozen=True)
class ExitMetrics:
    """Expected metrics of S threshold settings (arrays have the settings on axis 0)."""

    tasks: tuple[str, ...]
    exits: tuple[int, ...]
    thresholds: np.ndarray  # (S, T)
    policy_acc: np.ndarray  # (S, T) percent; dense tasks: pixel accuracy (not the table's mIoU)
    policy_mean_acc: np.ndarray  # (S,) mean over higher-is-better tasks
    exit_rate: np.ndarray  # (S, T, E)
    policy_macs: np.ndarray  # (S,)
    policy_latency_ms: np.ndarray  # (S,)
    policy_latency_norm: np.ndarray  # (S,) policy_latency_ms / ref_latency_ms; NaN without a reference

    def __len__(self) -> int:
        return len(self.policy_macs)

    def __getattr__(self, name: str):
        if name in _RENAMED:
            raise AttributeError(
                f"ExitMetrics has no {name!r}: it is {_RENAMED[name]!r} (under an exit policy dense tasks "
                "are scored by pixel accuracy, so no policy metric takes a table column's name)"
            )
        raise AttributeError(f"'ExitMetrics' object has no attribute {name!r}")

    def to_frame(self):
        """One row per setting: ``thr_{task}``, then :func:`policy_metric_names`' columns but
        ``policy_flops`` (``policy_acc_{task}``, ``policy_mean_acc``, ``policy_macs``,
        ``policy_latency_ms``, ``policy_latency_norm``) and ``rate_{task}_e{k}``."""
        import pandas as pd

        cols: dict[str, np.ndarray] = {}
        for i, t in enumerate(self.tasks):
            cols[f"thr_{t}"] = self.thresholds[:, i]
        for i, t in enumerate(self.tasks):
            cols[f"policy_acc_{t}"] = self.policy_acc[:, i]
        cols.update(
            policy_mean_acc=self.policy_mean_acc,
            policy_macs=self.policy_macs,
            policy_latency_ms=self.policy_latency_ms,
            policy_latency_norm=self.policy_latency_norm,
        )
        for i, t in enumerate(self.tasks):
            for j, k in enumerate(self.exits):
                cols[f"rate_{t}_e{k}"] = self.exit_rate[:, i, j]
        return pd.DataFrame(cols)


def threshold_grid(tasks: Sequence[str], values: Sequence[float]) -> np.ndarray:
    """Every combination of ``values`` per task: shape (len(values) ** T, T)."""
    mesh = np.meshgrid(*([np.asarray(values, dtype=float)] * len(tasks)), indexing="ij")
    return np.stack([m.ravel() for m in mesh], axis=1)


def _holds_text(value: object) -> bool:
    if isinstance(value, (str, bytes)):
        return True
    if isinstance(value, np.ndarray):
        return value.dtype.kind in "USO" and any(_holds_text(v) for v in value.ravel().tolist())
    if isinstance(value, (list, tuple)):
        return any(_holds_text(v) for v in value)
    return False


def not_thresholds(values: object) -> np.ndarray:
    """Mask of the values that are not exit thresholds: a threshold is a confidence in [0, 1], or ``inf``
    (never leave early)."""
    arr = np.asarray(values, dtype=float)
    return np.isnan(arr) | (arr < 0) | ((arr > 1) & ~np.isposinf(arr))


def as_thresholds(thresholds: object, tasks: Sequence[str]) -> np.ndarray:
    """Normalise a scalar, a {task: thr} mapping, a (T,) or an (S, T) array to an (S, T) float array."""
    tasks = tuple(tasks)
    if isinstance(thresholds, Mapping):
        unknown = sorted(set(thresholds) - set(tasks))
        missing = [t for t in tasks if t not in thresholds]
        if unknown or missing:
            raise ValueError(
                f"invalid thresholds keys {sorted(thresholds)}; allowed: one threshold per task {list(tasks)}"
            )
        thresholds = [thresholds[t] for t in tasks]
    if _holds_text(thresholds):
        raise ValueError(
            f"invalid thresholds: {thresholds!r}; allowed: numbers, not text (e.g. 0.9, not '0.9')"
        )
    try:
        arr = np.asarray(thresholds, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(
            f"invalid thresholds: {thresholds!r}; allowed: a number, a {{task: number}} dict, "
            f"or an array of shape ({len(tasks)},) or (S, {len(tasks)})"
        ) from None
    if arr.ndim == 0:
        arr = np.full((1, len(tasks)), float(arr))
    elif arr.ndim == 1 and arr.shape[0] == len(tasks):
        arr = arr[None, :]
    elif not (arr.ndim == 2 and arr.shape[1] == len(tasks)):
        raise ValueError(
            f"invalid thresholds shape {arr.shape}; allowed: ({len(tasks)},) or (S, {len(tasks)}) "
            f"for tasks {list(tasks)}"
        )
    bad = not_thresholds(arr)
    if bad.any():
        s, t = np.argwhere(bad)[0]
        raise ValueError(
            f"invalid threshold for task {tasks[t]!r}: {arr[s, t]!r} is outside [0, 1]; "
            "allowed: confidence thresholds in [0, 1], or inf (never leave early)"
        )
    return arr


def _levels(thr: np.ndarray) -> np.ndarray:
    """Integer confidence level each threshold requires: conf_u8 >= level  <=>  conf_u8 / 255 >= thr.

    Levels run 0..LEVELS; level LEVELS (from ``inf``) is above every stored confidence: never leave early."""
    return np.clip(np.ceil(thr * 255.0 - 1e-9), 0, LEVELS).astype(np.int64)


def _level_tables(conf: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For one task (conf, score of shape (E, N)): per level, samples leaving at each exit, and score sums.

    Returns ``counts`` (LEVELS + 1, E), ``score_sums`` (LEVELS + 1,) and the prefix max ``reach`` (E, N): a
    sample has left at or before exit j iff ``reach[j] >= level``.
    """
    n_exits, n = conf.shape
    top = LEVELS + 1  # levels 0..LEVELS
    c = conf.astype(np.int64)
    reach = np.maximum.accumulate(c, axis=0)
    reach[-1] = LEVELS  # the final exit always answers
    before = np.vstack([np.full((1, n), -1, dtype=np.int64), reach[:-1]])
    counts = np.zeros((top, n_exits))
    sums = np.zeros(top + 1)
    for j in range(n_exits):
        start = before[j] + 1
        end = c[j] + 1 if j < n_exits - 1 else np.full(n, top)  # exclusive; the final exit takes the rest
        ok = start < end
        s, e, w = start[ok], end[ok], score[j][ok].astype(np.float64)
        diff = np.bincount(s, minlength=top + 1) - np.bincount(e, minlength=top + 1)
        counts[:, j] = np.cumsum(diff)[:top]
        sums += np.bincount(s, weights=w, minlength=top + 1) - np.bincount(e, weights=w, minlength=top + 1)
    return counts, np.cumsum(sums)[:top], reach


def evaluate_policies(
    data: ExitData,
    thresholds: object,
    branches: Sequence[int],
    segment_macs: Mapping[str, float],
    exit_latency_ms: Mapping[int, float],
    higher_is_better: Sequence[bool],
    ref_latency_ms: float | None = None,
) -> ExitMetrics:
    """Expected accuracy, exit rates, MACs and latency of every threshold setting (see the module doc).

    ``branches[t]`` is task t's branch point; ``segment_macs`` maps segment names (``stem``, ``trunk_s{s}``,
    ``{task}_s{s}``, ``{task}_e{k}``) to MACs; ``exit_latency_ms[k]`` is the latency of a forward up to
    exit k; ``ref_latency_ms`` is the row's reference latency (gives ``policy_latency_norm``).
    """
    thr = as_thresholds(thresholds, data.tasks)
    level = _levels(thr)  # (S, T)
    n_tasks, n_exits, n = data.conf.shape
    if n == 0:
        raise ValueError("no per-sample records stored for this architecture (n_samples = 0)")
    exits = data.exits
    acc = np.empty(thr.shape)
    rate = np.empty((len(thr), n_tasks, n_exits))
    macs = np.full(len(thr), float(segment_macs.get("stem", 0)))
    reach = []
    for t, name in enumerate(data.tasks):
        counts, sums, r = _level_tables(data.conf[t], data.score[t])
        reach.append(r)
        acc[:, t] = sums[level[:, t]] / n / 255.0 * 100.0
        rate[:, t, :] = counts[level[:, t]] / n
        own = [segment_macs.get(f"{name}_s{s}", 0) for s in range(1, 5)]
        heads = [segment_macs.get(f"{name}_e{k}", 0) for k in exits]
        path_cost = np.array(
            [sum(own[branches[t] : k]) + sum(heads[: j + 1]) for j, k in enumerate(exits)], dtype=float
        )
        macs += rate[:, t, :] @ path_cost

    def all_left(tasks: Sequence[int], j: int) -> np.ndarray:
        """Fraction of samples on which every task in ``tasks`` has answered at or before exit j: (S,)."""
        if not tasks:
            return np.ones(len(thr))
        done = np.ones((len(thr), n), dtype=bool)
        for t in tasks:
            done &= reach[t][j][None, :] >= level[:, t][:, None]
        return done.mean(axis=1)

    for s in range(1, max(branches, default=0) + 1):
        early = [j for j, k in enumerate(exits) if k < s]
        users = [t for t in range(n_tasks) if branches[t] >= s]
        skipped = all_left(users, early[-1]) if early else np.zeros(len(thr))
        macs += segment_macs.get(f"trunk_s{s}", 0) * (1.0 - skipped)

    everyone = list(range(n_tasks))
    left_by = [all_left(everyone, j) for j in range(n_exits - 1)] + [np.ones(len(thr))]
    latency = np.zeros(len(thr))
    prev = np.zeros(len(thr))
    for j, k in enumerate(exits):
        latency += (left_by[j] - prev) * exit_latency_ms[k]
        prev = left_by[j]
    hib = np.asarray(higher_is_better, dtype=bool)
    mean_acc = acc[:, hib].mean(axis=1) if hib.any() else np.full(len(thr), np.nan)
    if ref_latency_ms is None or not np.isfinite(ref_latency_ms):
        latency_norm = np.full(len(thr), np.nan)
    elif ref_latency_ms <= 0:
        raise ValueError(f"invalid ref_latency_ms {ref_latency_ms!r}; allowed: a positive number of ms")
    else:
        latency_norm = latency / float(ref_latency_ms)
    return ExitMetrics(data.tasks, exits, thr, acc, mean_acc, rate, macs, latency, latency_norm)
