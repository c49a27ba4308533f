"""Your own data: dataset suites read from a local folder of images plus labels (never a download).

``image-folder`` (``load_suite("image-folder", ...)``; on the command line ``--suite image-folder
--suite-arg config=labels.json``) reads an image folder plus a CSV (``.csv``, ``.tsv``) or Parquet file with
one row per image, declared by a :class:`FolderConfig` (or a JSON file of the same fields): the image column
(paths relative to the folder), one :class:`LabelColumn` per task and an optional split column (``train`` /
``val`` / ``test`` or 0 / 1 / 2).  A task is any kind the package measures: classification (its number of
classes or the list of them), regression of one value or several (from several columns or one list-valued
column; 2-D points such as facial landmarks are scored by the normalised mean error, NME), or dense per-pixel
classes from mask images (a column of mask paths; scored by mIoU).  The UTKFace, CelebA and MTFL layouts are
read by :mod:`nasbench_mt.measure.face_datasets` through the same :func:`build_suite`.

Every such suite validates all of its input when it is loaded, before anything is trained or measured: a
missing image or mask, an unknown label column, a label outside its declared range (a mask value outside its
classes), a wrong number of values, an unreadable image or a malformed line raises a ``ValueError`` naming the
file and line.  Images are centre-cropped to a square (``crop="none"`` stretches instead), resized to the
space's 32x32 input with PIL's bicubic filter (JPEGs are first decoded at a reduced scale, which PIL does
deterministically) and stored as RGB uint8 ``(N, 3, 32, 32)``; masks get the same crop and a nearest-neighbour
resize to the task's ``out_size``.  Without a split column the split is a fixed seeded permutation of the
images sorted by path (``val_frac`` / ``test_frac``).  The arrays are cached under
:func:`~nasbench_mt.measure.datasets.cache_dir`, keyed by a hash of the configuration, the labels and every
image's and mask's path, size and modification time, so any change rebuilds them.
A suite declares any number of tasks (one branch point each in the search space of its release).

Regression targets stay in their units in the arrays (points: fractions of the cropped image the network
sees); the tasks record the training split's mean and standard deviation (heads train on the standardised
target, MAE is reported in the original units) and a ``tolerance``: a test sample counts as correct in the
per-sample records when its absolute error (points: its NME) is at most the tolerance (default: half the
training standard deviation; points: 0.1).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from nasbench_mt.measure.evaluate import points_scale
from nasbench_mt.measure.suite import SPLIT_NAMES, Split, Suite, cache_dir, register_suite
from nasbench_mt.space.tasks import TaskSpec

__all__ = ["FolderConfig", "ImageRecord", "LabelColumn", "build_suite", "image_folder", "list_images"]

FOLDER_VERSION = 2  # bump when decoding or splitting changes: cached arrays are keyed by it
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SPLIT_VALUES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
SPLIT_VALUES |= {"0": "train", "1": "val", "2": "test"}
CROPS = ("center", "none")
MASK_MODES = ("1", "L", "P", "I", "I;16")
LABEL_KINDS = ("classification", "regression", "dense")
POINT_LAYOUTS = ("xy", "xxyy")


@dataclass(frozen=True)
class LabelColumn:
    """One task read from one label column (or, for several values, several columns).

    ``kind`` is

    - ``classification``: integer labels ``0..num_classes-1``, or the values listed in ``classes``;
    - ``regression``: finite numbers, inside ``value_range`` when given.  ``num_values > 1`` (or a list of
      columns in ``column``) regresses several values: from those columns in order, or from one list-valued
      cell (a Parquet list, a JSON list, or numbers separated by spaces, commas or semicolons).  With
      ``points > 0`` the ``2 * points`` values are 2-D points in the source image's pixels (landmarks),
      ordered ``x1, y1, x2, y2, ...`` (``layout="xy"``) or ``x1..xP, y1..yP`` (``layout="xxyy"``); the suite
      stores them as fractions of the network input (after the crop and resize) and scores them by NME,
      normalised by the distance between the two points ``norm_points`` (0-based, e.g. the eye centres) or
      by the points' bounding-box size;
    - ``dense``: the cell is the path of a single-channel mask image (relative to the image folder) of the
      image's size whose pixel values are the classes ``0..num_classes-1``; it is cropped like the image and
      resized to ``out_size`` x ``out_size`` with nearest-neighbour sampling, and scored by mIoU.

    ``name`` is the task name (default: the column, lower-cased, made an identifier; required with several
    columns); ``tolerance``: a sample is correct within this absolute error (regression; default half the
    training standard deviation) or NME (points; default 0.1).
    """

    column: str | tuple[str, ...]
    kind: str = "classification"
    num_classes: int = 0
    classes: tuple[str, ...] = ()
    name: str = ""
    tolerance: float | None = None
    value_range: tuple[float, float] | None = None
    num_values: int = 0
    points: int = 0
    layout: str = "xy"
    norm_points: tuple[int, ...] = ()
    out_size: int = 16

    def __post_init__(self) -> None:
        if self.kind not in LABEL_KINDS:
            raise ValueError(
                f"invalid kind of label column {self.column!r}: {self.kind!r}; allowed: {list(LABEL_KINDS)}"
            )
        if not isinstance(self.column, str):
            object.__setattr__(self, "column", tuple(str(c) for c in self.column))
            if self.kind != "regression" or not self.column or not self.name:
                raise ValueError(
                    f"invalid column: {list(self.column)}; allowed: a list of columns only for a regression "
                    "task with a name"
                )
        if self.classes:
            object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
            if self.num_classes not in (0, len(self.classes)):
                raise ValueError(
                    f"invalid num_classes of label column {self.column!r}: {self.num_classes} but "
                    f"{len(self.classes)} classes listed; allowed: equal, or leave num_classes out"
                )
            object.__setattr__(self, "num_classes", len(self.classes))
        if self.kind != "regression" and (not isinstance(self.num_classes, int) or self.num_classes < 2):
            raise ValueError(
                f"invalid num_classes of label column {self.column!r}: {self.num_classes!r}; "
                "allowed: an int >= 2 (or a list of classes)"
            )
        if self.value_range is not None:
            object.__setattr__(self, "value_range", tuple(float(v) for v in self.value_range))
        object.__setattr__(self, "norm_points", tuple(self.norm_points))
        self._check_values()
        if self.kind == "dense" and (not isinstance(self.out_size, int) or not 1 <= self.out_size <= 64):
            raise ValueError(
                f"invalid out_size of label column {self.column!r}: {self.out_size!r}; "
                "allowed: an int in 1..64"
            )

    def _check_values(self) -> None:
        """``num_values``, ``points`` and ``layout``: consistent, and only on a regression column."""
        several = not isinstance(self.column, str)
        n = self.num_values or (len(self.column) if several else 2 * self.points or 1)
        if self.kind != "regression" and (self.num_values or self.points):
            raise ValueError(
                f"invalid num_values/points of label column {self.column!r}: allowed only with kind "
                "'regression'"
            )
        if not isinstance(n, int) or n < 1 or (several and n != len(self.column)):
            raise ValueError(
                f"invalid num_values of label column {self.column!r}: {self.num_values!r}; allowed: an int "
                ">= 1 (the number of columns when several are listed)"
            )
        if not isinstance(self.points, int) or self.points < 0 or (self.points and n != 2 * self.points):
            raise ValueError(
                f"invalid points of label column {self.column!r}: {self.points!r} with {n} values; "
                "allowed: num_values = 2 * points"
            )
        if self.layout not in POINT_LAYOUTS:
            raise ValueError(
                f"invalid layout of label column {self.column!r}: {self.layout!r}; allowed: "
                f"{list(POINT_LAYOUTS)}"
            )
        if self.kind == "regression":
            object.__setattr__(self, "num_values", n)
            self.task(0.0, 1.0)  # TaskSpec's own checks (norm_points, ...) fail here, before any file is read

    @property
    def columns(self) -> tuple[str, ...]:
        """The label-file columns this task reads."""
        return (self.column,) if isinstance(self.column, str) else self.column

    @property
    def task_name(self) -> str:
        if self.name:
            return self.name
        name = re.sub(r"\W", "_", str(self.column).strip().lower())
        return f"a_{name}" if not name.isidentifier() else name

    def task(self, mean: float = 0.0, std: float = 1.0) -> TaskSpec:
        """The :class:`TaskSpec` of this column (regression: with the training split's mean and std)."""
        if self.kind != "regression":
            size = {"out_size": self.out_size} if self.kind == "dense" else {}
            return TaskSpec(self.task_name, self.kind, self.num_classes, **size)
        default = 0.1 if self.points else 0.5 * std
        return TaskSpec(
            self.task_name,
            "regression",
            self.num_values,
            target_mean=mean,
            target_std=std,
            tolerance=default if self.tolerance is None else float(self.tolerance),
            points=self.points,
            norm_points=self.norm_points,
        )

    def parse(self, value: object, where: str) -> float | int | str | tuple[float, ...]:
        """The label of one cell (several values: a list-valued cell or a sequence of cells; dense: the mask
        path as written), or a ``ValueError`` naming ``where`` (file and line)."""
        if self.kind == "regression" and self.num_values > 1:
            return self._parse_values(value, where)
        text = "" if value is None else str(value).strip()
        if text == "" or text.lower() == "nan":
            raise ValueError(f"{where}: missing value in label column {self.column!r}")
        if self.kind == "dense":
            return text
        if self.kind == "regression":
            return self._number(text, self.column, where)
        if self.classes:
            if text not in self.classes:
                raise ValueError(
                    f"{where}: label {self.column}={text!r} out of the declared classes {list(self.classes)}"
                )
            return self.classes.index(text)
        try:
            x = float(text)
        except ValueError:
            x = math.nan
        if not (x.is_integer() and 0 <= x < self.num_classes):
            raise ValueError(
                f"{where}: label {self.column}={text!r} out of the declared range 0..{self.num_classes - 1}"
            )
        return int(x)

    def _number(self, text: str, column: str, where: str) -> float:
        try:
            x = float(text)
        except ValueError:
            raise ValueError(f"{where}: label {column}={text!r} is not a number") from None
        lo, hi = self.value_range or (-math.inf, math.inf)
        if not (math.isfinite(x) and lo <= x <= hi):
            raise ValueError(
                f"{where}: label {column}={text!r} out of the declared range "
                f"{list(self.value_range) if self.value_range else 'finite numbers'}"
            )
        return x

    def _parse_values(self, value: object, where: str) -> tuple[float, ...]:
        if isinstance(value, str) or value is None:
            text = "" if value is None else value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except json.JSONDecodeError:
                    raise ValueError(
                        f"{where}: label {self.column}={text!r} is not a list of numbers"
                    ) from None
            else:
                value = [v for v in re.split(r"[\s,;]+", text) if v]
        cells = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
        if len(cells) != self.num_values:
            what = "coordinates" if self.points else "values"
            raise ValueError(
                f"{where}: label {self.task_name} has {len(cells)} {what}; expected {self.num_values}"
                + (f" ({self.points} points)" if self.points else "")
            )
        names = self.columns if len(self.columns) == len(cells) else [self.column] * len(cells)
        out = []
        for name, cell in zip(names, cells):
            text = "" if cell is None else str(cell).strip()
            if text == "" or text.lower() == "nan":
                raise ValueError(f"{where}: missing value in label column {name!r}")
            out.append(self._number(text, name, where))
        return tuple(out)


@dataclass(frozen=True)
class FolderConfig:
    """An image folder plus a CSV/Parquet label file (a JSON config's relative paths start at its folder)."""

    images: str
    labels: str
    tasks: tuple[LabelColumn, ...]
    image_column: str = "image"
    split_column: str | None = None
    val_frac: float = 0.15
    test_frac: float = 0.15
    seed: int = 0
    max_images: int = 0
    crop: str = "center"

    def __post_init__(self) -> None:
        tasks = tuple(t if isinstance(t, LabelColumn) else _from_dict(LabelColumn, t) for t in self.tasks)
        object.__setattr__(self, "tasks", tasks)

    @classmethod
    def from_json(cls, path: str | os.PathLike[str]) -> FolderConfig:
        path = Path(path)
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ValueError(f"config file {path} does not exist") from None
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} line {err.lineno}: invalid JSON ({err.msg})") from None
        if not isinstance(data, dict):
            raise ValueError(f"{path}: expected a JSON object with the fields of FolderConfig")
        for key in ("images", "labels"):
            if isinstance(data.get(key), str):
                data[key] = str(path.parent / data[key])
        return _from_dict(cls, data, where=str(path))


