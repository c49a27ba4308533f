import json

import pandas as pd
import pytest

from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.manifest import (
    ReleaseError,
    prefix_role,
    read_manifest,
    role_paths,
    sha256_file,
    verify,
    write_manifest,
)
from nasbench_mt.space.model import default_tasks


def _meta(**kw):
    return {"version": "t", "tasks": default_tasks(), "n_samples": 0, **kw}


def test_write_then_verify_round_trip(tmp_path):
    pd.DataFrame({"arch_id": ["a", "b"], "x": [1, 2]}).to_parquet(tmp_path / "archs-00000.parquet")
    m = write_manifest(tmp_path, [("archs-00000.parquet", "archs")], _meta(generation={"command": "c"}))
    assert m["schema_version"] == 1 and m["version"] == "t"
    (entry,) = m["files"]
    assert entry["rows"] == 2 and entry["bytes"] == (tmp_path / "archs-00000.parquet").stat().st_size
    assert entry["sha256"] == sha256_file(tmp_path / "archs-00000.parquet")
    assert [t["name"] for t in m["tasks"]] == [t.name for t in default_tasks()]
    assert verify(tmp_path) == read_manifest(tmp_path) == json.loads((tmp_path / "manifest.json").read_text())
    assert not (tmp_path / "manifest.json.tmp").exists()


def test_tiny_fixture_verifies(tiny_path):
    m = verify(tiny_path)
    assert {f["role"] for f in m["files"]} >= {"archs", "exits"}


def test_role_paths_follow_the_manifest_not_the_directory(tmp_path):
    for name in ("latency-00000.parquet", "ort-latency-00000.parquet", "latency-00001.parquet"):
        pd.DataFrame({"arch_id": ["a"]}).to_parquet(tmp_path / name)
    # latency-00001 lies in the directory but the manifest does not list it: never read
    m = write_manifest(
        tmp_path, [("latency-00000.parquet", "latency"), ("ort-latency-00000.parquet", "latency")], _meta()
    )
    assert [p.name for p in role_paths(tmp_path, m, "latency")] == [
        "latency-00000.parquet",
        "ort-latency-00000.parquet",
    ]
    assert [p.name for p in role_paths(tmp_path, m, "latency", prefix="latency")] == ["latency-00000.parquet"]
    assert role_paths(tmp_path, m, "exits") == []
    with pytest.raises(ReleaseError, match=r"invalid role: 'tables'; allowed: \['archs'"):
        role_paths(tmp_path, m, "tables")
    assert [prefix_role(p) for p in ("archs", "ort-latency", "noise-seed", "tables")] == [
        "archs",
        "latency",
        "noise",
        None,
    ]


@pytest.mark.parametrize(
    "files, meta, match",
    [
        ([("archs-00000.parquet", "tables")], _meta(), "invalid role"),
        ([("../outside.parquet", "archs")], _meta(), "outside"),
        ([("nope.parquet", "archs")], _meta(), "does not exist"),
        ([("archs-00000.parquet", "archs")] * 2, _meta(), "twice"),
        ([("archs-00000.parquet", "archs")], {"version": "t"}, "lacks"),
        ([("archs-00000.parquet", "archs")], _meta(colour="red"), "unknown manifest meta"),
        ([("archs-00000.parquet", "archs")], _meta(n_samples=-1), "n_samples"),
    ],
)
def test_write_manifest_rejects_bad_input(tmp_path, files, meta, match):
    rel = tmp_path / "rel"
    rel.mkdir()
    pd.DataFrame({"a": [1]}).to_parquet(rel / "archs-00000.parquet")
    pd.DataFrame({"a": [1]}).to_parquet(tmp_path / "outside.parquet")
    with pytest.raises(ReleaseError, match=match):
        write_manifest(rel, files, meta)


def _entry(release, role):
    return next(f for f in read_manifest(release)["files"] if f["role"] == role)


