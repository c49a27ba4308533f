"""Hypervolume regret of the predictor-guided search (``brp``) in a two-objective search on the shipped table:
queueing candidates from the predicted Pareto fronts (what ``brp`` does) against ranking them by the first
objective only (what it did before).

    python benchmarks/brp_pareto.py --seeds 5 --budget 60
"""

from __future__ import annotations

import argparse

import numpy as np

import nasbench_mt.search.brp as brp
from nasbench_mt import load_benchmark
from nasbench_mt.search import SearchProblem, create_strategy, run


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=5, help="search seeds 0..N-1 (default 5)")
    p.add_argument("--budget", type=int, default=60, help="queries per search (default 60)")
    p.add_argument("--objectives", nargs="+", default=["mean_acc", "min:latency_norm"], help="objectives")
    args = p.parse_args()
    problem = SearchProblem(load_benchmark(), args.objectives)
    orders = {
        "pareto-aware": brp.predicted_front_order,
        "first objective only": lambda pred: np.argsort(-pred[:, 0], kind="stable"),
    }
    for name, order in orders.items():
        brp.predicted_front_order = order
        hv = [
            float(run(problem, create_strategy("brp"), args.budget, seed=s).trajectory["hv_regret"].iloc[-1])
            for s in range(args.seeds)
        ]
        seeds = ", ".join(f"{v:.4f}" for v in hv)
        print(f"{name:>22}: hypervolume regret mean {np.mean(hv):.4f} (seeds: {seeds})")
    brp.predicted_front_order = orders["pareto-aware"]


if __name__ == "__main__":
    main()
