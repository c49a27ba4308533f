"""Seconds per stage of one supernet-protocol table row, on rows of a shipped release (values checked too).

    OMP_NUM_THREADS=1 python benchmarks/bench_measure_row.py --path data/v1 --n 5 --seed 0

Takes ``--n`` rows of the release's architecture table (seeded), measures them again with the measurement
spec its manifest records for the ``archs`` pass (supernet protocol, one torch thread) and reports the mean
seconds of each stage :attr:`~nasbench_mt.measure.measurer.Measurer.timings` records (extraction, BN
recalibration, val / test evaluation, exact costs) and of the whole row (wall clock, and the CPU seconds of
the process, which a busy machine inflates less).  Each fresh row is compared with the
stored one (:func:`~nasbench_mt.publish.reproduce.compare_row`): a speed-up must leave every value unchanged.
Results are appended to ``benchmarks/results/measure_row.md``.  The first row also pays one-off warm-up costs;
``--warmup`` measures one extra row first, untimed.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from _report import append_report, machine_load

from nasbench_mt.measure.measurer import Measurer, MeasureSpec
from nasbench_mt.publish.reproduce import compare_row
from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.provenance import cpu_model
from nasbench_mt.space.arch import Arch


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--path", default="data/v1", help="release directory (default: %(default)s)")
    p.add_argument("--n", type=int, default=5, help="rows to measure (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample of rows (default: %(default)s)")
    p.add_argument("--warmup", action="store_true", help="measure one extra row first, untimed")
    p.add_argument("--label", default="", help="a note for the report heading, e.g. the code version")
    p.add_argument("--out", default="benchmarks/results/measure_row.md")
    args = p.parse_args()

    load = machine_load()
    bench = load_benchmark(path=args.path, verify_files=False)
    spec = dict(bench.manifest["generation"]["archs"]["spec"])
    spec.pop("supernet_sha256", None)
    spec["supernet"] = str(Path(args.path) / spec["supernet"])
    table = bench.table[bench.table["protocol"] == "supernet"]
    rows = table.iloc[
        np.random.default_rng(args.seed).choice(len(table), args.n + args.warmup, replace=False)
    ]

    t = time.perf_counter()
    measurer = Measurer(MeasureSpec(**spec))
    setup_s = time.perf_counter() - t
    stages: list[dict[str, float]] = []
    totals, cpus, differing = [], [], []
    for i, (_, stored) in enumerate(rows.iterrows()):
        arch = Arch.from_string(stored["arch"], bench.space)
        t, c = time.perf_counter(), time.process_time()
        fresh, _ = measurer(arch)
        total, cpu = time.perf_counter() - t, time.process_time() - c
        mismatched = compare_row(stored.to_dict(), fresh)["mismatched"]
        if mismatched:
            differing.append(f"{stored['arch_id']} ({', '.join(mismatched[:5])})")
        if args.warmup and i == 0:
            continue
        stages.append(dict(measurer.timings))
        totals.append(total)
        cpus.append(cpu)
        print(
            f"{stored['arch_id']}: {total:.2f} s ({cpu:.2f} s CPU)",
            {k: round(v, 2) for k, v in measurer.timings.items()},
        )

    cmd = f"python benchmarks/bench_measure_row.py --path {args.path} --n {args.n} --seed {args.seed}"
    cmd += " --warmup" * args.warmup
    columns = {stage: [s[stage] for s in stages] for stage in stages[0]}
    columns |= {"**row**": totals, "row, CPU s of this process": cpus}
    verdict = "all reproduced" if not differing else "DIFFER for " + "; ".join(differing)
    lines = [f"## {time.strftime('%Y-%m-%d %H:%M')} — `{cmd}`" + (f" ({args.label})" if args.label else "")]
    lines += [
        "",
        f"machine: {cpu_model()}, torch {torch.__version__}, {torch.get_num_threads()} torch thread; {load}",
    ]
    lines += ["", "| stage | mean s | min s | max s |", "|---|---|---|---|"]
    lines += [f"| {k} | {np.mean(v):.2f} | {np.min(v):.2f} | {np.max(v):.2f} |" for k, v in columns.items()]
    lines += [
        "",
        f"Measurer set-up (suite, calibration images, supernet): {setup_s:.2f} s, once per process.",
    ]
    lines += [f"Stored values: {verdict} ({len(rows)} rows compared).", ""]
    append_report(args.out, lines)


if __name__ == "__main__":
    main()
