"""Carrying the tiers that do not depend on the supernet's weights into a new release of the same
architectures (``carry_tiers``, ``nasbench-mt carry-tiers``), and ``generate``'s fine-tune options."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from nasbench_mt.cli import main
from nasbench_mt.publish.check import check_release
from nasbench_mt.publish.summarize import summarize_release
from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.carry import carriable_tiers, carry_tiers
from nasbench_mt.release.manifest import ReleaseError, read_manifest, sha256_file, write_manifest
from nasbench_mt.space.arch import V1

CARRIED = ["latency", "calibration", "noise-latency", "noise-standalone"]
SMALL = {"rows": 30, "calibration": 10, "noise_seed": 0, "noise_latency": 20, "noise_standalone": 5}


def _remanifest(root: Path, files: list[tuple[str, str]], version: str, generation: dict) -> None:
    old = read_manifest(root)
    meta = {
        "version": version,
        "tasks": old["tasks"],
        "n_samples": old["n_samples"],
        "generation": generation,
    }
    write_manifest(root, files, meta)


@pytest.fixture
def source(tiny_copy: Path) -> Path:
    """The tiny release in the layout `generate` writes: one noise tier per kind, a standalone noise tier of
    five calibration archs trained again, and a generation record for some tiers (the others go by name)."""
    noise = pd.read_parquet(tiny_copy / "noise-00000.parquet")
    (tiny_copy / "noise-00000.parquet").unlink()
    for kind in ("seed", "latency"):
        noise[noise["kind"] == kind].dropna(axis=1, how="all").to_parquet(
            tiny_copy / f"noise-{kind}-00000.parquet", index=False
        )
    again = (
        pd.read_parquet(tiny_copy / "calibration-00000.parquet").iloc[:5].drop(columns=["arch", "protocol"])
    )
    again.insert(1, "kind", "standalone")
    again.to_parquet(tiny_copy / "noise-standalone-00000.parquet", index=False)
    files = [
        (p.name, p.name.split("-")[0] if "noise" not in p.name else "noise")
        for p in tiny_copy.glob("*.parquet")
    ]
    generation = {
        "archs": {"seed": 0, "spec": {"protocol": "supernet", "supernet": "sn.pt"}},
        "latency": {"seed": 0, "spec": {"protocol": "latency", "latency_rounds": 30}},
        "noise-seed": {"seed": 0, "spec": {"protocol": "supernet", "supernet": "sn-seed1.pt"}},
    }
    _remanifest(tiny_copy, sorted(files), "tiny", generation)
    return tiny_copy


def _target(root: Path, source: Path, seed: int = 0) -> Path:
    """A release of the source's table alone, as a new supernet would write it; ``seed`` other than 0 gives
    the architectures another sampling seed draws."""
    root.mkdir()
    files = []
    for p in sorted(source.glob("archs-*.parquet")) + sorted(source.glob("exits-*.parquet")):
        shutil.copy(p, root / p.name)
        files.append((p.name, p.name.split("-")[0]))
    if seed:
        archs = V1.sample(30, seed=seed)
        for p in sorted(root.glob("archs-*.parquet")):
            t = pd.read_parquet(p)
            start = 0 if p.name.endswith("00000.parquet") else 15
            t["arch_id"] = [a.written_id for a in archs[start : start + len(t)]]
            t["arch"] = [a.written_string for a in archs[start : start + len(t)]]
            t.to_parquet(p, index=False)
    shutil.copy(source / "manifest.json", root / "manifest.json")
    _remanifest(root, files, "v2", {"archs": {"seed": seed, "spec": {"protocol": "supernet"}}})
    return root


def test_carried_tiers_load_check_and_summarize_like_the_source(source, tmp_path):
    target = _target(tmp_path / "v2", source)
    assert carriable_tiers(read_manifest(source)) == [
        "calibration",
        "latency",
        "noise-latency",
        "noise-standalone",
    ]
    carried = carry_tiers(source, target)
    assert sorted(carried) == sorted(CARRIED)
    assert carried["calibration"] == {"files": 1, "rows": 10, "from": "tiny"}
    manifest = read_manifest(target)
    assert manifest["version"] == "v2"
    for prefix in CARRIED:  # byte for byte, with the source's record marked with where it came from
        assert sha256_file(target / f"{prefix}-00000.parquet") == sha256_file(
            source / f"{prefix}-00000.parquet"
        )
        origin = manifest["generation"][prefix]["carried_from"]
        assert origin["release"] == "tiny" and origin["manifest_sha256"] == sha256_file(
            source / "manifest.json"
        )
        assert origin["files"] == {f"{prefix}-00000.parquet": sha256_file(source / f"{prefix}-00000.parquet")}
    assert manifest["generation"]["latency"]["spec"] == {"protocol": "latency", "latency_rounds": 30}

    old, new = load_benchmark(path=source), load_benchmark(path=target)
    pd.testing.assert_frame_equal(new.calibration, old.calibration)
    assert set(new.noise["kind"]) == {"latency", "standalone"}
    pd.testing.assert_frame_equal(
        new.noise.reset_index(drop=True),
        old.noise[old.noise["kind"] != "seed"].reset_index(drop=True),
        check_like=True,
    )
    pd.testing.assert_frame_equal(new.table, old.table)
    assert all(r["ok"] for r in check_release(target, SMALL, rebuild=False, progress=False))

    ours, theirs = summarize_release(target), summarize_release(source)
    assert ours["calibration"]["supernet_vs_standalone"] == theirs["calibration"]["supernet_vs_standalone"]
    for kind in ("latency", "standalone"):
        assert ours["noise"][kind] == theirs["noise"][kind]
    assert "seed" not in ours["noise"]
    assert all(r["ok"] for r in check_release(target, SMALL, rebuild=False, progress=False))


def test_refuses_weight_dependent_unknown_and_missing_tiers(source, tiny_path, tmp_path):
    target = _target(tmp_path / "v2", source)
    before = (target / "manifest.json").read_text()
    for prefix, why in (
        ("noise-seed", "supernet protocol, so it depends on the supernet's weights"),
        ("archs", "the release's table"),
        ("exits", "the release's table"),
        ("ort-latency", "has none"),
    ):
        with pytest.raises(ReleaseError, match=why):
            carry_tiers(source, target, ["latency", prefix])
    # the fixture's mixed noise file records no protocol, so it is not carried
    assert carriable_tiers(read_manifest(tiny_path)) == ["latency", "calibration"]
    with pytest.raises(ReleaseError, match="does not record how it was measured"):
        carry_tiers(tiny_path, target, ["noise"])
    for bad in (source, target / "manifest.json"):
        with pytest.raises(ReleaseError, match="invalid target"):
            carry_tiers(source, bad, ["latency"])
    assert (target / "manifest.json").read_text() == before
    assert not list(target.glob("latency-*"))


def test_refuses_a_tampered_source_and_other_architectures(source, tmp_path):
    target = _target(tmp_path / "v2", source)
    shard = source / "latency-00000.parquet"
    data = bytearray(shard.read_bytes())
    data[100] ^= 0xFF
    shard.write_bytes(bytes(data))
    with pytest.raises(ReleaseError, match=r"latency-00000\.parquet was altered"):
        carry_tiers(source, target, ["calibration", "latency"])
    assert not list(target.glob("calibration-*"))

    other = _target(tmp_path / "other", source, seed=1)
    with pytest.raises(
        ReleaseError, match=r"10 of 10 rows of tier 'calibration' name architectures its table"
    ):
        carry_tiers(source, other, ["calibration"])


def test_an_existing_tier_is_replaced_only_with_force(source, tmp_path):
    target = _target(tmp_path / "v2", source)
    carry_tiers(source, target, ["latency"])
    (target / "latency-00001.parquet").write_bytes((target / "latency-00000.parquet").read_bytes())
    with pytest.raises(ReleaseError, match=r"already holds tier 'latency'.*--force"):
        carry_tiers(source, target, ["latency"])
    carry_tiers(source, target, ["latency"], force=True)
    assert sorted(p.name for p in target.glob("latency-*")) == ["latency-00000.parquet"]
    assert load_benchmark(path=target).table["latency_ms"].notna().all()


def test_carry_into_a_folder_without_a_release_yet(source, tmp_path):
    carry_tiers(source, tmp_path / "v2", ["calibration"])
    manifest = read_manifest(tmp_path / "v2")
    assert manifest["version"] == "v2" and manifest["tasks"] == read_manifest(source)["tasks"]
    assert [e["path"] for e in manifest["files"]] == ["calibration-00000.parquet"]


def test_cli_carries_and_errors_in_one_line(source, tmp_path, capsys):
    target = _target(tmp_path / "v2", source)
    cmd = ["carry-tiers", "--from", str(source), "--out", str(target)]
    assert main([*cmd, "--prefix", "noise-seed"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nasbench-mt carry-tiers: error: invalid tier 'noise-seed'") and "\n" not in err
    assert main([*cmd, "--prefix", "latency", "noise-latency"]) == 0
    assert "carried noise-latency: 1 files, 20 rows from release tiny" in capsys.readouterr().out
    assert main(cmd) == 2  # latency is there now
    assert "--force" in capsys.readouterr().err
    assert main([*cmd, "--force"]) == 0
    assert set(json.loads((target / "manifest.json").read_text())["generation"]) == {"archs", *CARRIED}


def test_generate_takes_calibrates_fine_tune_options(tmp_path, monkeypatch, capsys):
    from nasbench_mt.cli.main import build_parser
    from nasbench_mt.measure import generate as generate_module

    sub = next(a for a in build_parser()._actions if hasattr(a, "choices") and a.choices)
    options = {}
    for name in ("generate", "calibrate"):
        acts = [a for a in sub.choices[name]._actions if a.dest.startswith("finetune_")]
        options[name] = {a.dest: a.default for a in acts}
    assert (
        options["generate"]
        == options["calibrate"]
        == {
            "finetune_epochs": 0.0,
            "finetune_lr": 1e-3,
            "finetune_seed": 0,
            "finetune_batch_size": 128,
        }
    )
    cmd = ["generate", "--out", str(tmp_path / "r"), "--n", "1", "--finetune-epochs", "0.5"]
    assert main([*cmd, "--protocol", "standalone"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("nasbench-mt generate: error: invalid finetune for protocol 'standalone'")
    assert "\n" not in err
    seen = []
    monkeypatch.setattr(generate_module, "generate", lambda cfg, **kw: seen.append(cfg) or {})
    (tmp_path / "sn.pt").write_bytes(b"")
    assert main([*cmd, "--supernet", str(tmp_path / "sn.pt"), "--finetune-lr", "0.01", "--quiet"]) == 0
    assert seen[0].spec.finetune == {"epochs": 0.5, "lr": 0.01, "seed": 0, "batch_size": 128}
