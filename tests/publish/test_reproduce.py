"""Re-measuring rows of a release with its recorded spec (issue 5: regenerated rows reproduce exactly)."""

import math
import shutil

import pandas as pd
import pytest

from nasbench_mt.cli import main
from nasbench_mt.publish.reproduce import compare_row, reproduce_rows
from nasbench_mt.release.manifest import ReleaseError

pytest.importorskip("mlxtend")


@pytest.fixture(scope="module")
def release(generation_env, tiny_generated, tiny_supernet):
    """A copy of the session's tiny release (4 archs measured with the tiny supernet)."""
    out = generation_env / "rel"
    shutil.copytree(tiny_generated, out)
    shutil.copy(tiny_supernet, out / tiny_supernet.name)  # where the manifest says it is: next to the rows
    return out


def test_rows_reproduce_exactly(release):
    res = reproduce_rows(release, n=2, seed=0, progress=False)
    assert len(res) == 2 and res.arch_id.is_unique
    assert (res.compared > 50).all()  # every score, cost and id column
    assert res.mismatched.map(len).eq(0).all(), res.mismatched.tolist()
    assert res.max_abs_diff.eq(0).all()
    assert res.exits_equal.all() and res.identical.all()
    again = reproduce_rows(release, n=2, seed=0, progress=False)
    assert again.arch_id.tolist() == res.arch_id.tolist()  # the same seed picks the same rows


def test_compare_row_reports_what_differs():
    stored = {"arch_id": "a", "test_digit": 80.0, "test_digit_e1": math.nan, "latency_ms": 2.0}
    stored["measure_s"] = 3
    same = compare_row(stored, dict(stored, measure_s=9), timed=["latency_ms"])
    assert same["mismatched"] == [] and same["compared"] == 3 and same["max_abs_diff"] == 0
    fresh = dict(stored, test_digit=80.5, test_digit_e1=70.0, latency_ms=2.2)
    diff = compare_row(stored, fresh, timed=["latency_ms"])
    assert diff["mismatched"] == ["test_digit", "test_digit_e1"]
    assert diff["max_abs_diff"] == math.inf  # a value where the row stores NaN
    assert diff["latency_rel_diff"] == pytest.approx(0.1)
    assert math.isnan(diff["latency_norm_rel_diff"])  # no normalised column compared
    stored["latency_norm"] = 2.0
    twice_as_fast = dict(stored, latency_ms=1.0, latency_norm=2.1)
    diff = compare_row(stored, twice_as_fast, timed=["latency_ms", "latency_norm"])
    assert diff["latency_rel_diff"] == pytest.approx(0.5)  # raw milliseconds follow the machine
    assert diff["latency_norm_rel_diff"] == pytest.approx(0.05)


def test_latency_noise_reads_the_release_noise_tier(tiny_path, tmp_path):
    import pandas as pd

    from nasbench_mt.publish.reproduce import latency_noise

    noise = pd.read_parquet(tiny_path / "noise-00000.parquet")
    noise = noise[noise["kind"] == "latency"]
    stored = pd.read_parquet(tiny_path / "latency-00000.parquet")
    both = noise.merge(stored, on="arch_id", suffixes=("_again", ""))
    rel = (both["latency_norm_again"] / both["latency_norm"] - 1).abs()
    got = latency_noise(tiny_path)
    assert got["n"] == len(rel) > 0
    assert got["median"] == pytest.approx(rel.median()) and got["p90"] == pytest.approx(rel.quantile(0.9))
    assert got["median"] <= got["p90"] <= got["max"]
    # a stray noise file the manifest does not list is not read
    stray = tmp_path / "rel"
    shutil.copytree(tiny_path, stray)
    noise.assign(latency_norm=noise["latency_norm"] * 10).to_parquet(stray / "noise-extra-00000.parquet")
    assert latency_noise(stray) == got
    with pytest.raises(ReleaseError, match=r"no manifest\.json"):
        latency_noise(tmp_path)  # not a release


def test_latency_noise_is_empty_without_a_noise_tier(release):
    from nasbench_mt.publish.reproduce import latency_noise

    assert latency_noise(release) == {}


def test_bad_inputs_are_named(release, tmp_path):
    with pytest.raises(ReleaseError, match=r"invalid prefix: 'latency'; allowed: .*archs"):
        reproduce_rows(release, prefix="latency", progress=False)
    with pytest.raises(ValueError, match=r"invalid n: 99; allowed: 1\.\.4"):
        reproduce_rows(release, n=99, progress=False)
    with pytest.raises(ValueError, match=r"invalid ids: \['nope'\]"):
        reproduce_rows(release, ids=["nope"], progress=False)
    with pytest.raises(ValueError, match=r"invalid supernet: .*missing\.pt does not exist"):
        reproduce_rows(release, supernet=tmp_path / "missing.pt", progress=False)
    other = tmp_path / "other.pt"
    other.write_bytes(b"not the checkpoint")
    with pytest.raises(ValueError, match=r"invalid supernet: .*other\.pt has sha256 .*allowed"):
        reproduce_rows(release, supernet=other, progress=False)


def test_cli(release, capsys):
    assert main(["reproduce", "--path", str(release), "--n", "1"]) == 0
    out = capsys.readouterr().out
    assert "columns identical" in out and "per-sample exits identical" in out
    assert main(["reproduce", "--path", str(release), "--n", "1", "--json"]) == 0
    rows = pd.read_json(__import__("io").StringIO(capsys.readouterr().out))
    assert rows.loc[0, "mismatched"] == []
    assert main(["reproduce", "--release", str(release), "--prefix", "nope"]) == 2
