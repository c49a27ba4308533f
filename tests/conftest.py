"""Shared fixtures: the tiny release in tests/fixtures/tiny (real archs and costs, synthetic metrics)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

TINY = Path(__file__).resolve().parent / "fixtures" / "tiny"  # the one path tests read the fixture from


@pytest.fixture(scope="session")
def tiny_path() -> Path:
    return TINY


@pytest.fixture(scope="session")
def bench():
    from nasbench_mt.query.benchmark import load_benchmark

    return load_benchmark(path=TINY)


@pytest.fixture
def tiny_copy(tmp_path: Path) -> Path:
    """A writable copy of the tiny release (for tampering)."""
    dst = tmp_path / "release"
    shutil.copytree(TINY, dst)
    return dst
