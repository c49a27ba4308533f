"""Tiny end-to-end generation: supernet trained a few steps on a small slice, 4 archs, kill and resume."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from nasbench_mt.cli import main
from nasbench_mt.measure.generate import GenerateConfig, generate
from nasbench_mt.measure.measurer import Measurer, MeasureSpec
from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.manifest import ReleaseError, verify
from nasbench_mt.space.arch import V1
from nasbench_mt.space.costs import measure_costs
from nasbench_mt.space.model import build_model
from nasbench_mt.testing import TINY_SUITE_KWARGS

pytest.importorskip("mlxtend")

SUITE_KW = TINY_SUITE_KWARGS
TIMING = {"measure_s"}


@pytest.fixture(scope="module")
def env(generation_env):
    return generation_env


def _rows(out) -> pd.DataFrame:
    files = sorted(Path(out).glob("archs-*.parquet"))
    return pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)


@pytest.fixture
def reference(tiny_generated):
    """The session's tiny release (4 archs, seed 3, shards of 2; see ``generated_config``): read only."""
    return tiny_generated


def test_shards_and_manifest_valid(reference):
    manifest = verify(reference)
    roles = sorted(f["role"] for f in manifest["files"])
    assert roles == ["archs"] * 2 + ["exits"] * 2
    rows = _rows(reference)
    assert list(rows.arch_id) == [a.written_id for a in V1.sample(4, seed=3)]
    assert rows.arch_id.is_unique
    assert manifest["n_samples"] == 16
    assert manifest["generation"]["archs"]["seed"] == 3
    assert manifest["generation"]["archs"]["machine"]["torch"]
    assert not list((Path(reference) / "partial").glob("archs-*"))
    for _, row in rows.iterrows():
        arch = V1.validate(row.arch)
        assert arch.written_id == row.arch_id and arch.written_string == row.arch
        for k in (1, 2, 3, 4):
            present = k in arch.all_exits
            assert pd.isna(row[f"test_digit_e{k}"]) != present
        assert 0 <= row.test_digit <= 100 and 0 <= row.test_seg <= 100
        assert row.macs_e4 == row.macs and row.params > 0


def test_exit_companion(reference):
    rows = _rows(reference)
    exits = pd.concat([pd.read_parquet(f) for f in sorted(Path(reference).glob("exits-*.parquet"))])
    expected = sum(3 * len(V1.validate(a).all_exits) for a in rows.arch)
    assert len(exits) == expected
    assert exits.conf.map(len).eq(16).all() and exits.score.map(len).eq(16).all()
    # classification correctness bytes are 0 or 255; their mean reproduces the first 16 samples' accuracy
    cls = exits[exits.task == "digit"]
    assert set(b"".join(cls.score)) <= {0, 255}


def test_measurement_is_deterministic(env, reference, generated_config, tmp_path):
    generate(generated_config(tmp_path / "again"), progress=False)
    a, b = _rows(reference), _rows(tmp_path / "again")
    cols = [c for c in a.columns if c not in TIMING]
    pd.testing.assert_frame_equal(a[cols], b[cols])


def test_measurer_times_its_stages(env, generated_config):
    measurer = Measurer(generated_config(env / "unused").spec)
    arch = V1.sample(1, seed=5)[0]
    row, _ = measurer(arch)
    # the costs are composed from the parts' (analytic_costs): the same as counting the built network
    counted = measure_costs(build_model(arch, measurer.tasks)).as_row()
    assert {c: row[c] for c in counted} == counted
    stages = ["extract", "recalibrate", "evaluate_val", "evaluate_test", "costs"]
    assert list(measurer.timings) == stages
    assert all(v >= 0 for v in measurer.timings.values())
    assert sum(measurer.timings.values()) <= row["measure_s"] + 1e-6


def test_refuses_to_overwrite_without_resume(env, reference, generated_config):
    with pytest.raises(ValueError, match="--resume"):
        generate(generated_config(reference), progress=False)
    with pytest.raises(ValueError, match="invalid resume"):
        generate(generated_config(reference, shard_size=3), resume=True, progress=False)


