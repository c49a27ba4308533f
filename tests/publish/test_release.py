import shutil

import pytest

from nasbench_mt.cli import main
from nasbench_mt.publish.check import check_release
from nasbench_mt.publish.summarize import summarize_release
from nasbench_mt.release.manifest import verify
from nasbench_mt.release.stats import compute_stats, gain_stats, spread_stats, tau_interval


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
        assert s["spread_ci90"][0] <= s["spread_ci90"][1]
    cal = manifest["calibration"]["supernet_vs_standalone"]["mean_acc"]
    assert cal["n"] >= 3 and -1 <= cal["kendall_tau"] <= 1
    assert -1 <= cal["kendall_tau_ci90"][0] <= cal["kendall_tau_ci90"][1] <= 1
    assert set(manifest["noise"]) == {"seed", "latency"}
    split = manifest["calibration"]["val_vs_test"]
    assert set(split) == {"test_digit", "test_count", "test_seg", "mean_acc"}
    assert all(s["n"] == manifest["calibration"]["spread"]["mean_acc"]["n"] for s in split.values())
    gain = manifest["calibration"]["standalone_gain"]
    assert set(gain) == set(split)
    assert all(0 <= g["n_above"] <= g["n"] == cal["n"] for g in gain.values())
    verify(release)  # rewriting the manifest keeps every file's hash


def test_gain_counts_standalone_above_supernet_and_its_median(bench):
    import pandas as pd

    cols = ["test_digit", "test_count", "test_seg", "mean_acc"]
    table = pd.DataFrame({"arch_id": list("abcd"), **{c: [50.0, 60.0, 70.0, 80.0] for c in cols}})
    calibration = pd.DataFrame({"arch_id": list("abcx"), **{c: [55.0, 59.0, 72.0, 99.0] for c in cols}})
    calibration.loc[0, "test_seg"] = None  # a missing score is left out, not counted as a loss
    gain = gain_stats(table, calibration, bench.tasks)
    assert gain["test_digit"] == {"n": 3, "n_above": 2, "median_gain": 2.0}  # +5, -1, +2; x has no table row
    assert gain["test_seg"] == {"n": 2, "n_above": 1, "median_gain": 0.5}


def test_compute_time_sums_each_tiers_rows_and_supernet_cards(release):
    import json

    import pandas as pd

    from nasbench_mt.release.manifest import ReleaseError

    rows = pd.concat([pd.read_parquet(p) for p in sorted(release.glob("archs-*.parquet"))])
    (release / "supernet-seed0.json").write_text(json.dumps({"train_seconds": 7200.0, "threads": 2}))
    from nasbench_mt.query.benchmark import load_benchmark

    stats = compute_stats(load_benchmark(path=release))
    tiers = stats["tiers"]
    assert tiers["archs"]["rows"] == len(rows)
    assert tiers["archs"]["core_hours"] == pytest.approx(rows["measure_s"].sum() / 3600)
    assert tiers["calibration"]["rows"] == len(pd.read_parquet(release / "calibration-00000.parquet"))
    assert "noise-latency" not in tiers  # latency re-runs are not timed per row
    assert tiers["supernet-seed0"] == {"wall_hours": 2.0, "threads": 2, "core_hours": 4.0}
    assert stats["total_core_hours"] == pytest.approx(sum(t["core_hours"] for t in tiers.values()))
    assert summarize_release(release)["compute"] == stats  # stored with the release card
    verify(release)
    (release / "supernet-seed0.json").write_text("{not json")
    with pytest.raises(ReleaseError, match=r"supernet-seed0\.json is not valid JSON"):
        compute_stats(load_benchmark(path=release))


def test_spread_interval_narrows_with_more_rows_and_is_seeded():
    import numpy as np
    import pandas as pd

    from nasbench_mt.measure.datasets import SCENE_TASKS

    rng = np.random.default_rng(1)

    def table(n):
        cols = ["test_digit", "test_count", "test_seg", "mean_acc"]
        return pd.DataFrame({c: rng.normal(80, 2, n) for c in cols})

    small, big = spread_stats(table(40), SCENE_TASKS), spread_stats(table(4000), SCENE_TASKS)
    width = {
        k: s["mean_acc"]["spread_ci90"][1] - s["mean_acc"]["spread_ci90"][0]
        for k, s in (("small", small), ("big", big))
    }
    assert width["big"] < width["small"] / 3  # about 1/sqrt(100) as wide
    lo, hi = big["mean_acc"]["spread_ci90"]
    assert lo <= 2 * 1.2816 * 2 <= hi  # the normal's true 10-90 spread (2 x 1.2816 sd) is inside
    t = table(100)
    assert spread_stats(t, SCENE_TASKS) == spread_stats(t, SCENE_TASKS)


def test_cli_summarize(release, capsys):
    assert main(["summarize", "--release", str(release), "--json"]) == 0
    assert '"spread"' in capsys.readouterr().out
    assert main(["summarize", "--release", str(release / "missing")]) == 2


