"""Every predictor's input for architectures of this package's search spaces, by ``input_kind``.

One function for the three kinds, so the evaluation protocol and the search encode alike: flat features
(:func:`predictors.encode_archs`), graphs (:func:`predictors.encode_graphs`) or per-layer sequences
(:func:`predictors.encode_sequences`); ``extra`` numbers per architecture (zero-cost proxies, a search
candidate's exit thresholds) go where each kind keeps architecture-level values: appended to the flat
features, on each graph's global node, on each sequence's global token.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from predictors.base import INPUT_KINDS
from predictors.features import encode_archs
from predictors.graph import add_global_features, encode_graphs
from predictors.sequence import layer_table

__all__ = ["check_input_kind", "encode_inputs"]


def check_input_kind(kind: str) -> str:
    """``kind`` if it is a predictor input kind, else a ValueError naming the allowed ones."""
    if kind not in INPUT_KINDS:
        raise ValueError(f"invalid input kind: {kind!r}; allowed: {list(INPUT_KINDS)}")
    return kind


def encode_inputs(
    archs: Sequence[Any],
    kind: str,
    tasks: Sequence[Any] | None = None,
    space: Any = None,
    extra: np.ndarray | None = None,
    encoding: str = "onehot",
) -> Any:
    """The input of a predictor whose ``input_kind`` is ``kind`` for ``archs`` (``encoding``: the flat
    features' block encoding); ``extra``: one row of numbers per architecture, or None."""
    if check_input_kind(kind) == "features":
        X = encode_archs(archs, encoding=encoding, tasks=tasks, space=space)
        return X if extra is None else np.hstack([X, extra])
    if kind == "graphs":
        graphs = encode_graphs(archs, tasks=tasks, space=space)
        return graphs if extra is None else add_global_features(graphs, extra)
    return layer_table(archs, tasks=tasks, space=space, extra=extra).sequences()
