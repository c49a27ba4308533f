"""Value domains: impossible values, broken cross-column rules and wrong row counts are refused on load."""

import json

import numpy as np
import pandas as pd
import pytest

from nasbench_mt.publish.check import check_release
from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.domains import check_values, column_domains
from nasbench_mt.release.manifest import ReleaseError
from nasbench_mt.release.provenance import update_manifest
from nasbench_mt.space.tasks import SCENE_TASKS


def _tamper(release, column, value, row=0, file="archs-00000.parquet"):
    path = release / file
    df = pd.read_parquet(path)
    df.loc[row, column] = value
    df.to_parquet(path, index=False)
    update_manifest(release, "v1")  # re-hash: only the value checks can catch it now
    return df.loc[row, "arch_id"]


def test_the_shipped_fixture_and_every_release_file_are_inside_their_domains(bench):
    assert check_values(bench.table, bench.tasks, "table") == []
    assert check_values(bench.calibration, bench.tasks, "calibration") == []
    assert check_values(bench.noise, bench.tasks, "noise") == []


@pytest.mark.parametrize(
    ("column", "value"),
    [("mean_acc", 999.0), ("test_digit_e1", -50.0), ("params", -1), ("latency_ms", np.inf), ("arch_id", "x")],
)
def test_impossible_values_are_refused_by_load_and_check(tiny_copy, column, value):
    arch_id = _tamper(tiny_copy, column, value)
    with pytest.raises(ReleaseError) as err:
        load_benchmark(path=tiny_copy)
    msg = str(err.value)
    assert "archs-00000.parquet" in msg and column in msg and "allowed" in msg
    if column != "arch_id":
        assert arch_id in msg
    res = {r["check"]: r for r in check_release(tiny_copy, rebuild=False, progress=False)}
    assert not res["rows and values"]["ok"] and column in res["rows and values"]["detail"]


def test_a_silently_changed_mean_breaks_its_rule(tiny_copy):
    df = pd.read_parquet(tiny_copy / "archs-00000.parquet")
    arch_id = _tamper(tiny_copy, "val_mean_acc", float(df.loc[3, "val_mean_acc"]) + 0.5, row=3)
    with pytest.raises(ReleaseError, match=f"row {arch_id} breaks the rule mean_acc"):
        load_benchmark(path=tiny_copy)


def test_a_row_count_other_than_the_manifests_is_refused(tiny_copy):
    manifest = json.loads((tiny_copy / "manifest.json").read_text())
    entry = next(e for e in manifest["files"] if e["role"] == "archs")
    entry["rows"] += 1
    (tiny_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ReleaseError, match="manifest says"):
        load_benchmark(path=tiny_copy, verify_files=False)


def test_cross_column_rules(bench):
    t = bench.table.head(5).copy()
    t.loc[t.index[0], "macs_e1"] = t.loc[t.index[0], "macs"] * 2  # an early exit costing more than the net
    t.loc[t.index[1], "flops"] = t.loc[t.index[1], "flops"] + 10
    t.loc[t.index[2], "latency_norm"] = t.loc[t.index[2], "latency_norm"] * 1.1
    t.loc[t.index[3], "test_seg"] = t.loc[t.index[3], "test_seg_e4"] - 1
    t["surprise"] = 1
    errors = check_values(t, bench.tasks, "t.parquet")
    text = "\n".join(errors)
    for rule in ("cumulative MACs", "flops = 2 x macs", "latency_norm =", "final-exit score", "'surprise'"):
        assert rule in text
    ids = list(t["arch_id"])
    assert ids[0] in text and ids[1] in text and ids[2] in text and ids[3] in text
    assert not any(ids[4] in e for e in errors)


def test_every_table_column_has_a_domain():
    from nasbench_mt.release.schema import table_columns

    domains = column_domains(SCENE_TASKS)
    missing = [c for c in table_columns(SCENE_TASKS) if c not in domains and not c.startswith("macs_seg_")]
    assert missing == []
