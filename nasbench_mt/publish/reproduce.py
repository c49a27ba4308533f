"""Re-measure rows of a release with the measurement spec its manifest recorded, and compare.

Issue 5's reproducibility check: regenerating rows with the recorded command must reproduce their accuracies
exactly (measurement runs on one thread, so a row is bit-identical on any machine with the same software) and
their latency within the run-to-run noise.  :func:`reproduce_rows` picks ``n`` rows of a generation pass
(seeded), rebuilds the :class:`~nasbench_mt.measure.measurer.MeasureSpec` from the manifest, checks that the
supernet checkpoint and the dataset are the ones recorded (sha256, suite fingerprint), measures again and
reports per row which stored values differ.  ``nasbench-mt reproduce`` is the command-line face."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from nasbench_mt.release.manifest import (
    ReleaseError,
    prefix_role,
    role_paths,
    sha256_file,
    space_from_manifest,
    verify,
)
from nasbench_mt.release.schema import latency_columns, ort_latency_columns

__all__ = ["compare_row", "latency_noise", "reproduce_rows"]

TIMING = ("measure_s",)  # wall time of the measurement itself: never reproducible


def compare_row(stored: Mapping, fresh: Mapping, timed: Sequence[str] = ()) -> dict:
    """Compare a stored row with a fresh measurement of the same architecture.

    Every column present in both, except :data:`TIMING` and ``timed`` (latencies), must be equal (NaN equals
    NaN: an exit the architecture does not have).  Returns ``compared`` (number of exact columns),
    ``mismatched`` (their names), ``max_abs_diff`` over the numeric ones, ``latency_rel_diff``: the
    largest ``|fresh / stored - 1|`` over the ``timed`` columns both rows hold (NaN when there are none), and
    ``latency_norm_rel_diff``: the same over the ``*latency_norm`` columns only, which compare across machines
    (raw milliseconds move with the CPU's speed; the ratio to the interleaved reference network does not).
    """
    exact = [c for c in stored if c in fresh and c not in TIMING and c not in timed]
    mismatched, diffs = [], [0.0]
    for c in exact:
        a, b = stored[c], fresh[c]
        if isinstance(a, (int, float, np.number)) and isinstance(b, (int, float, np.number)):
            if math.isnan(a) and math.isnan(b):
                continue
            if a != b:
                mismatched.append(c)
                d = abs(float(a) - float(b))
                diffs.append(math.inf if math.isnan(d) else d)  # NaN against a number: infinitely off
        elif a != b:
            mismatched.append(c)
    rel = {
        c: abs(float(fresh[c]) / float(stored[c]) - 1)
        for c in timed
        if c in stored and c in fresh and not pd.isna(stored[c]) and not pd.isna(fresh[c]) and stored[c]
    }
    norm = [v for c, v in rel.items() if c.endswith("latency_norm")]
    return {
        "compared": len(exact),
        "mismatched": mismatched,
        "max_abs_diff": max(diffs),
        "latency_rel_diff": max(rel.values()) if rel else math.nan,
        "latency_norm_rel_diff": max(norm) if norm else math.nan,
    }


def latency_noise(root: str | Path) -> dict[str, float]:
    """Run-to-run noise of ``latency_norm`` in release ``root``.

    Quantiles of ``|again / stored - 1|`` over the archs its latency noise tier timed twice (``{}`` when the
    release has no such tier).  The pairs are :func:`nasbench_mt.release.stats.noise_pairs`'s, so only files
    the manifest lists are read."""
    from nasbench_mt.query.benchmark import load_benchmark
    from nasbench_mt.release.stats import noise_pairs

    bench = load_benchmark(path=root, verify_files=False)
    both = noise_pairs(bench.table, bench.noise).get("latency") if bench.noise is not None else None
    if both is None or "latency_norm_again" not in both.columns:
        return {}
    rel = (both["latency_norm_again"] / both["latency_norm"] - 1).abs().dropna()
    if not len(rel):
        return {}
    return {
        "n": len(rel),
        "median": float(rel.median()),
        "p90": float(rel.quantile(0.9)),
        "max": float(rel.max()),
    }


def _stored_exits(root: Path, manifest: Mapping, arch_id: str) -> pd.DataFrame | None:
    files = role_paths(root, manifest, "exits")
    if not files:
        return None
    parts = [pd.read_parquet(f, filters=[("arch_id", "==", arch_id)]) for f in files]
    found = pd.concat(parts, ignore_index=True)
    return found if len(found) else None


def _exits_equal(stored: pd.DataFrame, fresh: list[dict]) -> bool:
    key = ["task", "exit"]
    a = stored.sort_values(key).reset_index(drop=True)
    b = pd.DataFrame(fresh).sort_values(key).reset_index(drop=True)
    if len(a) != len(b):
        return False
    same_keys = (a["task"] == b["task"]).all() and (a["exit"].astype(int) == b["exit"].astype(int)).all()
    return bool(same_keys and (a["conf"] == b["conf"]).all() and (a["score"] == b["score"]).all())


def reproduce_rows(
    path: str | Path,
    n: int = 5,
    seed: int = 0,
    prefix: str = "archs",
    supernet: str | Path | None = None,
    ids: Sequence[str] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Measure ``n`` seeded rows (or ``ids``) of the ``prefix`` pass of release ``path`` again and compare.

    ``supernet`` overrides where the checkpoint is read from (default: the file name recorded in the manifest,
    inside ``path``); it must have the recorded sha256.  One row per architecture: ``arch_id``, the
    :func:`compare_row` fields, ``exits_equal`` (per-sample exit records identical; None where the release
    stores none for the pass) and ``identical`` (no stored value differs; latency is only reported).
    """
    from nasbench_mt.measure.measurer import Measurer, MeasureSpec

    root = Path(path)
    manifest = verify(root)
    runs = manifest.get("generation", {})
    if prefix not in runs:
        raise ReleaseError(
            f"invalid prefix: {prefix!r}; allowed: a generation pass recorded in {root}: {sorted(runs)}"
        )
    run = runs[prefix]
    spec = dict(run["spec"])
    expected_sha = spec.pop("supernet_sha256", None)
    if spec.get("supernet"):
        checkpoint = Path(supernet) if supernet else root / spec["supernet"]
        if not checkpoint.is_file():
            raise ValueError(
                f"invalid supernet: {checkpoint} does not exist; allowed: the checkpoint the pass was "
                f"measured with (sha256 {expected_sha}), passed as supernet="
            )
        actual_sha = sha256_file(checkpoint)
        if actual_sha != expected_sha:
            raise ValueError(
                f"invalid supernet: {checkpoint} has sha256 {actual_sha}; allowed: the "
                f"checkpoint the pass was measured with (sha256 {expected_sha})"
            )
        spec["supernet"] = str(checkpoint)
    files = role_paths(root, manifest, prefix_role(prefix), prefix=prefix)
    if not files:
        raise ReleaseError(f"{root} holds no finished '{prefix}' shard ({prefix}-*.parquet)")
    table = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True).set_index("arch_id")
    if ids is None:
        if not 1 <= n <= len(table):
            raise ValueError(f"invalid n: {n}; allowed: 1..{len(table)} (rows of the '{prefix}' pass)")
        ids = list(np.random.default_rng(seed).choice(table.index.to_numpy(), size=n, replace=False))
    unknown = [i for i in ids if i not in table.index]
    if unknown:
        raise ValueError(f"invalid ids: {unknown}; allowed: arch ids of the '{prefix}' pass of {root}")
    measurer = Measurer(MeasureSpec(**spec))
    suite = getattr(measurer, "suite", None)
    if suite is not None and run.get("suite_fingerprint") not in (None, suite.fingerprint):
        raise ReleaseError(
            "the dataset differs from the one the pass was measured on: suite fingerprint "
            f"{suite.fingerprint}, recorded {run['suite_fingerprint']}"
        )
    timed = latency_columns() + ort_latency_columns()
    offset = run.get("offset", 0)
    # the architectures the pass measured, by the id their rows carry
    space = space_from_manifest(manifest)
    sampled = {a.written_id: a for a in space.sample(offset + run["n"], seed=run["seed"])[offset:]}
    out = []
    for arch_id in tqdm(ids, desc=f"reproduce {prefix}", disable=not progress):
        stored = {"arch_id": arch_id, **table.loc[arch_id].to_dict()}
        arch = sampled[arch_id]
        fresh, exits = measurer(arch)
        result = {"arch_id": arch_id, **compare_row(stored, fresh, timed)}
        stored_exits = _stored_exits(root, manifest, arch_id) if prefix == "archs" else None
        result["exits_equal"] = None if stored_exits is None else _exits_equal(stored_exits, exits)
        result["identical"] = not result["mismatched"] and result["exits_equal"] is not False
        out.append(result)
    return pd.DataFrame(out)
