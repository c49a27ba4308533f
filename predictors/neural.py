"""Torch pieces shared by the neural predictors (``gin``, ``gcn``, ``brp``, ``mtlp_jr``): encoders, losses,
training.

Everything runs on the CPU.  All randomness comes from an explicit seed inside :func:`seeded`, so the global
RNG is left untouched, and training runs on one intra-op thread there: multi-threaded float reductions differ
in the last bits from run to run, and the same ``random_state`` must give bit-identical weights.
"""

from __future__ import annotations

import abc
import contextlib
import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from predictors.base import Predictor, check_param, seed_of
from predictors.pyg import pyg

if TYPE_CHECKING:
    from torch_geometric.data import Batch, Data
    from torch_geometric.loader import DataLoader

__all__ = [
    "ENCODERS",
    "FeatureEncoder",
    "GraphEncoder",
    "NeuralPredictor",
    "PaddedSequences",
    "SequenceEncoder",
    "masked_mse",
    "pairwise_ranking_loss",
    "relation_loss",
    "seeded",
]

ENCODERS = ("mlp", "gin", "gcn", "lstm")
RANK_LOSSES = ("logistic", "hinge")


@contextlib.contextmanager
def seeded(seed: int | None) -> Iterator[torch.Generator]:
    """Run a block with torch's CPU RNG seeded and one intra-op thread (both restored afterwards); yields a
    generator for shuffling."""
    seed = seed_of(seed)
    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        torch.set_num_threads(1)
        try:
            yield torch.Generator().manual_seed(seed)
        finally:
            torch.set_num_threads(threads)


class GraphEncoder(nn.Module):
    """GIN or GCN message passing with residual connections, mean + sum pooling -> (graphs, 2 * hidden)."""

    def __init__(self, in_dim: int, hidden: int, layers: int, conv: str) -> None:
        super().__init__()
        gnn = pyg().nn
        self.inp = nn.Linear(in_dim, hidden)
        self.convs = nn.ModuleList()
        for _ in range(layers):
            if conv == "gin":
                mlp = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, hidden))
                self.convs.append(gnn.GINConv(mlp, train_eps=True))
            else:
                self.convs.append(gnn.GCNConv(hidden, hidden))
        self.norms = nn.ModuleList(nn.LayerNorm(hidden) for _ in range(layers))
        self.out_dim = 2 * hidden

    def forward(self, batch: Batch) -> torch.Tensor:
        h = torch.relu(self.inp(batch.x))
        for conv, norm in zip(self.convs, self.norms):
            h = h + torch.relu(norm(conv(h, batch.edge_index)))
        gnn = pyg().nn
        pooled = [gnn.global_mean_pool(h, batch.batch), gnn.global_add_pool(h, batch.batch) / 16.0]
        return torch.cat(pooled, dim=1)


