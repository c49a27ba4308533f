"""What a generation run writes where: its config, the shards of sampled architectures, and the partial files
of architectures measured before their shard is packed (shared by the local and the Ray executor)."""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from nasbench_mt.measure.datasets import suite_tasks
from nasbench_mt.measure.measurer import MeasureSpec
from nasbench_mt.release.manifest import MANIFEST_NAME, PREFIX_ROLE, prefix_role, read_manifest, sha256_file
from nasbench_mt.space.arch import V1, Arch, SearchSpace

__all__ = [
    "EXECUTORS",
    "GenerateConfig",
    "atomic_parquet",
    "partial_row_files",
    "pending_archs",
    "split_shards",
    "write_partial",
]

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
    version: str | None = None  # the release's name; None: its manifest's, else the name of the folder `out`
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

    def release_name(self) -> str:
        """The release's version name: ``version`` where given, else the one the manifest in ``out`` records,
        else the name of the folder ``out`` (``data/v2`` -> ``v2``); a name that contradicts the manifest's
        is refused, so that extending a release never renames it."""
        recorded = None
        if (Path(self.out) / MANIFEST_NAME).is_file():
            recorded = read_manifest(self.out).get("version")
        if self.version is not None and recorded is not None and self.version != recorded:
            raise ValueError(
                f"invalid release name {self.version!r}: {self.out} holds release {recorded!r}; allowed: "
                f"{recorded!r}, or no name to keep it"
            )
        return self.version or recorded or Path(self.out).resolve().name

    @property
    def role(self) -> str:
        return prefix_role(self.prefix)

    @functools.cached_property
    def space(self) -> SearchSpace:
        """The v1 geometry with the task list of the suite measured (``V1`` for the built-in suite)."""
        return V1.with_tasks(suite_tasks(self.spec.suite, **self.spec.suite_kwargs))

    def archs(self) -> list[Arch]:
        """The architectures to measure, as drawn: a row is named by the spec its sampler drew
        (:attr:`Arch.written_string`, e.g. ``b=2,0,4``, and its id), so a pass regenerates its rows exactly
        and every tier of a release names an arch alike; lookups also take the canonical name."""
        return self.space.sample(self.offset + self.n, seed=self.seed)[self.offset :]

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


def atomic_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` atomically (temp file + rename), without pandas' bulky schema metadata."""
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    table = pa.Table.from_pandas(df, preserve_index=False).replace_schema_metadata(None)
    pq.write_table(table, tmp, compression="zstd")
    os.replace(tmp, path)


def split_shards(cfg: GenerateConfig) -> list[list[Arch]]:
    archs = cfg.archs()
    return [archs[i : i + cfg.shard_size] for i in range(0, len(archs), cfg.shard_size)]


def partial_row_files(out: str | Path, prefix: str) -> list[Path]:
    """Row files of architectures already measured in ``out`` by a run of ``prefix`` whose shard is not yet
    complete (so not yet packed into ``<prefix>-<shard>.parquet``)."""
    return sorted(Path(out).glob(f"partial/{prefix}-*/*.row.parquet"))


def pending_archs(cfg: GenerateConfig) -> Iterator[tuple[int, Arch]]:
    """(shard, arch) pairs that still need measuring."""
    for k, shard in enumerate(split_shards(cfg)):
        if cfg.shard_path(k).exists():
            continue
        done = {p.name.split(".")[0] for p in cfg.partial_dir(k).glob("*.row.parquet")}
        for arch in shard:
            if arch.written_id not in done:
                yield k, arch


def write_partial(folder: Path, arch_id: str, row: dict, exits: list[dict]) -> None:
    """Write one measured architecture's partial files atomically (the row last: it marks the arch done)."""
    folder.mkdir(parents=True, exist_ok=True)
    if exits:
        atomic_parquet(pd.DataFrame(exits), folder / f"{arch_id}.exits.parquet")
    atomic_parquet(pd.DataFrame([row]), folder / f"{arch_id}.row.parquet")
