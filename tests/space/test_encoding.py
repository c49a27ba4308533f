"""The one one-hot encoding of an architecture's decisions (search distances and predictor features)."""

import numpy as np

from nasbench_mt.space.arch import V1
from nasbench_mt.space.encoding import onehot, onehot_blocks, onehot_branches, onehot_exits


def test_one_bit_per_decision_and_distance_zero_only_to_itself():
    archs = V1.sample(20, seed=0)
    x = onehot(archs, V1)
    blocks = [sum(len(s) for s in a.stages) for a in archs]
    expected = [2 * b + V1.num_stages + V1.num_tasks + len(a.exits) for a, b in zip(archs, blocks)]
    assert x.sum(axis=1).tolist() == expected
    d = np.abs(x[:, None, :].astype(int) - x[None, :, :]).sum(-1)
    assert (np.diag(d) == 0).all() and (d[~np.eye(len(archs), dtype=bool)] > 0).all()


def test_parts_concatenate_to_the_whole():
    archs = V1.sample(5, seed=1)
    parts = [onehot_blocks(archs, V1), onehot_branches(archs, V1), onehot_exits(archs, V1)]
    assert sum(p.shape[1] for p in parts) + V1.num_stages * len(V1.depths) == onehot(archs, V1).shape[1]
