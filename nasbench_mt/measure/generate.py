"""Sharded, resumable generation of benchmark files.

The architectures are ``V1.sample(n, seed)`` (so a larger ``n`` with the same seed extends a release), cut
into shards of ``shard_size``.  Every finished architecture is written atomically to
``<out>/partial/<prefix>-<shard>/<arch_id>.*.parquet``; when a shard is complete it is packed into
``<out>/<prefix>-<shard>.parquet`` (and ``exits-<shard>.parquet`` for the per-sample data), its partial folder
is removed and the manifest is rewritten.  A killed run loses only the architectures in flight;
``resume=True`` continues where it stopped, never duplicating or dropping a row.

Executors: ``local`` measures in-process (``workers=1``) or in a spawn process pool whose workers write the
partial files; ``ray`` runs each architecture as a Ray task (:mod:`nasbench_mt.measure.generate_ray`) and the
driver
writes the partial files from the returned rows.  Packing, resuming and the manifest are the same code.
"""

from __future__ import annotations

import fcntl
import json
import multiprocessing as mp
import os
import platform
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from tqdm.auto import tqdm

from nasbench_mt.measure.measurer import Measurer, MeasureSpec
from nasbench_mt.measure.train import resolve_device
from nasbench_mt.release.manifest import MANIFEST_NAME, PREFIX_ROLE, prefix_role, sha256_file, write_manifest
from nasbench_mt.space.arch import V1, Arch

__all__ = ["GenerateConfig", "cpu_model", "generate", "partial_row_files", "pending_archs"]

EXECUTORS = ("local", "ray")


@dataclass(frozen=True)
class GenerateConfig:
    """What to generate: ``n`` architectures sampled with ``seed``, measured under ``spec``."""

    out: str
    n: int
    seed: int = 0
    shard_size: int = 250
    spec: MeasureSpec = field(default_factory=MeasureSpec)
    prefix: str = "archs"  # archs | latency | ort-latency | calibration | noise-<name>
    workers: int = 1
    version: str = "v1"
    offset: int = 0  # skip the first `offset` sampled architectures (noise tiers may take a later slice)
    executor: str = "local"  # local | ray (not part of the identity: a run may resume on another executor)
    address: str | None = None  # ray: cluster address (None starts a local Ray instance)
    max_retries: int = 3  # ray: retries of a task whose worker died or raised

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ValueError(f"invalid executor: {self.executor!r}; allowed: {list(EXECUTORS)}")
        if not isinstance(self.max_retries, int) or self.max_retries < 0:
            raise ValueError(f"invalid max_retries: {self.max_retries!r}; allowed: an int >= 0")
        if not isinstance(self.n, int) or self.n < 1:
            raise ValueError(f"invalid n: {self.n!r}; allowed: an int >= 1")
        if not isinstance(self.shard_size, int) or self.shard_size < 1:
            raise ValueError(f"invalid shard_size: {self.shard_size!r}; allowed: an int >= 1")
        if not isinstance(self.workers, int) or self.workers < 1:
            raise ValueError(f"invalid workers: {self.workers!r}; allowed: an int >= 1")
        if prefix_role(self.prefix) is None:
            raise ValueError(f"invalid prefix: {self.prefix!r}; allowed: {[*PREFIX_ROLE, 'noise-<name>']}")

    @property
    def role(self) -> str:
        return prefix_role(self.prefix)

    def archs(self) -> list[Arch]:
        return V1.sample(self.offset + self.n, seed=self.seed)[self.offset :]

    def shard_path(self, k: int, prefix: str | None = None) -> Path:
        return Path(self.out) / f"{prefix or self.prefix}-{k:05d}.parquet"

    def partial_dir(self, k: int) -> Path:
        return Path(self.out) / "partial" / f"{self.prefix}-{k:05d}"

    def identity(self) -> dict:
        """What must match for a resumed run to continue an earlier one."""
        spec = asdict(self.spec)
        spec.pop("device")  # where it ran is recorded, but a run may resume on another device
        if spec["supernet"]:
            spec["supernet_sha256"] = sha256_file(spec["supernet"])
            spec["supernet"] = Path(spec["supernet"]).name
        return {"seed": self.seed, "shard_size": self.shard_size, "offset": self.offset, "spec": spec}