@pytest.mark.parametrize("role", ["archs", "latency", "exits"])
def test_missing_file_names_file_and_expected_sha(tiny_copy, role):
    entry = _entry(tiny_copy, role)
    (tiny_copy / entry["path"]).unlink()
    with pytest.raises(ReleaseError) as err:
        load_benchmark(path=tiny_copy)
    assert (
        entry["path"] in str(err.value) and entry["sha256"] in str(err.value) and "missing" in str(err.value)
    )


@pytest.mark.parametrize("how", ["flip", "append"])
def test_tampered_file_names_file_and_expected_sha(tiny_copy, how):
    entry = _entry(tiny_copy, "exits")
    path = tiny_copy / entry["path"]
    data = bytearray(path.read_bytes())
    if how == "flip":
        data[len(data) // 2] ^= 0xFF
    else:
        data += b"x"
    path.write_bytes(bytes(data))
    with pytest.raises(ReleaseError) as err:
        load_benchmark(path=tiny_copy)
    msg = str(err.value)
    assert entry["path"] in msg and entry["sha256"] in msg and "altered" in msg


def test_unverified_load_skips_hashing(tiny_copy):
    path = tiny_copy / _entry(tiny_copy, "calibration")["path"]
    path.write_bytes(path.read_bytes() + b"junk")  # parquet readers ignore nothing here, but nobody reads it
    assert len(load_benchmark(path=tiny_copy, verify_files=False)) > 0


def test_manifest_problems_are_clear(tiny_copy, tmp_path):
    with pytest.raises(ReleaseError, match="does not exist"):
        load_benchmark(path=tmp_path / "nowhere")
    with pytest.raises(ReleaseError, match=r"no manifest\.json"):
        load_benchmark(path=tmp_path)
    manifest = tiny_copy / "manifest.json"
    good = json.loads(manifest.read_text())
    manifest.write_text("{not json")
    with pytest.raises(ReleaseError, match="not valid JSON"):
        load_benchmark(path=tiny_copy)
    manifest.write_text(json.dumps({**good, "schema_version": 99}))
    with pytest.raises(ReleaseError, match="schema_version 99"):
        load_benchmark(path=tiny_copy)
    manifest.write_text(json.dumps({k: v for k, v in good.items() if k != "files"}))
    with pytest.raises(ReleaseError, match="'files'"):
        load_benchmark(path=tiny_copy)


def test_unknown_shipped_version_lists_available():
    with pytest.raises(ReleaseError, match="available"):
        load_benchmark("v999")


@pytest.mark.parametrize("bad", ["../outside.parquet", "/etc/passwd", "sub/../../outside.parquet", ""])
def test_manifest_paths_cannot_leave_the_release(tiny_copy, bad):
    import shutil

    manifest = json.loads((tiny_copy / "manifest.json").read_text())
    entry = next(e for e in manifest["files"] if e["role"] == "calibration")
    shutil.copy(tiny_copy / entry["path"], tiny_copy.parent / "outside.parquet")
    entry["path"] = bad
    (tiny_copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ReleaseError, match="invalid path"):
        load_benchmark(path=tiny_copy)
    with pytest.raises(ReleaseError, match="invalid path"):
        verify(tiny_copy)


def test_update_manifest_keeps_the_recorded_space_and_sections(tmp_path):
    from nasbench_mt.release.provenance import update_manifest

    pd.DataFrame({"arch_id": ["a"], "x": [1]}).to_parquet(tmp_path / "archs-00000.parquet")
    write_manifest(tmp_path, [], _meta(space="other-geometry", noise={"seed": {"x": 1}}))
    m = update_manifest(tmp_path, "t", generation={"command": "c"}, key="archs")
    assert m["space"] == "other-geometry"
    assert m["noise"] == {"seed": {"x": 1}} and m["generation"]["archs"] == {"command": "c"}
    assert [f["path"] for f in m["files"]] == ["archs-00000.parquet"]
