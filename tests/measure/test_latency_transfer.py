"""ONNX Runtime latency, the latency-onnx protocol in a release, and bring-your-own-device transfer."""

import numpy as np
import pandas as pd
import pytest
import torch
from scipy.stats import spearmanr

from nasbench_mt.cli import main
from nasbench_mt.measure.generate import GenerateConfig, generate
from nasbench_mt.measure.latency_transfer import LatencyTransfer, measure_device, structure_counts
from nasbench_mt.measure.measurer import MeasureSpec
from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.manifest import verify
from nasbench_mt.release.schema import ort_latency_columns
from nasbench_mt.space.arch import V1, Arch
from nasbench_mt.space.model import ExitHead, MBConv, build_model, flat_outputs

ort = pytest.importorskip("onnxruntime", reason="ONNX Runtime latency needs the [onnx] extra")
pytest.importorskip("onnx")

from nasbench_mt.measure.latency_onnx import export_onnx, measure_latency_onnx, onnx_session  # noqa: E402

EARLY = Arch.from_string("k3e3|k5e4,k3e3|k3e3|k3e3|b=1,2,4|x=2")


def test_onnx_graph_computes_what_torch_computes():
    torch.manual_seed(0)
    net = build_model(EARLY).eval()
    x = torch.randn(1, 3, 32, 32)
    for upto in (2, 4):
        session = onnx_session(export_onnx(net, upto))
        wrapper, names = flat_outputs(net, upto)
        assert [o.name for o in session.get_outputs()] == names
        got = session.run(None, {"x": x.numpy()})
        with torch.no_grad():
            want = wrapper(x)
        for g, w in zip(got, want):
            np.testing.assert_allclose(g, w.numpy(), rtol=1e-3, atol=1e-4)
    with pytest.raises(ValueError, match="upto"):
        export_onnx(net, 1)  # no exit at or before stage 1: nothing to compute


def test_onnx_latency_times_every_exit_position():
    lat = measure_latency_onnx(build_model(EARLY), rounds=5, warmup=1)
    assert sorted(lat.median_ms) == [2, 4]
    row = lat.as_row("ort_")
    assert row["ort_latency_ms"] == row["ort_latency_e4_ms"] > row["ort_latency_e2_ms"] > 0
    assert row["ort_latency_norm"] == pytest.approx(row["ort_latency_ms"] / row["ort_ref_latency_ms"])
    with pytest.raises(ValueError, match="rounds"):
        measure_latency_onnx(build_model(EARLY), rounds=3)


def test_latency_onnx_protocol_adds_ort_columns_to_a_release(tiny_copy, tiny_path, tmp_path, monkeypatch):
    # timing needs no scenes: the suite is never built (its task list names the heads)
    import nasbench_mt.measure.datasets as datasets

    def no_scenes(*args, **kwargs):
        raise AssertionError("the latency-onnx protocol built a dataset suite")

    monkeypatch.setattr(datasets, "load_suite", no_scenes)
    spec = MeasureSpec(protocol="latency-onnx", latency_rounds=5)
    cfg = GenerateConfig(out=str(tiny_copy), n=2, seed=0, spec=spec, prefix="ort-latency", version="tiny")
    generate(cfg, progress=False)
    manifest = verify(tiny_copy)
    assert "ort-latency-00000.parquet" in {f["path"] for f in manifest["files"]}
    before = load_benchmark(path=tiny_path).table
    table = load_benchmark(path=tiny_copy).table
    assert len(table) == len(before) and table.arch_id.is_unique
    pd.testing.assert_series_equal(table.latency_ms, before.latency_ms)  # the eager columns are kept
    measured = table[table.ort_latency_ms.notna()]
    assert list(measured.arch_id) == [a.written_id for a in V1.sample(2, seed=0)]
    assert set(ort_latency_columns()) <= set(table.columns)
    for _, row in measured.iterrows():
        exits = Arch.from_string(row.arch).all_exits
        for k in (1, 2, 3, 4):
            assert np.isnan(row[f"ort_latency_e{k}_ms"]) == (k not in exits)


def test_structure_counts_match_the_built_network():
    for arch in V1.sample(5, seed=4) + [EARLY]:
        net = build_model(arch)
        blocks, heads = structure_counts(arch, 4)
        assert blocks == sum(isinstance(m, MBConv) for m in net.modules())
        assert heads == sum(isinstance(m, ExitHead) for m in net.modules())
    assert structure_counts(EARLY, 1) == (1, 0)  # the trunk's first stage, no exit yet


def _synthetic_device(table: pd.DataFrame, rng) -> pd.DataFrame:
    """A device whose latency departs from the shipped one (a MACs-driven term), with 2% noise."""
    ref = 0.3
    norm = (table.latency_ms / table.ref_latency_ms) ** 0.6 * (table.macs / 1e7) ** 0.5
    norm = norm * np.exp(rng.normal(scale=0.02, size=len(table)))
    return pd.DataFrame(
        {"arch_id": table.arch_id, "latency_ms": norm * ref, "ref_latency_ms": ref, "latency_norm": norm}
    )


def test_transfer_learns_a_new_device_from_few_archs(bench):
    table = bench.table
    device = _synthetic_device(table, np.random.default_rng(0))
    measured = device.sample(12, random_state=0)
    held = ~table.arch_id.isin(measured.arch_id)
    pred = LatencyTransfer().fit(table, measured).predict(table)
    assert list(pred.arch_id) == list(table.arch_id)
    rho = spearmanr(pred.latency_ms[held], device.latency_ms[held])[0]
    prior = LatencyTransfer(prior_only=True).fit(table, measured).predict(table)
    rho_prior = spearmanr(prior.latency_ms[held], device.latency_ms[held])[0]
    assert rho > 0.9 and rho > rho_prior
    # predictions are in the device's milliseconds
    assert np.median(pred.latency_ms / device.latency_ms) == pytest.approx(1.0, rel=0.15)
    with pytest.raises(ValueError, match="not in the table"):
        LatencyTransfer().fit(table, measured.assign(arch_id="000000000000"))
    with pytest.raises(ValueError, match="not fitted"):
        LatencyTransfer().predict(table)


def test_measure_device_is_seeded_and_validated(bench):
    a = measure_device(bench.table, 2, seed=1, rounds=5, warmup=1)
    b = measure_device(bench.table, 2, seed=1, backend="onnx", rounds=5, warmup=1)
    assert list(a.arch_id) == list(b.arch_id)
    assert (a.latency_ms > 0).all() and (b.latency_ms > 0).all()
    with pytest.raises(ValueError, match="backend"):
        measure_device(bench.table, 2, backend="tflite")
    with pytest.raises(ValueError, match="archs"):
        measure_device(bench.table, 999)


def test_cli_measure_then_transfer(tiny_path, tmp_path, capsys):
    mine = tmp_path / "mydevice.parquet"
    args = ["--path", str(tiny_path)]
    assert main(["measure-latency", "--n", "6", "--out", str(mine), "--rounds", "5", *args]) == 0
    measured = pd.read_parquet(mine)
    assert len(measured) == 6 and measured.arch_id.is_unique
    out = tmp_path / "predicted.parquet"
    assert main(["transfer-latency", "--measured", str(mine), "--out", str(out), *args]) == 0
    pred = pd.read_parquet(out)
    assert len(pred) == 30 and pred.measured.sum() == 6 and (pred.latency_ms > 0).all()
    assert (
        main(["transfer-latency", "--measured", str(tmp_path / "none.parquet"), "--out", str(out), *args])
        == 2
    )
    assert "does not exist" in capsys.readouterr().err