def _from_dict(cls, data: dict, where: str = ""):
    allowed = [f.name for f in fields(cls)]
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise ValueError(f"{where or cls.__name__}: unknown keys {unknown}; allowed: {allowed}")
    try:
        return cls(**data)
    except TypeError as err:
        raise ValueError(f"{where or cls.__name__}: {err}") from None


@dataclass
class ImageRecord:
    """One image with its parsed labels (in the order of the suite's columns) and, if given, its split."""

    path: Path
    where: str  # "file line N" (or the image file itself), for error messages
    labels: tuple[float | int, ...]
    split: str | None = None
    key: str = field(default="")  # the path as listed, for sorting and hashing


# ------------------------------------------------------------------------------------------ building
def _crop_box(w: int, h: int, crop: str) -> tuple[int, int, int, int]:
    """``(left, top, width, height)`` of the part of a ``w`` x ``h`` image the network sees."""
    if crop == "center":
        side = min(w, h)
        return (w - side) // 2, (h - side) // 2, side, side
    return 0, 0, w, h


def _load_image(path: Path, where: str, crop: str, size: int) -> tuple[np.ndarray, tuple[int, int]]:
    """The image as RGB uint8 ``(3, size, size)`` and its size ``(width, height)`` as stored."""
    from PIL import Image

    try:
        with Image.open(path) as img:
            full = img.size
            img.draft("RGB", (2 * size, 2 * size))  # JPEG: decode at a reduced scale (deterministic)
            img = img.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"{where}: image {path} is unreadable ({type(err).__name__}: {err})") from None
    left, top, w, h = _crop_box(*img.size, crop)
    img = img.crop((left, top, left + w, top + h)).resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1), full