class FeatureEncoder(nn.Module):
    """MLP over standardised flat features -> (rows, hidden)."""

    def __init__(self, in_dim: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("scale", torch.ones(in_dim))
        dims = [in_dim] + [hidden] * layers
        self.mlp = nn.Sequential(*[m for a, b in zip(dims, dims[1:]) for m in (nn.Linear(a, b), nn.ReLU())])
        self.out_dim = hidden

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.mlp((x - self.mean) / self.scale)


class PaddedSequences:
    """Sequences of different lengths as one zero-padded tensor ``x`` (n, longest, width) and ``lengths``;
    ``seqs[rows]`` picks rows like a tensor does."""

    def __init__(self, x: torch.Tensor, lengths: torch.Tensor) -> None:
        self.x, self.lengths = x, lengths

    @classmethod
    def of(cls, seqs: Sequence[np.ndarray]) -> PaddedSequences:
        lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
        x = torch.zeros((len(seqs), int(lengths.max()), seqs[0].shape[1]), dtype=torch.float32)
        for i, s in enumerate(seqs):
            x[i, : len(s)] = torch.as_tensor(s, dtype=torch.float32)
        return cls(x, lengths)

    def __len__(self) -> int:
        return len(self.lengths)

    def __getitem__(self, rows: Any) -> PaddedSequences:
        lengths = self.lengths[rows]
        return PaddedSequences(self.x[rows, : int(lengths.max())], lengths)

    def mask(self) -> torch.Tensor:
        """(n, longest) True on the real tokens."""
        return torch.arange(self.x.shape[1])[None, :] < self.lengths[:, None]


class SequenceEncoder(nn.Module):
    """LSTM over standardised tokens (one per layer) -> (archs, 2 * hidden): the last layer's final hidden
    state and the mean of its outputs over the real tokens (padding is packed away, never read)."""

    def __init__(self, in_dim: int, hidden: int, layers: int) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(in_dim))
        self.register_buffer("scale", torch.ones(in_dim))
        self.inp = nn.Linear(in_dim, hidden)
        self.lstm = nn.LSTM(hidden, hidden, num_layers=layers, batch_first=True)
        self.out_dim = 2 * hidden

    def standardise_on(self, seqs: PaddedSequences) -> None:
        """Set the token mean and scale from the real tokens of ``seqs`` (the training set)."""
        tokens = seqs.x[seqs.mask()]
        std = tokens.std(0) if len(tokens) > 1 else torch.ones(tokens.shape[1])
        self.mean.copy_(tokens.mean(0))
        self.scale.copy_(torch.where(std > 0, std, torch.ones_like(std)))

    def forward(self, seqs: PaddedSequences) -> torch.Tensor:
        h = torch.relu(self.inp((seqs.x - self.mean) / self.scale))
        packed = nn.utils.rnn.pack_padded_sequence(h, seqs.lengths, batch_first=True, enforce_sorted=False)
        out, (last, _) = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=h.shape[1])
        mean = out.sum(1) / seqs.lengths[:, None].to(out.dtype)  # padded outputs are zeros
        return torch.cat([last[-1], mean], dim=1)


def _mean_over_targets(loss: torch.Tensor, valid: torch.Tensor, fallback: torch.Tensor) -> torch.Tensor:
    """Mean over targets of each target's mean ``loss`` over its ``valid`` entries (the leading dims); targets
    with no valid entry are left out, and ``fallback * 0`` keeps the graph when none has one."""
    dims = tuple(range(loss.dim() - 1))
    count = valid.sum(dim=dims)
    if not (count > 0).any():
        return fallback.sum() * 0.0
    per_target = torch.where(valid, loss, torch.zeros_like(loss)).sum(dim=dims) / count.clamp(min=1)
    return per_target[count > 0].mean()


