"""``nasbench-mt query | info | sample``: the benchmark from the command line (``--json`` for scripts)."""

from __future__ import annotations

import argparse
import functools
import json
import math
from collections.abc import Callable
from typing import Any

from nasbench_mt.cli import command

__all__: list[str] = []


def _release_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--path", default=None, help="release directory (default: the shipped release)")
    p.add_argument("--release", default="v1", help="shipped release version (default: v1)")
    p.add_argument("--json", action="store_true", help="machine-readable output")


def _clean_errors(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn a lookup miss into the CLI's one-line error (``main`` prints ValueErrors without a traceback)."""

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        from nasbench_mt.results import ArchNotInBenchmarkError

        try:
            return fn(args)
        except ArchNotInBenchmarkError as err:
            raise ValueError(err.message) from None

    return run


def _load(args: argparse.Namespace):
    from nasbench_mt.benchmark import load_benchmark

    return load_benchmark(args.release, path=args.path)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if not math.isfinite(v) else f"{v:.4g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, dict):
        return "  ".join(f"{k}: {_fmt(x)}" for k, x in v.items())
    return str(v)


def _query_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("arch", metavar="ARCH_OR_ID", help="canonical architecture string or 12-hex id")
    _release_args(p)


@command("query", _query_args)
@_clean_errors
def _query(args: argparse.Namespace) -> int:
    """Print the measured metrics of one architecture."""
    result = _load(args).query(args.arch)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    for key, value in result.to_dict().items():
        if key in ("exit_accuracy",):
            for task, per_exit in value.items():
                print(f"{'exit_accuracy.' + task:<22}{_fmt(per_exit)}")
        elif key not in ("predicted_fields",) or value:
            print(f"{key:<22}{_fmt(value) if value is not None else 'nan'}")
    return 0


def _release_card(bench) -> dict[str, Any]:
    import numpy as np

    m = bench.manifest
    t = bench.table
    summary = {}
    for col in [
        "mean_acc",
        *(f"test_{x.name}" for x in bench.tasks),
        "latency_ms",
        "latency_norm",
        "params",
        "macs",
    ]:
        v = t[col].to_numpy(dtype=float)
        v = v[np.isfinite(v)]
        if len(v):
            summary[col] = {"min": float(v.min()), "median": float(np.median(v)), "max": float(v.max())}
    calib = bench.calibration
    calib_tau = {}
    if calib is not None and len(calib):
        from nasbench_mt.release import calibration_stats

        stats = calibration_stats(t, calib, bench.tasks)
        calib_tau = {col: s["kendall_tau"] for col, s in stats.items() if "kendall_tau" in s}
    from nasbench_mt.release import compute_stats

    noise = bench.noise_floor(
        ["mean_acc", *(f"test_{x.name}" for x in bench.tasks), "latency_ms", "latency_norm"]
    )
    ceiling = m.get("noise", {}).get("standalone")
    if ceiling is None and bench.noise is not None and calib is not None:
        from nasbench_mt.release import STANDALONE_KIND, noise_stats

        part = bench.noise[bench.noise["kind"] == STANDALONE_KIND]
        ceiling = (
            noise_stats(t, part, bench.tasks, calibration=calib).get(STANDALONE_KIND) if len(part) else None
        )
    return {
        "version": bench.version,
        "path": str(bench.root),
        "schema_version": m["schema_version"],
        "space": m.get("space"),
        "rows": len(bench),
        "tasks": m["tasks"],
        "n_samples": m["n_samples"],
        "files": len(m["files"]),
        "bytes": sum(int(f.get("bytes", 0)) for f in m["files"]),
        "generation": m.get("generation", {}),
        "summary": summary,
        "noise": {"manifest": m.get("noise", {}), "kendall_tau": noise},
        "calibration": {
            "manifest": m.get("calibration", {}),
            "rows": 0 if calib is None else len(calib),
            "kendall_tau_vs_supernet": calib_tau,
            "standalone_seed_to_seed": ceiling or {},
        },
        "compute": m.get("compute") or compute_stats(bench),
    }


def _ci(pair: list[float]) -> str:
    return "[{:.3f}, {:.3f}]".format(*pair)


@command("info", _release_args)
@_clean_errors
def _info(args: argparse.Namespace) -> int:
    """Describe a benchmark release: size, tasks, generation, noise floors, calibration."""
    card = _release_card(_load(args))
    if args.json:
        print(json.dumps(card, indent=2, default=str))
        return 0
    gen = card["generation"]
    print(f"nasbench-mt release {card['version']} ({card['path']}), schema {card['schema_version']}")
    print(f"  {card['rows']:,} architectures of space {card['space']}, {card['n_samples']} per-sample scenes")
    print(f"  {card['files']} files, {card['bytes'] / 2**20:.1f} MiB")
    tasks = ", ".join(f"{t['name']} ({t['kind']}, {t['metric']})" for t in card["tasks"])
    print(f"  tasks: {tasks}")
    if gen.get("synthetic"):
        print("  SYNTHETIC data (test fixture): accuracies and latencies are not measurements")
    if gen.get("command"):
        print(f"  generated by: {gen['command']}")
    for col, s in card["summary"].items():
        print(
            f"  {col:<16} min {_fmt(s['min']):>10}  median {_fmt(s['median']):>10}  max {_fmt(s['max']):>10}"
        )
    for kind, taus in card["noise"]["kendall_tau"].items():
        print(f"  noise floor ({kind} re-run), Kendall tau: {_fmt(taus)}")
    cal = card["calibration"]
    if cal["rows"]:
        taus = _fmt(cal["kendall_tau_vs_supernet"])
        print(f"  calibration: {cal['rows']} standalone rows, Kendall tau vs supernet: {taus}")
    if cal["standalone_seed_to_seed"]:
        print(
            "  standalone seed to seed (a second training seed), with 90% bootstrap intervals, and the most "
            "a perfect proxy can agree with one standalone run, (2/pi) asin(sqrt(sin(pi tau / 2))):"
        )
        for col, s in cal["standalone_seed_to_seed"].items():
            print(
                f"    {col:<12} n={s['n']:<4} tau {s['kendall_tau']:.3f} {_ci(s['kendall_tau_ci90'])}"
                f"  spearman {s['spearman']:.3f} {_ci(s['spearman_ci90'])}"
                f"  ceiling tau {s['ceiling_tau']:.3f} {_ci(s['ceiling_tau_ci90'])}"
            )
    compute = card["compute"]
    if compute["tiers"]:
        parts = ", ".join(f"{k} {v['core_hours']:.1f}" for k, v in compute["tiers"].items())
        print(f"  compute: {compute['total_core_hours']:.1f} core-hours ({parts})")
    return 0


def _sample_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("-n", type=int, default=5, help="number of rows (default 5)")
    p.add_argument("--seed", type=int, default=0)
    _release_args(p)


@command("sample", _sample_args)
@_clean_errors
def _sample(args: argparse.Namespace) -> int:
    """Print n architectures drawn from the table with their headline metrics."""
    bench = _load(args)
    rows = [
        {
            "arch_id": r.arch_id,
            "arch": r.arch,
            "mean_acc": r.mean_acc,
            "latency_ms": r.latency_ms,
            "params": r.params,
        }
        for r in bench.sample(args.n, seed=args.seed)
    ]
    if args.json:
        print(json.dumps([{k: (None if v != v else v) for k, v in r.items()} for r in rows], indent=2))
        return 0
    print(f"{'arch_id':<14}{'mean_acc':>9}{'lat_ms':>8}{'params':>10}  arch")
    for r in rows:
        print(
            f"{r['arch_id']:<14}{r['mean_acc']:>9.2f}{r['latency_ms']:>8.3f}{r['params']:>10,}  {r['arch']}"
        )
    return 0
