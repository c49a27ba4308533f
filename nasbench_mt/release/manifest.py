"""Release manifest: what a benchmark release directory holds, and a check that nothing was lost or altered.

A release is a directory (e.g. ``data/v1/``) holding Parquet files and ``manifest.json``::

    {"schema_version": 1, "version": "v1", "space": "v1",
     "tasks": [{"name": "...", "kind": "classification", "num_outputs": 10, "out_size": 16,
                "metric": "acc"}, ...],
     "n_samples": 500,
     "files": [{"path": "archs-00000.parquet", "role": "archs", "sha256": "...", "bytes": 123,
                "rows": 1000}, ...],
     "generation": {...}, "noise": {...}, "calibration": {...}}

``space`` names the geometry and ``tasks`` lists the tasks, one branch point each, in the order of the
``b=`` field of every architecture string: together they are the release's search space
(:func:`space_from_manifest`), so a release of any number of tasks loads with the right one.

File roles:

- ``archs``: shards of table rows (every column of :func:`~nasbench_mt.release.schema.table_columns`; the
latency
  columns may live in ``latency`` shards instead);
- ``latency``: ``arch_id`` plus :func:`~nasbench_mt.release.schema.latency_columns`, merged on ``arch_id``;
- ``exits``: per-sample companion, one row per (arch, task, exit): ``arch_id``, ``task``, ``exit`` (int8),
  ``conf`` and ``score`` (``uint8`` byte strings of length ``n_samples``);
- ``calibration`` (optional): rows of the standalone protocol, same columns as ``archs``;
- ``noise`` (optional): re-measurements. Columns ``arch_id``, ``kind`` (``"seed"``: accuracy from a supernet
  trained with another seed; ``"latency"``: latency measured again in another process), ``seed`` and any
  table columns that were re-measured (the others absent or NaN).

A manifest with no ``archs`` file is a release still being generated (say, its calibration tier came
first): it verifies, so its generation records are kept, but ``load_benchmark`` refuses it.

Example (the generation pipeline's last step)::

    write_manifest("data/v1", [("archs-00000.parquet", "archs"), ("exits-00000.parquet", "exits")],
                   {"version": "v1", "space": "v1", "tasks": suite.tasks, "n_samples": 500,
                    "generation": {"command": "nasbench-mt generate ..."}})
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from nasbench_mt.release.schema import SCHEMA_VERSION
from nasbench_mt.space.arch import V1, SearchSpace
from nasbench_mt.space.tasks import TaskSpec

__all__ = [
    "MANIFEST_NAME",
    "PREFIX_ROLE",
    "ROLES",
    "ReleaseError",
    "inside",
    "prefix_role",
    "read_manifest",
    "role_paths",
    "sha256_file",
    "space_from_manifest",
    "tasks_from_manifest",
    "verify",
    "write_manifest",
]

MANIFEST_NAME = "manifest.json"
ROLES = ("archs", "latency", "exits", "calibration", "noise", "proxies")
# the search-space geometries a release may name under "space"; its task list comes from "tasks"
SPACES = {V1.name: V1}
# file prefix (``{prefix}-00000.parquet``) -> role; any ``noise-<name>`` prefix is a noise tier
PREFIX_ROLE = {
    "archs": "archs",
    "exits": "exits",
    "latency": "latency",
    "ort-latency": "latency",
    "calibration": "calibration",
    "proxies": "proxies",
}
_OPTIONAL_META = ("space", "generation", "noise", "calibration", "compute")


class ReleaseError(ValueError):
    """A release directory is missing, malformed, or a data file is missing or altered."""


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def _task_dict(task: TaskSpec | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(task, TaskSpec):
        out = {
            "name": task.name,
            "kind": task.kind,
            "num_outputs": task.num_outputs,
            "out_size": task.out_size,
            "metric": task.metric,
        }
        if task.kind == "regression":  # the standardisation and per-sample tolerance, in the target's units
            out |= {
                "target_mean": task.target_mean,
                "target_std": task.target_std,
                "tolerance": task.tolerance,
            }
        if task.points:  # landmarks: NME normalised by two points' distance or the bounding-box size
            out |= {"points": task.points, "norm_points": list(task.norm_points)}
        return out
    if isinstance(task, Mapping):
        return _task_dict(_task_spec(task))
    raise ValueError(f"invalid task: {task!r}; allowed: a TaskSpec or a dict with name, kind, num_outputs")


def _task_spec(task: Mapping[str, Any]) -> TaskSpec:
    extra: dict[str, Any] = {
        k: float(task[k]) for k in ("target_mean", "target_std", "tolerance") if k in task
    }
    if task.get("points"):
        extra |= {"points": int(task["points"]), "norm_points": tuple(task.get("norm_points", ()))}
    return TaskSpec(task["name"], task["kind"], task["num_outputs"], task.get("out_size", 16), **extra)


def _parquet_rows(path: Path) -> int | None:
    if path.suffix != ".parquet":
        return None
    import pyarrow.parquet as pq

    return int(pq.ParquetFile(path).metadata.num_rows)


def write_manifest(
    directory: str | os.PathLike[str],
    files: Iterable[tuple[str, str] | Mapping[str, str]],
    meta: Mapping[str, Any],
) -> dict[str, Any]:
    """Hash ``files`` (paths relative to ``directory``, each with a role) and write ``manifest.json``.

    ``files`` holds ``(path, role)`` pairs or ``{"path": ..., "role": ...}`` dicts; ``meta`` needs
    ``version``, ``tasks`` (TaskSpecs or dicts) and ``n_samples``, and may hold ``space``, ``generation``,
    ``noise``, ``calibration`` and ``compute``.  The manifest is written atomically (a crash leaves the
    previous one) and returned.
    """
    root = Path(directory)
    missing = [k for k in ("version", "tasks", "n_samples") if k not in meta]
    if missing:
        raise ReleaseError(f"manifest meta lacks {missing}; required: ['version', 'tasks', 'n_samples']")
    unknown = sorted(set(meta) - {"version", "tasks", "n_samples", *_OPTIONAL_META})
    if unknown:
        raise ReleaseError(
            f"unknown manifest meta keys {unknown}; "
            f"allowed: {['version', 'tasks', 'n_samples', *_OPTIONAL_META]}"
        )
    entries = []
    seen: set[str] = set()
    for item in files:
        rel, role = (item["path"], item["role"]) if isinstance(item, Mapping) else item
        if role not in ROLES:
            raise ReleaseError(f"invalid role for {rel}: {role!r}; allowed: {list(ROLES)}")
        path = (root / rel).resolve()
        try:
            rel_posix = path.relative_to(root.resolve()).as_posix()
        except ValueError:
            raise ReleaseError(f"data file {rel} lies outside the release directory {root}") from None
        if rel_posix in seen:
            raise ReleaseError(f"data file {rel_posix} listed twice")
        if not path.is_file():
            raise ReleaseError(f"data file {rel_posix} does not exist in {root}")
        seen.add(rel_posix)
        entry = {"path": rel_posix, "role": role, "sha256": sha256_file(path), "bytes": path.stat().st_size}
        rows = _parquet_rows(path)
        if rows is not None:
            entry["rows"] = rows
        entries.append(entry)
    n_samples = meta["n_samples"]
    if not isinstance(n_samples, int) or isinstance(n_samples, bool) or n_samples < 0:
        raise ReleaseError(f"invalid n_samples: {n_samples!r}; allowed: an int >= 0")
    manifest: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "version": str(meta["version"]),
        "space": str(meta.get("space", "v1")),
        "tasks": [_task_dict(t) for t in meta["tasks"]],
        "n_samples": n_samples,
        "files": entries,
    }
    for key in ("generation", "noise", "calibration"):
        manifest[key] = dict(meta.get(key) or {})
    if meta.get("compute"):
        manifest["compute"] = dict(meta["compute"])
    tmp = root / (MANIFEST_NAME + ".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=False, default=str) + "\n")
    os.replace(tmp, root / MANIFEST_NAME)
    return manifest


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and sanity-check ``manifest.json`` (no hashing; see :func:`verify`)."""
    root = Path(directory)
    path = root / MANIFEST_NAME
    if not root.is_dir():
        raise ReleaseError(f"release directory {root} does not exist")
    if not path.is_file():
        raise ReleaseError(f"no {MANIFEST_NAME} in {root}: not a benchmark release directory")
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ReleaseError(f"{path} is not valid JSON: {err}") from None
    if not isinstance(manifest, dict):
        raise ReleaseError(f"{path}: expected a JSON object")
    for key in ("schema_version", "version", "tasks", "n_samples", "files"):
        if key not in manifest:
            raise ReleaseError(f"{path} lacks the key {key!r}")
    if manifest["schema_version"] != SCHEMA_VERSION:
        raise ReleaseError(
            f"{path} has schema_version {manifest['schema_version']!r}; "
            f"this nasbench-mt reads schema_version {SCHEMA_VERSION}"
        )
    for entry in manifest["files"]:
        if not {"path", "role", "sha256"} <= set(entry) or entry["role"] not in ROLES:
            raise ReleaseError(f"{path}: malformed file entry {entry!r}")
        inside(root, entry["path"], what=f"{path}: data file")
    return manifest


