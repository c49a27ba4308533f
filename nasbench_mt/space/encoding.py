"""One-hot encoding of an architecture's decisions: the one the search measures Hamming distances with and
the predictors' feature encoder (:mod:`predictors.features`) builds its one-hot columns from."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasbench_mt.space.arch import Arch, SearchSpace

__all__ = ["onehot", "onehot_blocks", "onehot_branches", "onehot_exits"]


def onehot_blocks(archs: Sequence[Arch], space: SearchSpace) -> np.ndarray:
    """Per block slot ``s{stage}_b{slot}`` (every stage has ``max_depth`` slots): its kernel then its expand
    ratio, one-hot; empty slots are all zero.  int8, ``(n, num_stages * max_depth * (kernels + expands))``."""
    nk, ne = len(space.kernels), len(space.expands)
    slot = nk + ne
    per_stage = space.max_depth * slot
    out = np.zeros((len(archs), space.num_stages * per_stage), dtype=np.int8)
    kpos = {k: i for i, k in enumerate(space.kernels)}
    epos = {e: nk + i for i, e in enumerate(space.expands)}
    for i, a in enumerate(archs):
        for s, stage in enumerate(a.stages):
            for b, blk in enumerate(stage):
                out[i, s * per_stage + b * slot + kpos[blk.kernel]] = 1
                out[i, s * per_stage + b * slot + epos[blk.expand]] = 1
    return out


def onehot_branches(archs: Sequence[Arch], space: SearchSpace) -> np.ndarray:
    """Each task's branch point, one-hot: int8, ``(n, num_tasks * len(branch_choices))``."""
    nb = len(space.branch_choices)
    out = np.zeros((len(archs), space.num_tasks * nb), dtype=np.int8)
    for i, a in enumerate(archs):
        for t, bp in enumerate(a.branches):
            out[i, t * nb + bp] = 1
    return out


def onehot_exits(archs: Sequence[Arch], space: SearchSpace) -> np.ndarray:
    """Which early-exit positions exist: int8, ``(n, len(exit_choices))``."""
    out = np.zeros((len(archs), len(space.exit_choices)), dtype=np.int8)
    for i, a in enumerate(archs):
        for x in a.exits:
            out[i, space.exit_choices.index(x)] = 1
    return out


def onehot(archs: Sequence[Arch], space: SearchSpace) -> np.ndarray:
    """Every decision one-hot (block slots, stage depths, branch points, exits) as int8 rows, for Hamming
    distances between architectures."""
    depths = np.zeros((len(archs), space.num_stages * len(space.depths)), dtype=np.int8)
    dpos = {d: i for i, d in enumerate(space.depths)}
    for i, a in enumerate(archs):
        for s, stage in enumerate(a.stages):
            depths[i, s * len(space.depths) + dpos[len(stage)]] = 1
    parts = [onehot_blocks(archs, space), depths, onehot_branches(archs, space), onehot_exits(archs, space)]
    return np.concatenate(parts, axis=1)