def _load_mask(
    path: Path, where: str, column: LabelColumn, crop: str, image_size: tuple[int, int]
) -> np.ndarray:
    """A class-index mask as uint8 ``(out_size, out_size)``: checked, cropped like its image, resized with
    nearest-neighbour sampling (the class at each output pixel's centre)."""
    from PIL import Image

    if not path.is_file():
        raise ValueError(f"{where}: mask {path} does not exist")
    try:
        with Image.open(path) as img:
            mode = img.mode
            arr = np.asarray(img) if mode in MASK_MODES else None
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"{where}: mask {path} is unreadable ({type(err).__name__}: {err})") from None
    if arr is None:
        raise ValueError(
            f"{where}: mask {path} has mode {mode}; allowed: a single-channel image {list(MASK_MODES)} whose "
            "pixel values are the classes"
        )
    h, w = arr.shape
    if (w, h) != tuple(image_size):
        raise ValueError(
            f"{where}: mask {path} is {w}x{h} but its image is {image_size[0]}x{image_size[1]}; allowed: a "
            "mask of the image's size"
        )
    top_value = int(arr.max()) if arr.min() >= 0 else int(arr.min())
    if not 0 <= top_value < column.num_classes:
        raise ValueError(
            f"{where}: mask {path} has the value {top_value} out of the declared classes "
            f"0..{column.num_classes - 1} of {column.task_name!r}"
        )
    left, top, cw, ch = _crop_box(w, h, crop)
    n = column.out_size
    rows = top + np.minimum(((np.arange(n) + 0.5) * ch / n).astype(int), ch - 1)
    cols = left + np.minimum(((np.arange(n) + 0.5) * cw / n).astype(int), cw - 1)
    return arr[np.ix_(rows, cols)].astype(np.uint8)