def inside(root: str | os.PathLike[str], rel: Any, what: str = "file") -> Path:
    """``root / rel`` when that path lies inside directory ``root`` (symbolic links resolved); else a
    :class:`ReleaseError` naming it.  Every path read from a manifest or a saved model goes through here, so
    a tampered file cannot make the loader read (or write) outside its own directory."""
    if not isinstance(rel, str) or not rel or "\x00" in rel:
        raise ReleaseError(f"invalid path for {what}: {rel!r}; allowed: a relative path inside {root}")
    base = Path(root).resolve()
    candidate = Path(rel)
    resolved = (base / candidate).resolve()
    if candidate.is_absolute() or not resolved.is_relative_to(base):
        raise ReleaseError(f"invalid path for {what}: {rel!r} lies outside {root}; allowed: a path inside it")
    return Path(root) / candidate


def verify(
    directory: str | os.PathLike[str],
    roles: Sequence[str] | None = None,
    paths: Iterable[str] | None = None,
) -> dict[str, Any]:
    """Check every file the manifest lists (or only those of ``roles``, or only the listed ``paths``) exists
    with its recorded sha256.

    Returns the manifest.  Raises :class:`ReleaseError` naming the file and the expected sha256 when a file
    is missing, has the wrong size or the wrong hash.
    """
    root = Path(directory)
    manifest = read_manifest(root)
    entries = [e for e in manifest["files"] if roles is None or e["role"] in roles]
    if paths is not None:
        wanted = set(paths)
        unlisted = sorted(wanted - {e["path"] for e in entries})
        if unlisted:
            raise ReleaseError(f"{root / MANIFEST_NAME} does not list the data file {unlisted[0]}")
        entries = [e for e in entries if e["path"] in wanted]
    for entry in entries:  # cheap existence checks first, so a missing file is reported before hashing
        if not (root / entry["path"]).is_file():
            raise ReleaseError(
                f"data file {entry['path']} is missing from {root} "
                f"(manifest expects sha256 {entry['sha256']})"
            )
    for entry in entries:
        path = root / entry["path"]
        size = path.stat().st_size
        if "bytes" in entry and size != entry["bytes"]:
            raise ReleaseError(
                f"data file {path} was altered: {size} bytes, manifest expects {entry['bytes']} bytes "
                f"with sha256 {entry['sha256']}"
            )
        digest = sha256_file(path)
        if digest != entry["sha256"]:
            raise ReleaseError(
                f"data file {path} was altered: sha256 {digest}, manifest expects sha256 {entry['sha256']}"
            )
    return manifest


