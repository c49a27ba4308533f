"""Carry the tiers that do not depend on a supernet's weights from one release to another of the same
architectures.

A new release of the same architectures (same ``--n`` and ``--seed``, so the same ids) measured with a better
supernet re-measures its table (``archs``, with the per-sample ``exits``) and the second-supernet noise tier
(``noise-seed``); everything else was measured without the supernet's weights and stays valid: the latency
passes (``latency``, ``ort-latency``, ``noise-latency``), the zero-cost proxies at initialisation
(``proxies``), the standalone calibration tier (``calibration``) and its second training
(``noise-standalone``).
:func:`carry_tiers` copies such tiers file by file, byte for byte, after checking them::

    carry_tiers("data/v1", "data/v2", ["latency", "noise-latency", "calibration", "noise-standalone"])

A tier is named by its file prefix (``{prefix}-00000.parquet``).  Whether it depends on the weights is read
from the protocol its generation record names (``supernet``: it does), else from the prefix's usual protocol.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from nasbench_mt.release.manifest import (
    MANIFEST_NAME,
    ReleaseError,
    read_manifest,
    role_paths,
    sha256_file,
    tasks_from_manifest,
    verify,
)
from nasbench_mt.release.provenance import update_manifest

__all__ = ["TABLE_PREFIXES", "carriable_tiers", "carry_tiers", "release_tiers", "tier_protocol"]

# the release's own table and its per-sample records: a new release measures them itself
TABLE_PREFIXES = ("archs", "exits")
# the protocol a tier's prefix is measured with when its generation record does not say
_USUAL_PROTOCOL = {
    "archs": "supernet",
    "exits": "supernet",
    "noise-seed": "supernet",
    "latency": "latency",
    "ort-latency": "latency-onnx",
    "noise-latency": "latency",
    "noise-ort-latency": "latency-onnx",
    "proxies": "proxies",
    "calibration": "standalone",
    "noise-standalone": "standalone",
}


def _prefix(path: str) -> str:
    return Path(path).name.rsplit("-", 1)[0]


def release_tiers(manifest: Mapping[str, Any]) -> dict[str, list[dict]]:
    """The manifest's file entries grouped by tier (file prefix), in the manifest's order."""
    tiers: dict[str, list[dict]] = {}
    for entry in manifest["files"]:
        tiers.setdefault(_prefix(entry["path"]), []).append(entry)
    return tiers


def tier_protocol(manifest: Mapping[str, Any], prefix: str) -> str | None:
    """The protocol tier ``prefix`` was measured with: its generation record's, else the prefix's usual one
    (None when neither says)."""
    record = manifest.get("generation", {}).get(prefix)
    spec = record.get("spec") if isinstance(record, Mapping) else None
    if isinstance(spec, Mapping) and spec.get("protocol"):
        return str(spec["protocol"])
    return _USUAL_PROTOCOL.get(prefix)


def _refusal(manifest: Mapping[str, Any], prefix: str) -> str | None:
    """Why tier ``prefix`` cannot be carried to a release measured by another supernet; None when it can."""
    if prefix in TABLE_PREFIXES:
        return "it is the release's table (with its per-sample exit records), which a new release measures"
    protocol = tier_protocol(manifest, prefix)
    if protocol is None:
        return "the release does not record how it was measured"
    if protocol == "supernet":
        return "it was measured with the supernet protocol, so it depends on the supernet's weights"
    return None


def carriable_tiers(manifest: Mapping[str, Any]) -> list[str]:
    """The tiers of a release that do not depend on its supernet's weights (what :func:`carry_tiers` carries
    by default)."""
    return [p for p in release_tiers(manifest) if _refusal(manifest, p) is None]


def _arch_ids(paths: Sequence[Path]) -> list[str]:
    import pyarrow.parquet as pq

    ids: list[str] = []
    for path in paths:
        ids += pq.read_table(path, columns=["arch_id"]).column(0).to_pylist()
    return ids


def _existing(target: Path, manifest: Mapping[str, Any] | None, prefix: str) -> list[Path]:
    """What ``target`` holds of tier ``prefix``: listed or packed shards, and an unfinished run's files."""
    listed = {target / e["path"] for e in (manifest or {}).get("files", []) if _prefix(e["path"]) == prefix}
    packed = {p for p in target.glob(f"{prefix}-*.parquet") if _prefix(p.name) == prefix}
    partial = [target / "partial" / f"{prefix}.run.json"]
    partial += [p for p in (target / "partial").glob(f"{prefix}-*") if _prefix(p.name) == prefix]
    return sorted({p for p in listed | packed if p.exists()} | {p for p in partial if p.exists()})


