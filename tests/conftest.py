"""Shared fixtures: the tiny release in tests/fixtures/tiny (real archs and costs, synthetic metrics), and the
tiny supernet the generation tests measure with, trained once per session."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
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


@pytest.fixture(scope="session")
def tiny_supernet(tmp_path_factory, request) -> Path:
    """A supernet trained for one epoch on ``TINY_SUITE_KWARGS`` (the costliest fixture: once per test run,
    shared by pytest-xdist workers through a file lock); its suite's cache is the folder ``cache`` beside it.
    Tests only read it (``generation_env`` hands each module a copy)."""
    pytest.importorskip("mlxtend")
    from filelock import FileLock

    from nasbench_mt.testing import TINY_SUITE_KWARGS, tiny_generation_env

    base = tmp_path_factory.getbasetemp()
    under_xdist = hasattr(request.config, "workerinput")  # each worker's basetemp sits in the run's folder
    root = (base.parent if under_xdist else base) / "tiny-supernet"
    with FileLock(str(root) + ".lock"):
        if not (root / "sn.pt").is_file():
            root.mkdir(exist_ok=True)
            with tiny_generation_env(root, TINY_SUITE_KWARGS) as checkpoint:
                return checkpoint
    return root / "sn.pt"


@pytest.fixture(scope="session")
def generated_config(tiny_supernet: Path):
    """``make(out, **overrides)``: the ``GenerateConfig`` of ``tiny_generated`` (4 archs drawn with seed 3,
    shards of 2, measured with the session's tiny supernet) writing to ``out``; pass it the shared release
    to resume it, or another folder to measure the same rows again."""
    from nasbench_mt.measure.generate import GenerateConfig
    from nasbench_mt.measure.measurer import MeasureSpec
    from nasbench_mt.testing import TINY_SUITE_KWARGS

    spec = MeasureSpec(
        supernet=str(tiny_supernet), suite_kwargs=TINY_SUITE_KWARGS, n_per_sample=16, calib_images=64
    )

    def make(out, **overrides):
        return GenerateConfig(out=str(out), spec=spec, **{"n": 4, "seed": 3, "shard_size": 2, **overrides})

    return make


@pytest.fixture(scope="session")
def tiny_generated(tiny_supernet: Path, generated_config) -> Path:
    """The release ``generated_config`` describes, generated once per test run (shared by xdist workers
    through a file lock) for the generation, Ray and reproduction tests. Tests only read it: copy it first
    to change it."""
    from filelock import FileLock

    from nasbench_mt.measure.generate import generate
    from nasbench_mt.testing import suite_cache

    out = tiny_supernet.parent / "generated"
    done = tiny_supernet.parent / "generated.done"
    with FileLock(str(out) + ".lock"):
        if not done.is_file():
            shutil.rmtree(out, ignore_errors=True)  # a build that died half-way
            with suite_cache(tiny_supernet.parent / "cache"):
                generate(generated_config(out), progress=False)
            done.touch()
    return out


@pytest.fixture(scope="module")
def generation_env(tiny_supernet: Path, tmp_path_factory) -> Iterator[Path]:
    """A fresh folder per test module holding a copy of the tiny supernet as ``sn.pt``, with
    ``NASBENCH_MT_CACHE`` on the session's suite cache while the module runs."""
    from nasbench_mt.testing import suite_cache

    root = tmp_path_factory.mktemp("gen")
    shutil.copy(tiny_supernet, root / "sn.pt")
    with suite_cache(tiny_supernet.parent / "cache"):
        yield root


@pytest.fixture(scope="session")
def small_scenes(tmp_path_factory):
    """A small MNIST-scene suite (64 training, 16 validation, 16 test scenes) for training tests, built once
    in a cache folder of its own."""
    pytest.importorskip("mlxtend")
    from nasbench_mt.measure.datasets import load_suite
    from nasbench_mt.testing import suite_cache

    # the cache folder is set only while the suite is built, so that it never leaks into later tests
    with suite_cache(tmp_path_factory.mktemp("scenes-cache")):
        return load_suite("mnist-scenes", n_train=64, n_val=16, n_test=16)