def test_resume_accepts_spec_fields_added_later_at_their_defaults(env, reference, generated_config, tmp_path):
    # a run begun by an older version records no field added since; at its default the measurement is the same
    out = tmp_path / "older"
    shutil.copytree(reference, out)
    state = out / "partial" / "archs.run.json"
    recorded = json.loads(state.read_text())
    for name in ("finetune", "proxy_batch"):
        del recorded["spec"][name]
    state.write_text(json.dumps(recorded))
    generate(generated_config(out), resume=True, progress=False)  # nothing pending: a no-op
    state.write_text(json.dumps(recorded))
    changed = generated_config(out)
    changed = replace(changed, spec=replace(changed.spec, proxy_batch=8))
    with pytest.raises(ValueError, match="invalid resume"):
        generate(changed, resume=True, progress=False)


def test_resume_with_nothing_to_do_keeps_the_record_of_the_run_that_measured(
    reference, generated_config, tmp_path
):
    # rows measured on another machine and read back here: the record still names that machine and device
    out = tmp_path / "elsewhere"
    shutil.copytree(reference, out)
    path = out / "manifest.json"
    manifest = json.loads(path.read_text())
    record = manifest["generation"]["archs"]
    record.update(device="cuda", machine={"cpu": "another machine"}, command="nasbench-mt generate ...")
    path.write_text(json.dumps(manifest))
    returned = generate(generated_config(out), resume=True, progress=False)
    assert returned["generation"]["archs"] == record
    assert json.loads(path.read_text())["generation"]["archs"] == record


def test_killed_run_resumes_without_duplicates_or_losses(env, reference, tmp_path):
    out = tmp_path / "killed"
    cmd = [
        sys.executable,
        "-m",
        "nasbench_mt.cli",
        "generate",
        "--out",
        str(out),
        "--n",
        "5",
        "--seed",
        "3",
        "--shard-size",
        "2",
        "--supernet",
        str(env / "sn.pt"),
        "--n-per-sample",
        "16",
    ]
    cmd += [f"--suite-arg={k}={v}" for k, v in SUITE_KW.items()]
    # calib_images differs from the CLI default, so resume the in-process run with the CLI's spec
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob("partial/archs-*/*.row.parquet")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done_before = len(list(out.glob("partial/archs-*/*.row.parquet"))) + 2 * len(
        list(out.glob("archs-*.parquet"))
    )
    assert 1 <= done_before < 5, "the run must be killed mid-way for this test to mean anything"
    spec = MeasureSpec(supernet=str(env / "sn.pt"), suite_kwargs=SUITE_KW, n_per_sample=16)
    cfg = GenerateConfig(out=str(out), n=5, seed=3, shard_size=2, spec=spec)
    generate(cfg, resume=True, progress=False)
    rows = _rows(out)
    assert list(rows.arch_id) == [a.written_id for a in V1.sample(5, seed=3)]
    verify(out)


def test_resume_refuses_another_dataset(env, reference, generated_config, tmp_path):
    out = tmp_path / "release"
    shutil.copytree(reference, out)
    state = out / "partial" / "archs.run.json"
    identity = json.loads(state.read_text())
    assert identity["suite_fingerprint"]
    state.write_text(json.dumps({**identity, "suite_fingerprint": "0" * 16}))
    with pytest.raises(ValueError, match="suite fingerprint"):
        generate(generated_config(out), resume=True, progress=False)


def test_calibration_before_the_table_is_recorded_but_not_loadable(env, tmp_path):
    spec = MeasureSpec(
        protocol="standalone",
        suite_kwargs=SUITE_KW,
        n_per_sample=16,
        calib_images=64,
        train={"epochs": 0.5, "batch_size": 32, "seed": 0},  # one step per arch
    )
    out = tmp_path / "calib"
    generate(
        GenerateConfig(out=str(out), n=2, seed=3, shard_size=2, spec=spec, prefix="calibration"),
        progress=False,
    )
    manifest = verify(out)
    assert [f["role"] for f in manifest["files"]] == ["calibration"]
    assert manifest["generation"]["calibration"]["spec"]["train"]["epochs"] == 0.5
    with pytest.raises(ReleaseError, match="no architecture table yet"):
        load_benchmark(path=out)


