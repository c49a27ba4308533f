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
    p.add_argument(
        "--path",
        default=None,
        metavar="DIR",
        help="describe the search space of this release (its task list) (default: the shipped v1 space)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text, for scripts")


@command("space", _space_args)
def _space(args: argparse.Namespace) -> int:
    """Describe the search space (v1, or a release's), optionally sampling architectures."""
    from nasbench_mt.release.manifest import read_manifest, space_from_manifest

    space = V1 if args.path is None else space_from_manifest(read_manifest(args.path))
    archs = space.sample(args.sample, seed=args.seed)
    rows = []
    for a in archs:
        row = {"id": a.id, "arch": a.to_string()}
        if args.costs:
            from nasbench_mt.space.costs import measure_costs
            from nasbench_mt.space.model import build_model

            c = measure_costs(build_model(space.validate(a.to_string())))  # the network's canonical layout
            row.update(params=c.params, macs=c.macs, peak_mem_bytes=c.peak_activation_bytes)
        rows.append(row)
    info = {
        "space": space.name,
        "size": space.size,
        "stages": [{"channels": s.channels, "stride": s.stride} for s in space.stages],
        "depths": list(space.depths),
        "kernels": list(space.kernels),
        "expands": list(space.expands),
        "tasks": space.num_tasks,
        "task_names": list(space.task_names),
        "branch_points": list(space.branch_choices),
        "sharing_structures": space.num_branch_settings,
        "early_exits": list(space.exit_choices),
        "samples": rows,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"search space {space.name}: {space.size:,} architectures ({space.size:.2e})")
    for key in ("task_names", "depths", "kernels", "expands", "branch_points", "early_exits"):
        print(f"  {key:<14} {info[key]}")
    n = len(space.branch_choices) ** space.num_tasks
    print(f"  {info['sharing_structures']} distinct sharing structures of the {n} branch-point tuples")
    for row in rows:
        extra = "".join(f"  {k}={v:,}" for k, v in row.items() if k not in ("id", "arch"))
        print(f"{row['id']}  {row['arch']}{extra}")
    return 0
