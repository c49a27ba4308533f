"""Check that a release is complete: hashes, tier sizes, latency, exit records, ids that round-trip."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.manifest import ReleaseError, role_paths, verify
from nasbench_mt.release.schema import RELEASE_MINIMUMS
from nasbench_mt.release.stats import STANDALONE_KIND
from nasbench_mt.space.arch import Arch
from nasbench_mt.space.model import build_model

__all__ = ["check_release"]


def check_release(
    path: str | Path,
    minimums: dict[str, int] | None = None,
    rebuild: bool = True,
    progress: bool = True,
) -> list[dict]:
    """Check that release ``path`` is complete: one entry per check, ``{"check", "ok", "detail"}``.

    The checks: every file matches the manifest's sha256; the table has at least ``minimums["rows"]`` distinct
    architectures; the calibration tier and both noise kinds (``seed``, ``latency``) reach their minimums and
    refer only to architectures in the table; every row has latency and per-sample exit records; every
    ``arch_id`` is the id of its ``arch`` string as written, which round-trips through
    :meth:`Arch.from_string` (and, with ``rebuild``, builds a network); no two rows are the same network.
    """
    from tqdm.auto import tqdm

    need = RELEASE_MINIMUMS | (minimums or {})
    unknown = sorted(set(need) - set(RELEASE_MINIMUMS))
    if unknown:
        raise ValueError(f"unknown minimums {unknown}; allowed: {sorted(RELEASE_MINIMUMS)}")
    out: list[dict] = []

    def add(check: str, ok: bool, detail: str) -> None:
        out.append({"check": check, "ok": bool(ok), "detail": detail})

    try:
        manifest = verify(path)
    except ReleaseError as err:
        add("manifest sha256", False, str(err))
        return out
    add("manifest sha256", True, f"{len(manifest['files'])} files match")
    try:  # the files were just hashed; loading checks row counts and value domains and rejects duplicates
        bench = load_benchmark(path=path, verify_files=False)
        cal, noise = bench.calibration, bench.noise
    except ReleaseError as err:
        add("rows and values", False, str(err))
        return out
    add("values", True, "row counts match the manifest; every value is inside its column's domain")
    table = bench.table
    ids = set(table["arch_id"])
    add(
        "rows",
        len(ids) >= need["rows"],
        f"{len(ids)} architectures (need >= {need['rows']}), none duplicated",
    )
    n_cal = 0 if cal is None else cal["arch_id"].nunique()
    stray = 0 if cal is None else int((~cal["arch_id"].isin(ids)).sum())
    add(
        "calibration",
        n_cal >= need["calibration"] and stray == 0,
        f"{n_cal} architectures with the standalone protocol (need >= {need['calibration']}), "
        f"{stray} not in the table",
    )
    for kind in ("seed", "latency"):
        part = noise[noise["kind"] == kind] if noise is not None else pd.DataFrame(columns=["arch_id"])
        n, stray = part["arch_id"].nunique(), int((~part["arch_id"].isin(ids)).sum())
        add(
            f"noise ({kind})",
            n >= need[f"noise_{kind}"] and stray == 0,
            f"{n} architectures measured again (need >= {need[f'noise_{kind}']}), {stray} not in the table",
        )
    part = noise[noise["kind"] == STANDALONE_KIND] if noise is not None else pd.DataFrame(columns=["arch_id"])
    cal_ids = set() if cal is None else set(cal["arch_id"])
    n, stray = part["arch_id"].nunique(), int((~part["arch_id"].isin(cal_ids)).sum())
    add(
        f"noise ({STANDALONE_KIND})",
        n >= need["noise_standalone"] and stray == 0,
        f"{n} calibration architectures trained again from scratch (need >= {need['noise_standalone']}), "
        f"{stray} not in the calibration tier",
    )
    timed = int(table["latency_ms"].notna().sum()) if "latency_ms" in table else 0
    add("latency", timed == len(table), f"{timed} of {len(table)} rows timed")
    exit_ids = _exit_ids(bench)
    missing = len(ids - exit_ids)
    add("exit records", missing == 0, f"{len(ids) - missing} of {len(ids)} architectures have them")
    bad: list[str] = []
    tasks = bench.tasks
    rows = list(zip(table["arch_id"], table["arch"]))
    networks: dict[Arch, str] = {}
    for arch_id, text in tqdm(rows, desc="round-trip ids", disable=not progress):
        try:
            arch = Arch.from_string(text, space=bench.space)
            # a row is stored under the spec as written (v1: as sampled); its id is that string's
            if arch.written_string != text or arch.written_id != arch_id:
                raise ValueError(f"id {arch.written_id} of {arch.written_string!r} != stored {arch_id}")
            if Arch.from_string(arch.to_string(), space=bench.space) != arch:
                raise ValueError(f"canonical string {arch.to_string()!r} does not parse back")
            if networks.setdefault(arch, arch_id) != arch_id:
                raise ValueError(f"the same network as row {networks[arch]} (canonical id {arch.id})")
            if rebuild:
                build_model(arch, tasks)
        except Exception as err:  # every failure is reported, none stops the check
            bad.append(f"{arch_id}: {err}")
    what = "round-trip and rebuild" if rebuild else "round-trip"
    add(
        "ids " + what,
        not bad,
        f"{len(rows) - len(bad)} of {len(rows)} {what}" + (f"; first failure {bad[0]}" if bad else ""),
    )
    return out


def _exit_ids(bench) -> set[str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    paths = role_paths(bench.root, bench.manifest, "exits")
    if not paths:
        return set()
    return set(
        pa.concat_arrays(
            [pq.read_table(p, columns=["arch_id"]).column(0).combine_chunks() for p in paths]
        ).to_pylist()
    )