def _atomic_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` atomically (temp file + rename), without pandas' bulky schema metadata."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def _shards(cfg: GenerateConfig) -> list[list[Arch]]:
    archs = cfg.archs()
    return [archs[i : i + cfg.shard_size] for i in range(0, len(archs), cfg.shard_size)]


def partial_row_files(out: str | Path, prefix: str) -> list[Path]:
    """Row files of architectures already measured in ``out`` by a run of ``prefix`` whose shard is not yet
    complete (so not yet packed into ``<prefix>-<shard>.parquet``)."""
    return sorted(Path(out).glob(f"partial/{prefix}-*/*.row.parquet"))


def pending_archs(cfg: GenerateConfig) -> Iterator[tuple[int, Arch]]:
    """(shard, arch) pairs that still need measuring."""
    for k, shard in enumerate(_shards(cfg)):
        if cfg.shard_path(k).exists():
            continue
        done = {p.name.split(".")[0] for p in cfg.partial_dir(k).glob("*.row.parquet")}
        for arch in shard:
            if arch.id not in done:
                yield k, arch


# ----------------------------------------------------------------------------------------- workers
_MEASURER: Measurer | None = None


def _init_worker(spec: MeasureSpec) -> None:
    global _MEASURER
    _MEASURER = Measurer(spec)


def write_partial(folder: Path, arch_id: str, row: dict, exits: list[dict]) -> None:
    """Write one measured architecture's partial files atomically (the row last: it marks the arch done)."""
    folder.mkdir(parents=True, exist_ok=True)
    if exits:
        _atomic_parquet(pd.DataFrame(exits), folder / f"{arch_id}.exits.parquet")
    _atomic_parquet(pd.DataFrame([row]), folder / f"{arch_id}.row.parquet")


def _measure_one(job: tuple[str, int, str]) -> tuple[int, str]:
    partial, k, arch_text = job
    arch = Arch.from_string(arch_text)
    row, exits = _MEASURER(arch)
    write_partial(Path(partial), arch.id, row, exits)
    return k, arch.id


def _local_results(cfg: GenerateConfig, jobs: list[tuple[str, int, str]]) -> Iterator[tuple[int, str]]:
    """Measure ``jobs`` in-process or in a spawn pool, yielding (shard, arch_id) as partial files land."""
    if cfg.workers == 1:
        _init_worker(cfg.spec)
        yield from map(_measure_one, jobs)
        return
    pool = mp.get_context("spawn").Pool(cfg.workers, initializer=_init_worker, initargs=(cfg.spec,))
    previous = None
    if threading.current_thread() is threading.main_thread():
        # `kill PID` must stop the workers too: by default SIGTERM ends this process at once, skipping the
        # `finally` below, and the orphaned workers go on measuring (and competing for the cores)
        previous = signal.signal(signal.SIGTERM, _exit_on_sigterm)
    try:
        yield from pool.imap_unordered(_measure_one, jobs)
    finally:
        pool.terminate()
        pool.join()
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _exit_on_sigterm(signum: int, frame) -> None:
    raise SystemExit(128 + signum)


# ----------------------------------------------------------------------------------------- packing
def _pack_shard(cfg: GenerateConfig, k: int, shard: Sequence[Arch]) -> None:
    folder = cfg.partial_dir(k)
    rows = pd.concat([pd.read_parquet(folder / f"{a.id}.row.parquet") for a in shard], ignore_index=True)
    exit_files = [folder / f"{a.id}.exits.parquet" for a in shard]
    if cfg.prefix.startswith("noise-"):
        rows.insert(1, "kind", cfg.prefix.removeprefix("noise-"))
    if all(p.exists() for p in exit_files) and cfg.prefix == "archs":
        exits = pd.concat([pd.read_parquet(p) for p in exit_files], ignore_index=True)
        exits["exit"] = exits["exit"].astype("int8")
        _atomic_parquet(exits, cfg.shard_path(k, "exits"))
    _atomic_parquet(rows, cfg.shard_path(k))  # the shard file is written last: it marks the shard complete
    shutil.rmtree(folder)


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
    for dist in ("numpy", "pandas", "scikit-learn", "torch-geometric", "xgboost", "lightgbm"):
        try:
            parts.append(f"{dist} {version(dist)}")
        except PackageNotFoundError:
            parts.append(f"{dist} not installed")
    threads = torch.get_num_threads()
    parts.append(f"torch {torch.__version__} ({threads} thread{'s' if threads != 1 else ''})")
    return ", ".join(parts)


def _machine() -> dict:
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
    from nasbench_mt.release.manifest import read_manifest, tasks_from_manifest

    old: dict = {}
    if (root / MANIFEST_NAME).exists():
        old = read_manifest(root)
    files = []
    for path in sorted(root.glob("*.parquet")):
        role = prefix_role(path.name.rsplit("-", 1)[0])
        if role is not None:
            files.append((path.name, role))
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
    for section in ("noise", "calibration", "compute"):
        if section in extra or old.get(section):
            meta[section] = extra.get(section, old.get(section))
    return write_manifest(root, files, meta)


def generate(cfg: GenerateConfig, resume: bool = False, progress: bool = True) -> dict:
    """Measure every pending architecture of ``cfg`` and pack finished shards (see the module docstring)."""
    from nasbench_mt.measure.datasets import load_suite

    tasks = None
    identity = cfg.identity()
    if cfg.spec.protocol != "latency":  # loading validates the dataset before anything is measured
        resolve_device(cfg.spec.device)
        suite = load_suite(cfg.spec.suite, **cfg.spec.suite_kwargs)
        tasks = suite.tasks
        identity["suite_fingerprint"] = suite.fingerprint
        if cfg.spec.n_per_sample > len(suite.test):
            raise ValueError(
                f"invalid n_per_sample: {cfg.spec.n_per_sample} > {len(suite.test)} test images of suite "
                f"{cfg.spec.suite!r}; allowed: <= the test split size (--n-per-sample)"
            )
        del suite
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    state_file = out / "partial" / f"{cfg.prefix}.run.json"
    shards = _shards(cfg)
    started = any(cfg.shard_path(k).exists() for k in range(len(shards))) or state_file.exists()
    if started and not resume:
        raise ValueError(
            f"invalid out: {out} already holds '{cfg.prefix}' results; allowed: pass --resume to continue, "
            "or choose an empty --out"
        )
    previous = None
    if state_file.exists():
        previous = json.loads(state_file.read_text())
    elif started and (out / MANIFEST_NAME).exists():
        recorded = json.loads((out / MANIFEST_NAME).read_text()).get("generation", {}).get(cfg.prefix)
        previous = {k: recorded.get(k) for k in identity} if recorded else None
    if previous is not None and "suite_fingerprint" in identity and previous.get("suite_fingerprint") is None:
        previous["suite_fingerprint"] = identity["suite_fingerprint"]  # recorded before it was tracked
    if previous is not None and previous != identity:
        raise ValueError(
            f"invalid resume: {out} was generated with {previous}, not {identity}; "
            "allowed: the same seed, shard size, offset, measurement spec and dataset (suite fingerprint)"
        )
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(identity, indent=2))
    todo = list(pending_archs(cfg))
    remaining = {k: {a.id for kk, a in todo if kk == k} for k in {kk for kk, _ in todo}}
    # shards whose every arch is measured but not yet packed (killed between the last row and packing)
    for k, shard in enumerate(shards):
        if not cfg.shard_path(k).exists() and k not in remaining:
            _pack_shard(cfg, k, shard)
    jobs = [(str(cfg.partial_dir(k)), k, a.to_string()) for k, a in todo]
    t0 = time.time()
    bar = tqdm(
        total=len(cfg.archs()),
        initial=len(cfg.archs()) - len(jobs),
        desc=f"generate {cfg.prefix}",
        disable=not progress,
        smoothing=0.05,
    )
    if cfg.executor == "ray":
        from nasbench_mt.measure.generate_ray import ray_results

        results = ray_results(cfg, jobs)
    else:
        results = _local_results(cfg, jobs)
    try:
        for k, arch_id in results:
            bar.update()
            remaining[k].discard(arch_id)
            if not remaining[k]:
                _pack_shard(cfg, k, shards[k])
                _record(cfg, identity, t0, tasks)
    finally:
        bar.close()
        results.close()
    return _record(cfg, identity, t0, tasks)


def _record(cfg: GenerateConfig, identity: dict, t0: float, tasks) -> dict:
    generation = {
        "command": " ".join(["nasbench-mt", *sys.argv[1:]])
        if sys.argv and "nasbench-mt" in sys.argv[0]
        else None,
        "n": cfg.n,
        **identity,
        "executor": cfg.executor,
        "workers": cfg.workers,
        "device": "cpu" if cfg.spec.protocol == "latency" else str(resolve_device(cfg.spec.device)),
        "machine": _machine(),
        "last_session_seconds": round(time.time() - t0, 1),
    }
    return update_manifest(cfg.out, cfg.version, tasks, generation, key=cfg.prefix)
