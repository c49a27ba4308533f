"""Every code block in README.md and docs/*.md runs, and prints what the page shows under it.

How a page marks its blocks (the HTML comments are invisible on the rendered page):

- A ```python block runs in a fresh namespace; a ```bash block runs under ``bash -e -o pipefail``, where
  ``nasbench-mt`` and ``python`` are this checkout's. Each block runs in a fresh, empty working directory,
  so its paths must work from anywhere.
- An ```output block right after a code block is what the block prints on stdout. ``...`` in it stands for
  any text (timings, machine-dependent latencies), as in doctest.
- A ```json block must parse; ``<!-- docs-test: file NAME -->`` above it also writes it as NAME into the
  working directory of every block of that page.
- ``<!-- docs-test: setup photo-folder -->`` above a block first writes a small image folder with labels
  (``photos/``, ``labels.csv``) into its working directory: a stand-in for your own data.
- ``<!-- docs-test: skip REASON -->`` above a block skips it: for installs and jobs of minutes to hours.
  Each skipped block shows up as a skipped test with its page, line and reason (``pytest -rs``).
- ```text blocks are prose (a folder layout), not code; any other block must name one of these languages.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN = ("python", "bash")
LANGUAGES = (*RUN, "json", "text", "output")
FENCE = re.compile(r"^```(\S*)\s*$")
MARK = re.compile(r"^<!--\s*docs-test:\s*(\w[\w-]*)\s*(.*?)\s*-->\s*$")


@dataclass
class Block:
    page: Path
    line: int  # 1-based line of the opening fence
    lang: str
    code: str
    marks: dict[str, str] = field(default_factory=dict)
    output: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"


def parse(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, each with the docs-test marks right above it and the output after it."""
    lines = page.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        start, lang = i, m.group(1)
        end = start + 1
        while end < len(lines) and lines[end].rstrip() != "```":
            end += 1
        if end == len(lines):
            raise AssertionError(f"{page.name}:{start + 1}: unclosed code block")
        marks, j = {}, start - 1
        while j >= 0 and lines[j].startswith("<!--"):
            mark = MARK.match(lines[j])
            if mark:
                marks[mark.group(1)] = mark.group(2)
            j -= 1
        code = "\n".join(lines[start + 1 : end]) + "\n"
        if lang == "output" and blocks and blocks[-1].line == _previous_fence(lines, start):
            blocks[-1].output = code
        blocks.append(Block(page, start + 1, lang, code, marks))
        i = end + 1
    return blocks


def _previous_fence(lines: list[str], start: int) -> int:
    """1-based opening line of the block whose closing fence is the last non-blank line before ``start``."""
    j = start - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j < 0 or lines[j].rstrip() != "```":
        return -1
    k = j - 1
    while k >= 0 and not FENCE.match(lines[k]):
        k -= 1
    return k + 1


BLOCKS = [b for page in PAGES for b in parse(page)]


def _params(langs: tuple[str, ...]) -> list:
    out = []
    for b in BLOCKS:
        if b.lang not in langs:
            continue
        marks = [pytest.mark.skip(reason=f"{b.where}: {b.marks['skip']}")] if "skip" in b.marks else []
        out.append(pytest.param(b, id=b.where, marks=marks))
    return out


def matches(expected: str, actual: str) -> bool:
    """``actual`` is ``expected`` up to trailing blanks, with ``...`` standing for any text."""

    def norm(text: str) -> str:
        return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())

    pattern = ".*?".join(re.escape(part) for part in norm(expected).split("..."))
    return re.fullmatch(pattern, norm(actual), flags=re.DOTALL) is not None


