"""SYNTHETIC benchmark releases for tests and speed benchmarks — not measurements.

:func:`synthetic_release` writes a directory in exactly the release layout (see
:mod:`nasbench_mt.release.manifest`): real architectures (``space.sample``, ``space`` the v1 geometry with
the release's tasks, any number of them) and real costs, with every accuracy,
latency and per-sample column drawn from a seeded toy model (accuracy grows with log-MACs and exit depth,
latency with MACs).  The manifest says ``"synthetic": true`` under ``generation``.  Use it to exercise code
paths, never to draw conclusions.

Costs are ``"exact"`` (``measure_costs(build_model(arch))`` per arch, ~0.15 s each) or ``"composed"``: MACs
and parameters summed from exactly measured per-block / per-head segment costs (equal to the exact figures,
since segments are independent), with a rough peak-memory estimate; use it for thousands of rows.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

from nasbench_mt.release.schema import (
    EXIT_POSITIONS,
    MEAN_COLUMNS,
    latency_columns,
    mean_parts,
    score_column,
    segment_columns,
    table_columns,
)
from nasbench_mt.space.arch import V1, Arch, Block
from nasbench_mt.space.tasks import TaskSpec

__all__ = [
    "TINY_SUITE_KWARGS",
    "composed_costs",
    "suite_cache",
    "synthetic_image_folder",
    "synthetic_release",
    "tiny_generation_env",
]


def _exact_costs(arch: Arch, tasks: Sequence[TaskSpec]) -> dict[str, Any]:
    from nasbench_mt.space.costs import measure_costs
    from nasbench_mt.space.model import build_model

    return measure_costs(build_model(arch, tasks)).as_row()


class _SegmentTable:
    """Exact per-block and per-head MACs/params, measured once on 2 x |blocks| reference networks."""

    def __init__(self, tasks: Sequence[TaskSpec]) -> None:
        from nasbench_mt.space.costs import measure_costs
        from nasbench_mt.space.model import build_model

        self.tasks = tuple(tasks)
        space = self.space = V1.with_tasks(self.tasks)
        n = space.num_stages
        self.block: dict[tuple[int, bool, Block], tuple[int, int]] = {}
        for blk in space.block_choices:
            one, two = (
                measure_costs(
                    build_model(Arch([[blk] * d] * n, (n,) * len(tasks), space.exit_choices, space))
                )
                for d in (1, 2)
            )
            for s in range(1, n + 1):
                seg = f"trunk_s{s}"
                first = (one.segment_macs[seg], one.segment_params[seg])
                both = (two.segment_macs[seg], two.segment_params[seg])
                self.block[(s, True, blk)] = first
                self.block[(s, False, blk)] = (both[0] - first[0], both[1] - first[1])
        self.stem = (one.segment_macs["stem"], one.segment_params["stem"])
        self.head = {
            (t.name, k): (one.segment_macs[f"{t.name}_e{k}"], one.segment_params[f"{t.name}_e{k}"])
            for t in tasks
            for k in EXIT_POSITIONS
        }

    def stage(self, s: int, blocks: Sequence[Block]) -> tuple[int, int]:
        costs = [self.block[(s, i == 0, b)] for i, b in enumerate(blocks)]
        return sum(c[0] for c in costs), sum(c[1] for c in costs)


def composed_costs(arch: Arch, table: _SegmentTable) -> dict[str, Any]:
    """Cost columns of ``arch`` summed from exact segment costs (peak memory is a rough estimate)."""
    macs: dict[str, int] = {"stem": table.stem[0]}
    params: dict[str, int] = {"stem": table.stem[1]}
    for s in range(1, max(arch.written_branches) + 1):
        macs[f"trunk_s{s}"], params[f"trunk_s{s}"] = table.stage(s, arch.stages[s - 1])
    per_task = {}
    for t, bp in zip(table.tasks, arch.written_branches):
        path = ["stem"] + [f"trunk_s{s}" for s in range(1, bp + 1)]
        for s in range(bp + 1, table.space.num_stages + 1):
            macs[f"{t.name}_s{s}"], params[f"{t.name}_s{s}"] = table.stage(s, arch.stages[s - 1])
            path.append(f"{t.name}_s{s}")
        for k in arch.all_exits:
            macs[f"{t.name}_e{k}"], params[f"{t.name}_e{k}"] = table.head[(t.name, k)]
            path.append(f"{t.name}_e{k}")
        per_task[t.name] = sum(params[p] for p in path)

    def stage_of(seg: str) -> int:
        return 0 if seg == "stem" else int(seg.rsplit("_", 1)[1][1:])

    row: dict[str, Any] = {"params": sum(params.values()), "macs": sum(macs.values())}
    row["flops"] = 2 * row["macs"]
    row.update({f"params_{t}": v for t, v in per_task.items()})
    row.update({f"macs_e{k}": sum(v for s, v in macs.items() if stage_of(s) <= k) for k in arch.all_exits})
    row.update({f"macs_seg_{s}": v for s, v in macs.items()})
    # rough estimate, not measured: input + stage-1 expanded activations (16x16), more with early branches
    hidden = 16 * 16 * table.space.stages[0].channels * max(b.expand for b in arch.stages[0])
    own_early = sum(bp < 1 for bp in arch.written_branches)
    row["peak_mem_bytes"] = int(4 * (3 * 32 * 32 + 2 * hidden) * (1 + 0.3 * own_early))
    return row


def _consistent(frame: pd.DataFrame, tasks: Sequence[TaskSpec]) -> pd.DataFrame:
    """``frame`` with the columns that other columns define recomputed (final-exit scores from ``_e4``,
    the means from the final-exit scores, ``latency_norm`` from the two latencies), scores kept in
    [0, 100], so perturbed copies still obey the release's value domains."""
    frame = frame.copy()
    last = EXIT_POSITIONS[-1]
    for split, mean in MEAN_COLUMNS.items():
        for t in tasks:
            cols = [c for c in frame.columns if c.startswith(f"{split}_{t.name}")]
            if t.higher_is_better:
                frame[cols] = frame[cols].clip(0.0, 100.0)
            else:
                frame[cols] = frame[cols].clip(lower=0.0)
            if score_column(t.name, split, last) in frame.columns:
                frame[score_column(t.name, split)] = frame[score_column(t.name, split, last)]
        if mean in frame.columns:
            frame[mean] = frame[mean_parts(tasks, split)].mean(axis=1)
    if "latency_norm" in frame.columns:
        frame["latency_norm"] = frame["latency_ms"] / frame["ref_latency_ms"]
    return frame


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def synthetic_release(
    directory: str | os.PathLike[str],
    n: int = 30,
    seed: int = 0,
    n_samples: int = 200,
    costs: str = "exact",
    shards: int = 2,
    calibration: int = 10,
    noise: int = 20,
    tasks: Sequence[TaskSpec] | None = None,
    version: str = "synthetic",
    command: str | None = None,
) -> dict[str, Any]:
    """Write a SYNTHETIC release of ``n`` real architectures to ``directory``; returns its manifest."""
    import pandas as pd

    from nasbench_mt.release.manifest import write_manifest

    if costs not in ("exact", "composed"):
        raise ValueError(f"invalid costs: {costs!r}; allowed: ['exact', 'composed']")
    space = V1 if tasks is None else V1.with_tasks(tasks)
    tasks = space.tasks
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    archs = space.sample(n, seed=seed)
    seg_table = _SegmentTable(tasks) if costs == "composed" else None
    cost_rows = [_exact_costs(a, tasks) if seg_table is None else composed_costs(a, seg_table) for a in archs]
    log_macs = np.log([c["macs"] for c in cost_rows])
    z = (log_macs - log_macs.mean()) / (log_macs.std() + 1e-9)
    difficulty = {t.name: rng.normal(size=n_samples) for t in tasks}  # per test scene, shared by archs
    levels = (1.2, 0.4, 0.8, 0.0, 0.6)  # per task, how easy it is (cycled for longer task lists)
    base = {t.name: levels[i % len(levels)] for i, t in enumerate(tasks)}

    rows, exit_rows = [], []
    for i, (arch, cost) in enumerate(zip(archs, cost_rows)):
        row: dict[str, Any] = {
            "arch_id": arch.id,
            "arch": arch.to_string(),
            "protocol": "supernet",
            "seed": seed,
        }
        row.update({c: 0 for c in segment_columns(tasks)})
        row.update(cost)
        arch_skill = z[i] * 0.5 + rng.normal(scale=0.2)
        for t in tasks:
            jitter = rng.normal(scale=0.6, size=n_samples)
            for k in EXIT_POSITIONS:
                if k not in arch.all_exits:
                    row[score_column(t.name, "test", k)] = row[score_column(t.name, "val", k)] = np.nan
                    continue
                p = _sigmoid(base[t.name] + arch_skill + 0.5 * (k - 1) - 1.2 * difficulty[t.name] + jitter)
                if t.kind == "dense":
                    score = np.clip(p + rng.normal(scale=0.05, size=n_samples), 0, 1)
                    conf = np.clip(score + rng.normal(scale=0.08, size=n_samples), 0, 1)
                    test = 80 * score.mean()
                else:
                    score = (rng.random(n_samples) < p).astype(float)
                    conf = np.clip(0.35 + 0.6 * p + rng.normal(scale=0.1, size=n_samples), 0, 1)
                    test = 100 * score.mean()
                row[score_column(t.name, "test", k)] = test
                row[score_column(t.name, "val", k)] = test + rng.normal(scale=1.0)
                exit_rows.append(
                    {
                        "arch_id": arch.id,
                        "task": t.name,
                        "exit": k,
                        "conf": np.round(conf * 255).astype(np.uint8).tobytes(),
                        "score": np.round(score * 255).astype(np.uint8).tobytes(),
                    }
                )
            for split in ("test", "val"):
                row[score_column(t.name, split)] = row[score_column(t.name, split, 4)]
        for split, mean in MEAN_COLUMNS.items():
            row[mean] = float(np.mean([row[c] for c in mean_parts(tasks, split)]))
        speed = rng.lognormal(mean=0.0, sigma=0.1)
        for k in EXIT_POSITIONS:
            row[f"macs_e{k}"] = cost.get(f"macs_e{k}", np.nan)
            row[f"latency_e{k}_ms"] = (0.3 + 1.5e-7 * row[f"macs_e{k}"]) * speed
        row["latency_ms"] = row["latency_e4_ms"]
        row["latency_iqr_ms"] = 0.02 * row["latency_ms"]
        row["ref_latency_ms"] = 1.0 + abs(rng.normal(scale=0.02))
        row["latency_norm"] = row["latency_ms"] / row["ref_latency_ms"]
        row["measure_s"] = 2.0 + abs(rng.normal(scale=0.5))
        rows.append(row)

    table = pd.DataFrame(rows)[table_columns(tasks)]
    int_cols = ["seed", "params", "macs", "flops", "peak_mem_bytes"] + [f"params_{t.name}" for t in tasks]
    table[int_cols + segment_columns(tasks)] = table[int_cols + segment_columns(tasks)].astype("int64")
    files = []
    lat = latency_columns()
    for s, part in enumerate(np.array_split(np.arange(n), shards)):
        name = f"archs-{s:05d}.parquet"
        table.iloc[part].drop(columns=lat).to_parquet(root / name, index=False)
        files.append((name, "archs"))
    table[["arch_id", *lat]].to_parquet(root / "latency-00000.parquet", index=False)
    files.append(("latency-00000.parquet", "latency"))
    exits = pd.DataFrame(exit_rows)
    exits["exit"] = exits["exit"].astype("int8")
    exits.to_parquet(root / "exits-00000.parquet", index=False)
    files.append(("exits-00000.parquet", "exits"))

    score_cols = [c for c in table.columns if c.startswith(("test_", "val_")) or c.endswith("mean_acc")]
    if calibration:
        calib = table.iloc[:calibration].copy()
        calib["protocol"] = "standalone"
        calib[score_cols] = calib[score_cols] + rng.normal(scale=3.0, size=(len(calib), len(score_cols)))
        calib = _consistent(calib, tasks)
        calib.to_parquet(root / "calibration-00000.parquet", index=False)
        files.append(("calibration-00000.parquet", "calibration"))
    if noise:
        again = table.iloc[:noise]
        seed_rows = again[["arch_id", *score_cols]].copy()
        seed_rows[score_cols] += rng.normal(scale=1.5, size=(len(again), len(score_cols)))
        seed_rows = _consistent(seed_rows, tasks)
        seed_rows.insert(1, "kind", "seed")
        seed_rows.insert(2, "seed", seed + 1)
        lat_rows = again[["arch_id", *lat]].copy()
        lat_rows[lat] *= rng.lognormal(sigma=0.03, size=(len(again), 1))
        lat_rows = _consistent(lat_rows, tasks)
        lat_rows.insert(1, "kind", "latency")
        lat_rows.insert(2, "seed", seed)
        pd.concat([seed_rows, lat_rows], ignore_index=True).to_parquet(
            root / "noise-00000.parquet", index=False
        )
        files.append(("noise-00000.parquet", "noise"))

    import pyarrow

    meta = {
        "version": version,
        "space": space.name,
        "tasks": tasks,
        "n_samples": n_samples,
        "generation": {
            "synthetic": True,
            "note": "SYNTHETIC accuracies/latencies from nasbench_mt.testing; costs are real",
            "command": command
            or f"synthetic_release(n={n}, seed={seed}, n_samples={n_samples}, costs={costs!r})",
            "seeds": {"sample": seed},
            "versions": {"numpy": np.__version__, "pandas": pd.__version__, "pyarrow": pyarrow.__version__},
            "costs": costs,
        },
        "noise": {"seed_rows": noise, "latency_rows": noise},
        "calibration": {"rows": calibration},
    }
    return write_manifest(root, files, meta)


