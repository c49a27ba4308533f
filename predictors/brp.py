"""Binary-relation predictor (after BRP-NAS and MTLP-JR): f(A, B) = P(target of A > target of B).

Any encoder (``mlp`` on flat features, ``gin`` / ``gcn`` on graphs, ``lstm`` on per-layer sequences) embeds
each architecture; one relation head per target scores a pair, and the relation is antisymmetric by
construction::

    f_t(A, B) = sigmoid(g_t(e_A, e_B) - g_t(e_B, e_A)),   so  f_t(A, B) = 1 - f_t(B, A)  and  f_t(A, A) = 1/2.

``g_t(a, b) = w . relu(U a + V b + c)``: the pair enters through two separate linear maps, so scoring
``n`` candidates against ``m`` anchors costs one embedding per candidate plus an ``(n, m, hidden)`` broadcast
sum, no Python loop over pairs.  Training samples pairs inside shuffled mini-batches (every pair of the batch
whose targets differ) with binary cross-entropy, a mean over targets of each target's mean over its pairs; a
pair where either label is missing (NaN in ``y``) is left out of that target's loss.

``predict(X)`` returns, per target, the mean probability of beating ``n_anchors`` training architectures (a
Borda score in [0, 1]; larger = larger target).  ``rank(X)`` orders a pool by that score, then re-orders its
``refine_top`` best by a round-robin among themselves (BRP-NAS's iterative refinement of the top).

``mtlp_jr`` is the model of MTLP-JR (multi-task latency prediction with joint ranking): an LSTM over the
architecture's layers (:func:`predictors.sequence.encode_sequences`, or any
:class:`~predictors.encoding.LayerTable`) shared by one pairwise head per target, all targets trained
jointly -- this class with ``encoder="lstm"``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from predictors.base import check_param
from predictors.neural import (
    ENCODERS,
    FeatureEncoder,
    GraphEncoder,
    NeuralPredictor,
    PaddedSequences,
    SequenceEncoder,
    graph_loader,
    relation_loss,
    seeded,
)
from predictors.registry import register_predictor

__all__ = ["BinaryRelationPredictor"]

_CHUNK_PAIRS = 1 << 16  # pairs scored per broadcast chunk (memory ~ chunk * hidden floats)


class _RelationNet(nn.Module):
    def __init__(self, encoder: nn.Module, hidden: int, n_targets: int, n_anchors: int) -> None:
        super().__init__()
        self.encoder = encoder
        d = encoder.out_dim
        self.left = nn.ModuleList(nn.Linear(d, hidden) for _ in range(n_targets))
        self.right = nn.ModuleList(nn.Linear(d, hidden, bias=False) for _ in range(n_targets))
        self.out = nn.ModuleList(nn.Linear(hidden, 1, bias=False) for _ in range(n_targets))
        self.register_buffer("anchors", torch.zeros(n_anchors, d))

    def pair_logits(self, ea: torch.Tensor, eb: torch.Tensor) -> torch.Tensor:
        """Logits of P(A > B) for aligned rows, shape (n, n_targets)."""
        cols = []
        for left, right, out in zip(self.left, self.right, self.out):
            g_ab = out(torch.relu(left(ea) + right(eb)))
            g_ba = out(torch.relu(left(eb) + right(ea)))
            cols.append(g_ab - g_ba)
        return torch.cat(cols, dim=1)

    def grid_proba(self, ea: torch.Tensor, eb: torch.Tensor, target: int) -> torch.Tensor:
        """P(A_i > B_j) for every i, j, shape (len(ea), len(eb)), in row chunks."""
        left, right, out = self.left[target], self.right[target], self.out[target]
        la, ra, lb, rb = left(ea), right(ea), left(eb), right(eb)
        rows = max(1, _CHUNK_PAIRS // max(1, len(eb)))
        chunks = []
        for s in range(0, len(ea), rows):
            g_ab = out(torch.relu(la[s : s + rows, None, :] + rb[None, :, :])).squeeze(-1)
            g_ba = out(torch.relu(lb[None, :, :] + ra[s : s + rows, None, :])).squeeze(-1)
            chunks.append(torch.sigmoid(g_ab - g_ba))
        return torch.cat(chunks)


@register_predictor("brp")
@register_predictor("brp_gin", encoder="gin", layers=3)
@register_predictor("mtlp_jr", encoder="lstm", layers=1)
class BinaryRelationPredictor(NeuralPredictor):
    """Antisymmetric pairwise comparator with one relation head per target, and a pool ranker.

    Example::

        >>> import numpy as np
        >>> from predictors import create_predictor
        >>> X = np.random.default_rng(0).random((60, 5))
        >>> brp = create_predictor("brp", epochs=20, random_state=0).fit(X, X.sum(1))
        >>> p = brp.predict_proba_pairs(X[:3], X[3:6])
        >>> bool(np.allclose(p + brp.predict_proba_pairs(X[3:6], X[:3]), 1.0))
        True
        >>> brp.rank(X).shape
        (60,)
    """

    predicts_units = False  # a ranking score

    def __init__(
        self,
        encoder: str = "mlp",
        hidden: int = 64,
        layers: int = 2,
        epochs: int = 100,
        min_steps: int = 0,
        batch_size: int = 64,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        n_anchors: int = 128,
        refine_top: int = 256,
        random_state: int | None = None,
    ) -> None:
        self.encoder = encoder
        self.hidden = hidden
        self.layers = layers
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.n_anchors = n_anchors
        self.refine_top = refine_top
        self.random_state = random_state

    @property
    def input_kind(self) -> str:
        """``"features"`` for ``mlp``, ``"sequences"`` for ``lstm``, else ``"graphs"``."""
        return {"mlp": "features", "lstm": "sequences"}.get(self.encoder, "graphs")

    def _validate_params(self) -> None:
        check_param("encoder", self.encoder, "choice", choices=ENCODERS)
        super()._validate_params()
        check_param("n_anchors", self.n_anchors, "int", low=1)
        check_param("refine_top", self.refine_top, "int", low=0)

    def _build_network(self) -> nn.Module:
        if self.encoder == "mlp":
            enc: nn.Module = FeatureEncoder(self.n_features_in_, self.hidden, self.layers)
        elif self.encoder == "lstm":
            enc = SequenceEncoder(self.n_features_in_, self.hidden, self.layers)
        else:
            enc = GraphEncoder(self.n_features_in_, self.hidden, self.layers, self.encoder)
        return _RelationNet(enc, self.hidden, self.n_targets_, self.n_anchors_)

    def _embed(self, X: Any) -> torch.Tensor:
        """Embeddings of every row / graph of ``X`` (eval mode, no grad)."""
        self.network_.eval()
        with torch.no_grad():
            if self.input_kind == "features":
                return self.network_.encoder(torch.as_tensor(X, dtype=torch.float32))
            if self.input_kind == "sequences":
                chunks = [PaddedSequences.of(X[s : s + 1024]) for s in range(0, len(X), 1024)]
                return torch.cat([self.network_.encoder(c) for c in chunks])
            return torch.cat([self.network_.encoder(b) for b in graph_loader(X, batch_size=1024)])

    def _batches(self, X: Any, gen: torch.Generator):
        """Shuffled (inputs, row indices) mini-batches for one epoch."""
        if self.input_kind == "graphs":
            for batch in graph_loader(X, self.batch_size, shuffle=True, generator=gen):
                yield batch, batch.idx
        else:
            perm = torch.randperm(len(X), generator=gen)
            for s in range(0, len(X), self.batch_size):
                idx = perm[s : s + self.batch_size]
                yield X[idx], idx

    def _fit(self, X: Any, y: np.ndarray) -> None:
        targets = torch.as_tensor(y, dtype=torch.float32)
        n = len(X)
        self.n_anchors_ = min(self.n_anchors, n)
        self.y_mean_, self.y_scale_ = np.zeros(y.shape[1]), np.ones(y.shape[1])
        inputs = {"features": lambda: torch.as_tensor(X, dtype=torch.float32), "graphs": lambda: X,
                  "sequences": lambda: PaddedSequences.of(X)}[self.input_kind]()  # fmt: skip

        def pair_loss(batch: tuple[Any, torch.Tensor]) -> torch.Tensor | None:
            inp, idx = batch
            if len(idx) < 2:
                return None
            emb = self.network_.encoder(inp)
            i, j = torch.triu_indices(len(idx), len(idx), offset=1)
            t = targets[idx]
            diff = t[i] - t[j]  # NaN where either label is missing
            if not ((diff != 0) & diff.isfinite()).any():
                return None
            return relation_loss(self.network_.pair_logits(emb[i], emb[j]), diff)

        with seeded(self.random_state) as gen:
            self.network_ = self._build_network()
            if self.input_kind == "features":
                self.network_.encoder.mean.copy_(inputs.mean(0))
                std = inputs.std(0) if n > 1 else torch.ones(inputs.shape[1])
                self.network_.encoder.scale.copy_(torch.where(std > 0, std, torch.ones_like(std)))
            elif self.input_kind == "sequences":
                self.network_.encoder.standardise_on(inputs)
            self._train(lambda: self._batches(inputs, gen), pair_loss, n)
            anchor_rows = torch.randperm(n, generator=gen)[: self.n_anchors_]
        picked = X[anchor_rows.numpy()] if self.input_kind == "features" else [X[int(r)] for r in anchor_rows]
        self.network_.anchors.copy_(self._embed(picked))

    def _predict(self, X: Any) -> np.ndarray:
        emb = self._embed(X)
        with torch.no_grad():
            cols = [
                self.network_.grid_proba(emb, self.network_.anchors, t).mean(1)
                for t in range(self.n_targets_)
            ]
        return torch.stack(cols, dim=1).numpy().astype(np.float64)

    def predict_proba_pairs(self, XA: Any, XB: Any) -> np.ndarray:
        """P(target of ``XA[i]`` > target of ``XB[i]``) per aligned pair: shape (n,) or (n, n_targets)."""
        self._check_fitted()
        XA, XB = self._check_X(XA, fitted=True), self._check_X(XB, fitted=True)
        if len(XA) != len(XB):
            raise ValueError(f"invalid pairs: {len(XA)} A rows and {len(XB)} B rows; allowed: equal lengths")
        with torch.no_grad():
            proba = torch.sigmoid(self.network_.pair_logits(self._embed(XA), self._embed(XB))).numpy()
        proba = proba.astype(np.float64)
        return proba[:, 0] if self.y_ndim_ == 1 else proba

    def rank(self, X: Any, target: int = 0) -> np.ndarray:
        """Indices of ``X`` from the largest predicted ``target`` to the smallest.

        Borda score against the anchors, then the ``refine_top`` best re-ordered by their mean win probability
        against each other (cost ``O(n * n_anchors + refine_top**2)`` pair scores, all vectorised).
        """
        self._check_target(target)
        X = self._check_X(X, fitted=True)
        emb = self._embed(X)
        with torch.no_grad():
            score = self.network_.grid_proba(emb, self.network_.anchors, target).mean(1).numpy()
            order = np.argsort(-score, kind="stable")
            k = min(self.refine_top, len(order))
            if k > 1:
                top = order[:k]
                sub = torch.as_tensor(top)
                wins = self.network_.grid_proba(emb[sub], emb[sub], target).mean(1).numpy()
                order[:k] = top[np.lexsort((-score[top], -wins))]
        return order

    def _extra_state(self) -> dict[str, Any]:
        return {"n_anchors_": self.n_anchors_}

    def _set_extra_state(self, state: dict[str, Any]) -> None:
        self.n_anchors_ = int(state["n_anchors_"])