def photo_folder(where: Path) -> None:
    """60 random 40x40 photos with an age, a smiling flag and a hair colour each."""
    import csv

    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    (where / "photos").mkdir()
    with open(where / "labels.csv", "w", newline="") as f:
        rows = csv.writer(f)
        rows.writerow(["file", "age", "smiling", "hair"])
        for i in range(60):
            image = rng.integers(0, 256, (40, 40, 3), dtype=np.uint8)
            Image.fromarray(image).save(where / "photos" / f"{i}.png")
            hair = ["black", "blond", "brown", "grey"][i % 4]
            rows.writerow([f"{i}.png", int(rng.integers(18, 80)), int(rng.integers(0, 2)), hair])


SETUPS = {"photo-folder": photo_folder}


@contextlib.contextmanager
def one_thread():
    """Run on one core, as the bash blocks do (``OMP_NUM_THREADS=1``): OpenMP libraries that spin on every
    core of a busy machine make a 3 s example take a minute."""
    import torch
    from threadpoolctl import threadpool_limits

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        with threadpool_limits(limits=1):
            yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch) -> Path:
    """An empty working directory with its own dataset cache, and this checkout's ``nasbench-mt``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, line in {
        "nasbench-mt": f'exec "{sys.executable}" -m nasbench_mt.cli "$@"',
        "python": f'exec "{sys.executable}" "$@"',
    }.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{line}\n")
        (bin_dir / name).chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv("NASBENCH_MT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    return work


def _prepare(block: Block, work: Path) -> None:
    for other in BLOCKS:
        if other.page == block.page and "file" in other.marks:
            (work / other.marks["file"]).write_text(other.code)
    if "setup" in block.marks:
        SETUPS[block.marks["setup"]](work)


@pytest.mark.parametrize("block", _params(RUN))
def test_block_runs_and_prints_what_the_page_shows(block: Block, workdir: Path):
    _prepare(block, workdir)
    if block.lang == "python":
        out = io.StringIO()
        with contextlib.redirect_stdout(out), one_thread():
            exec(compile(block.code, block.where, "exec"), {"__name__": "__main__"})
        printed = out.getvalue()
    else:
        done = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", block.code],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert done.returncode == 0, f"{block.where} failed:\n{done.stdout}\n{done.stderr}"
        printed = done.stdout
    if block.output is not None:
        assert matches(block.output, printed), (
            f"{block.where} printed:\n{printed}\nbut the page shows:\n{block.output}"
        )


@pytest.mark.parametrize("block", _params(("json",)))
def test_json_block_parses(block: Block):
    json.loads(block.code)


def test_every_block_has_a_known_language():
    unknown = [f"{b.where} ({b.lang or 'no language'})" for b in BLOCKS if b.lang not in LANGUAGES]
    assert not unknown, f"name a language of {LANGUAGES} for: {unknown}"


def test_every_output_follows_a_code_block():
    stray = [b.where for b in BLOCKS if b.lang == "output" and not _follows_code(b)]
    assert not stray, f"an output block must come right after the python or bash block it shows: {stray}"


def _follows_code(output: Block) -> bool:
    return any(b.output == output.code and b.lang in RUN and b.page == output.page for b in BLOCKS)


def test_marks_are_known():
    known = {"skip", "file", "setup"}
    bad = [f"{b.where}: {k}" for b in BLOCKS for k in b.marks if k not in known]
    setups = [(b.where, b.marks["setup"]) for b in BLOCKS if "setup" in b.marks]
    bad += [f"{where}: setup {name}" for where, name in setups if name not in SETUPS]
    bad += [f"{b.where}: skip without a reason" for b in BLOCKS if "skip" in b.marks and not b.marks["skip"]]
    assert not bad, f"unknown docs-test marks: {bad}"


@pytest.mark.parametrize(
    ("expected", "actual", "ok"),
    [
        ("a\nb\n", "a\nb", True),
        ("time ... s\n", "time 1.5 s\n", True),
        ("time ... s\n", "time 1.5 ms\n", False),
        ("a\n...\nz\n", "a\nb\nc\nz\n", True),
        ("a\n", "a\nb\n", False),
    ],
)
def test_matches(expected, actual, ok):
    assert matches(expected, actual) is ok