def synthetic_image_folder(
    directory: str | os.PathLike[str], n_tasks: int = 4, n_images: int = 40, seed: int = 0
) -> Path:
    """Write a SYNTHETIC image folder of ``n_tasks`` tasks in the ``image-folder`` layout; returns the
    path of its JSON config (``load_suite("image-folder", config=...)``, ``--suite-arg config=...``).

    ``directory`` gets ``img/*.png`` (32x32 RGB), ``labels.csv`` (column ``file`` plus one column per task,
    ``band0``, ``band1``, ...) and ``config.json``.  Task ``i`` reads horizontal band ``i`` of the image: its
    brightness follows the label, so every task is learnable and each needs its own part of the image.
    Every third task is a regression (values 0-100, tolerance 10), the others classifications of 2 or 3
    classes.  For tests and the README's walk-through, never for conclusions.
    """
    import json

    import pandas as pd
    from PIL import Image

    if not isinstance(n_tasks, int) or not 1 <= n_tasks <= 32:
        raise ValueError(f"invalid n_tasks: {n_tasks!r}; allowed: an int in 1..32 (one band of pixels each)")
    root = Path(directory)
    (root / "img").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    columns = []
    for i in range(n_tasks):
        if i % 3 == 2:
            columns.append({"column": f"band{i}", "kind": "regression", "tolerance": 10})
        else:
            columns.append({"column": f"band{i}", "kind": "classification", "num_classes": 2 + i % 3})
    rows = []
    edges = np.linspace(0, 32, n_tasks + 1).astype(int)
    for k in range(n_images):
        image = rng.integers(0, 60, (32, 32, 3))
        row: dict[str, Any] = {"file": f"img/{k:04d}.png"}
        for i, col in enumerate(columns):
            if col["kind"] == "regression":
                value = round(float(rng.uniform(0, 100)), 2)
                level = value / 100
            else:
                value = int(rng.integers(col["num_classes"]))
                level = value / (col["num_classes"] - 1)
            row[col["column"]] = value
            image[edges[i] : edges[i + 1]] += int(160 * level)
        Image.fromarray(np.clip(image, 0, 255).astype(np.uint8)).save(root / row["file"])
        rows.append(row)
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    config = {"images": ".", "labels": "labels.csv", "image_column": "file", "tasks": columns}
    (root / "config.json").write_text(json.dumps(config, indent=1) + "\n")
    return root / "config.json"


