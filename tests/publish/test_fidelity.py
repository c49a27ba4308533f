"""The fidelity harness and the standalone noise ceiling, on a tiny release generated here."""

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from nasbench_mt.cli import main
from nasbench_mt.measure.generate import GenerateConfig, generate
from nasbench_mt.measure.measurer import MeasureSpec
from nasbench_mt.publish.fidelity import (
    append_fidelity,
    candidate_config,
    fidelity_row,
    fidelity_targets,
    measure_candidate,
    residual_by_choice,
)
from nasbench_mt.publish.summarize import summarize_release
from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.stats import STANDALONE_KIND, noise_stats, proxy_ceiling
from nasbench_mt.space.arch import V1
from nasbench_mt.testing import TINY_SUITE_KWARGS

pytest.importorskip("mlxtend")

SUITE_KW = TINY_SUITE_KWARGS
N_CAL = 4
TRAIN = {"epochs": 0.25, "batch_size": 16, "supervise_exits": "all"}  # one step of 16 scenes per arch


def _spec(**kw) -> MeasureSpec:
    return MeasureSpec(suite_kwargs=SUITE_KW, n_per_sample=8, calib_images=64, **kw)


@pytest.fixture(scope="module")
def release(generation_env):
    """A release with a 6-row table, a 4-arch calibration tier and 3 of them trained again (seed 1)."""
    checkpoint = generation_env / "sn.pt"
    rel = generation_env / "rel"
    runs = [
        ("archs", 6, _spec(supernet=str(checkpoint))),
        ("calibration", N_CAL, _spec(protocol="standalone", train={**TRAIN, "seed": 0})),
        ("noise-standalone", 3, _spec(protocol="standalone", train={**TRAIN, "seed": 1})),
    ]
    for prefix, n, spec in runs:
        cfg = GenerateConfig(out=str(rel), n=n, seed=0, shard_size=4, spec=spec, prefix=prefix)
        generate(cfg, progress=False)
    return rel, checkpoint


def test_proxy_ceiling_bounds():
    assert proxy_ceiling(1.0) == pytest.approx(1.0)
    assert proxy_ceiling(0.0) == 0.0 and proxy_ceiling(-0.3) == 0.0
    assert np.isnan(proxy_ceiling(float("nan")))  # undefined repeat tau: no ceiling, not 0
    taus = np.linspace(0.05, 0.95, 19)
    ceilings = [proxy_ceiling(t) for t in taus]
    assert all(c > t for c, t in zip(ceilings, taus))  # one noisy run agrees less with itself than with truth
    assert all(np.diff(ceilings) > 0)


def test_standalone_noise_pairs_with_calibration_not_table():
    ids = [f"a{i}" for i in range(20)]
    rng = np.random.default_rng(0)
    truth = rng.normal(size=20)
    table = pd.DataFrame({"arch_id": ids, "mean_acc": -truth})  # the supernet ranks them backwards
    calibration = pd.DataFrame({"arch_id": ids, "mean_acc": truth})
    noise = pd.DataFrame({"arch_id": ids, "kind": STANDALONE_KIND, "mean_acc": truth + 1.0})
    stats = noise_stats(table, noise, [], columns=["mean_acc"], calibration=calibration)
    s = stats[STANDALONE_KIND]["mean_acc"]
    assert s["n"] == 20 and s["kendall_tau"] == pytest.approx(1.0)
    assert s["ceiling_tau"] == pytest.approx(1.0)
    lo, hi = s["kendall_tau_ci90"]
    assert lo <= s["kendall_tau"] <= hi and len(s["spearman_ci90"]) == 2
    # without the calibration tier there is nothing to pair it with, rather than a wrong pairing
    assert STANDALONE_KIND not in noise_stats(table, noise, [], columns=["mean_acc"])


def test_summarize_and_info_report_the_ceiling(release, capsys):
    rel, _ = release
    manifest = summarize_release(rel)
    per = manifest["noise"][STANDALONE_KIND]
    assert set(per) == {"test_digit", "test_count", "test_seg", "mean_acc"}
    for s in per.values():
        assert s["n"] == 3 and -1 <= s["kendall_tau"] <= 1
        assert s["ceiling_tau"] == pytest.approx(proxy_ceiling(s["kendall_tau"]))
    assert main(["info", "--path", str(rel)]) == 0
    out = capsys.readouterr().out
    assert "standalone seed to seed" in out and "ceiling tau" in out