def prefix_role(prefix: str) -> str | None:
    """The role of files named ``{prefix}-*.parquet``; None for a prefix no release file has."""
    return PREFIX_ROLE.get(prefix, "noise" if prefix.startswith("noise-") else None)


def role_paths(
    directory: str | os.PathLike[str], manifest: Mapping[str, Any], role: str, prefix: str | None = None
) -> list[Path]:
    """Paths of the files ``manifest`` lists with ``role`` (and, given ``prefix``, named ``{prefix}-*``).

    The manifest, not the directory listing, says what a release holds: a stray parquet file beside the
    listed ones is never read.
    """
    if role not in ROLES:
        raise ReleaseError(f"invalid role: {role!r}; allowed: {list(ROLES)}")
    root = Path(directory)
    return [
        root / e["path"]
        for e in manifest["files"]
        if e["role"] == role and (prefix is None or Path(e["path"]).name.startswith(f"{prefix}-"))
    ]


def tasks_from_manifest(manifest: Mapping[str, Any]) -> tuple[TaskSpec, ...]:
    """The release's tasks as :class:`TaskSpec` values."""
    try:
        return tuple(_task_spec(t) for t in manifest["tasks"])
    except (KeyError, TypeError) as err:
        raise ReleaseError(f"malformed task list in manifest: {manifest.get('tasks')!r} ({err})") from None


def space_from_manifest(manifest: Mapping[str, Any]) -> SearchSpace:
    """The release's search space: the geometry it names under ``space`` (v1 when absent) with its task
    list (``V1`` itself for the v1 release's tasks)."""
    name = manifest.get("space", V1.name)
    if name not in SPACES:
        raise ReleaseError(f"invalid space in manifest: {name!r}; allowed: {sorted(SPACES)}")
    tasks = tasks_from_manifest(manifest)
    try:
        return SPACES[name].with_tasks(tasks)
    except ValueError as err:
        raise ReleaseError(f"malformed task list in manifest: {err}") from None
