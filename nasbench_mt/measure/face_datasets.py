"""Ready-made readers for face datasets in their published layouts: UTKFace, CelebA and MTFL.

- ``utkface``: the UTKFace file-name convention ``age_gender_race_date.jpg`` (``.jpg.chip.jpg`` too) under
  ``root``: ``age`` (regression, years; per-sample correct within 5 years, the usual CS(5) of age
  estimation), ``gender`` (2 classes), ``race`` (5 classes);
- ``celeba``: ``list_attr_celeba.txt`` (count line, header line, one line of +-1 per image; in ``root`` or
  ``root/Anno``), images in ``root/img_align_celeba``, and ``list_eval_partition.txt`` (in ``root`` or
  ``root/Eval``) for the official split when present; ``attrs`` chooses the attributes (any number) that
  become binary tasks;
- ``mtfl``: the MTFL (Multi-Task Facial Landmark) ``training.txt`` / ``testing.txt`` under ``root``, one line
  per image ``path x1..x5 y1..y5 gender smile glasses pose`` (paths relative to ``root``, in the ``AFLW``,
  ``lfw_5590`` and ``net_7876`` folders, ``\\`` or ``/`` separated; attribute codes 1-based): ``landmarks``
  (five points: eye centres, nose tip, mouth corners; NME normalised by the inter-ocular distance),
  ``gender``, ``smile``, ``glasses`` (2 classes each) and ``pose`` (5); ``tasks`` chooses which.

All three build through :func:`~nasbench_mt.measure.folder_datasets.build_suite` (validation, resizing, seeded
split, cache: see :mod:`nasbench_mt.measure.folder_datasets`)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nasbench_mt.measure.folder_datasets import (
    SPLIT_VALUES,
    ImageRecord,
    LabelColumn,
    build_suite,
    check_columns,
    list_images,
)
from nasbench_mt.measure.suite import Suite, register_suite

__all__ = ["celeba", "mtfl", "utkface"]


# ------------------------------------------------------------------------------------------ UTKFace
UTKFACE_NAME = re.compile(r"(\d+)_(\d+)_(\d+)_(\d+)\..+")
UTKFACE_CLASSES = (
    LabelColumn("gender", "classification", 2),  # 0 male, 1 female
    LabelColumn("race", "classification", 5),  # 0 White, 1 Black, 2 Asian, 3 Indian, 4 Others
)


@register_suite("utkface")
def utkface(
    root: str,
    age_tolerance: float = 5.0,
    skip_malformed: bool = False,
    seed: int = 0,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    max_images: int = 0,
    crop: str = "center",
    cache: bool = True,
) -> Suite:
    """UTKFace images under ``root`` (subfolders included) named ``age_gender_race_date.jpg``.

    A name that does not parse, or holds a label out of range (age 0..120, gender 0..1, race 0..4), is an
    error; ``skip_malformed=True`` leaves such files out instead (the public release has three names without
    a race field).  Tasks: ``age`` (regression, MAE in years; per-sample correct within ``age_tolerance``),
    ``gender`` and ``race``.
    """
    folder = Path(root)
    if not folder.is_dir():
        raise ValueError(f"UTKFace folder {folder} does not exist")
    age = LabelColumn("age", "regression", tolerance=float(age_tolerance), value_range=(0, 120))
    columns = (age, *UTKFACE_CLASSES)
    records = []
    for path in list_images(folder):
        rel = path.relative_to(folder).as_posix()
        try:
            match = UTKFACE_NAME.fullmatch(path.name)
            if match is None:
                raise ValueError(
                    f"{path}: malformed UTKFace file name {path.name!r}; expected age_gender_race_date.jpg "
                    "(e.g. 25_0_2_20170116174525125.jpg.chip.jpg); pass skip_malformed=true to leave such "
                    "files out"
                )
            labels = tuple(c.parse(v, str(path)) for c, v in zip(columns, match.groups()[:3]))
        except ValueError:
            if skip_malformed:
                continue
            raise
        records.append(ImageRecord(path, str(path), labels, key=rel))
    return build_suite(
        "utkface",
        columns,
        records,
        seed=seed,
        val_frac=val_frac,
        test_frac=test_frac,
        max_images=max_images,
        crop=crop,
        cache=cache,
    )


# ------------------------------------------------------------------------------------------- CelebA
CELEBA_DEFAULT_ATTRS = ("Male", "Smiling", "Wavy_Hair")  # easy, medium, hard


def _first(paths: Sequence[Path]) -> Path | None:
    return next((p for p in paths if p.exists()), None)


def _parse_celeba_attrs(path: Path, attrs: Sequence[str]) -> list[tuple[str, str, tuple]]:
    lines = path.read_text().splitlines()
    if not lines or not lines[0].strip().isdigit():
        raise ValueError(
            f"{path} line 1: expected the number of images, got {(lines[0] if lines else '')!r} "
            "(the CelebA layout: count line, header line, then one line per image)"
        )
    count = int(lines[0])
    if len(lines) < 2 or not lines[1].split():
        raise ValueError(f"{path} line 2: expected the header line of attribute names")
    header = lines[1].split()
    for a in attrs:
        if a not in header:
            raise ValueError(
                f"{path} line 2: unknown attribute (label column) {a!r}; the header has {header}"
            )
    cols = [header.index(a) for a in attrs]
    out = []
    for no, line in enumerate(lines[2:], start=3):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != len(header) + 1:
            raise ValueError(
                f"{path} line {no}: {len(parts)} fields; expected an image name and "
                f"{len(header)} values of -1/1"
            )
        values = []
        for a, j in zip(attrs, cols):
            v = parts[j + 1]
            if v not in ("1", "-1"):
                raise ValueError(f"{path} line {no}: label {a}={v!r} out of the declared range {{-1, 1}}")
            values.append(int(v == "1"))
        out.append((parts[0], f"{path} line {no}", tuple(values)))
    if len(out) != count:
        raise ValueError(f"{path} line 1: declares {count} images but {len(out)} image lines follow")
    return out


def _parse_celeba_partition(path: Path) -> dict[str, str]:
    out = {}
    for no, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in ("0", "1", "2"):
            raise ValueError(
                f"{path} line {no}: malformed partition line {line!r}; "
                "expected 'IMAGE 0|1|2' (train/val/test)"
            )
        out[parts[0]] = SPLIT_VALUES[parts[1]]
    return out


@register_suite("celeba")
def celeba(
    root: str,
    attrs: Sequence[str] | str = CELEBA_DEFAULT_ATTRS,
    images: str | None = None,
    partition: bool | str = "auto",
    seed: int = 0,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    max_images: int = 0,
    crop: str = "center",
    cache: bool = True,
) -> Suite:
    """CelebA under ``root``: any of the 40 binary attributes as tasks (``attrs``, a list or a
    comma-separated string, one task each; task names are lower-cased).  ``partition``: ``"auto"`` uses
    ``list_eval_partition.txt`` when present, ``True`` requires it, ``False`` uses a seeded split."""
    folder = Path(root)
    if not folder.is_dir():
        raise ValueError(f"CelebA folder {folder} does not exist")
    if isinstance(attrs, str):
        attrs = [a.strip() for a in attrs.split(",") if a.strip()]
    attrs = list(attrs)
    columns = [LabelColumn(a, "classification", 2) for a in attrs]
    check_columns("celeba", columns)
    tried = [folder / "list_attr_celeba.txt", folder / "Anno" / "list_attr_celeba.txt"]
    attr_file = _first(tried)
    if attr_file is None:
        raise ValueError(f"no CelebA attribute file in {folder}; looked for {[str(p) for p in tried]}")
    rows = _parse_celeba_attrs(attr_file, attrs)
    if images is None:
        tried = [folder / "img_align_celeba" / "img_align_celeba", folder / "img_align_celeba"]
        tried += [folder / "Img" / "img_align_celeba"]
        image_dir = _first(tried)
        if image_dir is None:
            raise ValueError(f"no CelebA image folder in {folder}; looked for {[str(p) for p in tried]}")
    else:
        image_dir = Path(images) if Path(images).is_absolute() else folder / images
    part_file = _first([folder / "list_eval_partition.txt", folder / "Eval" / "list_eval_partition.txt"])
    if partition is True and part_file is None:
        raise ValueError(f"partition=True but no list_eval_partition.txt in {folder} or {folder / 'Eval'}")
    if partition not in (True, False, "auto"):
        raise ValueError(f"invalid partition: {partition!r}; allowed: 'auto', true, false")
    splits = _parse_celeba_partition(part_file) if part_file is not None and partition is not False else None
    records = []
    for name, where, labels in rows:
        split = None
        if splits is not None:
            if name not in splits:
                raise ValueError(f"{where}: image {name} has no line in {part_file}")
            split = splits[name]
        records.append(ImageRecord(image_dir / name, where, labels, split, key=name))
    return build_suite(
        "celeba",
        columns,
        records,
        seed=seed,
        val_frac=val_frac,
        test_frac=test_frac,
        max_images=max_images,
        crop=crop,
        cache=cache,
    )


# --------------------------------------------------------------------------------------------- MTFL
MTFL_POINTS = 5  # left eye, right eye, nose tip, left mouth corner, right mouth corner
# attribute -> (number of classes, what the 1-based codes mean); the task's class is the code minus one
MTFL_ATTRIBUTES = {
    "gender": (2, "1 male, 2 female"),
    "smile": (2, "1 smiling, 2 not smiling"),
    "glasses": (2, "1 wearing glasses, 2 not"),
    "pose": (5, "1 left profile, 2 left, 3 frontal, 4 right, 5 right profile"),
}
MTFL_TASKS = ("landmarks", *MTFL_ATTRIBUTES)
# the default selection: the landmarks with two attributes they help (the smile moves the mouth corners, the
# glasses sit on the eyes); the other attributes are one ``tasks=`` away
MTFL_DEFAULT_TASKS = ("landmarks", "smile", "glasses")
MTFL_FILES = {"training.txt": "train", "testing.txt": "test"}


def _mtfl_columns(tasks: Sequence[str], tolerance: float) -> list[LabelColumn]:
    columns = []
    for name in tasks:
        if name == "landmarks":
            columns.append(
                LabelColumn(
                    "landmarks",
                    "regression",
                    points=MTFL_POINTS,
                    layout="xxyy",
                    norm_points=(0, 1),
                    tolerance=float(tolerance),
                )
            )
        elif name in MTFL_ATTRIBUTES:
            columns.append(LabelColumn(name, "classification", MTFL_ATTRIBUTES[name][0]))
        else:
            raise ValueError(f"invalid MTFL task: {name!r}; allowed: {list(MTFL_TASKS)}")
    return columns


def _parse_mtfl(path: Path, root: Path, columns: Sequence[LabelColumn], split: str) -> list[ImageRecord]:
    records = []
    n_fields = 1 + 2 * MTFL_POINTS + len(MTFL_ATTRIBUTES)
    for no, line in enumerate(path.read_text().splitlines(), start=1):
        parts = line.split()
        if not parts:
            continue
        where = f"{path} line {no}"
        if len(parts) != n_fields:
            raise ValueError(
                f"{where}: {len(parts)} fields; expected {n_fields}: an image path, x1..x5 y1..y5, "
                "gender smile glasses pose"
            )
        coords = parts[1 : 1 + 2 * MTFL_POINTS]
        codes = dict(zip(MTFL_ATTRIBUTES, parts[1 + 2 * MTFL_POINTS :]))
        labels = []
        for c in columns:
            if c.task_name == "landmarks":
                labels.append(c.parse(coords, where))
                continue
            code = codes[c.task_name]
            if not (code.isdigit() and 1 <= int(code) <= c.num_classes):
                raise ValueError(
                    f"{where}: label {c.task_name}={code!r} out of the declared range 1..{c.num_classes} "
                    f"({MTFL_ATTRIBUTES[c.task_name][1]})"
                )
            labels.append(int(code) - 1)
        rel = parts[0].replace("\\", "/")
        records.append(ImageRecord(root / rel, where, tuple(labels), split, key=rel))
    return records


@register_suite("mtfl")
def mtfl(
    root: str,
    tasks: Sequence[str] | str = MTFL_DEFAULT_TASKS,
    landmark_tolerance: float = 0.1,
    official_split: bool = True,
    seed: int = 0,
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    max_images: int = 0,
    crop: str = "center",
    cache: bool = True,
) -> Suite:
    """MTFL under ``root``: ``training.txt`` and ``testing.txt`` with the images in the folders they name.

    ``tasks`` (a list or a comma-separated string) picks from ``landmarks`` (five points, NME normalised by
    the inter-ocular distance; per-sample correct when the NME is at most ``landmark_tolerance``, the usual
    failure threshold 0.1), ``gender``, ``smile``, ``glasses`` and ``pose``; default ``landmarks, smile,
    glasses``.  Attribute classes are the published 1-based codes minus one (smile: 0 smiling, 1 not).
    ``official_split``: ``testing.txt`` is the test split and a seeded ``val_frac`` of ``training.txt`` the
    validation split; ``False`` (or a ``root`` with only one of the files) uses one seeded split of every
    line (``val_frac`` / ``test_frac``)."""
    folder = Path(root)
    if not folder.is_dir():
        raise ValueError(f"MTFL folder {folder} does not exist")
    if isinstance(tasks, str):
        tasks = [t.strip() for t in tasks.split(",") if t.strip()]
    columns = _mtfl_columns(list(tasks), landmark_tolerance)
    check_columns("mtfl", columns)
    files = {name: folder / name for name in MTFL_FILES if (folder / name).is_file()}
    if not files:
        raise ValueError(f"no MTFL label file in {folder}; looked for {list(MTFL_FILES)}")
    official = official_split and len(files) == len(MTFL_FILES)
    records = []
    for name, path in files.items():
        records += _parse_mtfl(path, folder, columns, MTFL_FILES[name] if official else None)
    if official:
        train = sorted((r for r in records if r.split == "train"), key=lambda r: r.key)
        n_val = max(1, round(val_frac * len(train))) if 0 < val_frac < 1 else 0
        if not 0 < n_val < len(train):
            raise ValueError(
                f"invalid val_frac of suite 'mtfl': {val_frac} of {len(train)} training lines; allowed: in "
                "(0, 1), holding out at least one line and leaving at least one"
            )
        for i in np.random.default_rng(seed).permutation(len(train))[:n_val]:
            train[i].split = "val"
    return build_suite(
        "mtfl",
        columns,
        records,
        seed=seed,
        val_frac=val_frac,
        test_frac=test_frac,
        max_images=max_images,
        crop=crop,
        cache=cache,
    )
