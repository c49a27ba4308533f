"""Queries to the top 1% of one strategy on any range of seeds (the leaderboard's seeds are 0..N-1).

Settings are checked on seeds a choice never saw: the search leaderboard's problem (maximise ``mean_acc``
under ``latency_norm <= 2.3``, pool mode), one run of ``--budget`` queries per seed, runs that miss counted
as the budget (the mean is then a lower bound)::

    OMP_NUM_THREADS=1 python benchmarks/search_seeds.py --path data/v1 --first-seed 20 --seeds 20 \\
        --param predictor=xgb --param targets=rank

appends one line per call to ``benchmarks/results/search_seeds.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_report

from nasbench_mt import load_benchmark
from nasbench_mt.cli.options import key_values
from nasbench_mt.search import SearchProblem, create_strategy
from nasbench_mt.search.loop import run_grid

CONSTRAINT = "latency_norm <= 2.3"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", default="data/v1", help="release directory")
    ap.add_argument("--strategy", default="brp")
    ap.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="repeatable")
    ap.add_argument("--first-seed", type=int, default=20)
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--budget", type=int, default=200)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "search_seeds.md"))
    args = ap.parse_args(argv)
    try:
        params = key_values(args.param, "--param", "targets=rank")
        create_strategy(args.strategy, **params)  # an unknown setting fails here
    except ValueError as err:
        ap.error(str(err))
    problem = SearchProblem(load_benchmark(path=args.path), "mean_acc", [CONSTRAINT])
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(args.strategy, "board", s) for s in seeds]
    runs = run_grid({"board": problem}, jobs, args.budget, {args.strategy: params}, args.workers)
    q = np.array([args.budget if r.queries_to_top1 is None else r.queries_to_top1 for r in runs], dtype=float)
    reached = int((q < args.budget).sum())
    mean = f"{'>= ' if reached < len(q) else ''}{q.mean():.1f} +- {q.std(ddof=1):.1f}"
    shown = " ".join(args.param) or "(defaults)"
    line = (
        f"| `{args.strategy}` {shown} | {seeds.start}..{seeds.stop - 1} | {reached}/{len(q)} | {mean} | "
        f"{np.median(q):.0f} | {' '.join(str(int(v)) for v in q)} |"
    )
    out = Path(args.out)
    head = [] if out.exists() else [
        "# Queries to the top 1% on chosen seeds (`benchmarks/search_seeds.py`)",
        "",
        f"Problem: max mean_acc s.t. {CONSTRAINT}, pool mode; misses count as the budget. One row per call.",
        "",
        "| strategy and `--param`s | seeds | reached | queries, mean +- std | median | per seed |",
        "|---|---|---|---|---|---|",
    ]  # fmt: skip
    append_report(out, [*head, line])


if __name__ == "__main__":
    main()
