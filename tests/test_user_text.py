"""User-facing text speaks to users: no ticket or work-log numbers and no internal code names.

Checked: README.md, docs/*.md, the data card and history under data/, the leaderboards' README, and the help
of every command of ``nasbench-mt``.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from nasbench_mt.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]
PAGES = [
    ROOT / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
    ROOT / "data" / "README.md",
    ROOT / "data" / "HISTORY.md",
    ROOT / "leaderboards" / "README.md",
]
INTERNAL = {
    "an issue number": r"\bissues?\s*#?\d+",
    "a #number": r"(?<![\w&/])#\d+\b",
    "a work session": r"\bsessions?\b",
    "a lettered candidate supernet": r"\bsupernets?\s+(?-i:[A-F])\b|\((?-i:[A-F]),\s+\d",
    "the gate's supernets": r"\bgate's supernets?\b",
}


def _help_texts() -> str:
    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return "\n".join([parser.format_help(), *(p.format_help() for p in sub.choices.values())])


SOURCES = {str(p.relative_to(ROOT)): p for p in PAGES if p.exists()}


@pytest.mark.parametrize("name", [*SOURCES, "nasbench-mt --help"])
def test_no_internal_vocabulary(name):
    text = _help_texts() if name == "nasbench-mt --help" else SOURCES[name].read_text()
    found = []
    for what, pattern in INTERNAL.items():
        for m in re.finditer(pattern, text, flags=re.IGNORECASE):
            line = text.count("\n", 0, m.start()) + 1
            found.append(f"{name}:{line}: {what}: {m.group(0)!r}")
    assert not found, "internal vocabulary in user-facing text:\n" + "\n".join(found)


@pytest.mark.parametrize(
    ("text", "hit"),
    [
        ("fixed in issue 5", True),
        ("see #12 for", True),
        ("in session 14 we", True),
        ("sessions 17-20", True),
        ("supernet E ranks", True),
        ("a 10-epoch supernet (D, 2,602 s)", True),
        ("the gate's supernets A-E", True),
        ("the supernet ranks", False),
        ("a supernet e.g. this one", False),
        ("## Heading", False),
        ("docs/fidelity.md#the-harness", False),
    ],
)
def test_the_patterns(text, hit):
    assert any(re.search(p, text, flags=re.IGNORECASE) for p in INTERNAL.values()) is hit


def test_readme_is_a_short_guide():
    """README stays a user's guide; longer text belongs in docs/."""
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) < 250, f"README.md has {len(lines)} lines; keep it under 250 (move detail to docs/)"
