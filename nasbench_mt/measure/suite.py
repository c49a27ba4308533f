"""What a dataset suite is (:class:`Suite` of three :class:`Split` arrays) and the registry of suites by name.

The built-in suites register themselves in :mod:`nasbench_mt.measure.datasets` (MNIST scenes),
:mod:`nasbench_mt.measure.folder_datasets` and :mod:`nasbench_mt.measure.face_datasets`;
:func:`nasbench_mt.measure.datasets.load_suite` builds one by name.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from nasbench_mt.space.tasks import TaskSpec

__all__ = ["SPLIT_NAMES", "SUITES", "Split", "Suite", "cache_dir", "register_suite"]

SPLIT_NAMES = ("train", "val", "test")


@dataclass(frozen=True)
class Split:
    """Images as uint8 ``(N, C, H, W)`` plus one target array per task (int64 labels or float32 values)."""

    images: np.ndarray
    targets: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.images)

    def tensors(
        self, index: slice | np.ndarray | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Float images in [0, 1] and target tensors for ``index`` (default: all)."""
        idx = slice(None) if index is None else index
        x = torch.from_numpy(np.ascontiguousarray(self.images[idx])).float().div_(255.0)
        y = {k: torch.from_numpy(np.ascontiguousarray(v[idx])) for k, v in self.targets.items()}
        return x, y


@dataclass(frozen=True)
class Suite:
    """A multi-task dataset: task declarations and the three splits."""

    name: str
    tasks: tuple[TaskSpec, ...]
    train: Split
    val: Split
    test: Split
    fingerprint: str = ""

    def split(self, name: str) -> Split:
        if name not in SPLIT_NAMES:
            raise ValueError(f"invalid split: {name!r}; allowed: {list(SPLIT_NAMES)}")
        return getattr(self, name)


SUITES: dict[str, Callable[..., Suite]] = {}


def register_suite(name: str) -> Callable[[Callable[..., Suite]], Callable[..., Suite]]:
    def deco(fn: Callable[..., Suite]) -> Callable[..., Suite]:
        SUITES[name] = fn
        return fn

    return deco


def cache_dir() -> Path:
    """``$NASBENCH_MT_CACHE`` or ``~/.cache/nasbench-mt``."""
    return Path(os.environ.get("NASBENCH_MT_CACHE", Path.home() / ".cache" / "nasbench-mt"))