def _load_record(
    r: ImageRecord, columns: Sequence[LabelColumn], crop: str, size: int, root: Path | None
) -> tuple[np.ndarray, tuple[int, int], list[np.ndarray]]:
    image, full = _load_image(r.path, r.where, crop, size)
    masks = [
        _load_mask(_mask_path(r.labels[j], r.path, root), r.where, c, crop, full)
        for j, c in enumerate(columns)
        if c.kind == "dense"
    ]
    return image, full, masks


def _mask_path(value: object, image: Path, root: Path | None) -> Path:
    """A dense label's mask file: as written, relative to the image folder (``root``) or else the image's."""
    path = Path(str(value))
    return path if path.is_absolute() else (root if root is not None else image.parent) / path


def _assign_splits(
    records: list[ImageRecord], val_frac: float, test_frac: float, seed: int, name: str
) -> None:
    if not (0 < val_frac < 1 and 0 < test_frac < 1 and val_frac + test_frac < 1):
        raise ValueError(
            f"invalid val_frac/test_frac of suite {name!r}: {val_frac}, {test_frac}; "
            "allowed: each in (0, 1), summing below 1"
        )
    n = len(records)
    n_test, n_val = max(1, round(test_frac * n)), max(1, round(val_frac * n))
    perm = np.random.default_rng(seed).permutation(n)
    for rank, i in enumerate(perm):
        records[i].split = "test" if rank < n_test else "val" if rank < n_test + n_val else "train"


