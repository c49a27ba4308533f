"""Your own data: dataset suites read from a local folder of images plus labels (never a download).

``image-folder`` (``load_suite("image-folder", ...)``; on the command line ``--suite image-folder
--suite-arg config=labels.json``) reads an image folder plus a CSV (``.csv``, ``.tsv``) or Parquet file with
one row per image, declared by a :class:`FolderConfig` (or a JSON file of the same fields): the image column
(paths relative to the folder), one :class:`LabelColumn` per task (classification with its number of classes,
or regression) and an optional split column (``train`` / ``val`` / ``test`` or 0 / 1 / 2).  The UTKFace and
CelebA layouts are read by :mod:`nasbench_mt.measure.face_datasets` through the same :func:`build_suite`.

Every such suite validates all of its input when it is loaded, before anything is trained or measured: a
missing image, an unknown label column, a label outside its declared range, an unreadable image or a malformed
line raises a ``ValueError`` naming the file and line.  Images are centre-cropped to a square (``crop="none"``
stretches instead), resized to the space's 32x32 input with PIL's bicubic filter (JPEGs are first decoded at a
reduced scale, which PIL does deterministically) and stored as RGB uint8 ``(N, 3, 32, 32)``.  Without a split
column the split is a fixed seeded permutation of the images sorted by path (``val_frac`` / ``test_frac``).
The arrays are cached under :func:`~nasbench_mt.measure.datasets.cache_dir`, keyed by a hash of the
configuration, the labels and every image's path, size and modification time, so any change rebuilds them.
A suite declares any number of tasks (one branch point each in the search space of its release).

Regression targets stay in their units in the arrays; the tasks record the training split's mean and
standard deviation (heads train on the standardised target, MAE is reported in the original units) and a
``tolerance``: a test sample counts as correct in the per-sample records when its absolute error is at most
the tolerance (default: half the training standard deviation).
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

from nasbench_mt.measure.suite import SPLIT_NAMES, Split, Suite, cache_dir, register_suite
from nasbench_mt.space.tasks import TaskSpec

__all__ = ["FolderConfig", "ImageRecord", "LabelColumn", "build_suite", "image_folder", "list_images"]

FOLDER_VERSION = 1  # bump when decoding or splitting changes: cached arrays are keyed by it
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")
SPLIT_VALUES = {"train": "train", "val": "val", "valid": "val", "validation": "val", "test": "test"}
SPLIT_VALUES |= {"0": "train", "1": "val", "2": "test"}
CROPS = ("center", "none")


@dataclass(frozen=True)
class LabelColumn:
    """One task read from a label column.

    ``kind`` is ``classification`` (integer labels ``0..num_classes-1``, or the values listed in
    ``classes``) or ``regression`` (finite numbers, inside ``value_range`` when given).  ``name`` is the task
    name (default: the column, lower-cased, made an identifier); ``tolerance``: the regression tolerance.
    """

    column: str
    kind: str = "classification"
    num_classes: int = 0
    classes: tuple[str, ...] = ()
    name: str = ""
    tolerance: float | None = None
    value_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("classification", "regression"):
            raise ValueError(
                f"invalid kind of label column {self.column!r}: {self.kind!r}; "
                "allowed: ['classification', 'regression']"
            )
        if self.classes:
            object.__setattr__(self, "classes", tuple(str(c) for c in self.classes))
            if self.num_classes not in (0, len(self.classes)):
                raise ValueError(
                    f"invalid num_classes of label column {self.column!r}: {self.num_classes} but "
                    f"{len(self.classes)} classes listed; allowed: equal, or leave num_classes out"
                )
            object.__setattr__(self, "num_classes", len(self.classes))
        if self.kind == "classification" and (not isinstance(self.num_classes, int) or self.num_classes < 2):
            raise ValueError(
                f"invalid num_classes of label column {self.column!r}: {self.num_classes!r}; "
                "allowed: an int >= 2 (or a list of classes)"
            )
        if self.value_range is not None:
            object.__setattr__(self, "value_range", tuple(float(v) for v in self.value_range))

    @property
    def task_name(self) -> str:
        if self.name:
            return self.name
        name = re.sub(r"\W", "_", self.column.strip().lower())
        return f"a_{name}" if not name.isidentifier() else name

    def parse(self, value: object, where: str) -> float | int:
        """The label of one cell, or a ``ValueError`` naming ``where`` (file and line)."""
        text = "" if value is None else str(value).strip()
        if text == "" or text.lower() == "nan":
            raise ValueError(f"{where}: missing value in label column {self.column!r}")
        if self.kind == "regression":
            try:
                x = float(text)
            except ValueError:
                raise ValueError(f"{where}: label {self.column}={text!r} is not a number") from None
            lo, hi = self.value_range or (-math.inf, math.inf)
            if not (math.isfinite(x) and lo <= x <= hi):
                raise ValueError(
                    f"{where}: label {self.column}={text!r} out of the declared range "
                    f"{list(self.value_range) if self.value_range else 'finite numbers'}"
                )
            return x
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
def _load_image(path: Path, where: str, crop: str, size: int) -> np.ndarray:
    from PIL import Image

    try:
        with Image.open(path) as img:
            img.draft("RGB", (2 * size, 2 * size))  # JPEG: decode at a reduced scale (deterministic)
            img = img.convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as err:
        raise ValueError(f"{where}: image {path} is unreadable ({type(err).__name__}: {err})") from None
    if crop == "center":
        w, h = img.size
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        img = img.crop((left, top, left + s, top + s))
    img = img.resize((size, size), Image.Resampling.BICUBIC)
    return np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)


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
) -> Suite:
    """Validate ``records`` (labels already parsed), split, decode (or load the cache) and build the suite."""
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
    stats = []
    for r in records:
        try:
            st = r.path.stat()
        except OSError:
            raise ValueError(f"{r.where}: image {r.path} does not exist") from None
        if not r.path.is_file():
            raise ValueError(f"{r.where}: image {r.path} is not a file")
        stats.append((r.key or str(r.path), st.st_size, st.st_mtime_ns))
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
            images = z["images"]
    else:
        images = np.empty((len(records), 3, size, size), dtype=np.uint8)
        with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1)) as pool:
            try:
                for i, image in enumerate(
                    pool.map(lambda r: _load_image(r.path, r.where, crop, size), records)
                ):
                    images[i] = image
            except ValueError:  # the first bad image in order; do not decode the rest
                pool.shutdown(cancel_futures=True)
                raise
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".tmp{os.getpid()}.npz")
            np.savez(tmp, images=images)
            os.replace(tmp, path)
    return _make_suite(name, columns, records, images)


def _make_suite(
    name: str, columns: Sequence[LabelColumn], records: list[ImageRecord], images: np.ndarray
) -> Suite:
    which = np.array([r.split for r in records])
    labels = np.array([r.labels for r in records], dtype=np.float64).reshape(len(records), len(columns))
    splits = {}
    for split in SPLIT_NAMES:
        idx = np.flatnonzero(which == split)
        targets = {
            c.task_name: labels[idx, j].astype(np.float32 if c.kind == "regression" else np.int64)
            for j, c in enumerate(columns)
        }
        splits[split] = Split(np.ascontiguousarray(images[idx]), targets)
    tasks = []
    for c in columns:
        if c.kind == "classification":
            tasks.append(TaskSpec(c.task_name, "classification", c.num_classes))
            continue
        y = splits["train"].targets[c.task_name].astype(np.float64)
        mean, std = float(y.mean()), float(y.std())
        std = std if std > 0 else 1.0
        tol = 0.5 * std if c.tolerance is None else float(c.tolerance)
        tasks.append(TaskSpec(c.task_name, "regression", 1, target_mean=mean, target_std=std, tolerance=tol))
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
        [cfg.image_column] + [c.column for c in cfg.tasks] + ([cfg.split_column] if cfg.split_column else [])
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
        labels = tuple(c.parse(row[c.column], where) for c in cfg.tasks)
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
    )


def list_images(root: Path) -> list[Path]:
    """Every image file under ``root`` (subfolders included, hidden files skipped), sorted."""
    return sorted(
        p
        for p in root.rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".") and p.is_file()
    )
