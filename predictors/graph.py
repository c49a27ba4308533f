"""Graph encoder: one :class:`torch_geometric.data.Data` per :class:`~nasbench_mt.space.arch.Arch`.

Nodes are the operations of the whole multi-task network: the stem, every MBConv block of the shared trunk,
every block of each task's own stage copies, each task's exit heads, one output node per task, and one global
node.  Edges follow the data flow (stem -> trunk -> each task's own blocks; the block that ends stage
``k`` on a task's path -> that task's exit head ``k`` -> the task's output); with ``reverse_edges=True``
(default) each edge is also added backwards so messages flow both ways.  The global node is linked both ways
to every other node.

Node features (see :func:`node_feature_names`): node type one-hot, kernel and expand one-hot (blocks),
stride-2 flag, input/output channels (divided by the widest stage), input resolution (divided by the input
size), stage one-hot (a block's stage; a head's exit position), owner one-hot (shared or task ``t``), users
(the share of the tasks whose path runs through the node: a trunk stage that only one task still uses is that
task's alone), residual flag, and with ``costs=True`` the node's exact ``log1p(params) / 16`` and
``log1p(MACs) / 16``.

Batch graphs with :class:`torch_geometric.loader.DataLoader`::

    >>> from torch_geometric.loader import DataLoader
    >>> from nasbench_mt import V1
    >>> graphs = encode_graphs(V1.sample(8, seed=0))
    >>> batch = next(iter(DataLoader(graphs, batch_size=8)))
    >>> batch.num_graphs, batch.x.shape[1] == len(node_feature_names())
    (8, True)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch

from nasbench_mt.space.arch import V1, Arch, SearchSpace, infer_space
from nasbench_mt.space.costs import block_costs, head_costs, stem_costs
from nasbench_mt.space.tasks import TaskSpec, check_tasks
from predictors.pyg import pyg

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = ["NODE_TYPES", "add_global_features", "encode_graphs", "node_feature_names"]

NODE_TYPES = ("global", "stem", "block", "head", "output")
_LOG_SCALE = 16.0  # log1p of the costs is divided by this, putting them near [0, 1]


def node_feature_names(space: SearchSpace = V1, costs: bool = True) -> list[str]:
    """Names of the node feature columns of :func:`encode_graphs` for ``space``."""
    names = [f"type_{t}" for t in NODE_TYPES]
    names += [f"k{k}" for k in space.kernels] + [f"e{e}" for e in space.expands]
    names += ["stride2", "c_in", "c_out", "resolution"]
    names += [f"stage_{s}" for s in range(1, space.num_stages + 1)]
    names += ["owner_shared"] + [f"owner_t{t}" for t in range(space.num_tasks)]
    names += ["users", "residual"]
    if costs:
        names += ["log_params", "log_macs"]
    return names


class _GraphBuilder:
    """Accumulates node rows and edges of one architecture."""

    def __init__(self, space: SearchSpace, costs: bool) -> None:
        self.space = space
        self.costs = costs
        self.names = {n: i for i, n in enumerate(node_feature_names(space, costs))}
        self.width = len(self.names)
        self.max_channels = max(st.channels for st in space.stages)
        self.rows: list[np.ndarray] = []
        self.edges: list[tuple[int, int]] = []

    def node(self, kind: str, owner: int | None, cost: tuple[int, int], **feats: float) -> int:
        row = np.zeros(self.width, dtype=np.float32)
        row[self.names[f"type_{kind}"]] = 1.0
        if kind != "global":
            row[self.names["owner_shared" if owner is None else f"owner_t{owner}"]] = 1.0
        for name, value in feats.items():
            row[self.names[name]] = value
        if self.costs:
            row[self.names["log_params"]] = math.log1p(cost[0]) / _LOG_SCALE
            row[self.names["log_macs"]] = math.log1p(cost[1]) / _LOG_SCALE
        self.rows.append(row)
        return len(self.rows) - 1

    def stage(self, arch: Arch, s: int, src: int, owner: int | None) -> int:
        """Add the blocks of 0-based stage ``s`` after node ``src``; return the stage's last node."""
        space = self.space
        spec = space.stages[s]
        for b, block in enumerate(arch.stages[s]):
            first = b == 0
            c_in = (
                (space.stem_channels if s == 0 else space.stages[s - 1].channels) if first else spec.channels
            )
            stride = spec.stride if first else 1
            users = sum(bp > s for bp in arch.branches) if owner is None else 1
            feats = {
                "users": users / space.num_tasks,
                f"k{block.kernel}": 1.0,
                f"e{block.expand}": 1.0,
                "stride2": float(stride == 2),
                "c_in": c_in / self.max_channels,
                "c_out": spec.channels / self.max_channels,
                "resolution": space.resolution_after(s if first else s + 1) / space.input_size,
                f"stage_{s + 1}": 1.0,
                "residual": float(stride == 1 and c_in == spec.channels),
            }
            cost = block_costs(space, s, first, block) if self.costs else (0, 0)
            node = self.node("block", owner, cost, **feats)
            self.edges.append((src, node))
            src = node
        return src

    def build(self, arch: Arch, tasks: Sequence[TaskSpec], reverse_edges: bool) -> Data:
        space = self.space
        glob = self.node("global", None, (0, 0))
        stem = self.node(
            "stem",
            None,
            stem_costs(space) if self.costs else (0, 0),
            c_in=space.input_channels / self.max_channels,
            c_out=space.stem_channels / self.max_channels,
            stride2=1.0,
            resolution=1.0,
            users=1.0,
        )
        trunk_ends = [stem]
        for s in range(max(arch.branches)):
            trunk_ends.append(self.stage(arch, s, trunk_ends[-1], None))
        for t, (task, bp) in enumerate(zip(tasks, arch.branches)):
            ends = trunk_ends[: bp + 1]
            for s in range(bp, space.num_stages):
                ends.append(self.stage(arch, s, ends[-1], t))
            out = self.node("output", t, (0, 0), users=1 / space.num_tasks)
            for k in arch.all_exits:
                channels = space.stages[k - 1].channels
                cost = head_costs(space, task, k) if self.costs else (0, 0)
                head = self.node(
                    "head",
                    t,
                    cost,
                    c_in=channels / self.max_channels,
                    resolution=space.resolution_after(k) / space.input_size,
                    users=1 / space.num_tasks,
                    **{f"stage_{k}": 1.0},
                )
                self.edges += [(ends[k], head), (head, out)]
        n = len(self.rows)
        self.edges += [(i, glob) for i in range(1, n)] + [(glob, i) for i in range(1, n)]
        edge_index = torch.tensor(self.edges, dtype=torch.long).t()
        if reverse_edges:
            edge_index = torch.cat([edge_index, edge_index.flip(0)], dim=1)
        x = torch.from_numpy(np.stack(self.rows))
        return pyg().data.Data(x=x, edge_index=edge_index, num_nodes=n)