def test_harness_measures_resumes_and_writes_one_row_per_candidate(release, tmp_path, capsys):
    rel, checkpoint = release
    work, md = tmp_path / "work", tmp_path / "fidelity.md"
    # a candidate that is not the release's supernet: same weights under another name and a fine-tune
    args = ["calibrate", "--supernet", str(checkpoint), "--path", str(rel), "--work", str(work)]
    args += ["--label", "ft", "--finetune-epochs", "0.5", "--finetune-batch-size", "32", "--results", str(md)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "candidate ft" in out and "mean_acc" in out and "target" in out
    rows = pd.read_parquet(next(work.glob("archs-*.parquet")))
    assert sorted(rows["arch_id"]) == sorted(a.written_id for a in V1.sample(N_CAL, seed=0))
    assert json.loads((work / "manifest.json").read_text())["generation"]["archs"]["spec"]["finetune"]
    text = md.read_text()
    assert text.count("| ft (`") == 1 and "finetune epochs=0.5" in text
    # a second call finds every row measured and only replaces the candidate's row
    before = rows.copy()
    assert main(args + ["--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stats"]["mean_acc"]["n"] == N_CAL
    pd.testing.assert_frame_equal(pd.read_parquet(next(work.glob("archs-*.parquet"))), before)
    assert md.read_text().count("| ft (`") == 1


def test_rows_measured_on_another_machine_are_read_back(release, tmp_path, monkeypatch):
    """candidate_config needs only the manifest, so a GPU machine can measure the rows; calibrate here then
    reads them back, measures nothing, and reports where they were measured."""
    rel, checkpoint = release
    manifest = json.loads((rel / "manifest.json").read_text())
    finetune = {"epochs": 0.5, "batch_size": 32}
    cfg = candidate_config(manifest, checkpoint, "gpu", tmp_path / "w", finetune)
    assert (cfg.n, cfg.seed, cfg.shard_size) == (N_CAL, 0, N_CAL) and cfg.spec.supernet == str(checkpoint)
    generate(cfg, progress=False)
    meta_path = tmp_path / "w" / "manifest.json"
    meta = json.loads(meta_path.read_text())
    meta["generation"]["archs"]["device"] = "cuda"  # as the other machine records it
    meta_path.write_text(json.dumps(meta))

    def no_measuring(*a, **k):
        raise AssertionError("every row was there: nothing to measure")

    monkeypatch.setattr("nasbench_mt.measure.generate._measure_one", no_measuring)
    report = measure_candidate(
        checkpoint, path=rel, work=tmp_path / "w", finetune=finetune, label="gpu", progress=False
    )
    assert report.device == "cuda" and report.stats["mean_acc"]["n"] == N_CAL
    assert "(cuda)" in fidelity_row(report, command="nasbench-mt calibrate ...")
    gpu_trained = dataclasses.replace(report, train_core_hours=2.85, train_gpu_hours=0.136)
    assert "| 2.85 + 0.14 GPU-h |" in fidelity_row(gpu_trained, command="nasbench-mt calibrate ...")
    with pytest.raises(ValueError, match="how its table and calibration tier"):
        candidate_config({"generation": {}}, checkpoint, "x")


def test_release_supernet_reuses_the_table(release, tmp_path):
    rel, checkpoint = release
    bench = load_benchmark(path=rel)
    report = measure_candidate(checkpoint, path=rel, work=tmp_path / "w", progress=False)
    assert report.reused and not (tmp_path / "w").exists()
    cal = bench.calibration
    assert report.stats["mean_acc"]["n"] == len(cal)
    assert report.train_core_hours is None or report.train_core_hours >= 0
    path = append_fidelity(report, tmp_path / "f.md", command="nasbench-mt calibrate ...")
    assert "(release rows)" in path.read_text()


def test_targets_follow_the_ceiling():
    ceiling = {"mean_acc": {"ceiling_tau": 0.75}, "test_digit": {"ceiling_tau": 0.9}}
    goals = fidelity_targets(["test_digit", "test_count", "mean_acc"], ceiling)
    assert goals == {"test_digit": 0.55, "test_count": 0.55, "mean_acc": 0.65}


def test_bad_candidate_and_release_are_named(release, tmp_path):
    rel, checkpoint = release
    with pytest.raises(ValueError, match="invalid supernet"):
        measure_candidate(tmp_path / "missing.pt", path=rel)
    with pytest.raises(ValueError, match="invalid finetune"):
        MeasureSpec(protocol="standalone", finetune={"epochs": 1})
    with pytest.raises(ValueError, match="finetune"):
        _spec(supernet=str(checkpoint), finetune={"epoch": 1})
    bare = tmp_path / "bare"
    generate(GenerateConfig(out=str(bare), n=2, seed=0, spec=_spec(supernet=str(checkpoint))), progress=False)
    with pytest.raises(ValueError, match="no calibration tier"):
        measure_candidate(checkpoint, path=bare)


def test_residuals_are_centred_and_cover_every_choice(bench):
    res = residual_by_choice(bench.table, bench.calibration, bench.tasks)
    assert {"branch_digit", "branch_count", "branch_seg", "tasks_at_stem", "stage1_kernel"} <= set(res.choice)
    for (_, _), part in res.groupby(["target", "choice"]):
        assert part["n"].sum() == len(bench.calibration)
        assert (part["n"] * part["residual"]).sum() == pytest.approx(0.0, abs=1e-9)