def check_columns(name: str, columns: Sequence[LabelColumn]) -> None:
    if not columns:
        raise ValueError(
            f"suite {name!r} declares no tasks; allowed: one label column per task, at least one"
        )
    names = [c.task_name for c in columns]
    if len(set(names)) != len(names):
        raise ValueError(f"suite {name!r} declares duplicate task names {names}; allowed: distinct names")


def build_suite(
    name: str,
    columns: Sequence[LabelColumn],
    records: list[ImageRecord],
    *,
    seed: int = 0,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    max_images: int = 0,
    crop: str = "center",
    cache: bool = True,
    size: int = 32,
    mask_root: Path | None = None,
) -> Suite:
    """Validate ``records`` (labels already parsed), split, decode (or load the cache) and build the suite.

    Dense labels are mask paths, relative to ``mask_root`` (default: each image's own folder)."""
    check_columns(name, columns)
    if crop not in CROPS:
        raise ValueError(f"invalid crop: {crop!r}; allowed: {list(CROPS)}")
    if not isinstance(max_images, int) or max_images < 0:
        raise ValueError(f"invalid max_images: {max_images!r}; allowed: an int >= 0 (0 = all)")
    if not records:
        raise ValueError(f"suite {name!r}: no images found")
    records = sorted(records, key=lambda r: r.key or str(r.path))
    for a, b in zip(records, records[1:]):
        if (a.key or str(a.path)) == (b.key or str(b.path)):
            raise ValueError(f"{b.where}: image {b.path} is listed twice (also at {a.where})")
    if max_images and max_images < len(records):
        keep = np.sort(np.random.default_rng(seed).choice(len(records), size=max_images, replace=False))
        records = [records[i] for i in keep]
    dense = [j for j, c in enumerate(columns) if c.kind == "dense"]
    stats = []
    for r in records:
        try:
            st = r.path.stat()
        except OSError:
            raise ValueError(f"{r.where}: image {r.path} does not exist") from None
        if not r.path.is_file():
            raise ValueError(f"{r.where}: image {r.path} is not a file")
        stats.append((r.key or str(r.path), st.st_size, st.st_mtime_ns))
        for j in dense:
            mask = _mask_path(r.labels[j], r.path, mask_root)
            if not mask.is_file():
                raise ValueError(f"{r.where}: mask {mask} does not exist")
            st = mask.stat()
            stats.append((str(mask), st.st_size, st.st_mtime_ns))
    if all(r.split is None for r in records):
        _assign_splits(records, val_frac, test_frac, seed, name)
    for split in SPLIT_NAMES:
        if not any(r.split == split for r in records):
            raise ValueError(
                f"suite {name!r}: the {split!r} split is empty ({len(records)} images); "
                "allowed: more images, or every split named in the split column / partition file"
            )
    digest = hashlib.sha256(
        json.dumps(
            {
                "version": FOLDER_VERSION,
                "size": size,
                "crop": crop,
                "columns": [asdict(c) for c in columns],
                "files": stats,
                "labels": [r.labels for r in records],
                "splits": [r.split for r in records],
            },
            default=str,
        ).encode()
    ).hexdigest()
    path = cache_dir() / f"{name}-{digest[:20]}.npz"
    if cache and path.exists():
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    else:
        arrays = _decode(records, columns, crop, size, mask_root)
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
            np.savez(tmp, **arrays)
            os.replace(tmp, path)
    return _make_suite(name, columns, records, arrays, crop)


