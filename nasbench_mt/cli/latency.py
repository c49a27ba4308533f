"""``nasbench-mt measure-latency`` and ``transfer-latency``: the table's latency on your own device."""

from __future__ import annotations

import argparse
import json
import platform
import sys
from pathlib import Path

from nasbench_mt.cli.options import command, count_arg, quiet_arg

__all__: list[str] = []

META_KEY = b"nasbench_mt"  # Parquet key-value metadata: how the device file was measured


def _release(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--path", default=None, metavar="DIR", help="release directory to read (default: the shipped release)"
    )
    p.add_argument(
        "--release", default="v1", metavar="NAME", help="shipped release version (default: %(default)s)"
    )


def _measure_args(p: argparse.ArgumentParser) -> None:
    count_arg(p, "architectures of the release to time, 10-50 for transfer-latency", old="--archs")
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE.parquet",
        help="Parquet file to write: arch_id + latency columns in ms",
    )
    _release(p)
    p.add_argument(
        "--backend",
        choices=["torch", "onnx"],
        default="torch",
        help="runtime: PyTorch eager as the release, or ONNX Runtime (the [onnx] extra) "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--threads", type=int, default=1, help="intra-op threads, 1 as the release (default: %(default)s)"
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the sample of architectures (default: %(default)s)"
    )
    p.add_argument(
        "--rounds", type=int, default=30, help="timed rounds per architecture (default: %(default)s)"
    )
    p.add_argument(
        "--energy",
        choices=["auto", "rapl", "nvml"],
        default=None,
        help="also measure energy per inference (mJ, per exit) from the hardware's counter: rapl (Linux "
        "powercap), nvml (NVIDIA GPU), auto (the first found); default: no energy",
    )
    p.add_argument(
        "--energy-seconds",
        type=float,
        default=2.0,
        help="seconds each exit position runs for its energy reading (default: %(default)s)",
    )
    quiet_arg(p)


def _write(df, path: str, meta: dict) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(df, preserve_index=False)
    table = table.replace_schema_metadata({META_KEY: json.dumps(meta).encode()})
    tmp = out.with_name(out.name + ".tmp")
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(out)


@command("measure-latency", _measure_args)
def _measure_latency(args: argparse.Namespace) -> int:
    """Time a seeded sample of the release's architectures on this machine (input to transfer-latency)."""
    import torch
    from tqdm.auto import tqdm

    from nasbench_mt.measure.latency_transfer import measure_device
    from nasbench_mt.query.benchmark import load_benchmark
    from nasbench_mt.release.provenance import cpu_model

    bench = load_benchmark(args.release, path=args.path)
    bar = tqdm(
        total=args.n, desc=f"measure-latency ({args.backend}, {args.threads} thread(s))", disable=args.quiet
    )
    df = measure_device(
        bench.table,
        args.n,
        space=bench.space,
        seed=args.seed,
        backend=args.backend,
        threads=args.threads,
        rounds=args.rounds,
        progress=lambda i, n: bar.update(),
        energy=args.energy,
        energy_seconds=args.energy_seconds,
    )
    bar.close()
    meta = {
        "command": " ".join(["nasbench-mt", *sys.argv[1:]]),
        "release": str(bench.root),
        "version": bench.manifest.get("version"),
        "backend": args.backend,
        "threads": args.threads,
        "rounds": args.rounds,
        "seed": args.seed,
        "energy": args.energy,
        "torch": torch.__version__,
        "machine": platform.machine(),
        "cpu": cpu_model(),
    }
    _write(df, args.out, meta)
    print(
        f"{args.out}: {len(df)} architectures, median latency {df['latency_ms'].median():.3f} ms "
        f"(reference {df['ref_latency_ms'].median():.3f} ms)"
    )
    return 0


def _transfer_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--measured",
        required=True,
        metavar="FILE.parquet",
        help="the Parquet file measure-latency wrote (required)",
    )
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE.parquet",
        help="Parquet file to write: every arch_id's predicted latency in your device's ms (required)",
    )
    _release(p)
    p.add_argument("--json", action="store_true", help="print a JSON summary instead of text, for scripts")


@command("transfer-latency", _transfer_args)
def _transfer_latency(args: argparse.Namespace) -> int:
    """Predict your device's latency for the whole release from a few measured architectures."""
    import pandas as pd

    from nasbench_mt.measure.latency_transfer import LatencyTransfer
    from nasbench_mt.query.benchmark import load_benchmark

    if not Path(args.measured).is_file():
        raise ValueError(
            f"invalid --measured: {args.measured} does not exist; allowed: measure-latency's --out"
        )
    measured = pd.read_parquet(args.measured)
    bench = load_benchmark(args.release, path=args.path)
    model = LatencyTransfer(space=bench.space).fit(bench.table, measured)
    pred = model.predict(bench.table)
    pred.insert(1, "measured", pred["arch_id"].isin(set(measured["arch_id"])))
    _write(pred, args.out, {"measured_file": str(args.measured), "n_measured": len(measured)})
    summary = {
        "out": args.out,
        "rows": len(pred),
        "n_measured": len(measured),
        "targets": [c for c in pred.columns if c.startswith("latency")],
        "median_latency_ms": float(pred["latency_ms"].median()),
    }
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"{args.out}: predicted {', '.join(summary['targets'])} for {len(pred)} architectures from "
            f"{len(measured)} measured (median latency {summary['median_latency_ms']:.3f} ms)"
        )
    return 0
