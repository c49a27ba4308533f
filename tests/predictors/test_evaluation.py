"""The predictor evaluation protocol and its leaderboard command, on the tiny fixture release."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nasbench_mt.cli import main
from predictors.evaluation import METRICS, evaluate_predictors, noise_ceiling, split_rows

SUBSET = ["xgb", "gin", "brp", "flops"]  # a tree, a GNN, a ranker and a baseline
LIGHT = {"xgb": {"n_estimators": 30}, "gin": {"epochs": 5}, "brp": {"epochs": 5}}


@pytest.fixture(scope="module")
def evaluation(bench):
    return evaluate_predictors(bench, SUBSET, [8, 16], seeds=2, predictor_params=LIGHT)


def test_split_is_disjoint_seeded_and_sized():
    test, pool = split_rows(30)
    assert len(test) == 6 and len(pool) == 24 and not set(test) & set(pool)
    assert np.array_equal(split_rows(30)[0], test)
    assert not np.array_equal(split_rows(30, split_seed=1)[0], test)
    assert len(split_rows(6000)[0]) == 1000 and len(split_rows(100, 0.1)[0]) == 10
    with pytest.raises(ValueError, match="test_size"):
        split_rows(30, 29)


def test_training_samples_never_touch_the_test_split(bench, monkeypatch):
    import predictors.evaluation as ev_mod

    seen = []
    original = ev_mod._fit_predict

    def spy(name, params, seed, X_train, y, X_test, joint):
        seen.append((np.asarray(X_train), np.asarray(X_test)))
        return original(name, params, seed, X_train, y, X_test, joint)

    monkeypatch.setattr(ev_mod, "_fit_predict", spy)
    evaluate_predictors(bench, ["flops"], [8, 16], seeds=2)
    assert len(seen) == 4
    test_rows = {r.tobytes() for r in seen[0][1]}
    for X_train, X_test in seen:
        assert {r.tobytes() for r in X_test} == test_rows
        assert not {r.tobytes() for r in X_train} & test_rows
    small, large = seen[0][0], seen[1][0]  # one seed's samples are nested
    assert np.array_equal(large[: len(small)], small)


def test_scores_are_tidy_and_in_range(evaluation, bench):
    s = evaluation.scores
    targets = ["latency_norm", *[f"test_{t.name}" for t in bench.tasks], "mean_acc", "params", "flops"]
    assert evaluation.info["targets"] == targets
    assert len(s) == len(SUBSET) * 2 * 2 * len(targets)
    assert set(METRICS) <= set(s.columns)
    for m in ("pairwise_acc", "precision_top5"):
        assert s[m].between(0, 1).all()
    assert s["kendall_tau"].between(-1, 1).all()
    # +-10% only for latency, RMSE only for unit-output predictors, never for the ranker
    assert s.loc[s["target"] != "latency_norm", "within_10pct"].isna().all()
    assert s.loc[(s["target"] == "latency_norm") & (s["predictor"] != "brp"), "within_10pct"].notna().all()
    assert s.loc[s["predictor"] == "brp", ["rmse", "within_10pct"]].isna().all().all()
    # the flops baseline ranks flops exactly
    assert np.allclose(s.loc[(s["predictor"] == "flops") & (s["target"] == "flops"), "kendall_tau"], 1.0)


def test_summary_carries_the_noise_ceiling(evaluation, bench):
    summary = evaluation.summary()
    assert len(summary) == len(SUBSET) * 2 * len(evaluation.info["targets"])
    assert (summary["seeds"] == 2).all()
    ceiling = noise_ceiling(bench, evaluation.info["targets"]).set_index("target")
    assert ceiling.loc["latency_norm", "ceiling_kind"] == "run-to-run"
    assert ceiling.loc["mean_acc", "ceiling_kind"] == "seed-to-seed"
    assert ceiling.loc["params", "ceiling_tau"] == 1.0
    floor = bench.noise_floor()
    assert ceiling.loc["latency_norm", "ceiling_tau"] == pytest.approx(floor["latency"]["latency_norm"])
    assert ceiling.loc["test_digit", "ceiling_tau"] == pytest.approx(floor["seed"]["test_digit"])
    assert summary["ceiling_tau"].notna().all()


def test_checks_report_the_gap_to_the_ceiling_and_the_flops_floor(evaluation):
    from predictors.leaderboard import CEILING_MARGIN, _checks

    summary = evaluation.summary()
    ceiling = evaluation.ceiling.set_index("target")
    rows = {
        line.split(" | ")[0][2:]: line.strip("| ").split(" | ")
        for line in _checks(evaluation, summary, 16, ceiling)
        if line.startswith("| ") and "gap @" not in line
    }
    measured = ceiling.index[~ceiling["ceiling_kind"].isin(["none", "exact"])]
    assert set(rows) == set(measured) and len(rows) > 0
    for t, cells in rows.items():
        best = summary[summary["target"] == t].groupby("train_size")["kendall_tau_mean"].max()
        gaps = ceiling.loc[t, "ceiling_tau"] - best
        assert [float(c) for c in cells[1:3]] == pytest.approx(gaps.round(3).tolist(), abs=1e-3)
        close = [s for s, g in gaps.items() if g <= CEILING_MARGIN]
        assert cells[3] == (str(close[0]) if close else "> 16")
        at = summary[(summary["target"] == t) & (summary["train_size"] == 16)].set_index("predictor")
        weak = [
            n
            for n in ("xgb", "gin", "brp")
            if at.loc[n, "kendall_tau_mean"] <= at.loc["flops", "kendall_tau_mean"]
        ]
        assert cells[4] == (", ".join(weak) or "none")


def test_mean_acc_is_derived_from_the_task_predictions(evaluation, bench):
    tasks = [f"test_{t.name}" for t in bench.tasks if t.higher_is_better]
    assert evaluation.info["derived_targets"] == {"mean_acc": tasks}
    kept = evaluation.predictions
    p = kept.pivot_table(index=["predictor", "arch_id"], columns="target", values="predicted")
    assert np.allclose(p["mean_acc"], p[tasks].mean(axis=1))
    # fitted on its own it is not that mean; without every task column there is nothing to derive from
    fitted = evaluate_predictors(bench, ["xgb"], [16], seeds=1, predictor_params=LIGHT, derive_means=False)
    q = fitted.predictions.pivot_table(index="arch_id", columns="target", values="predicted")
    assert fitted.info["derived_targets"] == {} and not np.allclose(q["mean_acc"], q[tasks].mean(axis=1))
    partial = evaluate_predictors(bench, ["flops"], [8], seeds=1, targets=["mean_acc", tasks[0]])
    assert partial.info["derived_targets"] == {}


def test_ceiling_prefers_the_manifest(bench):
    from types import SimpleNamespace

    noise = {"seed": {"mean_acc": {"n": 7, "kendall_tau": 0.5, "spearman": 0.6}}}
    stub = SimpleNamespace(
        manifest={"noise": noise}, table=bench.table, tasks=bench.tasks, noise=bench.noise, calibration=None
    )
    c = noise_ceiling(stub, ["mean_acc", "latency_ms"]).set_index("target")
    assert c.loc["mean_acc", "ceiling_tau"] == 0.5 and c.loc["mean_acc", "ceiling_source"] == "manifest"
    assert c.loc["latency_ms", "ceiling_source"] == "noise files"


def test_per_target_fits_and_invalid_input(bench):
    ev = evaluate_predictors(bench, ["flops"], [8], seeds=[3], targets=["params"], multi_target=False)
    assert ev.scores["seed"].tolist() == [3] and ev.scores["kendall_tau"].iloc[0] > 0.5
    with pytest.raises(ValueError, match="unknown predictors"):
        evaluate_predictors(bench, ["nope"], [8])
    with pytest.raises(ValueError, match="train_sizes"):
        evaluate_predictors(bench, ["flops"], [25])  # only 24 rows left for training
    with pytest.raises(ValueError, match="invalid target"):
        evaluate_predictors(bench, ["flops"], [8], targets=["arch"])


def _numbers(path) -> pd.DataFrame:
    return pd.read_csv(path)


def test_fast_command_writes_the_leaderboard_and_is_deterministic(tiny_path, tmp_path, capsys):
    outs = [tmp_path / "a", tmp_path / "b"]
    for out in outs:
        argv = ["evaluate-predictors", "--path", str(tiny_path), "--fast", "--quiet", "--out", str(out)]
        assert main(argv) == 0
    text = capsys.readouterr().out
    assert "Headline" in text and "wrote" in text
    for name in ("predictors.md", "predictors.csv", "predictors_tau.png", "predictors_scatter.png"):
        assert (outs[0] / name).stat().st_size > 0
    md = (outs[0] / "predictors.md").read_text()
    assert f"- command: `nasbench-mt evaluate-predictors --path {tiny_path} --fast" in md
    assert "SYNTHETIC" in md and "wall time:" in md and "noise ceiling (run-to-run)" in md
    checks = md.split("## Against the ceiling and the flops baseline")[1].split("\n## ")[0]
    assert "| latency_norm | " in checks and "| params |" not in checks  # exact targets have no gap
    a, b = _numbers(outs[0] / "predictors.csv"), _numbers(outs[1] / "predictors.csv")
    assert set(a["train_size"]) == {10, 20} and (a["seeds"] == 2).all()
    from predictors import list_predictors

    assert sorted(a["predictor"].unique()) == list_predictors()
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-6, atol=1e-9)


def test_command_refuses_fast_or_synthetic_output_in_leaderboards(tiny_path, capsys):
    from nasbench_mt.cli.options import REPO_LEADERBOARDS as _REPO_LEADERBOARDS

    def snapshot():
        return {p.name: p.read_bytes() for p in _REPO_LEADERBOARDS.glob("*") if p.is_file()}

    before = snapshot()
    code = main(["evaluate-predictors", "--path", str(tiny_path), "--predictors", "flops", "--sizes", "8",
                 "--seeds", "1", "--out", str(_REPO_LEADERBOARDS)])  # fmt: skip
    assert code == 2
    assert "real release only" in capsys.readouterr().err
    assert snapshot() == before  # the real leaderboard, where it exists, is left as it was
