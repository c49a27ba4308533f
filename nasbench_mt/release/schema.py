"""Column names of the benchmark table and its per-sample companion file (schema version 1).

One row per architecture.  Scores are in percent (accuracy and mIoU; higher is better), in the task's
units (MAE; lower is better) or a fraction (NME of landmark points; lower is better).  A column for an exit
the architecture does not have holds NaN.

=========================  =====================================================================
column                     meaning
=========================  =====================================================================
``arch_id``, ``arch``      stable id and canonical string of the :class:`~nasbench_mt.space.arch.Arch`
``protocol``, ``seed``     how the accuracy was measured (``supernet`` / ``standalone``) and its seed
``{split}_{task}_e{k}``    score of ``task`` at exit ``k`` on split ``val`` or ``test``
``{split}_{task}``         score at the final exit (same as ``..._e4``)
``mean_acc``               mean over higher-is-better tasks of the final-exit test score
``val_mean_acc``           the same on the validation split
``latency_ms``             median whole-network latency (batch 1, one thread, PyTorch eager, CPU)
``latency_iqr_ms``         inter-quartile range of those repeats
``latency_e{k}_ms``        median latency of a forward that stops after exit ``k`` (all tasks)
``ref_latency_ms``         the fixed reference network, timed interleaved in the same process
``latency_norm``           ``latency_ms / ref_latency_ms`` (comparable across machines and runs)
``ort_latency_ms``, ...    optional, the same five latency columns (``ort_latency_iqr_ms``,
                           ``ort_latency_e{k}_ms``, ``ort_ref_latency_ms``, ``ort_latency_norm``) timed under
                           ONNX Runtime (CPU provider, batch 1, one intra- and one inter-op thread,
                           sequential; ``generate --protocol latency-onnx``); ``ort_latency_e{k}_ms`` is NaN
                           at a position without an exit (no ONNX graph); absent when not measured
``params``                 parameters of the whole multi-task network
``params_{task}``          parameters on one task's path (stem, shared stages, own stages, own heads)
``macs``, ``flops``        multiply-accumulates (conv + linear) of the whole network; flops = 2 macs
``macs_e{k}``              MACs to produce every task's exit ``k`` and all exits before it
``macs_seg_{segment}``     MACs of one segment (``stem``, ``trunk_s{s}``, ``{task}_s{s}``, ``{task}_e{k}``)
``peak_mem_bytes``         peak live activation bytes of one batch-1 forward
``measure_s``              seconds spent measuring the row (charged by ``simulate_train_eval``)
=========================  =====================================================================

Per-sample companion (``exits-*.parquet``), one row per (architecture, task, exit): ``arch_id``, ``task``,
``exit``, ``conf`` and ``score`` as ``uint8`` byte strings over the first ``n_samples`` test scenes.  ``conf``
is the max softmax probability (dense tasks: its mean over pixels) x 255, rounded; ``score`` is the sample's
correctness x 255 (classification: 0 or 255; dense: pixel accuracy; regression: 255 when the absolute error
(landmark points: its NME) is at most the task's ``tolerance``, with ``conf`` 0 since a regression head has no
confidence).
"""

from __future__ import annotations

from collections.abc import Sequence

from nasbench_mt.space.tasks import TaskSpec

__all__ = [
    "EXIT_POSITIONS",
    "MEAN_COLUMNS",
    "RELEASE_MINIMUMS",
    "SCHEMA_VERSION",
    "SPLITS",
    "latency_columns",
    "mean_parts",
    "ort_latency_columns",
    "score_column",
    "segment_columns",
    "table_columns",
]

# What a complete release holds; smaller releases (tests, your own data) pass their own minimums.
RELEASE_MINIMUMS = {
    "rows": 5000,
    "calibration": 150,
    "noise_seed": 300,
    "noise_latency": 300,
    "noise_standalone": 50,  # calibration archs trained a second time from scratch (the noise ceiling)
}

SCHEMA_VERSION = 1
SPLITS = ("val", "test")
EXIT_POSITIONS = (1, 2, 3, 4)
MEAN_COLUMNS = {"test": "mean_acc", "val": "val_mean_acc"}  # per split, the mean over the ranked tasks


def score_column(task: str, split: str = "test", exit: int | None = None) -> str:
    """Name of a score column, e.g. ``score_column("age", "test", 2) == "test_age_e2"``."""
    if split not in SPLITS:
        raise ValueError(f"invalid split: {split!r}; allowed: {list(SPLITS)}")
    return f"{split}_{task}" if exit is None else f"{split}_{task}_e{exit}"


def mean_parts(tasks: Sequence[TaskSpec], split: str = "test") -> list[str]:
    """The columns ``MEAN_COLUMNS[split]`` averages: each higher-is-better task's final-exit score."""
    return [score_column(t.name, split) for t in tasks if t.higher_is_better]


def latency_columns() -> list[str]:
    return (
        ["latency_ms", "latency_iqr_ms"]
        + [f"latency_e{k}_ms" for k in EXIT_POSITIONS]
        + ["ref_latency_ms", "latency_norm"]
    )


def ort_latency_columns() -> list[str]:
    """The ONNX Runtime twins of :func:`latency_columns` (``ort_latency_ms``, ...; optional columns)."""
    return [f"ort_{c}" for c in latency_columns()]


def segment_columns(tasks: Sequence[TaskSpec]) -> list[str]:
    """Every ``macs_seg_*`` column; a segment the architecture does not have holds 0."""
    segs = ["stem"] + [f"trunk_s{s}" for s in EXIT_POSITIONS]
    for t in tasks:
        segs += [f"{t.name}_s{s}" for s in EXIT_POSITIONS] + [f"{t.name}_e{k}" for k in EXIT_POSITIONS]
    return [f"macs_seg_{s}" for s in segs]


def table_columns(tasks: Sequence[TaskSpec]) -> list[str]:
    """Every column of a table for ``tasks``, in order."""
    cols = ["arch_id", "arch", "protocol", "seed"]
    for split in SPLITS:
        for t in tasks:
            cols += [score_column(t.name, split, k) for k in EXIT_POSITIONS] + [score_column(t.name, split)]
    cols += ["mean_acc", "val_mean_acc"]
    cols += latency_columns()
    cols += ["params"] + [f"params_{t.name}" for t in tasks]
    cols += ["macs", "flops"] + [f"macs_e{k}" for k in EXIT_POSITIONS]
    cols += segment_columns(tasks)
    cols += ["peak_mem_bytes", "measure_s"]
    return cols
