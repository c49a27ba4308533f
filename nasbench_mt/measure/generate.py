"""Sharded, resumable generation of benchmark files.

The architectures are ``space.sample(n, seed)``, ``space`` the v1 geometry with the suite's task list (so
a larger ``n`` with the same seed extends a release), cut into shards of ``shard_size``.  Every finished
architecture is written atomically to
``<out>/partial/<prefix>-<shard>/<arch_id>.*.parquet``; when a shard is complete it is packed into
``<out>/<prefix>-<shard>.parquet`` (and ``exits-<shard>.parquet`` for the per-sample data), its partial folder
is removed and the manifest is rewritten.  A killed run loses only the architectures in flight;
``resume=True`` continues where it stopped, never duplicating or dropping a row.

Executors: ``local`` measures in-process (``workers=1``) or in a spawn process pool whose workers write the
partial files; ``ray`` runs each architecture as a Ray task (:mod:`nasbench_mt.measure.generate_ray`) and the
driver writes the partial files from the returned rows.  Packing, resuming and the manifest are the same code.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import MISSING, replace
from dataclasses import fields as dataclass_fields
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from nasbench_mt.measure.measurer import Measurer, MeasureSpec
from nasbench_mt.measure.shards import (
    GenerateConfig,
    atomic_parquet,
    partial_row_files,
    pending_archs,
    split_shards,
    write_partial,
)
from nasbench_mt.measure.train import TrainConfig, make_balancer, resolve_device
from nasbench_mt.release.manifest import MANIFEST_NAME
from nasbench_mt.release.provenance import machine, update_manifest
from nasbench_mt.space.arch import Arch

__all__ = ["GenerateConfig", "generate", "partial_row_files", "pending_archs"]

# ----------------------------------------------------------------------------------------- workers
_MEASURER: Measurer | None = None


def _init_worker(spec: MeasureSpec) -> None:
    global _MEASURER
    _MEASURER = Measurer(spec)


def _measure_one(job: tuple[str, int, str]) -> tuple[int, str]:
    partial, k, arch_text = job
    arch = Arch.from_string(arch_text, space=_MEASURER.space)
    row, exits = _MEASURER(arch)
    write_partial(Path(partial), arch.written_id, row, exits)
    return k, arch.written_id


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
    rows = pd.concat(
        [pd.read_parquet(folder / f"{a.written_id}.row.parquet") for a in shard], ignore_index=True
    )
    exit_files = [folder / f"{a.written_id}.exits.parquet" for a in shard]
    if cfg.prefix.startswith("noise-"):
        rows.insert(1, "kind", cfg.prefix.removeprefix("noise-"))
    if all(p.exists() for p in exit_files) and cfg.prefix == "archs":
        exits = pd.concat([pd.read_parquet(p) for p in exit_files], ignore_index=True)
        exits["exit"] = exits["exit"].astype("int8")
        atomic_parquet(exits, cfg.shard_path(k, "exits"))
    atomic_parquet(rows, cfg.shard_path(k))  # the shard file is written last: it marks the shard complete
    shutil.rmtree(folder)


def generate(cfg: GenerateConfig, resume: bool = False, progress: bool = True) -> dict:
    """Measure every pending architecture of ``cfg`` and pack finished shards (see the module docstring)."""
    from nasbench_mt.measure.datasets import load_suite, suite_tasks

    tasks = None
    cfg = replace(cfg, version=cfg.release_name())  # fails before anything is measured
    identity = cfg.identity()
    if cfg.spec.protocol == "latency-onnx":  # times networks on a fixed input: no scenes are needed
        tasks = suite_tasks(cfg.spec.suite, **cfg.spec.suite_kwargs)
    elif cfg.spec.protocol != "latency":  # loading validates the dataset before anything is measured
        resolve_device(cfg.spec.device)
        suite = load_suite(cfg.spec.suite, **cfg.spec.suite_kwargs)
        tasks = suite.tasks
        identity["suite_fingerprint"] = suite.fingerprint
        for fields in (cfg.spec.train, cfg.spec.finetune):  # loss weights name the suite's tasks
            if fields:
                make_balancer(TrainConfig(**fields), tasks, cfg.archs()[0].space)
        evaluates = cfg.spec.protocol in ("supernet", "standalone")  # the others keep no per-sample data
        if evaluates and cfg.spec.n_per_sample > len(suite.test):
            raise ValueError(
                f"invalid n_per_sample: {cfg.spec.n_per_sample} > {len(suite.test)} test images of suite "
                f"{cfg.spec.suite!r}; allowed: <= the test split size (--n-per-sample)"
            )
        del suite
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    state_file = out / "partial" / f"{cfg.prefix}.run.json"
    shards = split_shards(cfg)
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
    if previous is not None and isinstance(previous.get("spec"), dict):
        # spec fields added after the run began hold their defaults: the measurement is the same
        defaults = {
            f.name: f.default_factory() if f.default_factory is not MISSING else f.default
            for f in dataclass_fields(MeasureSpec)
        }
        for name, default in defaults.items():
            if name not in previous["spec"] and identity["spec"].get(name) == default:
                previous["spec"][name] = default
    if previous is not None and previous != identity:
        raise ValueError(
            f"invalid resume: {out} was generated with {previous}, not {identity}; "
            "allowed: the same seed, shard size, offset, measurement spec and dataset (suite fingerprint)"
        )
    state_file.parent.mkdir(parents=True, exist_ok=True)
    state_file.write_text(json.dumps(identity, indent=2))
    todo = list(pending_archs(cfg))
    remaining = {k: {a.written_id for kk, a in todo if kk == k} for k in {kk for kk, _ in todo}}
    # shards whose every arch is measured but not yet packed (killed between the last row and packing)
    unpacked = [k for k in range(len(shards)) if not cfg.shard_path(k).exists() and k not in remaining]
    for k in unpacked:
        _pack_shard(cfg, k, shards[k])
    jobs = [(str(cfg.partial_dir(k)), k, a.written_string) for k, a in todo]
    manifest_path = out / MANIFEST_NAME
    if not jobs and not unpacked and manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if cfg.prefix in manifest.get("generation", {}):
            # nothing measured or packed here: the record keeps the machine, device and command that did it
            return manifest
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
        "device": "cpu" if cfg.spec.protocol.startswith("latency") else str(resolve_device(cfg.spec.device)),
        "machine": machine(),
        "last_session_seconds": round(time.time() - t0, 1),
    }
    balance = _supernet_loss_balance(cfg.spec)
    if balance is not None:
        generation["loss_balance"] = balance
    return update_manifest(cfg.out, cfg.version, tasks, generation, key=cfg.prefix)


def _supernet_loss_balance(spec: MeasureSpec) -> dict | None:
    """How the measured supernet balanced its losses, from its side file (absent before the option was)."""
    if spec.protocol != "supernet" or not spec.supernet:
        return None
    side = Path(spec.supernet).with_suffix(".json")
    return json.loads(side.read_text()).get("loss_balance") if side.is_file() else None
