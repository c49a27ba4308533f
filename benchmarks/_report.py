"""Shared by the benchmark scripts: append a Markdown section to a results file and echo it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def append_report(path: str | Path, lines: Sequence[str]) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
