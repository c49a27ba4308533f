import json
import subprocess
import sys
from pathlib import Path

import pytest

from nasbench_mt.cli import main

ROOT = Path(__file__).resolve().parents[2]


def run(capsys, *argv):
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def test_query_by_id_and_string(capsys, bench, tiny_path):
    r = bench[0]
    rc, out, _ = run(capsys, "query", r.arch_id, "--path", str(tiny_path))
    assert rc == 0 and r.arch in out and "mean_acc" in out
    rc, out, _ = run(capsys, "query", r.arch, "--path", str(tiny_path), "--json")
    data = json.loads(out)
    assert rc == 0 and data["arch_id"] == r.arch_id and data["mean_acc"] == pytest.approx(r.mean_acc)
    assert data["predicted"] is False


def test_info(capsys, bench, tiny_path):
    rc, out, _ = run(capsys, "info", "--path", str(tiny_path))
    assert rc == 0 and f"{len(bench):,} architectures" in out
    rc, out, _ = run(capsys, "info", "--path", str(tiny_path), "--json")
    card = json.loads(out)
    assert card["rows"] == len(bench) and [t["name"] for t in card["tasks"]] == [t.name for t in bench.tasks]
    assert {"noise", "calibration", "generation", "summary", "compute"} <= set(card)
    assert card["compute"]["total_core_hours"] >= 0 and "archs" in card["compute"]["tiers"]
    for kind, taus in card["noise"]["kendall_tau"].items():  # a kind with no figure is not listed empty
        assert taus, f"noise kind {kind} printed without a figure"


@pytest.mark.skipif(not (ROOT / "data" / "v1" / "manifest.json").exists(), reason="no v1 release here")
def test_info_reports_both_runtimes_run_to_run_noise(capsys):
    rc, out, _ = run(capsys, "info", "--path", str(ROOT / "data" / "v1"))
    line = next(x for x in out.splitlines() if "noise floor (ort-latency" in x)
    assert rc == 0 and "ort_latency_norm: 0.9" in line


def test_sample(capsys, bench, tiny_path):
    rc, out, _ = run(capsys, "sample", "-n", "5", "--path", str(tiny_path), "--json")
    rows = json.loads(out)
    assert rc == 0 and len(rows) == 5 and all(r["arch_id"] in bench for r in rows)
    rc, out, _ = run(capsys, "sample", "-n", "3", "--seed", "1", "--path", str(tiny_path))
    assert rc == 0 and len(out.strip().splitlines()) == 4


@pytest.mark.parametrize(
    "argv, match",
    [
        (["query", "0123456789ab"], "not in the benchmark table"),
        (["query", "k3e3|k3e3|k3e3|k3e3|b=4,4,4|x="], "with_surrogate"),
        (["query", "not-an-arch"], "invalid arch string"),
        (["sample", "-n", "100000"], "invalid n"),
        (["evaluate-predictors", "--predictors", "xgb", "nope", "--out", "x"], "unknown predictors ['nope']"),
    ],
)
def test_bad_input_is_one_line(capsys, tiny_path, argv, match):
    rc, out, err = run(capsys, *argv, "--path", str(tiny_path))
    assert rc == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and match in err and "Traceback" not in err


def test_tampered_release_is_one_line(capsys, tiny_copy):
    manifest = json.loads((tiny_copy / "manifest.json").read_text())
    entry = manifest["files"][0]
    (tiny_copy / entry["path"]).write_bytes(b"garbage")
    for cmd in ("info", "sample"):
        rc, _, err = run(capsys, cmd, "--path", str(tiny_copy))
        assert rc == 2 and entry["path"] in err and entry["sha256"] in err
        assert len(err.strip().splitlines()) == 1
    rc, _, err = run(capsys, "info", "--path", str(tiny_copy / "nowhere"))
    assert rc == 2 and "does not exist" in err


def test_module_entry_point_registers_query_commands(bench, tiny_path):
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "nasbench_mt.cli",
            "query",
            bench[0].arch_id,
            "--path",
            str(tiny_path),
            "--json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["arch_id"] == bench[0].arch_id


def test_query_commands_do_not_import_the_predictor_library(bench, tiny_path):
    # torch-geometric takes seconds to import; the query CLI must not pay for it (nor print its warnings)
    code = (
        "import sys; from nasbench_mt.cli import main; "
        f"rc = main(['query', {bench[0].arch_id!r}, '--path', {str(tiny_path)!r}]); "
        "sys.exit(rc or ('torch_geometric' in sys.modules and 3))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Warning" not in proc.stderr


def test_one_vocabulary_and_the_old_spellings_still_work_with_a_notice(capsys, tiny_copy):
    assert main(["summarize", "--path", str(tiny_copy), "--json"]) == 0
    assert "deprecated" not in capsys.readouterr().err
    assert main(["summarize", "--release", str(tiny_copy), "--json"]) == 0
    assert "--release is deprecated here; use --path DIR" in capsys.readouterr().err
    assert main(["sample", "--n", "2", "--path", str(tiny_copy), "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) == 2
