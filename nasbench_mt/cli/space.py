"""``nasbench-mt space``: describe and sample the search space."""

from __future__ import annotations

import argparse
import json

from nasbench_mt.cli.options import command
from nasbench_mt.space.arch import V1

__all__: list[str] = []


def _space_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--sample",
        type=int,
        default=0,
        metavar="N",
        help="also print N architectures sampled uniformly per choice (default: %(default)s)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the sample (default: %(default)s)")
    p.add_argument(
        "--costs",
        action="store_true",
        help="also build each sampled network and print its exact params, MACs and peak activation bytes",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text, for scripts")


@command("space", _space_args)
def _space(args: argparse.Namespace) -> int:
    """Describe the v1 search space, optionally sampling architectures."""
    archs = V1.sample(args.sample, seed=args.seed)
    rows = []
    for a in archs:
        row = {"id": a.id, "arch": a.to_string()}
        if args.costs:
            from nasbench_mt.space.costs import measure_costs
            from nasbench_mt.space.model import build_model

            c = measure_costs(build_model(a.to_string()))  # the canonical layout of the network
            row.update(params=c.params, macs=c.macs, peak_mem_bytes=c.peak_activation_bytes)
        rows.append(row)
    info = {
        "space": V1.name,
        "size": V1.size,
        "stages": [{"channels": s.channels, "stride": s.stride} for s in V1.stages],
        "depths": list(V1.depths),
        "kernels": list(V1.kernels),
        "expands": list(V1.expands),
        "tasks": V1.num_tasks,
        "branch_points": list(V1.branch_choices),
        "sharing_structures": len(V1.branch_settings),
        "early_exits": list(V1.exit_choices),
        "samples": rows,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"search space {V1.name}: {V1.size:,} architectures ({V1.size:.2e})")
    for key in ("depths", "kernels", "expands", "branch_points", "early_exits"):
        print(f"  {key:<14} {info[key]}")
    n = len(V1.branch_choices) ** V1.num_tasks
    print(f"  {info['sharing_structures']} distinct sharing structures of the {n} branch-point tuples")
    for row in rows:
        extra = "".join(f"  {k}={v:,}" for k, v in row.items() if k not in ("id", "arch"))
        print(f"{row['id']}  {row['arch']}{extra}")
    return 0