def _decode(
    records: list[ImageRecord], columns: Sequence[LabelColumn], crop: str, size: int, root: Path | None
) -> dict[str, np.ndarray]:
    """``images`` (N, 3, size, size), ``sizes`` (N, 2: width, height as stored) and ``mask_{j}`` per dense
    column ``j``, decoded in a thread pool; the first bad file in order raises."""
    images = np.empty((len(records), 3, size, size), dtype=np.uint8)
    sizes = np.empty((len(records), 2), dtype=np.int64)
    dense = [j for j, c in enumerate(columns) if c.kind == "dense"]
    masks = {j: np.empty((len(records), columns[j].out_size, columns[j].out_size), np.uint8) for j in dense}
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
        try:
            for i, (image, full, ms) in enumerate(
                pool.map(lambda r: _load_record(r, columns, crop, size, root), records)
            ):
                images[i], sizes[i] = image, full
                for j, m in zip(dense, ms):
                    masks[j][i] = m
        except ValueError:  # the first bad file in order; do not decode the rest
            pool.shutdown(cancel_futures=True)
            raise
    return {"images": images, "sizes": sizes, **{f"mask_{j}": m for j, m in masks.items()}}


def _points_in_input(values: np.ndarray, sizes: np.ndarray, column: LabelColumn, crop: str) -> np.ndarray:
    """Pixel points ``(N, 2P)`` in ``column.layout`` -> ``x1, y1, x2, y2, ...`` as fractions of the cropped
    image the network sees (0..1 inside it)."""
    n, p = len(values), column.points
    pts = values.reshape(n, 2, p).transpose(0, 2, 1) if column.layout == "xxyy" else values.reshape(n, p, 2)
    boxes = np.array([_crop_box(int(w), int(h), crop) for w, h in sizes], dtype=np.float64).reshape(n, 4)
    out = (pts - boxes[:, None, :2]) / boxes[:, None, 2:]
    return out.reshape(n, 2 * p)


def _target_array(
    j: int, column: LabelColumn, records: list[ImageRecord], arrays: dict[str, np.ndarray], crop: str
) -> np.ndarray:
    """The whole suite's target array of column ``j`` (before splitting)."""
    if column.kind == "dense":
        return arrays[f"mask_{j}"].astype(np.int64)
    values = np.array([r.labels[j] for r in records], dtype=np.float64)
    if column.kind == "classification":
        return values.astype(np.int64)
    if column.points:
        values = _points_in_input(values, arrays["sizes"], column, crop)
        scale = points_scale(column.task(), torch.from_numpy(values)).numpy()
        bad = np.flatnonzero(~(np.isfinite(scale) & (scale > 0)))
        if len(bad):
            what = (
                "points {} and {} coincide".format(*column.norm_points)
                if column.norm_points
                else ("the points' bounding box has no area")
            )
            raise ValueError(
                f"{records[bad[0]].where}: label {column.task_name}: {what}, so its NME has no scale; "
                "allowed: points whose normaliser is positive"
            )
    return values.astype(np.float32)


def _make_suite(
    name: str,
    columns: Sequence[LabelColumn],
    records: list[ImageRecord],
    arrays: dict[str, np.ndarray],
    crop: str = "center",
) -> Suite:
    which = np.array([r.split for r in records])
    images = arrays["images"]
    targets = [_target_array(j, c, records, arrays, crop) for j, c in enumerate(columns)]
    splits = {}
    for split in SPLIT_NAMES:
        idx = np.flatnonzero(which == split)
        splits[split] = Split(
            np.ascontiguousarray(images[idx]),
            {c.task_name: np.ascontiguousarray(t[idx]) for c, t in zip(columns, targets)},
        )
    tasks = []
    for c in columns:
        if c.kind != "regression":
            tasks.append(c.task())
            continue
        y = splits["train"].targets[c.task_name].astype(np.float64)
        mean, std = float(y.mean()), float(y.std())
        tasks.append(c.task(mean, std if std > 0 else 1.0))
    digest = hashlib.sha256()
    for split in SPLIT_NAMES:
        digest.update(splits[split].images.tobytes())
        for t in tasks:
            digest.update(splits[split].targets[t.name].tobytes())
    return Suite(name, tuple(tasks), **splits, fingerprint=digest.hexdigest()[:16])


