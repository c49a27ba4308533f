"""Is the supernet's disagreement with training from scratch noise or bias?

    python benchmarks/fidelity_bias.py --path data/v1

On the calibration architectures that the release also measured with its second supernet (the ``seed``
noise tier, another supernet training seed), per target: Kendall tau (90% bootstrap interval) of supernet
seed 0, supernet seed 1 and their mean against the standalone rows, and of the two supernets against each
other.  If the supernets' error were noise, averaging two of them would raise the agreement with standalone
training and the two would agree with each other about as well as each agrees with standalone.  Where the
``standalone`` noise tier holds a second training seed, also the agreement of supernet seed 0 with that
second seed and with the mean of both standalone seeds (the reference made less noisy).
Writes a Markdown section to benchmarks/results/fidelity_bias.md (``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

import pandas as pd

from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.stats import rank_agreement, stat_targets, tau_interval

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_report


def _cell(a: pd.Series, b: pd.Series) -> str:
    lo, hi = tau_interval(a, b)
    return f"{rank_agreement(a, b)['kendall_tau']:.3f} [{lo:.3f}, {hi:.3f}]"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--path", required=True, help="release directory with calibration and noise tiers")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "fidelity_bias.md"))
    args = p.parse_args()
    bench = load_benchmark(path=args.path)
    if bench.calibration is None or bench.noise is None:
        raise SystemExit(f"invalid --path: {args.path} needs a calibration tier and noise tiers")
    table = bench.table.set_index("arch_id")
    standalone = bench.calibration.set_index("arch_id")
    tiers = {kind: part.set_index("arch_id") for kind, part in bench.noise.groupby("kind")}
    if "seed" not in tiers:
        raise SystemExit(f"invalid --path: {args.path} has no second-supernet (seed) noise tier")
    second = tiers["seed"]
    ids = standalone.index.intersection(second.index)
    targets = stat_targets(bench.tasks)
    lines = [
        f"\n## {args.path}: supernet error, noise or bias ({dt.date.today().isoformat()})\n",
        f"`python benchmarks/fidelity_bias.py --path {args.path}`",
        "",
        f"Kendall tau [90% bootstrap interval] on the {len(ids)} calibration archs measured by both "
        "supernets.",
        "",
        "| target | supernet 0 vs standalone | supernet 1 vs standalone | mean of both vs standalone "
        "| supernet 0 vs supernet 1 |",
        "|---|---|---|---|---|",
    ]
    for t in targets:
        s0, s1, ref = table.loc[ids, t], second.loc[ids, t], standalone.loc[ids, t]
        cells = [_cell(s0, ref), _cell(s1, ref), _cell((s0 + s1) / 2, ref), _cell(s0, s1)]
        lines.append(f"| {t} | " + " | ".join(cells) + " |")
    if "standalone" in tiers:
        again = tiers["standalone"]
        both = standalone.index.intersection(again.index)
        lines += [
            "",
            f"On the {len(both)} calibration archs trained with a second seed: supernet seed 0 against each "
            "standalone seed and against their mean.",
            "",
            "| target | vs standalone seed 0 | vs standalone seed 1 | vs mean of both seeds |",
            "|---|---|---|---|",
        ]
        for t in targets:
            s0, a, b = table.loc[both, t], standalone.loc[both, t], again.loc[both, t]
            lines.append(f"| {t} | {_cell(s0, a)} | {_cell(s0, b)} | {_cell(s0, (a + b) / 2)} |")
    append_report(args.out, lines)


if __name__ == "__main__":
    main()
