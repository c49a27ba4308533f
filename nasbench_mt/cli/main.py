"""The ``nasbench-mt`` command line: importing the command groups registers their sub-commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["build_parser", "main"]


DESCRIPTION = (
    "nasbench-mt: query a tabular benchmark of multi-task, early-exit networks, search it offline, train "
    "and score predictors on it, and measure a release of your own. `nasbench-mt COMMAND --help` lists a "
    "command's options, each with its unit and default."
)


# the order of `nasbench-mt --help`: using the table, then predictors, your device, and making a release
ORDER = [
    "query",
    "info",
    "sample",
    "space",
    "search",
    "search-leaderboard",
    "export-onnx",
    "evaluate-predictors",
    "measure-latency",
    "transfer-latency",
    "train-supernet",
    "generate",
    "carry-tiers",
    "summarize",
    "calibrate",
    "check-release",
    "reproduce",
]


def build_parser() -> argparse.ArgumentParser:
    """The ``nasbench-mt`` parser with every registered sub-command."""
    # importing the command modules registers their sub-commands
    from nasbench_mt import __version__
    from nasbench_mt.cli import generate, latency, predictors, query, search, space  # noqa: F401
    from nasbench_mt.cli.options import COMMANDS as registry

    parser = argparse.ArgumentParser(prog="nasbench-mt", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"nasbench-mt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in sorted(registry, key=lambda n: ORDER.index(n) if n in ORDER else len(ORDER)):
        setup, fn = registry[name]
        doc = (fn.__doc__ or "").strip()
        p = sub.add_parser(
            name, help=" ".join(doc.split("\n\n")[0].split()), description=" ".join(doc.split())
        )
        setup(p)
        p.set_defaults(run=fn)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ValueError as err:  # bad input: one clear line, no traceback
        print(f"nasbench-mt {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
