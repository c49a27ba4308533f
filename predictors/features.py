"""Flat feature encoder of an :class:`~nasbench_mt.space.arch.Arch` (one row per architecture).

Layout, in order (see :func:`feature_names`):

- per block slot ``s{stage}_b{slot}`` (every stage has ``max_depth`` slots): kernel and expand, one-hot
  (``encoding="onehot"``: ``..._k3``, ``..._k5``, ... then ``..._e3``, ...) or ordinal
  (``encoding="ordinal"``: ``..._kernel``, ``..._expand`` holding the raw value); slots beyond the stage's
  depth are all zero;
- ``depth_s{stage}``: each stage's depth;
- ``branch_t{task}_b{point}``: each task's branch point, one-hot;
- ``branch_t{task}``: each task's branch point as a number (stages of trunk the task runs on), and
  ``shared_t{task}_t{other}``: for each pair of tasks, the number of stages they share (the smaller of their
  branch points).  Trees split these in one cut where the one-hot columns need several; with 100 training
  architectures of v1 they raise XGBoost's Kendall tau on mean_acc from 0.52 to 0.62 (see data/HISTORY.md);
- ``shared_depth_t{task}``: the number of stages over which the task shares its features with at least one
  other task (the largest of its ``shared_t`` columns).  Past it the task computes alone -- in the supernet
  through its own branch weights -- so this one number sorts a task's accuracy more than any block choice
  does (it alone explains 90% of seg's variance on v1); see docs/results.md for what it adds to XGBoost;
- ``exit_{position}``: 1 if the early exit after that stage exists;
- with ``costs=True``, the exact analytic costs (free, see :func:`nasbench_mt.space.costs.analytic_costs`):
  ``params``, ``params_{task}`` per task path, ``macs`` (whole network) and ``macs_e{k}`` for each early-exit
  position (0 when the architecture has no exit there).

Zero-cost proxies as features: a feature set ``"<encoding>+proxies"`` (:data:`FEATURE_SETS`) appends the
release's ``proxy_*`` columns (:func:`proxy_features`) to the flat features, and to the global node of each
graph (:func:`predictors.graph.add_global_features`).  They are read from a table, not computed here: an
architecture without a row in the proxies side-table has none.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

import numpy as np

from nasbench_mt.space.arch import V1, Arch, SearchSpace, infer_space
from nasbench_mt.space.costs import analytic_costs
from nasbench_mt.space.encoding import onehot_blocks, onehot_branches, onehot_exits
from nasbench_mt.space.tasks import TaskSpec

__all__ = ["ENCODINGS", "FEATURE_SETS", "encode_archs", "feature_names", "parse_features", "proxy_features"]

ENCODINGS = ("onehot", "ordinal")
FEATURE_SETS = (*ENCODINGS, *[f"{e}+proxies" for e in ENCODINGS])
PROXY_PREFIX = "proxy_"


def _check_encoding(encoding: str) -> None:
    if encoding not in ENCODINGS:
        raise ValueError(f"invalid encoding: {encoding!r}; allowed: {list(ENCODINGS)}")


def _shared_depths(branches: Sequence[int]) -> list[int]:
    """Per task, the stages it shares with at least one other task: max over others of min(branch points)."""
    return [
        max((min(bp, other) for u, other in enumerate(branches) if u != t), default=0)
        for t, bp in enumerate(branches)
    ]


def feature_names(
    space: SearchSpace = V1,
    costs: bool = True,
    encoding: str = "onehot",
    tasks: Sequence[TaskSpec] | None = None,
) -> list[str]:
    """Column names of :func:`encode_archs` for ``space`` (same arguments, same order).

    Example::

        >>> names = feature_names()
        >>> names.index("macs") == len(names) - 1 - len(V1.exit_choices)
        True
    """
    _check_encoding(encoding)
    names = []
    for s in range(1, space.num_stages + 1):
        for b in range(1, space.max_depth + 1):
            slot = f"s{s}_b{b}"
            if encoding == "onehot":
                names += [f"{slot}_k{k}" for k in space.kernels] + [f"{slot}_e{e}" for e in space.expands]
            else:
                names += [f"{slot}_kernel", f"{slot}_expand"]
    names += [f"depth_s{s}" for s in range(1, space.num_stages + 1)]
    names += [f"branch_t{t}_b{b}" for t in range(space.num_tasks) for b in space.branch_choices]
    names += [f"branch_t{t}" for t in range(space.num_tasks)]
    names += [f"shared_t{t}_t{u}" for t, u in combinations(range(space.num_tasks), 2)]
    names += [f"shared_depth_t{t}" for t in range(space.num_tasks)]
    names += [f"exit_{x}" for x in space.exit_choices]
    if costs:
        tasks = space.tasks if tasks is None else tasks
        names += ["params"] + [f"params_{t.name}" for t in tasks]
        names += ["macs"] + [f"macs_e{x}" for x in space.exit_choices]
    return names


def encode_archs(
    archs: Sequence[Arch | str],
    costs: bool = True,
    encoding: str = "onehot",
    tasks: Sequence[TaskSpec] | None = None,
    space: SearchSpace | None = None,
) -> np.ndarray:
    """Encode architectures as a float64 array of shape ``(len(archs), len(feature_names(...)))``.

    ``space`` defaults to the first architecture's space (strings are parsed in ``V1`` with the task list
    ``tasks``); every architecture must belong to it. ``tasks`` (for the cost columns) defaults to the
    space's task list. Example::

        >>> X = encode_archs(V1.sample(4, seed=0))
        >>> X.shape == (4, len(feature_names()))
        True
    """
    _check_encoding(encoding)
    if isinstance(archs, (str, Arch)) or not isinstance(archs, Sequence):
        raise ValueError(f"invalid archs: {type(archs).__name__}; allowed: a sequence of Arch or strings")
    space = infer_space(archs, tasks, space)
    archs = [space.validate(a) for a in archs]
    tasks = tuple(space.tasks if tasks is None else tasks)
    n_cols = len(feature_names(space, costs, encoding, tasks))
    out = np.zeros((len(archs), n_cols), dtype=np.float64)
    n_branch = len(space.branch_choices)
    per_slot = len(space.kernels) + len(space.expands) if encoding == "onehot" else 2
    base = per_slot * space.max_depth * space.num_stages
    if encoding == "onehot":
        out[:, :base] = onehot_blocks(archs, space)
    out[:, base + space.num_stages : base + space.num_stages + space.num_tasks * n_branch] = onehot_branches(
        archs, space
    )
    for i, arch in enumerate(archs):
        row = out[i]
        for s, stage in enumerate(arch.stages):
            if encoding == "ordinal":
                for b, block in enumerate(stage):
                    j = (s * space.max_depth + b) * per_slot
                    row[j], row[j + 1] = block.kernel, block.expand
            row[base + s] = len(stage)
        j = base + space.num_stages + space.num_tasks * n_branch
        row[j : j + space.num_tasks] = arch.branches
        j += space.num_tasks
        shared = [min(arch.branches[t], arch.branches[u]) for t, u in combinations(range(space.num_tasks), 2)]
        row[j : j + len(shared)] = shared
        j += len(shared)
        row[j : j + space.num_tasks] = _shared_depths(arch.branches)
        j += space.num_tasks
        row[j : j + len(space.exit_choices)] = onehot_exits([arch], space)[0]
        if costs:
            j += len(space.exit_choices)
            c = analytic_costs(arch, tasks)
            values = [c.params] + [c.params_per_task[t.name] for t in tasks] + [c.macs]
            values += [c.macs_per_exit.get(x, 0) for x in space.exit_choices]
            row[j:] = values
    return out


def parse_features(features: str) -> tuple[str, bool]:
    """``(encoding, with_proxies)`` of a feature set of :data:`FEATURE_SETS`, e.g. ``"onehot+proxies"``."""
    if features not in FEATURE_SETS:
        raise ValueError(f"invalid features: {features!r}; allowed: {list(FEATURE_SETS)}")
    encoding, _, extra = features.partition("+")
    return encoding, extra == "proxies"


def proxy_features(table: Any) -> tuple[list[str], np.ndarray]:
    """The zero-cost proxy columns (``proxy_*``) of a release table as features: ``(names, values)``, each
    value mapped by ``sign(v) * log1p(|v|)`` (order kept; synflow spans tens of orders of magnitude).

    Raises when the table has no proxy column or a row lacks a value (NaN): proxies are measured, so an
    architecture outside the proxies side-table has none.
    """
    names = [c for c in table.columns if str(c).startswith(PROXY_PREFIX)]
    if not names:
        raise ValueError(
            "invalid features: this table has no proxy_* columns; allowed: a release with the zero-cost "
            "proxies side-table (`nasbench-mt generate --protocol proxies`), or features without '+proxies'"
        )
    values = table[names].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(values).all(axis=1)
    if bad.any():
        ids = table["arch_id"].to_numpy()[bad][:3].tolist() if "arch_id" in table.columns else []
        raise ValueError(
            f"invalid features: {int(bad.sum())} of {len(table)} rows have no proxy values (e.g. {ids}); "
            "allowed: rows with every proxy computed (`nasbench-mt generate --protocol proxies` resumes)"
        )
    return names, np.sign(values) * np.log1p(np.abs(values))
