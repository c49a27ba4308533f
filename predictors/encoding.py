"""Generic encodings of any search space: a per-layer table (:class:`LayerTable`) or a list of graphs
(:class:`GraphList`).  Every predictor's ``fit``, ``predict`` and ``rank`` take one directly and read the
input it needs from it (``input_kind``), so a space that is not this package's can be fitted by every
predictor -- trees, GNNs, pairwise rankers, the sequence model -- without code inside ``predictors/``.

Both describe ``n`` architectures and give three views of them:

- ``features()``: one flat numeric row per architecture (the tree predictors, ``brp``), named by
  ``feature_names()``;
- ``graphs()``: one :class:`torch_geometric.data.Data` per architecture (``gin``, ``gcn``, ``brp_gin``);
- ``sequences()``: one ``(tokens, width)`` float array per architecture (``mtlp_jr``).

Graphs and sequences begin with a *global* node / token that carries the architecture-level ``columns``
(e.g. FLOPs, parameters, latency on another device), mapped by ``sign(v) * log1p(|v|)`` so numbers of any
magnitude suit a neural network; in a graph it is linked both ways to every other node.  Every edge is also
added backwards, so messages flow both ways.  Numeric layer or node fields enter the graphs and sequences
as given: keep them near [0, 1].

The flat features hold the ``columns`` unchanged, under their own names, so the ``flops`` and ``params``
baselines (and any cost baseline, ``cost="<column>"``) find them by name.

Slicing (``enc[rows]`` with an int, a slice, or an array of positions or booleans) gives an encoding of those
architectures with the same layout, so one encoding of every architecture can be split into train and test.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch

from predictors.pyg import pyg

if TYPE_CHECKING:
    from torch_geometric.data import Data

__all__ = ["ArchEncoding", "GraphList", "LayerTable"]


def _signed_log(values: np.ndarray) -> np.ndarray:
    return np.sign(values) * np.log1p(np.abs(values))


def _check_columns(columns: Any, n: int) -> tuple[list[str], np.ndarray]:
    """Architecture-level numeric columns as ``(names, (n, k) float64)``: a mapping name -> n values or a
    DataFrame with n rows, in the order of the architectures (the DataFrame's index is not used)."""
    if columns is None:
        return [], np.zeros((n, 0))
    if isinstance(columns, pd.DataFrame):
        columns = {str(c): columns[c].to_numpy() for c in columns.columns}
    if not isinstance(columns, Mapping):
        raise ValueError(
            f"invalid columns: {type(columns).__name__}; allowed: a DataFrame or a mapping name -> values, "
            "one value per architecture"
        )
    names, cols = [], []
    for name, values in columns.items():
        try:
            arr = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise ValueError(f"invalid column {name!r}: not numeric; allowed: numbers") from None
        if arr.shape != (n,):
            raise ValueError(
                f"invalid column {name!r}: shape {arr.shape}; allowed: ({n},), one per architecture"
            )
        if not np.isfinite(arr).all():
            raise ValueError(f"invalid column {name!r}: NaN or inf; allowed: finite numbers")
        names.append(str(name))
        cols.append(arr)
    return names, np.column_stack(cols) if cols else np.zeros((n, 0))


class ArchEncoding(abc.ABC):
    """``n`` architectures in a generic encoding; see the module docstring for the three views."""

    columns: list[str]  # names of the architecture-level columns
    _values: np.ndarray  # (n, len(columns))

    def __len__(self) -> int:
        return len(self._values)

    def __getitem__(self, rows: Any) -> ArchEncoding:
        """The encoding of the architectures at ``rows`` (same layout)."""
        idx = np.arange(len(self))[rows]
        return self._subset(np.atleast_1d(idx))

    def column(self, name: str) -> np.ndarray:
        """The values of architecture-level column ``name``."""
        if name not in self.columns:
            raise ValueError(f"invalid column: {name!r}; allowed: {self.columns}")
        return self._values[:, self.columns.index(name)].copy()

    @abc.abstractmethod
    def _subset(self, idx: np.ndarray) -> ArchEncoding: ...

    @abc.abstractmethod
    def feature_names(self) -> list[str]:
        """Names of the columns of :meth:`features`."""

    @abc.abstractmethod
    def features(self) -> np.ndarray:
        """One float64 row per architecture."""

    @abc.abstractmethod
    def _node_names(self) -> list[str]: ...

    @abc.abstractmethod
    def _nodes(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per architecture: its node rows ``(k, len(_node_names()))`` and edges ``(E, 2)`` between them."""

    def node_feature_names(self) -> list[str]:
        """Names of the node (token) feature columns of :meth:`graphs` and :meth:`sequences`."""
        return ["global", *self._node_names(), *self.columns]

    def _with_global(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per architecture: node rows with the global node first, and edges between the nodes (shifted)."""
        out = []
        width = len(self._node_names())
        for (rows, edges), values in zip(self._nodes(), self._values):
            x = np.zeros((len(rows) + 1, 1 + width + len(self.columns)), dtype=np.float32)
            x[0, 0] = 1.0
            x[0, 1 + width :] = _signed_log(values)
            x[1:, 1 : 1 + width] = rows
            out.append((x, np.asarray(edges, dtype=np.int64).reshape(-1, 2) + 1))
        return out

    def graphs(self) -> list[Data]:
        """One graph per architecture: the global node (node 0), then the nodes; edges both ways."""
        out = []
        Data = pyg().data.Data
        for x, edges in self._with_global():
            k = len(x)
            glob = np.stack([np.zeros(k - 1, dtype=np.int64), np.arange(1, k)], axis=1)
            pairs = np.concatenate([edges, glob])
            both = np.concatenate([pairs, pairs[:, ::-1]]).T
            out.append(Data(x=torch.from_numpy(x), edge_index=torch.from_numpy(both.copy()), num_nodes=k))
        return out

    def sequences(self) -> list[np.ndarray]:
        """One ``(1 + nodes, width)`` float32 array per architecture: the global token, then the nodes."""
        return [x for x, _ in self._with_global()]

    def as_input(self, kind: str) -> Any:
        """The view a predictor of ``input_kind`` ``kind`` takes."""
        views = {"features": self.features, "graphs": self.graphs, "sequences": self.sequences}
        if kind not in views:
            raise ValueError(f"invalid input kind: {kind!r}; allowed: {list(views)}")
        return views[kind]()


class LayerTable(ArchEncoding):
    """Architectures as a per-layer table: one row per layer, with named categorical and numeric fields.

    ``layers``: a DataFrame with an ``arch`` column (any id), a ``layer`` column (the layer's slot, an int in
    ``0..max_layers-1``: a skipped layer has no row, so slot ``j`` is the same layer in every architecture),
    and the fields.  ``categorical``: field -> its allowed values (the layout depends on them, never on the
    data, so two tables with the same arguments line up); ``numeric``: numeric fields.  ``columns``:
    architecture-level numbers (e.g. ``flops``, ``params``), one per architecture in the order the
    architectures first appear in ``layers`` (:attr:`ids`).  ``max_layers`` defaults to the largest slot
    seen plus one: pass it when you encode train and test apart.

    Flat features: per slot ``l{j}_{field}_{value}`` (one-hot) and ``l{j}_{field}`` (numeric), zeros for an
    absent layer; ``n_layers``; per categorical value its count over the layers ``count_{field}_{value}``;
    per numeric field its sum ``sum_{field}``; then the ``columns``.  Nodes and tokens: the layers in slot
    order (a chain), each with its one-hot fields, numeric fields and ``position`` (slot / (max_layers - 1)).
    """

    def __init__(
        self,
        layers: pd.DataFrame,
        categorical: Mapping[str, Sequence[Any]],
        numeric: Sequence[str] = (),
        columns: pd.DataFrame | Mapping[str, Sequence[float]] | None = None,
        max_layers: int | None = None,
        arch: str = "arch",
        layer: str = "layer",
    ) -> None:
        if not isinstance(layers, pd.DataFrame) or layers.empty:
            raise ValueError(
                f"invalid layers: {type(layers).__name__}; allowed: a non-empty DataFrame, one row per layer"
            )
        self.categorical = {str(f): tuple(v) for f, v in dict(categorical).items()}
        self.numeric = tuple(str(f) for f in numeric)
        fields = [*self.categorical, *self.numeric]
        missing = [c for c in (arch, layer, *fields) if c not in layers.columns]
        if missing:
            raise ValueError(f"invalid layers: no column {missing}; allowed columns: {list(layers.columns)}")
        for field, values in self.categorical.items():
            if not values or len(set(values)) != len(values):
                raise ValueError(f"invalid categorical {field!r}: {list(values)}; allowed: distinct values")
        slots = pd.to_numeric(layers[layer], errors="coerce").to_numpy()
        if not (np.isfinite(slots) & (slots >= 0) & (slots == np.round(slots))).all():
            raise ValueError(f"invalid {layer} column: {layers[layer].tolist()[:5]}...; allowed: ints >= 0")
        slots = slots.astype(np.int64)
        top = int(slots.max()) + 1
        self.max_layers = top if max_layers is None else int(max_layers)
        if self.max_layers < top:
            raise ValueError(f"invalid max_layers: {max_layers}; allowed: >= {top} (the largest slot + 1)")
        rows, ids = pd.factorize(layers[arch])  # architectures in order of first appearance
        if (rows < 0).any():
            raise ValueError(f"invalid {arch} column: a missing id; allowed: an id on every row")
        self.ids = np.asarray(ids)
        n = len(self.ids)
        if pd.Series(rows * self.max_layers + slots).duplicated().any():
            raise ValueError(
                f"invalid layers: an ({arch}, {layer}) pair appears twice; allowed: one row per layer"
            )
        self._present = np.zeros((n, self.max_layers), dtype=bool)
        self._present[rows, slots] = True
        self._codes = np.full((n, self.max_layers, len(self.categorical)), -1, dtype=np.int64)
        for f, (field, values) in enumerate(self.categorical.items()):
            code = pd.Index(values).get_indexer(layers[field])
            if (code < 0).any():
                bad = layers[field].tolist()[int(np.flatnonzero(code < 0)[0])]
                raise ValueError(f"invalid layer field {field!r}: {bad!r}; allowed: {list(values)}")
            self._codes[rows, slots, f] = code
        self._numbers = np.zeros((n, self.max_layers, len(self.numeric)))
        for f, field in enumerate(self.numeric):
            values = pd.to_numeric(layers[field], errors="coerce").to_numpy(dtype=np.float64)
            if not np.isfinite(values).all():
                raise ValueError(f"invalid layer field {field!r}: not a finite number; allowed: numbers")
            self._numbers[rows, slots, f] = values
        self.columns, self._values = _check_columns(columns, n)

    def _subset(self, idx: np.ndarray) -> LayerTable:
        out = object.__new__(LayerTable)
        out.__dict__.update(self.__dict__)
        out.ids, out._present, out._codes = self.ids[idx], self._present[idx], self._codes[idx]
        out._numbers, out._values = self._numbers[idx], self._values[idx]
        return out

    def _field_names(self) -> list[str]:
        names = [f"{f}_{v}" for f, values in self.categorical.items() for v in values]
        return names + list(self.numeric)

    def _layer_rows(self) -> np.ndarray:
        """(n, max_layers, width) one-hot + numeric fields per slot, zeros where absent."""
        n = len(self)
        parts = []
        for f, values in enumerate(self.categorical.values()):
            onehot = np.zeros((n, self.max_layers, len(values)))
            code = self._codes[..., f]
            a, s = np.nonzero(code >= 0)
            onehot[a, s, code[a, s]] = 1.0
            parts.append(onehot)
        parts.append(self._numbers)
        return np.concatenate(parts, axis=2)

    def feature_names(self) -> list[str]:
        per_slot = self._field_names()
        names = [f"l{j}_{name}" for j in range(self.max_layers) for name in per_slot]
        names += ["n_layers"] + [f"count_{name}" for name in per_slot[: len(per_slot) - len(self.numeric)]]
        return names + [f"sum_{f}" for f in self.numeric] + self.columns

    def features(self) -> np.ndarray:
        rows = self._layer_rows()
        summed = rows.sum(axis=1)  # counts of each categorical value, sums of numeric fields
        return np.hstack([rows.reshape(len(self), -1), self._present.sum(axis=1, keepdims=True), summed,
                          self._values])  # fmt: skip

    def _node_names(self) -> list[str]:
        return [*self._field_names(), "position"]

    def _nodes(self) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        for rows, present in zip(self._layer_rows(), self._present):
            slots = np.flatnonzero(present)
            position = slots / max(1, self.max_layers - 1)
            chain = np.stack([np.arange(len(slots) - 1), np.arange(1, len(slots))], axis=1)
            out.append((np.column_stack([rows[slots], position]), chain))
        return out


class GraphList(ArchEncoding):
    """Architectures as graphs (e.g. cells): per architecture its node features and its edges.

    ``nodes``: one ``(k_i, d)`` numeric array per architecture (the same ``d`` for all; e.g. a one-hot of the
    operation), in a fixed order (put a cell's nodes in topological order: the sequence view follows it);
    ``edges``: one ``(E_i, 2)`` array of ``(source, target)`` node positions per architecture;
    ``node_features``: names of the ``d`` node columns (default ``f0``, ``f1``, ...); ``columns``:
    architecture-level numbers, one per architecture, in order.  ``max_nodes`` (default: the largest graph)
    sizes the flat features: pass it when you encode train and test apart.

    Flat features: the node rows padded to ``max_nodes`` (``n{i}_{feature}``), the adjacency matrix
    (``a{i}_{j}``, 1 for an edge i -> j), ``n_nodes``, ``n_edges``, per node feature its sum over the nodes
    (``sum_{feature}``), then the ``columns``.
    """

    def __init__(
        self,
        nodes: Sequence[Any],
        edges: Sequence[Any],
        node_features: Sequence[str] | None = None,
        columns: pd.DataFrame | Mapping[str, Sequence[float]] | None = None,
        max_nodes: int | None = None,
    ) -> None:
        if isinstance(nodes, np.ndarray) or not isinstance(nodes, Sequence) or not nodes:
            raise ValueError(
                f"invalid nodes: {type(nodes).__name__}; allowed: a list of (nodes, features) arrays"
            )
        if isinstance(edges, np.ndarray) or not isinstance(edges, Sequence) or len(edges) != len(nodes):
            raise ValueError(
                f"invalid edges: allowed: a list of {len(nodes)} (edges, 2) arrays, one per graph"
            )
        self._graph_nodes, self._graph_edges = [], []
        for i, (x, e) in enumerate(zip(nodes, edges)):
            try:
                x = np.asarray(x, dtype=np.float64)
                e = np.asarray(e, dtype=np.int64).reshape(-1, 2)
            except (TypeError, ValueError):
                raise ValueError(
                    f"invalid graph {i}: not numeric; allowed: numeric nodes, int edges"
                ) from None
            if x.ndim != 2 or not len(x) or not np.isfinite(x).all() or x.shape[1] != np.shape(nodes[0])[1]:
                raise ValueError(
                    f"invalid nodes[{i}]: shape {x.shape}; allowed: finite (nodes, {np.shape(nodes[0])[1]})"
                )
            if e.size and (e.min() < 0 or e.max() >= len(x)):
                raise ValueError(
                    f"invalid edges[{i}]: a node index outside 0..{len(x) - 1}; allowed: node positions"
                )
            self._graph_nodes.append(x)
            self._graph_edges.append(e)
        width = self._graph_nodes[0].shape[1]
        names = [f"f{j}" for j in range(width)] if node_features is None else [str(f) for f in node_features]
        if len(names) != width:
            raise ValueError(f"invalid node_features: {len(names)} names; allowed: {width}, one per column")
        self.node_features = names
        top = max(len(x) for x in self._graph_nodes)
        self.max_nodes = top if max_nodes is None else int(max_nodes)
        if self.max_nodes < top:
            raise ValueError(f"invalid max_nodes: {max_nodes}; allowed: >= {top} (the largest graph)")
        self.columns, self._values = _check_columns(columns, len(self._graph_nodes))

    def _subset(self, idx: np.ndarray) -> GraphList:
        out = object.__new__(GraphList)
        out.__dict__.update(self.__dict__)
        out._graph_nodes = [self._graph_nodes[i] for i in idx]
        out._graph_edges = [self._graph_edges[i] for i in idx]
        out._values = self._values[idx]
        return out

    def feature_names(self) -> list[str]:
        m = self.max_nodes
        names = [f"n{i}_{f}" for i in range(m) for f in self.node_features]
        names += [f"a{i}_{j}" for i in range(m) for j in range(m)]
        return names + ["n_nodes", "n_edges"] + [f"sum_{f}" for f in self.node_features] + self.columns

    def features(self) -> np.ndarray:
        m, width = self.max_nodes, len(self.node_features)
        out = np.zeros((len(self), len(self.feature_names())))
        for i, (x, e) in enumerate(zip(self._graph_nodes, self._graph_edges)):
            padded = np.zeros((m, width))
            padded[: len(x)] = x
            adj = np.zeros((m, m))
            adj[e[:, 0], e[:, 1]] = 1.0
            out[i] = np.concatenate(
                [padded.ravel(), adj.ravel(), [len(x), len(e)], x.sum(0), self._values[i]]
            )
        return out

    def _node_names(self) -> list[str]:
        return list(self.node_features)

    def _nodes(self) -> list[tuple[np.ndarray, np.ndarray]]:
        return list(zip(self._graph_nodes, self._graph_edges))
