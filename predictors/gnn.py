"""Graph neural network predictors ``gin`` and ``gcn`` (torch-geometric), multi-task after MTLP-JR.

One shared graph encoder feeds one small head per target, so latency, accuracy, parameters and FLOPs are
learned from common features.  Targets are standardised; the loss is MSE plus ``rank_weight`` times a
pairwise ranking loss (logistic or hinge) over all pairs of a mini-batch, each a mean over targets of the
target's own mean.  A missing label (NaN in ``y``) is left out of both terms, so a target that only some
architectures carry (accuracy) can be fitted beside free ones that all carry (exact costs).  Input: any list
of PyG graphs with float node features of one width, e.g. :func:`predictors.graph.encode_graphs`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from predictors.base import check_param
from predictors.neural import (
    RANK_LOSSES,
    GraphEncoder,
    NeuralPredictor,
    graph_loader,
    masked_mse,
    pairwise_ranking_loss,
    seeded,
)
from predictors.registry import register_predictor

if TYPE_CHECKING:
    from torch_geometric.data import Batch

__all__ = ["GNNPredictor"]


class _MultiHeadGNN(nn.Module):
    def __init__(self, in_dim: int, hidden: int, layers: int, conv: str, n_targets: int) -> None:
        super().__init__()
        self.encoder = GraphEncoder(in_dim, hidden, layers, conv)
        d = self.encoder.out_dim
        self.heads = nn.ModuleList(
            nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, 1)) for _ in range(n_targets)
        )

    def forward(self, batch: Batch) -> torch.Tensor:
        z = self.encoder(batch)
        return torch.cat([head(z) for head in self.heads], dim=1)


@register_predictor("gin", conv="gin")
@register_predictor("gcn", conv="gcn")
class GNNPredictor(NeuralPredictor):
    """Shared GIN/GCN encoder with one head per target; ``predict`` is in target units.

    Example::

        >>> from nasbench_mt import V1
        >>> from predictors import create_predictor, encode_graphs
        >>> archs = V1.sample(20, seed=0)
        >>> graphs = encode_graphs(archs)
        >>> y = [len(g.x) for g in graphs]
        >>> create_predictor("gin", epochs=5, random_state=0).fit(graphs, y).predict(graphs[:4]).shape
        (4,)
    """

    input_kind = "graphs"

    def __init__(
        self,
        conv: str = "gin",
        hidden: int = 64,
        layers: int = 3,
        epochs: int = 100,
        min_steps: int = 0,
        batch_size: int = 32,
        lr: float = 2e-3,
        weight_decay: float = 1e-4,
        rank_loss: str = "logistic",
        rank_weight: float = 1.0,
        random_state: int | None = None,
    ) -> None:
        self.conv = conv
        self.hidden = hidden
        self.layers = layers
        self.epochs = epochs
        self.min_steps = min_steps
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.rank_loss = rank_loss
        self.rank_weight = rank_weight
        self.random_state = random_state

    def _validate_params(self) -> None:
        super()._validate_params()
        check_param("conv", self.conv, "choice", choices=("gin", "gcn"))
        check_param("rank_loss", self.rank_loss, "choice", choices=RANK_LOSSES)
        check_param("rank_weight", self.rank_weight, "float", low=0)

    def _build_network(self) -> nn.Module:
        return _MultiHeadGNN(self.n_features_in_, self.hidden, self.layers, self.conv, self.n_targets_)

    def _fit(self, X: list, y: np.ndarray) -> None:
        targets = self._scale_targets(y)

        def batch_loss(batch: Batch) -> torch.Tensor:
            t = targets[batch.idx]
            pred = self.network_(batch)
            loss = masked_mse(pred, t)
            if self.rank_weight > 0:
                loss = loss + self.rank_weight * pairwise_ranking_loss(pred, t, self.rank_loss)
            return loss

        with seeded(self.random_state) as gen:
            self.network_ = self._build_network()
            loader = graph_loader(X, self.batch_size, shuffle=True, generator=gen)
            self._train(lambda: loader, batch_loss, len(X))
        self.network_.eval()

    def _predict(self, X: list) -> np.ndarray:
        out = []
        with torch.no_grad():
            for batch in graph_loader(X, batch_size=1024):
                out.append(self.network_(batch).numpy())
        return np.concatenate(out).astype(np.float64) * self.y_scale_ + self.y_mean_
