"""Speed of the search driver: a 100-query search per strategy, and the README command cold from a shell.

    OMP_NUM_THREADS=1 python benchmarks/bench_search.py                 # synthesize a 5,000-row release
    OMP_NUM_THREADS=1 python benchmarks/bench_search.py --path data/v1  # measure a real release

Without ``--path`` it writes a SYNTHETIC 5,000-row release in the real layout to a temporary directory
(:func:`nasbench_mt.testing.synthetic_release`, composed exact costs): timings depend on the sizes, not on the
values (the regrets it prints mean nothing).  Problem: max ``mean_acc`` s.t. the standard constraint set
(latency <= the table's median).  Results go to ``benchmarks/results/search.md``.  Target (issue 8): the
README command, a 100-query ``brp`` search from a cold process, in < 60 s on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import platform
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _report import machine_load

from nasbench_mt.release.provenance import cpu_model

RESULTS = Path(__file__).resolve().parent / "results" / "search.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", default=None, help="release directory (default: synthesize one)")
    parser.add_argument("--rows", type=int, default=5000, help="rows of the synthetic release")
    parser.add_argument("--budget", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=2, help="seeds per strategy (median reported)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    load = machine_load()

    import numpy as np
    import pandas as pd

    from nasbench_mt.query.benchmark import load_benchmark
    from nasbench_mt.search import SearchProblem, list_strategies, run
    from nasbench_mt.search.leaderboard import standard_constraints

    tmp = None
    if args.path is None:
        from nasbench_mt.testing import synthetic_release

        tmp = tempfile.TemporaryDirectory()
        path = tmp.name
        t0 = time.perf_counter()
        synthetic_release(path, n=args.rows, seed=0, n_samples=200, costs="composed", shards=4)
        print(f"synthesized {args.rows} rows in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
        data = (
            f"SYNTHETIC release written by `nasbench_mt.testing.synthetic_release` ({args.rows} real archs, "
            "composed exact costs, toy metrics): the v1 release is not complete yet"
        )
    else:
        path = args.path
        data = f"release `{args.path}`"
    bench = load_benchmark(path=path)
    constraints = standard_constraints(bench)
    t0 = time.perf_counter()
    problem = SearchProblem(bench, "mean_acc", constraints)
    problem.oracle()
    setup_s = time.perf_counter() - t0

    rows = []
    for name in list_strategies():
        walls, regrets = [], []
        for seed in range(args.seeds):
            res = run(problem, name, args.budget, seed=seed)
            walls.append(res.wall_s)
            regrets.append(res.regret)
            print(f"{name} seed {seed}: {res.wall_s:.2f} s, regret {res.regret:.3f}", file=sys.stderr)
        rows.append((name, statistics.median(walls), max(walls), float(np.nanmean(regrets))))

    # the README command, cold: a fresh process, imports + load (with hashing) + problem + search + print
    cmd = [
        sys.executable,
        "-m",
        "nasbench_mt.cli",
        "search",
        "--strategy",
        "brp",
        "--budget",
        str(args.budget),
    ]
    cmd += [
        "--objective",
        "mean_acc",
        "--constraint",
        constraints[0],
        "--seed",
        "0",
        "--path",
        path,
        "--quiet",
    ]
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    cold_s = time.perf_counter() - t0
    print(proc.stdout, file=sys.stderr)
    if tmp is not None:
        tmp.cleanup()

    shown = " ".join(shlex.quote(c) for c in cmd[3:]).replace(path, "RELEASE")
    lines = [
        "# Search driver speed (`benchmarks/bench_search.py`)",
        "",
        f"Command: `OMP_NUM_THREADS={env['OMP_NUM_THREADS']} python benchmarks/bench_search.py"
        + (f" --path {args.path}`" if args.path else "`"),
        f"Data: {data}; {len(bench):,} rows.",
        f"Problem: max mean_acc s.t. {constraints[0]} (the standard constraint set: median latency), "
        f"{problem.oracle()['n_feasible']:,} feasible rows; {args.budget} queries per search.",
        f"Machine: {cpu_model()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, pandas {pd.__version__}; {load}, "
        f"OMP_NUM_THREADS={env['OMP_NUM_THREADS']}.",
        "",
        "| measurement | wall time | target | met |",
        "|---|---|---|---|",
        f"| README command cold (`nasbench-mt {shown}`): imports, load with hashing, "
        f"problem, search, print | {cold_s:.1f} s | < 60 s | {'yes' if cold_s < 60 else 'NO'} |",
        f"| problem setup (parse {len(bench):,} archs, one-hot pool, oracle) | {setup_s:.2f} s | | |",
    ]
    for name, med, worst, _ in rows:
        lines.append(
            f"| `{name}`: {args.budget}-query search, warm (median of {args.seeds} seeds, max {worst:.2f} s) "
            f"| {med:.2f} s | | |"
        )
    lines += [
        "",
        "Warm: in-process `run(problem, name, budget, seed)` with the problem built once (as the leaderboard "
        "does). Regrets are not reported here (two seeds"
        + ("; on synthetic data they mean nothing" if args.path is None else "")
        + "); see `leaderboards/search.md`.",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
