"""Shared by the benchmark scripts: append a Markdown section to a results file and echo it."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path


def machine_load() -> str:
    """How busy the machine was, measured (call it before the timed work): the 1-minute load average."""
    return f"1-minute load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores at the start"


def append_report(path: str | Path, lines: Sequence[str]) -> None:
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