# the mnist-scenes slice every generation test measures on (one tiny supernet serves them all)
TINY_SUITE_KWARGS = {"n_train": 96, "n_val": 32, "n_test": 32}


@contextlib.contextmanager
def suite_cache(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Point ``NASBENCH_MT_CACHE`` at ``path`` while the context runs (restored on exit)."""
    old = os.environ.get("NASBENCH_MT_CACHE")
    os.environ["NASBENCH_MT_CACHE"] = str(path)
    try:
        yield Path(path)
    finally:
        if old is None:
            os.environ.pop("NASBENCH_MT_CACHE", None)
        else:
            os.environ["NASBENCH_MT_CACHE"] = old


@contextlib.contextmanager
def tiny_generation_env(
    root: str | os.PathLike[str], suite_kwargs: dict, epochs: float = 1.0
) -> Iterator[Path]:
    """For generation tests: point ``NASBENCH_MT_CACHE`` into ``root`` (restored on exit) and train a supernet
    for ``epochs`` on a tiny mnist-scenes slice; yields the checkpoint path ``root/sn.pt``."""
    from nasbench_mt.measure.datasets import load_suite
    from nasbench_mt.measure.measurer import save_supernet
    from nasbench_mt.measure.supernet import Supernet
    from nasbench_mt.measure.train import TrainConfig, train_supernet

    root = Path(root)
    with suite_cache(root / "cache"):
        suite = load_suite("mnist-scenes", **suite_kwargs)
        net = Supernet(suite.tasks)
        train_supernet(net, suite.train, TrainConfig(epochs=epochs, batch_size=32, seed=0))
        save_supernet(net, root / "sn.pt", {"seed": 0})
        yield root / "sn.pt"
