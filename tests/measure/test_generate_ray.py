"""The Ray executor writes the local executor's shards (timing columns aside), retries, and resumes."""

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from nasbench_mt.measure.generate import generate
from nasbench_mt.release.manifest import verify
from nasbench_mt.space.arch import V1

ray = pytest.importorskip("ray", reason="the Ray executor needs the [ray] extra")
pytest.importorskip("mlxtend")

TIMING = {"measure_s"}


@pytest.fixture(scope="module")
def env(generation_env):
    root = generation_env
    crash = root / "crash"
    crash.mkdir()
    ray.init(
        num_cpus=1,
        include_dashboard=False,
        _node_ip_address="127.0.0.1",  # loopback only
        runtime_env={
            "env_vars": {
                "NASBENCH_MT_CACHE": os.environ["NASBENCH_MT_CACHE"],
                "NASBENCH_MT_RAY_CRASH_ONCE": str(crash),
            }
        },
    )
    yield root
    ray.shutdown()


def _files(out, prefix) -> pd.DataFrame:
    files = sorted(Path(out).glob(f"{prefix}-*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


def _assert_same(a_dir, b_dir):
    a, b = _files(a_dir, "archs"), _files(b_dir, "archs")
    assert list(a.columns) == list(b.columns)
    cols = [c for c in a.columns if c not in TIMING]
    pd.testing.assert_frame_equal(a[cols], b[cols])
    pd.testing.assert_frame_equal(_files(a_dir, "exits"), _files(b_dir, "exits"))


@pytest.fixture
def local(tiny_generated):
    """The local executor's run of ``generated_config``: the session's tiny release (read only)."""
    return tiny_generated


def test_ray_equals_local_and_retries_a_dead_worker(env, local, generated_config):
    archs = V1.sample(4, seed=3)
    marker = env / "crash" / archs[1].written_id
    marker.touch()  # the worker measuring this arch dies once; Ray must retry it
    out = env / "ray"
    manifest = generate(generated_config(out, executor="ray", max_retries=2), progress=False)
    assert not marker.exists(), "the injected crash did not happen"
    verify(out)
    assert manifest["generation"]["archs"]["executor"] == "ray"
    rows = _files(out, "archs")
    assert list(rows.arch_id) == [a.written_id for a in archs]  # no duplicate, no loss
    _assert_same(local, out)
    assert not list((out / "partial").glob("archs-*"))


def test_ray_resumes_a_local_run(env, local, generated_config, tmp_path):
    out = tmp_path / "resumed"
    shutil.copytree(local, out)
    for f in ("archs-00001.parquet", "exits-00001.parquet"):
        (out / f).unlink()  # as if the run had stopped before the second shard
    generate(generated_config(out, executor="ray"), resume=True, progress=False)
    _assert_same(local, out)
    verify(out)


def test_ray_stops_after_retries_keeping_finished_rows(env, generated_config, tmp_path):
    archs = V1.sample(4, seed=3)
    out = tmp_path / "failing"
    for a in archs[2:]:
        (env / "crash" / a.id).touch()  # dies once each; with max_retries=0 there is no second try
    with pytest.raises(RuntimeError, match="--resume"):
        generate(generated_config(out, executor="ray", max_retries=0), progress=False)
    done = {p.name.split(".")[0] for p in out.glob("partial/archs-*/*.row.parquet")}
    packed = set(_files(out, "archs").arch_id) if list(out.glob("archs-*.parquet")) else set()
    assert done | packed == {a.written_id for a in archs[:2]}
    generate(generated_config(out, executor="ray"), resume=True, progress=False)
    assert list(_files(out, "archs").arch_id) == [a.written_id for a in archs]
