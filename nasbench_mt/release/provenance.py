"""Provenance: the machine and package versions a result was computed with, and the manifest's record of
every generation run (:func:`update_manifest`)."""

from __future__ import annotations

import fcntl
import os
import platform
from pathlib import Path

import pandas as pd

from nasbench_mt.release.manifest import (
    MANIFEST_NAME,
    prefix_role,
    read_manifest,
    tasks_from_manifest,
    write_manifest,
)

__all__ = ["cpu_model", "machine", "package_versions", "training_core_hours", "update_manifest"]


def training_core_hours(meta: dict) -> float | None:
    """Core-hours it took to train a supernet, from its ``.json`` side file: the cumulative ``core_hours``
    that ``train-supernet`` records (a parent it started from included), else wall time x threads; None
    when the file records neither."""
    if "core_hours" in meta:
        return float(meta["core_hours"])
    if "train_seconds" in meta:
        return float(meta["train_seconds"]) * int(meta.get("threads", 1)) / 3600
    return None


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo where there is one) and the vector ISA PyTorch's kernels use
    on it, e.g. ``AMD EPYC (AVX2)``, for manifests and benchmark reports: machines reporting the same model
    name have measured the same row 3x apart in speed, and the ISA is one visible cause."""
    import torch

    name = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                name = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{name} ({torch.backends.cpu.get_cpu_capability()})"


def package_versions() -> str:
    """One line naming the packages (and torch's thread count) a result was computed with, for headers.

    Results of the GNN and pairwise predictors can move in the last float digits with the torch build and its
    thread count, so both are stated.
    """
    from importlib.metadata import PackageNotFoundError, version

    import torch

    from nasbench_mt import __version__

    parts = [f"nasbench-mt {__version__}", f"python {platform.python_version()}"]
    # xgboost comes as the ``xgboost`` or the CPU-only ``xgboost-cpu`` distribution
    for dists in (
        ("numpy",),
        ("pandas",),
        ("scikit-learn",),
        ("torch-geometric",),
        ("xgboost", "xgboost-cpu"),
        ("lightgbm",),
    ):
        for dist in dists:
            try:
                parts.append(f"{dist} {version(dist)}")
                break
            except PackageNotFoundError:
                continue
        else:
            parts.append(f"{dists[0]} not installed")
    threads = torch.get_num_threads()
    parts.append(f"torch {torch.__version__} ({threads} thread{'s' if threads != 1 else ''})")
    return ", ".join(parts)


def machine() -> dict:
    """The machine and package versions a generation ran with, for its manifest record."""
    import numpy
    import torch

    from nasbench_mt import __version__

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "pandas": pd.__version__,
        "nasbench_mt": __version__,
    }


def update_manifest(
    out: str | Path,
    version: str,
    tasks=None,
    generation: dict | None = None,
    key: str | None = None,
    extra: dict | None = None,
) -> dict:
    """Rewrite ``manifest.json`` listing every complete shard in ``out`` (sha256 of each).

    Holds an exclusive lock on ``out/.manifest.lock`` so that concurrent runs (say, the supernet table and the
    standalone calibration tier) never drop each other's files or generation records.  ``extra`` replaces
    the manifest's ``calibration`` / ``noise`` / ``compute`` sections.
    """
    root = Path(out)
    with open(root / ".manifest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _update_manifest_locked(root, version, tasks, generation, key, extra or {})


def _update_manifest_locked(root: Path, version: str, tasks, generation, key, extra: dict) -> dict:
    old: dict = {}
    if (root / MANIFEST_NAME).exists():
        old = read_manifest(root)
    # every file the manifest lists that is still there (whatever its name), and every packed shard
    files = {e["path"]: e["role"] for e in old.get("files", []) if (root / e["path"]).is_file()}
    for path in sorted(root.glob("*.parquet")):
        role = prefix_role(path.name.rsplit("-", 1)[0])
        if role is not None:
            files.setdefault(path.name, role)
    gen = dict(old.get("generation", {}))
    if generation is not None and key is not None:
        gen[key] = generation
    if tasks is None:
        if not old:
            return {}
        tasks = tasks_from_manifest(old)
    n_samples = old.get("n_samples", 0)
    if generation is not None and "n_per_sample" in generation.get("spec", {}) and key == "archs":
        n_samples = generation["spec"]["n_per_sample"]
    meta = {"version": version, "tasks": tasks, "n_samples": n_samples, "generation": gen}
    if "space" in old:
        meta["space"] = old["space"]
    for section in ("noise", "calibration", "compute"):
        if section in extra or old.get(section):
            meta[section] = extra.get(section, old.get(section))
    return write_manifest(root, sorted(files.items()), meta)