def encode_graphs(
    archs: Sequence[Arch | str],
    costs: bool = True,
    tasks: Sequence[TaskSpec] | None = None,
    reverse_edges: bool = True,
    space: SearchSpace | None = None,
) -> list[Data]:
    """One graph per architecture (see the module docstring); node features are float32.

    ``space`` defaults to the first architecture's space (strings are parsed in ``V1`` with the task list
    ``tasks``).
    """
    if isinstance(archs, (str, Arch)) or not isinstance(archs, Sequence):
        raise ValueError(f"invalid archs: {type(archs).__name__}; allowed: a sequence of Arch or strings")
    space = infer_space(archs, tasks, space)
    tasks = check_tasks(space.tasks if tasks is None else tasks, space.num_tasks)
    graphs = []
    for arch in archs:
        arch = space.validate(arch)
        graphs.append(_GraphBuilder(space, costs).build(arch, tasks, reverse_edges))
    return graphs


def add_global_features(graphs: Sequence[Data], values: np.ndarray) -> list[Data]:
    """Copies of ``graphs`` with ``values`` (one row of ``k`` numbers per graph, e.g. zero-cost proxies)
    appended as ``k`` node-feature columns: the row on the global node (node 0 of :func:`encode_graphs`),
    zeros on every other node, so message passing spreads the graph-level numbers to the whole graph."""
    values = np.asarray(values, dtype=np.float32)
    if values.ndim != 2 or len(values) != len(graphs):
        raise ValueError(
            f"invalid values shape: {values.shape}; allowed: ({len(graphs)}, k), one row per graph"
        )
    out = []
    Data = pyg().data.Data
    for g, row in zip(graphs, values):
        extra = torch.zeros((g.x.shape[0], values.shape[1]), dtype=g.x.dtype)
        extra[0] = torch.from_numpy(row)
        out.append(Data(x=torch.cat([g.x, extra], dim=1), edge_index=g.edge_index, num_nodes=g.num_nodes))
    return out
