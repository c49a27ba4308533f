"""The ``nasbench-mt`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from nasbench_mt.space import V1

__all__ = ["main"]

COMMANDS: dict[
    str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {}


def command(name: str, setup: Callable[[argparse.ArgumentParser], None]):
    """Register a sub-command: ``setup`` adds its arguments, the decorated function runs it."""

    def deco(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (setup, fn)
        return fn

    return deco


def _space_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sample", type=int, default=0, metavar="N", help="print N sampled architectures")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--costs", action="store_true", help="also build each sample and print its exact costs")
    p.add_argument("--json", action="store_true", help="machine-readable output")


@command("space", _space_args)
def _space(args: argparse.Namespace) -> int:
    """Describe the v1 search space, optionally sampling architectures."""
    archs = V1.sample(args.sample, seed=args.seed)
    rows = []
    for a in archs:
        row = {"id": a.id, "arch": a.to_string()}
        if args.costs:
            from nasbench_mt.costs import measure_costs
            from nasbench_mt.model import build_model

            c = measure_costs(build_model(a))
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
        "early_exits": list(V1.exit_choices),
        "samples": rows,
    }
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    print(f"search space {V1.name}: {V1.size:,} architectures ({V1.size:.2e})")
    for key in ("depths", "kernels", "expands", "branch_points", "early_exits"):
        print(f"  {key:<14} {info[key]}")
    for row in rows:
        extra = "".join(f"  {k}={v:,}" for k, v in row.items() if k not in ("id", "arch"))
        print(f"{row['id']}  {row['arch']}{extra}")
    return 0


REPO_LEADERBOARDS = Path(__file__).resolve().parent.parent / "leaderboards"


def leaderboard_out(out: str | Path, manifest: dict, fast: bool) -> Path:
    """Resolve a leaderboard folder; the repository's ``leaderboards/`` takes real-release runs only."""
    out = Path(out).resolve()
    synthetic = bool(manifest.get("generation", {}).get("synthetic"))
    if out == REPO_LEADERBOARDS.resolve() and (synthetic or fast):
        raise ValueError(
            f"{out} holds results of the real release only; "
            "write --fast or SYNTHETIC runs elsewhere (--out DIR)"
        )
    return out


def main(argv: Sequence[str] | None = None) -> int:
    # importing the command modules registers their sub-commands
    from nasbench_mt import (  # noqa: F401
        __version__,
        cli_generate,
        cli_latency,
        cli_predictors,
        cli_query,
        cli_search,
    )
    from nasbench_mt.cli import COMMANDS as registry  # the registry, also under ``python -m nasbench_mt.cli``

    parser = argparse.ArgumentParser(prog="nasbench-mt", description=__doc__)
    parser.add_argument("--version", action="version", version=f"nasbench-mt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (setup, fn) in registry.items():
        p = sub.add_parser(name, help=(fn.__doc__ or "").strip().splitlines()[0])
        setup(p)
        p.set_defaults(run=fn)
    args = parser.parse_args(argv)
    try:
        return args.run(args)
    except ValueError as err:  # bad input: one clear line, no traceback
        print(f"nasbench-mt {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
