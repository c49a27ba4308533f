"""The vocabulary every command shares: the command registry, release options, errors, output formatting."""

from __future__ import annotations

import argparse
import functools
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

__all__ = [
    "COMMANDS",
    "clean_errors",
    "command",
    "count_arg",
    "deprecated_alias",
    "fmt",
    "key_values",
    "leaderboard_out",
    "load_release",
    "release_args",
    "release_dir_args",
    "workers_arg",
]

COMMANDS: dict[
    str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = {}


def command(name: str, setup: Callable[[argparse.ArgumentParser], None]):
    """Register a sub-command: ``setup`` adds its arguments, the decorated function runs it."""

    def deco(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = (setup, fn)
        return fn

    return deco


REPO_LEADERBOARDS = Path(__file__).resolve().parent.parent.parent / "leaderboards"


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


def release_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--path", default=None, metavar="DIR", help="release directory to read (default: the shipped release)"
    )
    p.add_argument(
        "--release", default="v1", metavar="NAME", help="shipped release version (default: %(default)s)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text, for scripts")


def quiet_arg(p: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bars (every command that shows one takes it)."""
    p.add_argument("--quiet", action="store_true", help="show no progress bar")


def workers_arg(
    p: argparse.ArgumentParser, help: str = "local processes, one torch thread each (default: %(default)s)"
) -> None:
    """``--workers N``: local processes side by side (every command that can spread its work takes it)."""
    p.add_argument("--workers", type=int, default=1, help=help)


def clean_errors(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """Turn a lookup miss into the CLI's one-line error (``main`` prints ValueErrors without a traceback)."""

    @functools.wraps(fn)
    def run(args: argparse.Namespace) -> int:
        from nasbench_mt.query.results import ArchNotInBenchmarkError

        try:
            return fn(args)
        except ArchNotInBenchmarkError as err:
            raise ValueError(err.message) from None

    return run


def load_release(args: argparse.Namespace):
    from nasbench_mt.query.benchmark import load_benchmark

    return load_benchmark(args.release, path=args.path)


def fmt(v: Any) -> str:
    if isinstance(v, float):
        return "nan" if not math.isfinite(v) else f"{v:.4g}"
    if isinstance(v, int) and not isinstance(v, bool):
        return f"{v:,}"
    if isinstance(v, dict):
        return "  ".join(f"{k}: {fmt(x)}" for k, x in v.items())
    return str(v)


def key_values(pairs: list[str] | None, flag: str, example: str) -> dict[str, Any]:
    """``KEY=VALUE`` options (``--param``, ``--suite-arg``) as keyword arguments: a value is read as JSON
    where it parses (``3``, ``0.5``, ``true``, ``[1, 2]``), else kept as a string."""
    out: dict[str, Any] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.isidentifier():
            raise ValueError(f"invalid {flag} {pair!r}; allowed: KEY=VALUE, e.g. {example}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


class _Deprecated(argparse.Action):
    """An old spelling of an option: still accepted, with a one-line notice naming the new one."""

    def __init__(self, option_strings, dest, new: str = "", **kwargs):
        super().__init__(option_strings, dest, **kwargs)
        self.new = new

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"nasbench-mt: {option_string} is deprecated here; use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def deprecated_alias(p: Any, old: str, dest: str, new: str, **kwargs: Any) -> None:
    """Accept ``old`` as a hidden, deprecated spelling of the option stored in ``dest`` (``new`` names it)."""
    p.add_argument(old, dest=dest, action=_Deprecated, new=new, help=argparse.SUPPRESS, **kwargs)


def release_dir_args(p: argparse.ArgumentParser) -> None:
    """``--path DIR`` (required): the release directory a command writes or checks; ``--release DIR`` is its
    deprecated spelling (everywhere else ``--release`` names a shipped version)."""
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--path", metavar="DIR", help="release directory, e.g. data/v1 (required)")
    deprecated_alias(g, "--release", "path", "--path DIR")


def count_arg(
    p: argparse.ArgumentParser, help: str, default: int | None = None, old: str | None = None
) -> None:
    """``--n N`` (also ``-n N``): how many; ``old`` is a deprecated spelling of it.  Without a default the
    count is required."""
    if default is not None:
        p.add_argument(
            "--n", "-n", type=int, default=default, metavar="N", help=f"{help} (default: %(default)s)"
        )
        return
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--n", "-n", type=int, metavar="N", help=f"{help} (required)")
    if old:
        deprecated_alias(g, old, "n", "--n N", type=int)
