"""The ``nasbench-mt`` command line: importing the command groups registers their sub-commands."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    # importing the command modules registers their sub-commands
    from nasbench_mt import __version__
    from nasbench_mt.cli import generate, latency, predictors, query, search, space  # noqa: F401
    from nasbench_mt.cli.options import COMMANDS as registry

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