def test_noise_tier_rows_merge_with_the_table(env, reference, generated_config, tmp_path):
    """A noise-seed pass over the table's first archs lands as role noise, kind seed; re-measured with the
    same checkpoint the values come back identical, so the seed-to-seed agreement is perfect."""
    from nasbench_mt.publish.summarize import summarize_release

    out = tmp_path / "release"
    shutil.copytree(reference, out)
    generate(generated_config(out, n=3, prefix="noise-seed"), progress=False)
    manifest = verify(out)
    assert sum(f["role"] == "noise" for f in manifest["files"]) == 2
    bench = load_benchmark(path=out)
    assert list(bench.noise.kind.unique()) == ["seed"]
    assert list(bench.noise.arch_id) == list(bench.table.arch_id[:3])
    seed = summarize_release(out)["noise"]["seed"]
    for task in ("digit", "count", "seg"):
        assert seed[f"test_{task}"]["n"] == 3 and seed[f"test_{task}"]["mean_abs_diff"] == 0.0
    assert seed["mean_acc"]["kendall_tau"] == pytest.approx(1.0)


def test_sigterm_stops_the_worker_pool(env, tmp_path):
    """`kill PID` of a pooled run ends its workers at once, instead of leaving them to finish (and write)
    the architectures in flight as orphans competing for the cores."""
    psutil = pytest.importorskip("psutil")
    cmd = [sys.executable, "-m", "nasbench_mt.cli", "generate", "--out", str(tmp_path / "t"), "--n", "4"]
    # standalone training long enough that a worker is always mid-architecture when the signal comes
    cmd += ["--seed", "3", "--protocol", "standalone", "--epochs", "10000", "--workers", "2"]
    cmd += ["--n-per-sample", "16"]
    cmd += [f"--suite-arg={k}={v}" for k, v in {**SUITE_KW, "n_train": 128}.items()]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    parent = psutil.Process(proc.pid)
    workers: list = []
    try:
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            kids = parent.children(recursive=True)
            workers = [c for c in kids if "resource_tracker" not in " ".join(c.cmdline())]
            if len(workers) >= 2 and all(c.cpu_times().user > 3 for c in workers):
                break  # both workers are training
            time.sleep(0.2)
        assert len(workers) >= 2, "the pool never started"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) != 0
        _, alive = psutil.wait_procs(workers, timeout=10)
        assert not alive, f"workers still running after SIGTERM: {[p.pid for p in alive]}"
    finally:
        for p in workers:
            if p.is_running():
                p.kill()


def test_train_supernet_cli_resumes_only_when_asked(tmp_path):
    out, state = tmp_path / "sn.pt", tmp_path / "sn.state.pt"
    suite = [f"--suite-arg={k}={v}" for k, v in SUITE_KW.items()]
    args = ["train-supernet", "--out", str(out), "--epochs", "0.5", "--batch-size", "32", *suite]  # one step
    state.write_bytes(b"left by a killed run")
    with pytest.raises(SystemExit, match="pass --resume"):
        main(args)
    with pytest.raises(SystemExit, match="invalid training state"):
        main([*args, "--resume"])
    state.unlink()
    assert main([*args, "--resume"]) == 0  # nothing to resume: trains afresh
    assert out.is_file() and not state.exists()  # the state is dropped once the checkpoint is saved


def test_rows_are_named_by_the_spelling_drawn():
    drawn = GenerateConfig(
        out="unused", n=30, seed=0, offset=10, spec=MeasureSpec(protocol="latency")
    ).archs()
    assert drawn == V1.sample(40, seed=0)[10:]
    assert [a.written_id for a in drawn] == [a.written_id for a in V1.sample(40, seed=0)[10:]]
    assert any(a.written_id != a.id for a in drawn)  # some spelled non-canonically, as the v1 rows are