def masked_mse(pred: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over targets of the squared error over the rows that have that target (NaN = missing label).

    Each target weighs the same whatever its number of labels, and a missing label adds nothing: the loss of
    a target equals its loss on the rows that carry it.
    """
    valid = torch.isfinite(targets)
    return _mean_over_targets((pred - torch.nan_to_num(targets)) ** 2, valid, pred)


def pairwise_ranking_loss(
    scores: torch.Tensor, targets: torch.Tensor, kind: str = "logistic"
) -> torch.Tensor:
    """Mean over targets of the mean pairwise ranking loss over that target's ordered pairs in the batch.

    A pair (i, j) with ``targets[i] > targets[j]`` is penalised by ``softplus(-(s_i - s_j))`` (logistic) or
    ``relu(1 - (s_i - s_j))`` (hinge); tied pairs and pairs with a missing label (NaN) are ignored.
    """
    diff = scores.unsqueeze(1) - scores.unsqueeze(0)  # (n, n, t)
    order = targets.unsqueeze(1) - targets.unsqueeze(0)  # NaN where either label is missing
    valid = order > 0
    loss = nn.functional.softplus(-diff) if kind == "logistic" else torch.relu(1.0 - diff)
    return _mean_over_targets(loss, valid, scores)


def relation_loss(logits: torch.Tensor, diff: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of pair logits ``(pairs, t)`` against ``diff = y_A - y_B`` (same shape): mean over
    targets of the mean over that target's pairs, leaving out ties and pairs with a missing label (NaN)."""
    valid = (diff != 0) & diff.isfinite()
    labels = (torch.nan_to_num(diff) > 0).to(logits.dtype)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none")
    return _mean_over_targets(loss, valid, logits)


def graph_loader(
    graphs: Sequence[Data], batch_size: int, shuffle: bool = False, generator=None
) -> DataLoader:
    """PyG loader over copies holding only ``x``, ``edge_index`` and the row index ``idx``."""
    geo = pyg()
    items = [
        geo.data.Data(x=g.x, edge_index=g.edge_index, idx=torch.tensor([i])) for i, g in enumerate(graphs)
    ]
    return geo.loader.DataLoader(items, batch_size=batch_size, shuffle=shuffle, generator=generator)


class NeuralPredictor(Predictor):
    """Shared hyper-parameter checks, target scaling and torch persistence of the neural predictors.

    Subclasses build their network in ``_build_network()`` (stored as ``network_``) from ``n_features_in_``
    and ``n_targets_``; ``_extra_state()`` adds JSON-able fitted attributes to the saved config.
    """

    multi_target = True  # one encoder shared by every target's head
    accepts_missing_targets = True  # NaN labels are masked out of the loss

    def _validate_params(self) -> None:
        super()._validate_params()
        check_param("hidden", self.hidden, "int", low=1)
        check_param("layers", self.layers, "int", low=1)
        check_param("epochs", self.epochs, "int", low=1)
        check_param("min_steps", self.min_steps, "int", low=0)
        check_param("batch_size", self.batch_size, "int", low=2)
        check_param("lr", self.lr, "float", low=0)
        check_param("weight_decay", self.weight_decay, "float", low=0)

    def _scale_targets(self, y: np.ndarray) -> torch.Tensor:
        """``y`` standardised per target over its labelled rows (NaN stays NaN: a missing label)."""
        self.y_mean_ = np.nanmean(y, axis=0)
        std = np.nanstd(y, axis=0)
        self.y_scale_ = np.where(std > 0, std, 1.0)
        return torch.as_tensor((y - self.y_mean_) / self.y_scale_, dtype=torch.float32)

    def _train(
        self,
        batches: Callable[[], Iterable[Any]],
        loss: Callable[[Any], torch.Tensor | None],
        n_rows: int,
    ) -> None:
        """AdamW steps on ``network_`` (cosine learning rate per epoch) over the mini-batches ``batches()``
        yields; a batch whose ``loss`` is None is skipped.

        Runs ``epochs`` passes, or more when that is fewer than ``min_steps`` optimiser steps (default 0:
        no floor), so a small training set (100 architectures are 4 batches of 32) can be given as many
        steps as a large one; the passes actually run are stored as ``epochs_``.
        """
        per_epoch = max(1, math.ceil(n_rows / self.batch_size))
        self.epochs_ = max(self.epochs, math.ceil(self.min_steps / per_epoch))
        opt = torch.optim.AdamW(self.network_.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.epochs_)
        self.network_.train()
        for _ in range(self.epochs_):
            for batch in batches():
                value = loss(batch)
                if value is None:
                    continue
                opt.zero_grad()
                value.backward()
                opt.step()
            sched.step()

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _set_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def _save_state(self, path: Path) -> dict[str, Any]:
        torch.save(self.network_.state_dict(), path / "weights.pt")
        state = {"y_mean_": self.y_mean_, "y_scale_": self.y_scale_, "files": ["weights.pt"]}
        state.update(self._extra_state())
        return state

    def _load_state(self, path: Path, state: dict[str, Any]) -> None:
        self.y_mean_ = np.asarray(state["y_mean_"], dtype=np.float64)
        self.y_scale_ = np.asarray(state["y_scale_"], dtype=np.float64)
        self._set_extra_state(state)
        self.network_ = self._build_network()
        weights = torch.load(path / state["files"][0], weights_only=True, map_location="cpu")
        self.network_.load_state_dict(weights)
        self.network_.eval()

    @abc.abstractmethod
    def _build_network(self) -> nn.Module:
        """The untrained network for ``n_features_in_`` inputs and ``n_targets_`` outputs."""
