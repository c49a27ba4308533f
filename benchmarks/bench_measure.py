"""Measurement budgets (issue 3): supernet training time, and seconds to measure one subnet.

    python benchmarks/bench_measure.py --supernet runs/gate/supernet-s0.pt --n 20

Reports, for ``--n`` architectures from ``V1.sample(n, seed)``: extraction + BN recalibration + val/test
evaluation + exact costs (the supernet row, and each of those stages), latency (the separate latency pass),
and their sum; plus the supernet's recorded training time.  Results are appended to
``benchmarks/results/measure.md``.  Run it on an idle machine.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from _report import append_report
from tqdm import tqdm

from nasbench_mt.measure.measurer import Measurer, MeasureSpec
from nasbench_mt.release.provenance import cpu_model
from nasbench_mt.space.arch import V1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--supernet", required=True)
    p.add_argument("--n", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/measure.md")
    args = p.parse_args()

    archs = V1.sample(args.n, seed=args.seed)
    row_m = Measurer(MeasureSpec(supernet=args.supernet))
    lat_m = Measurer(MeasureSpec(protocol="latency"))
    row_s, lat_s, stages = [], [], []
    for arch in tqdm(archs, desc="measure"):
        t = time.perf_counter()
        row_m(arch)
        row_s.append(time.perf_counter() - t)
        stages.append(dict(row_m.timings))
        t = time.perf_counter()
        lat_m(arch)
        lat_s.append(time.perf_counter() - t)
    row_s, lat_s = np.array(row_s), np.array(lat_s)
    info = json.loads(Path(args.supernet).with_suffix(".json").read_text())

    def stats(v: np.ndarray) -> str:
        return f"{v.mean():.2f} | {np.median(v):.2f} | {v.max():.2f}"

    cmd = f"python benchmarks/bench_measure.py --supernet {args.supernet} --n {args.n} --seed {args.seed}"
    machine = f"{cpu_model()}, torch {torch.__version__}"
    epochs = info["train_config"]["epochs"]
    lines = [
        f"## {time.strftime('%Y-%m-%d %H:%M')} — `{cmd}`",
        "",
        f"machine: {machine}; measurement with 1 thread",
        "",
        "| what | mean s | median s | max s | target |",
        "|---|---|---|---|---|",
        f"| supernet row (extract + BN recal + val/test eval + costs) | {stats(row_s)} | |",
        *(f"| - {stage} | {stats(np.array([s[stage] for s in stages]))} | |" for stage in stages[0]),
        f"| latency pass (4 exits + reference, {lat_m.spec.latency_rounds} rounds) | {stats(lat_s)} | |",
        f"| one subnet in total | {stats(row_s + lat_s)} | <= 3 s on average |",
        f"| supernet training ({info.get('threads')} thread(s), {epochs} epochs, recorded) "
        f"| {info['train_seconds']:.0f} | | | <= 3600 s |",
        "",
    ]
    append_report(args.out, lines)


if __name__ == "__main__":
    main()