def carry_tiers(
    source: str | os.PathLike[str],
    target: str | os.PathLike[str],
    prefixes: Sequence[str] | None = None,
    force: bool = False,
) -> dict[str, dict[str, Any]]:
    """Copy the tiers ``prefixes`` (default: :func:`carriable_tiers`) of release ``source`` into ``target``.

    Checked before anything is written: each tier exists in ``source`` and does not depend on the supernet's
    weights; its files match the source manifest's sha256; the two releases have the same tasks; every carried
    row's ``arch_id`` is an architecture of ``target``'s table where it has one (the same sampled ids); and
    ``target`` does not hold the tier yet (``force`` replaces it).  Each tier's generation record is copied
    with ``carried_from`` added (the source's release name, its manifest's sha256 and every file's sha256),
    and ``target``'s manifest is rewritten; a ``target`` without one gets one with the source's tasks and the
    name of its folder.  Returns, per tier, its files and rows.
    """
    src, dst = Path(source), Path(target)
    src_manifest = read_manifest(src)
    if dst.exists() and (not dst.is_dir() or dst.resolve() == src.resolve()):
        raise ReleaseError(f"invalid target {dst}: allowed: a release directory other than {src}")
    tiers = release_tiers(src_manifest)
    if prefixes is None:
        prefixes = carriable_tiers(src_manifest)
        if not prefixes:
            raise ReleaseError(f"release {src} holds no tier that is independent of the supernet's weights")
    prefixes = list(dict.fromkeys(prefixes))
    for prefix in prefixes:
        if prefix not in tiers:
            raise ReleaseError(
                f"invalid tier {prefix!r}: release {src} has none; allowed: {carriable_tiers(src_manifest)}"
            )
        why = _refusal(src_manifest, prefix)
        if why is not None:
            raise ReleaseError(
                f"invalid tier {prefix!r}: not carried, since {why}; allowed: "
                f"{carriable_tiers(src_manifest)}; measure it in the new release instead"
            )
    paths = [e["path"] for p in prefixes for e in tiers[p]]
    verify(src, paths=paths)

    dst_manifest = read_manifest(dst) if (dst / MANIFEST_NAME).is_file() else None
    if dst_manifest is not None:
        mine, theirs = tasks_from_manifest(dst_manifest), tasks_from_manifest(src_manifest)
        if mine != theirs:
            raise ReleaseError(
                f"invalid target {dst}: its tasks {[t.name for t in mine]} differ from those of {src} "
                f"{[t.name for t in theirs]}; allowed: a release of the same tasks"
            )
        table = role_paths(dst, dst_manifest, "archs")
        if table:
            ids = set(_arch_ids(table))
            for prefix in prefixes:
                rows = _arch_ids([src / e["path"] for e in tiers[prefix]])
                stray = [i for i in rows if i not in ids]
                if stray:
                    raise ReleaseError(
                        f"invalid target {dst}: {len(stray)} of {len(rows)} rows of tier {prefix!r} name "
                        f"architectures its table lacks (e.g. {stray[0]}); allowed: a release of the same "
                        "architectures (generated with the same --n and --seed as the source)"
                    )
    held = {p: _existing(dst, dst_manifest, p) for p in prefixes}
    if not force and any(held.values()):
        prefix = next(p for p in prefixes if held[p])
        raise ReleaseError(
            f"invalid target {dst}: it already holds tier {prefix!r} ({held[prefix][0].name}); allowed: "
            "--force to replace it, or a tier it lacks"
        )

    dst.mkdir(parents=True, exist_ok=True)
    origin = {
        "release": src_manifest["version"],
        "manifest_sha256": sha256_file(src / MANIFEST_NAME),
    }
    version = dst_manifest["version"] if dst_manifest is not None else dst.resolve().name
    tasks = None if dst_manifest is not None else tasks_from_manifest(src_manifest)
    out: dict[str, dict[str, Any]] = {}
    for prefix in prefixes:
        copied = [dst / Path(e["path"]).name for e in tiers[prefix]]
        for entry, path in zip(tiers[prefix], copied):
            _copy_checked(src / entry["path"], path, entry["sha256"])
        for path in set(held[prefix]) - set(copied):  # what is left of the tier replaced (force)
            shutil.rmtree(path) if path.is_dir() else path.unlink()
        record = src_manifest.get("generation", {}).get(prefix)
        record = dict(record) if isinstance(record, Mapping) else {}
        record["carried_from"] = origin | {"files": {e["path"]: e["sha256"] for e in tiers[prefix]}}
        update_manifest(dst, version, tasks, record, key=prefix)
        out[prefix] = {
            "files": len(tiers[prefix]),
            "rows": sum(int(e.get("rows", 0)) for e in tiers[prefix]),
            "from": src_manifest["version"],
        }
    return out


def _copy_checked(src: Path, dst: Path, sha256: str) -> None:
    """Copy ``src`` to ``dst`` atomically; the copy must have ``sha256`` (else it is removed)."""
    tmp = dst.with_name(f".{dst.name}.tmp{os.getpid()}")
    shutil.copyfile(src, tmp)
    digest = sha256_file(tmp)
    if digest != sha256:
        tmp.unlink()
        raise ReleaseError(f"copy of {src} has sha256 {digest}, the source manifest expects {sha256}")
    os.replace(tmp, dst)
