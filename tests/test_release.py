import shutil

import pytest

from nasbench_mt.cli import main
from nasbench_mt.manifest import verify
from nasbench_mt.release import summarize_release


@pytest.fixture
def release(tiny_path, tmp_path):
    out = tmp_path / "rel"
    shutil.copytree(tiny_path, out)
    return out


def test_summary_stored_in_manifest_and_files_still_verify(release):
    manifest = summarize_release(release)
    spread = manifest["calibration"]["spread"]
    assert {"test_digit", "test_count", "test_seg", "mean_acc"} <= set(spread)
    for s in spread.values():
        assert s["p10"] <= s["median"] <= s["p90"] <= s["max"]
        assert s["spread_10_90"] == pytest.approx(s["p90"] - s["p10"])
    cal = manifest["calibration"]["supernet_vs_standalone"]["mean_acc"]
    assert cal["n"] >= 3 and -1 <= cal["kendall_tau"] <= 1
    assert set(manifest["noise"]) == {"seed", "latency"}
    verify(release)  # rewriting the manifest keeps every file's hash


def test_cli_summarize(release, capsys):
    assert main(["summarize", "--release", str(release), "--json"]) == 0
    assert '"spread"' in capsys.readouterr().out
    assert main(["summarize", "--release", str(release / "missing")]) == 2