def test_cli_summarize_draws_the_card(release, tmp_path, capsys):
    png = tmp_path / "fig" / "card.png"
    assert main(["summarize", "--release", str(release), "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000
    assert "wrote" in capsys.readouterr().err


def test_card_of_a_release_without_tiers_says_so(release, tmp_path):
    from nasbench_mt.publish.card_plot import plot_release
    from nasbench_mt.query.benchmark import load_benchmark
    from nasbench_mt.release.provenance import update_manifest

    for f in [*release.glob("calibration-*.parquet"), *release.glob("noise-*.parquet")]:
        f.unlink()
    update_manifest(release, "v1")
    bench = load_benchmark(path=release)
    assert bench.calibration is None and bench.noise is None
    png = plot_release(bench, tmp_path / "card.png")
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_pairs_join_each_tier_to_its_table_rows(bench):
    from nasbench_mt.release.stats import calibration_pairs, noise_pairs

    cal = calibration_pairs(bench.table, bench.calibration)
    assert len(cal) == bench.calibration["arch_id"].nunique()
    assert {"mean_acc", "mean_acc_standalone"} <= set(cal.columns)
    noise = noise_pairs(bench.table, bench.noise)
    assert set(noise) == {"seed", "latency"}
    assert {"latency_norm", "latency_norm_again"} <= set(noise["latency"].columns)
    assert (noise["seed"]["kind"] == "seed").all()


def test_shards_with_int_and_float_cost_columns_load(release):
    # a shard where every arch has exit 2 stores macs_e2 as int64; others hold NaN (double)
    import pandas as pd

    from nasbench_mt.query.benchmark import load_benchmark
    from nasbench_mt.release.provenance import update_manifest

    path = release / "archs-00000.parquet"
    rows = pd.read_parquet(path)
    with_e2 = rows[rows.macs_e2.notna()]
    rest = rows[rows.macs_e2.isna()]
    assert len(with_e2) and len(rest)
    with_e2.astype({"macs_e2": "int64"}).to_parquet(path, index=False)
    rest.to_parquet(release / "archs-00009.parquet", index=False)
    update_manifest(release, "v1")
    bench = load_benchmark(path=release)
    assert bench.table.macs_e2.dtype.kind == "f"
    assert len(bench) == len(load_benchmark(path=release).table)


SMALL = {"rows": 30, "calibration": 10, "noise_seed": 20, "noise_latency": 20, "noise_standalone": 0}


def test_check_release_passes_a_complete_release(tiny_path):
    res = check_release(tiny_path, SMALL, progress=False)
    assert [r["check"] for r in res][:3] == ["manifest sha256", "values", "rows"]
    assert all(r["ok"] for r in res), res
    assert any(r["check"] == "ids round-trip and rebuild" and "30 of 30" in r["detail"] for r in res)


def test_check_release_names_what_is_short(tiny_path):
    res = {r["check"]: r for r in check_release(tiny_path, rebuild=False, progress=False)}
    assert not res["rows"]["ok"] and "need >= 5000" in res["rows"]["detail"]
    assert not res["calibration"]["ok"] and not res["noise (seed)"]["ok"]
    assert res["ids round-trip"]["ok"]


def test_check_release_catches_tampering_and_bad_ids(release):
    import pandas as pd

    from nasbench_mt.release.provenance import update_manifest

    path = release / "archs-00000.parquet"
    df = pd.read_parquet(path)
    df.loc[0, "arch_id"] = "000000000000"
    df.to_parquet(path)
    res = check_release(release, SMALL, progress=False)
    assert [r["ok"] for r in res] == [False] and "archs-00000.parquet" in res[0]["detail"]
    update_manifest(release, "v1")  # re-hash: the table now carries an id that does not match its arch
    res = {r["check"]: r for r in check_release(release, SMALL, rebuild=False, progress=False)}
    assert res["manifest sha256"]["ok"]
    assert not res["ids round-trip"]["ok"] and "000000000000" in res["ids round-trip"]["detail"]


def test_check_release_rejects_unknown_minimum(tiny_path):
    with pytest.raises(ValueError, match="allowed"):
        check_release(tiny_path, {"row": 5})


def test_cli_check_release_exit_codes(tiny_path, capsys):
    assert main(["check-release", "--release", str(tiny_path), "--no-rebuild"]) == 1
    assert "FAIL  rows" in capsys.readouterr().out
    small = [
        "--min-rows",
        "30",
        "--min-calibration",
        "10",
        "--min-noise-seed",
        "5",
        "--min-noise-latency",
        "5",
        "--min-noise-standalone",
        "0",
    ]
    assert main(["check-release", "--release", str(tiny_path), "--no-rebuild", *small]) == 0


def test_check_release_reports_a_duplicated_arch(release):
    import pandas as pd

    from nasbench_mt.release.provenance import update_manifest

    path = release / "archs-00001.parquet"
    df = pd.read_parquet(path)
    first = pd.read_parquet(release / "archs-00000.parquet").iloc[[0]]
    pd.concat([df, first], ignore_index=True).to_parquet(path)
    update_manifest(release, "v1")
    res = check_release(release, SMALL, rebuild=False, progress=False)
    assert [(r["check"], r["ok"]) for r in res] == [("manifest sha256", True), ("rows and values", False)]
    assert first["arch_id"].iloc[0] in res[1]["detail"]


def test_check_release_reports_two_spellings_of_one_network(release):
    import pandas as pd

    from nasbench_mt.release.provenance import update_manifest
    from nasbench_mt.space.arch import Arch

    path = release / "archs-00001.parquet"
    df = pd.read_parquet(path)
    arch = next(a for a in map(Arch.from_string, df["arch"]) if a.written_string != a.to_string())
    again = df[df["arch"] == arch.written_string].copy()
    again["arch"], again["arch_id"] = arch.to_string(), arch.id  # the same network, spelled canonically
    pd.concat([df, again], ignore_index=True).to_parquet(path)
    update_manifest(release, "v1")
    res = {r["check"]: r for r in check_release(release, SMALL, rebuild=False, progress=False)}
    assert res["manifest sha256"]["ok"] and res["values"]["ok"]
    assert not res["ids round-trip"]["ok"] and "same network" in res["ids round-trip"]["detail"]


def test_split_stats_compares_validation_with_test_scores():
    import pandas as pd

    from nasbench_mt.measure.datasets import SCENE_TASKS
    from nasbench_mt.release.stats import split_stats

    scores = {"test_digit": [1.0, 2, 3, 4], "test_count": [4.0, 3, 2, 1], "test_seg": [1.0, 3, 2, 4]}
    test = pd.DataFrame(scores)
    test["mean_acc"] = test.mean(axis=1)
    val = test.rename(columns=lambda c: "val_mean_acc" if c == "mean_acc" else c.replace("test_", "val_"))
    val["val_count"] = val["val_count"].to_numpy()[::-1]  # count: the two splits rank in opposite orders
    stats = split_stats(pd.concat([test, val], axis=1), SCENE_TASKS)
    assert stats["test_digit"]["kendall_tau"] == pytest.approx(1.0)
    assert stats["test_count"]["kendall_tau"] == pytest.approx(-1.0)
    assert stats["mean_acc"]["n"] == 4 and stats["mean_acc"]["mean_abs_diff"] == 0.0


def test_tau_interval_brackets_tau_and_narrows_with_more_archs():
    import numpy as np
    import pandas as pd
    from scipy.stats import kendalltau

    rng = np.random.default_rng(0)
    widths = []
    for n in (40, 400):
        a = rng.normal(size=n)
        b = pd.Series(a + rng.normal(size=n))
        lo, hi = tau_interval(pd.Series(a), b)
        assert lo < kendalltau(a, b).statistic < hi
        widths.append(hi - lo)
    assert widths[1] < widths[0] / 2  # the interval shrinks about as 1/sqrt(n)
    assert tau_interval(pd.Series(a), b) == tau_interval(pd.Series(a), b)  # seeded


@pytest.mark.parametrize("rows_limit", [10_000, 5])  # the pair-matrix path, and one scipy call per resample
def test_bootstrap_intervals_are_scipys_on_each_resample(monkeypatch, rows_limit):
    """Both ways of scoring the resamples give scipy's tau-b and Spearman on the resampled rows, ties and
    repeated rows included, with constant resamples skipped."""
    import numpy as np
    import pandas as pd
    from scipy.stats import kendalltau, spearmanr

    import nasbench_mt.release.stats as stats

    monkeypatch.setattr(stats, "_MATRIX_ROWS", rows_limit)
    rng = np.random.default_rng(3)
    x = np.round(rng.normal(size=60), 1)
    y = np.round(x + rng.normal(size=60), 0)  # many ties
    got = stats.agreement_intervals(pd.Series(x), pd.Series(y), n_boot=300, seed=7)
    draw = np.random.default_rng(7)
    taus, rhos = [], []
    for _ in range(300):
        i = draw.integers(0, 60, 60)
        taus.append(kendalltau(x[i], y[i]).statistic)
        rhos.append(spearmanr(x[i], y[i]).statistic)
    assert np.allclose(got["kendall_tau_ci90"], np.nanpercentile(taus, [5, 95]), atol=1e-12)
    assert np.allclose(got["spearman_ci90"], np.nanpercentile(rhos, [5, 95]), atol=1e-12)
    const = stats.agreement_intervals(pd.Series([1.0, 1, 1, 2]), pd.Series([1.0, 2, 3, 4]), n_boot=50)
    assert all(np.isfinite(v) for v in const["kendall_tau_ci90"])  # constant resamples skipped, not NaN
