"""This package's architectures as a per-layer table (:func:`layer_table`) and as token sequences
(:func:`encode_sequences`, the input of ``mtlp_jr``).

One layer per MBConv block, in network order (stage by stage; slot ``(stage - 1) * max_depth + block``, so a
stage's first block has the same slot whatever the depths before it).  Fields: ``kernel``, ``expand`` and
``stage`` (categorical); ``shared_t{task}`` (1 when the task shares this stage with at least one other task,
i.e. the stage lies within the task's shared depth; see :mod:`predictors.features`), ``exit`` (1 on the last
block of a stage followed by an early exit) and, with ``costs=True``, the block's ``log_params`` and
``log_macs`` (``log1p`` of its exact count, divided by 16).  Architecture-level columns: each task's branch
point and shared depth and, with ``costs=True``, the exact ``params`` and ``macs``.  A sequence is the global
token (the columns), then one token per block::

    >>> from nasbench_mt import V1
    >>> seqs = encode_sequences(V1.sample(3, seed=0))
    >>> [s.shape[0] == 1 + sum(a.depths) for s, a in zip(seqs, V1.sample(3, seed=0))]
    [True, True, True]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from nasbench_mt.space.arch import V1, Arch, SearchSpace
from nasbench_mt.space.costs import analytic_costs, block_costs
from nasbench_mt.space.model import default_tasks
from nasbench_mt.space.tasks import TaskSpec
from predictors.encoding import LayerTable
from predictors.features import _shared_depths

__all__ = ["encode_sequences", "layer_table"]

_LOG_SCALE = 16.0  # as the graph encoder: log1p of a block's cost / 16 lies near [0, 1]


def layer_table(
    archs: Sequence[Arch | str],
    costs: bool = True,
    tasks: Sequence[TaskSpec] | None = None,
    space: SearchSpace | None = None,
    extra: np.ndarray | None = None,
) -> LayerTable:
    """``archs`` as a :class:`~predictors.encoding.LayerTable` (see the module docstring); ``extra`` (one row
    of numbers per architecture, e.g. zero-cost proxies) is appended to the columns as ``extra_{j}``."""
    if isinstance(archs, (str, Arch)) or not isinstance(archs, Sequence) or not archs:
        raise ValueError(
            f"invalid archs: {type(archs).__name__}; allowed: a non-empty sequence of Arch or strings"
        )
    if space is None:
        space = next((a.space for a in archs if isinstance(a, Arch)), V1)
    tasks = tuple(default_tasks() if tasks is None else tasks)
    archs = [space.validate(a) for a in archs]
    n_tasks = space.num_tasks
    rows, columns = [], {f"branch_t{t}": [] for t in range(n_tasks)}
    columns.update({f"shared_depth_t{t}": [] for t in range(n_tasks)})
    if costs:
        columns.update(params=[], macs=[])
    for i, arch in enumerate(archs):
        shared = _shared_depths(arch.branches)
        for t in range(n_tasks):
            columns[f"branch_t{t}"].append(arch.branches[t])
            columns[f"shared_depth_t{t}"].append(shared[t])
        if costs:
            c = analytic_costs(arch, tasks)
            columns["params"].append(c.params)
            columns["macs"].append(c.macs)
        for s, stage in enumerate(arch.stages):
            for b, block in enumerate(stage):
                row = {"arch": i, "layer": s * space.max_depth + b, "kernel": block.kernel}
                row.update(expand=block.expand, stage=s + 1)
                row.update({f"shared_t{t}": float(s < shared[t]) for t in range(n_tasks)})
                row["exit"] = float(b == len(stage) - 1 and s + 1 in arch.exits)
                if costs:
                    p, m = block_costs(space, s, b == 0, block)
                    row.update(log_params=math.log1p(p) / _LOG_SCALE, log_macs=math.log1p(m) / _LOG_SCALE)
                rows.append(row)
    if extra is not None:
        extra = np.asarray(extra, dtype=np.float64).reshape(len(archs), -1)
        columns.update({f"extra_{j}": extra[:, j] for j in range(extra.shape[1])})
    numeric = (
        [f"shared_t{t}" for t in range(n_tasks)] + ["exit"] + (["log_params", "log_macs"] if costs else [])
    )
    categorical = {"kernel": space.kernels, "expand": space.expands, "stage": range(1, space.num_stages + 1)}
    return LayerTable(
        pd.DataFrame(rows), categorical, numeric, columns, max_layers=space.num_stages * space.max_depth
    )


def encode_sequences(
    archs: Sequence[Arch | str],
    costs: bool = True,
    tasks: Sequence[TaskSpec] | None = None,
    space: SearchSpace | None = None,
) -> list[np.ndarray]:
    """One float32 array ``(1 + blocks, width)`` per architecture: :func:`layer_table`'s sequences."""
    return layer_table(archs, costs, tasks, space).sequences()
