"""How a change of the standalone protocol moved the calibration rows (no training, reads committed files).

    python benchmarks/compare_standalone.py --calibration data/v1 \
        --previous benchmarks/results/gate-rows-e.csv --supernet-column runs/sne/supernet-seed0.pt

``--calibration`` holds the standalone rows of the current protocol (its ``calibration-*.parquet`` shards plus
the finished rows of a run in progress); ``--previous`` is a ``bench_gate.py --rows`` CSV, whose plain target
columns are the earlier protocol's standalone values and whose ``TARGET@CHECKPOINT`` columns are a supernet's.
For the architectures in both it prints, per target, the mean change new - old (overall and by number of early
exits), and the Kendall tau of each standalone protocol against the supernet column.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd
from bench_gate import TARGETS, choice_features, standalone_rows

from nasbench_mt.release.stats import rank_agreement
from nasbench_mt.space.arch import Arch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calibration", required=True, help="directory with the current protocol's rows")
    p.add_argument("--previous", required=True, help="bench_gate.py --rows CSV of the earlier protocol")
    p.add_argument("--supernet-column", required=True, help="checkpoint name used in the CSV's columns")
    args = p.parse_args()
    new = standalone_rows(Path(args.calibration), partial=True)
    old = pd.read_csv(args.previous).set_index("arch_id")
    common = new.index.intersection(old.index)
    if common.empty:
        raise SystemExit(f"no architecture is in both {args.calibration} and {args.previous}")
    archs = [Arch.from_string(s) for s in new.loc[common, "arch"]]
    n_exits = choice_features(archs)["exits"].set_axis(common)
    print(f"{len(common)} architectures in both")
    print(
        f"{'target':<12}{'new-old':>9}  {'by exits 0/1/2/3':<28}{'tau new':>9}{'tau old':>9}"
    )  # taus: vs the supernet
    for t in TARGETS:
        sn = old.loc[common, f"{t}@{args.supernet_column}"]
        delta = new.loc[common, t] - old.loc[common, t]
        by = delta.groupby(n_exits).mean().reindex(range(4))
        by_text = " ".join("  -  " if pd.isna(v) else f"{v:+.2f}" for v in by)
        tau_new = rank_agreement(new.loc[common, t], sn).get("kendall_tau", float("nan"))
        tau_old = rank_agreement(old.loc[common, t], sn).get("kendall_tau", float("nan"))
        print(f"{t:<12}{delta.mean():>+9.2f}  {by_text:<28}{tau_new:>9.3f}{tau_old:>9.3f}")


if __name__ == "__main__":
    main()
