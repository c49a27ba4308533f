"""Speed and memory of the query API: cold load, single queries, 10k batched queries, exit-policy grids.

    OMP_NUM_THREADS=1 python benchmarks/bench_query.py                 # synthesize a 5,000-row release
    OMP_NUM_THREADS=1 python benchmarks/bench_query.py --path data/v1  # measure a real release

Without ``--path`` it writes a SYNTHETIC 5,000-row release in the real layout to a temporary directory
(:func:`nasbench_mt.testing.synthetic_release`, composed exact costs, ``--n-samples`` per-sample scenes): the
timings depend on the layout and sizes, not on the values.  Results go to ``benchmarks/results/query.md``.
Targets (issue 4): cold load < 1 s and < 500 MB RSS, single query < 20 us, 10k queries < 50 ms, 100
exit-policy settings for one arch well under 100 ms.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _report import machine_load

from nasbench_mt.release.provenance import cpu_model

RESULTS = Path(__file__).resolve().parent / "results" / "query.md"

COLD = """
import json, sys, time
def peak_mb():  # VmHWM: peak resident set of this process (ru_maxrss would include the forking parent's)
    line = next(x for x in open("/proc/self/status") if x.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024
t0 = time.perf_counter()
import nasbench_mt.query.benchmark as nb
t1 = time.perf_counter()
rss_import = peak_mb()
bench = nb.load_benchmark(path=sys.argv[1])
t2 = time.perf_counter()
bench.query(bench.table["arch_id"].iloc[0])
t3 = time.perf_counter()
print(json.dumps({"import_s": t1 - t0, "load_s": t2 - t1, "first_query_s": t3 - t2,
                  "rss_import_mb": rss_import, "rss_mb": peak_mb(), "rows": len(bench)}))
"""


def per_call_us(fn, items, repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for x in items:
            fn(x)
        best = min(best, (time.perf_counter() - start) / len(items))
    return best * 1e6


def best_of(fn, repeat: int = 5) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=None, help="release directory (default: synthesize one)")
    parser.add_argument("--rows", type=int, default=5000, help="rows of the synthetic release")
    parser.add_argument(
        "--n-samples", type=int, default=1000, help="per-sample scenes of the synthetic release"
    )
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    load = machine_load()

    from nasbench_mt import Arch
    from nasbench_mt.query.benchmark import load_benchmark

    tmp = None
    if args.path is None:
        from nasbench_mt.testing import synthetic_release

        tmp = tempfile.TemporaryDirectory()
        path = Path(tmp.name) / "synthetic"
        start = time.perf_counter()
        synthetic_release(path, n=args.rows, seed=0, n_samples=args.n_samples, costs="composed", shards=4)
        print(f"synthesized {args.rows} rows in {time.perf_counter() - start:.1f} s at {path}")
        source = (
            f"SYNTHETIC release written by `nasbench_mt.testing.synthetic_release` ({args.rows} real archs, "
            f"composed exact costs, toy metrics, n_samples={args.n_samples}, 4 archs shards + latency, "
            "exits, calibration and noise files); pass --path data/v1 to time the real release"
        )
    else:
        path = Path(args.path)
        source = f"release at `{path}`"
    size_mb = sum(p.stat().st_size for p in path.iterdir()) / 2**20

    colds = []
    for _ in range(3):
        out = subprocess.run(
            [sys.executable, "-c", COLD, str(path)], capture_output=True, text=True, check=True
        )
        colds.append(json.loads(out.stdout))
    cold = {k: statistics.median(c[k] for c in colds) for k in colds[0]}

    bench = load_benchmark(path=path)
    rng = np.random.default_rng(0)
    ids = bench.table["arch_id"].to_numpy()[rng.integers(0, len(bench), 10_000)].tolist()
    strings = bench.table.set_index("arch_id").loc[ids, "arch"].tolist()
    archs = [Arch.from_string(s) for s in strings]
    bench.query(ids[0])
    q_id = per_call_us(bench.query, ids[:2000])
    q_str = per_call_us(bench.query, strings[:2000])
    q_arch = per_call_us(bench.query, archs[:2000])  # passes 2-5 reuse each Arch's cached string

    def fresh(n: int) -> list:  # Arch objects never queried: the canonical string is computed in the call
        return [Arch.from_string(s) for s in strings[:n]]

    t0 = time.perf_counter()
    fresh(2000)
    construct_us = (time.perf_counter() - t0) / 2000 * 1e6  # Arch computes its canonical string here
    q_arch_fresh = min(per_call_us(bench.query, fresh(2000), repeat=1) for _ in range(5))
    many_arch_fresh = math.inf
    for _ in range(5):
        batch = fresh(10_000)
        many_arch_fresh = min(many_arch_fresh, best_of(lambda: bench.query_many(batch), 1))  # noqa: B023
    loop_10k = best_of(lambda: [bench.query(i) for i in ids], 3)
    many_id = best_of(lambda: bench.query_many(ids))
    many_arch = best_of(lambda: bench.query_many(archs))
    many_cols = best_of(lambda: bench.query_many(ids, columns=["mean_acc", "latency_ms", "params"]))

    most = max(range(len(bench)), key=lambda i: len(bench[i].macs_per_exit))
    target = bench[most]
    grid = rng.random((100, len(bench.tasks)))
    start = time.perf_counter()
    bench.exit_metrics(target.arch, grid)
    exit_first = time.perf_counter() - start
    exit_warm = best_of(lambda: bench.exit_metrics(target.arch, grid), 10)
    other = [bench[i].arch for i in rng.integers(0, len(bench), 50)]
    exit_50 = best_of(lambda: [bench.exit_metrics(a, grid) for a in other], 3) / 50

    import pandas as pd
    import pyarrow

    def row(what: str, value: str, target: str = "", met: bool | None = None) -> str:
        return f"| {what} | {value} | {target} | {'' if met is None else 'yes' if met else '**no**'} |"

    flag = f" --path {args.path}" if args.path else ""
    lines = [
        "# Query API speed (`benchmarks/bench_query.py`)",
        "",
        f"Command: `OMP_NUM_THREADS=1 python benchmarks/bench_query.py{flag}`",
        f"Data: {source}; {len(bench):,} rows, {size_mb:.1f} MiB on disk.",
        f"Machine: {cpu_model()}, Python {platform.python_version()}, pandas {pd.__version__}, "
        f"pyarrow {pyarrow.__version__}, numpy {np.__version__}; {load}.",
        "",
        "| measurement | value | target | met |",
        "|---|---|---|---|",
        row(
            "cold `load_benchmark()` incl. sha256 of every file (fresh process, median of 3)",
            f"{cold['load_s'] * 1e3:.0f} ms",
            "< 1 s",
            cold["load_s"] < 1,
        ),
        row(
            "peak RSS after load (fresh process; includes `import torch` via `nasbench_mt`)",
            f"{cold['rss_mb']:.0f} MB",
            "< 500 MB",
            cold["rss_mb"] < 500,
        ),
        row(
            "RSS added by the load (peak after load minus after import)",
            f"{cold['rss_mb'] - cold['rss_import_mb']:.0f} MB",
        ),
        row(
            "`import nasbench_mt.query.benchmark` (fresh process; torch dominates)",
            f"{cold['import_s'] * 1e3:.0f} ms",
        ),
        row("first query after load (prepares the row tuples)", f"{cold['first_query_s'] * 1e3:.1f} ms"),
        row("single `query(id)`", f"{q_id:.1f} us", "< 20 us", q_id < 20),
        row("single `query(canonical string)`", f"{q_str:.1f} us", "< 20 us", q_str < 20),
        row("single `query(Arch)`, the same objects again", f"{q_arch:.1f} us", "< 20 us", q_arch < 20),
        row("`Arch.from_string` (parse, validate, canonical string), per call", f"{construct_us:.1f} us"),
        row(
            "single `query(Arch)`, fresh objects",
            f"{q_arch_fresh:.1f} us",
            "< 20 us",
            q_arch_fresh < 20,
        ),
        row("10,000 `query(id)` calls in a Python loop", f"{loop_10k * 1e3:.1f} ms"),
        row(
            "`query_many` 10,000 ids -> DataFrame, all columns",
            f"{many_id * 1e3:.1f} ms",
            "< 50 ms",
            many_id < 0.05,
        ),
        row(
            "`query_many` 10,000 `Arch` objects, all columns, the same objects again",
            f"{many_arch * 1e3:.1f} ms",
            "< 50 ms",
            many_arch < 0.05,
        ),
        row(
            "`query_many` 10,000 fresh `Arch` objects, all columns",
            f"{many_arch_fresh * 1e3:.1f} ms",
            "< 50 ms",
            many_arch_fresh < 0.05,
        ),
        row("`query_many` 10,000 ids, 3 columns", f"{many_cols * 1e3:.1f} ms", "< 50 ms", many_cols < 0.05),
        row(
            f"`exit_metrics`, 100 settings, arch with {len(target.macs_per_exit)} exits, first call "
            "(reads every per-sample record of the release)",
            f"{exit_first * 1e3:.0f} ms",
        ),
        row(
            "`exit_metrics`, 100 settings, warm",
            f"{exit_warm * 1e3:.2f} ms",
            "well under 100 ms",
            exit_warm < 0.1,
        ),
        row("`exit_metrics`, 100 settings, mean over 50 random archs", f"{exit_50 * 1e3:.2f} ms"),
        "",
        "Single queries: best of 5 passes over 2,000 random rows, per call; batched figures: best of 5 runs.",
    ]
    text = "\n".join(lines) + "\n"
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text)
    print(text)
    if tmp is not None:
        tmp.cleanup()


if __name__ == "__main__":
    main()
