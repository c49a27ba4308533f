"""Search-space benchmark (issue 2): build time, cost-metric time, FLOPs / params / memory ranges.

    python benchmarks/bench_space.py --n 1000 --seed 0

Samples ``--n`` architectures with ``V1.sample(n, seed)``, builds each network and counts its exact costs
(``measure_costs``: FlopCounterMode pass + peak-activation pass).  Appends a table to
``benchmarks/results/space.md``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _report import append_report
from tqdm import tqdm

from nasbench_mt import V1, build_model, measure_costs
from nasbench_mt.release.provenance import cpu_model


def _row(name: str, v: np.ndarray, fmt: str = "{:,.0f}") -> str:
    p10, p50, p90 = np.percentile(v, [10, 50, 90])
    return "| " + " | ".join([name] + [fmt.format(x) for x in (v.min(), p10, p50, p90, v.max())]) + " |"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", default="benchmarks/results/space.md")
    args = p.parse_args()
    torch.set_num_threads(args.threads)

    t = time.perf_counter()
    archs = V1.sample(args.n, seed=args.seed)
    sample_s = time.perf_counter() - t
    build_ms, cost_ms, params, macs, mem = [], [], [], [], []
    measure_costs(build_model(archs[0]))  # warm-up (first FlopCounterMode call initialises dispatch tables)
    for arch in tqdm(archs, desc="build + costs"):
        t = time.perf_counter()
        net = build_model(arch)
        build_ms.append((time.perf_counter() - t) * 1e3)
        t = time.perf_counter()
        c = measure_costs(net)
        cost_ms.append((time.perf_counter() - t) * 1e3)
        params.append(c.params)
        macs.append(c.macs)
        mem.append(c.peak_activation_bytes / 1024)
    cmd = f"python benchmarks/bench_space.py --n {args.n} --seed {args.seed} --threads {args.threads}"
    lines = [
        f"## {time.strftime('%Y-%m-%d %H:%M')} — `{cmd}`",
        "",
        f"{cpu_model()}, torch {torch.__version__}, {args.threads} thread(s); "
        f"sampling {args.n} archs took {sample_s * 1e3:.0f} ms",
        "",
        "| quantity | min | p10 | median | p90 | max |",
        "|---|---|---|---|---|---|",
        _row("build time (ms)", np.array(build_ms), "{:.1f}"),
        _row("cost metrics time (ms)", np.array(cost_ms), "{:.1f}"),
        _row("params", np.array(params)),
        _row("MACs", np.array(macs)),
        _row("FLOPs", 2 * np.array(macs)),
        _row("peak activation memory (KiB)", np.array(mem), "{:,.0f}"),
        "",
        f"mean build {np.mean(build_ms):.1f} ms, mean cost metrics {np.mean(cost_ms):.1f} ms per arch",
        "",
    ]
    append_report(args.out, lines)


if __name__ == "__main__":
    main()