# ------------------------------------------------------------------------------------- image-folder
def _read_label_rows(path: Path) -> tuple[list[str], Iterable[tuple[str, dict]]]:
    """Header and ``(where, row)`` pairs of a CSV/TSV (line numbers) or Parquet file (row numbers)."""
    if not path.is_file():
        raise ValueError(f"label file {path} does not exist")
    if path.suffix.lower() == ".parquet":
        import pandas as pd

        try:
            df = pd.read_parquet(path)
        except Exception as err:  # pyarrow raises several types for a bad file
            raise ValueError(f"label file {path} is not a readable Parquet file ({err})") from None
        rows = df.astype(object).where(df.notna(), None).to_dict("records")
        return [str(c) for c in df.columns], ((f"{path} row {i + 1}", row) for i, row in enumerate(rows))
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.reader(f, delimiter=delimiter)
        header = next(reader, None)
        if not header:
            raise ValueError(f"{path} line 1: empty label file; expected a header line")
        out = []
        for line in reader:
            if not any(cell.strip() for cell in line):
                continue
            if len(line) != len(header):
                raise ValueError(
                    f"{path} line {reader.line_num}: {len(line)} fields, the header has {len(header)}"
                )
            out.append((f"{path} line {reader.line_num}", dict(zip(header, line))))
    return [h.strip() for h in header], [(w, {k.strip(): v for k, v in r.items()}) for w, r in out]


@register_suite("image-folder")
def image_folder(config: str | dict | FolderConfig | None = None, cache: bool = True, **kwargs) -> Suite:
    """An image folder plus a CSV/Parquet label file, declared by ``config`` (a :class:`FolderConfig`, a
    dict of its fields or a JSON file path) or by the same fields as keyword arguments.  Example::

        load_suite("image-folder", images="faces", labels="faces/labels.csv", image_column="file",
                   tasks=[{"column": "age", "kind": "regression", "tolerance": 5},
                          {"column": "smiling", "num_classes": 2}, {"column": "glasses", "num_classes": 2}])
    """
    if config is None:
        cfg = _from_dict(FolderConfig, kwargs)
    elif kwargs:
        raise ValueError(f"invalid arguments {sorted(kwargs)} next to config; allowed: config or the fields")
    elif isinstance(config, FolderConfig):
        cfg = config
    elif isinstance(config, dict):
        cfg = _from_dict(FolderConfig, config)
    else:
        cfg = FolderConfig.from_json(config)
    labels_path, root = Path(cfg.labels), Path(cfg.images)
    if not root.is_dir():
        raise ValueError(f"image folder {root} does not exist")
    check_columns("image-folder", cfg.tasks)
    header, rows = _read_label_rows(labels_path)
    wanted = (
        [cfg.image_column]
        + [col for c in cfg.tasks for col in c.columns]
        + ([cfg.split_column] if cfg.split_column else [])
    )
    for col in wanted:
        if col not in header:
            where = f"{labels_path} line 1" if labels_path.suffix.lower() != ".parquet" else str(labels_path)
            raise ValueError(f"{where}: unknown label column {col!r}; the file has columns {header}")
    records = []
    for where, row in rows:
        image = "" if row[cfg.image_column] is None else str(row[cfg.image_column]).strip()
        if not image:
            raise ValueError(f"{where}: missing value in image column {cfg.image_column!r}")
        split = None
        if cfg.split_column:
            value = str(row[cfg.split_column]).strip().lower()
            if value not in SPLIT_VALUES:
                raise ValueError(
                    f"{where}: split {cfg.split_column}={row[cfg.split_column]!r}; "
                    f"allowed: {sorted(SPLIT_VALUES)}"
                )
            split = SPLIT_VALUES[value]
        labels = tuple(
            c.parse(row[c.column] if isinstance(c.column, str) else [row[k] for k in c.column], where)
            for c in cfg.tasks
        )
        records.append(ImageRecord(root / image, where, labels, split, key=image))
    return build_suite(
        "image-folder",
        cfg.tasks,
        records,
        seed=cfg.seed,
        val_frac=cfg.val_frac,
        test_frac=cfg.test_frac,
        max_images=cfg.max_images,
        crop=cfg.crop,
        cache=cache,
        mask_root=root,
    )


def list_images(root: Path) -> list[Path]:
    """Every image file under ``root`` (subfolders included, hidden files skipped), sorted."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )
