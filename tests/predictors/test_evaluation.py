"""The predictor evaluation protocol and its leaderboard command, on the tiny fixture release."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from nasbench_mt.cli import main
from predictors.evaluation import METRICS, evaluate_predictors, noise_ceiling, split_rows
from predictors.metrics import kendall_tau

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
    import predictors.fitting as ev_mod

    seen = []
    original = ev_mod.fit_predict

    def spy(name, params, seed, X_train, y, X_test, joint, skip=()):
        seen.append((np.asarray(X_train), np.asarray(X_test)))
        return original(name, params, seed, X_train, y, X_test, joint, skip)

    monkeypatch.setattr(ev_mod, "fit_predict", spy)
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
    ev = evaluate_predictors(bench, ["flops"], [8], seeds=[3], targets=["params"], fit="separate")
    assert ev.scores["seed"].tolist() == [3] and ev.scores["kendall_tau"].iloc[0] > 0.5
    assert ev.scores["fit"].tolist() == ["separate"] and ev.info["fit_modes"] == ["separate"]
    with pytest.raises(ValueError, match=r"invalid fit: 'apart'; allowed: \['joint', 'separate', 'both'\]"):
        evaluate_predictors(bench, ["flops"], [8], fit="apart")
    with pytest.raises(ValueError, match="unknown predictors"):
        evaluate_predictors(bench, ["nope"], [8])
    with pytest.raises(ValueError, match="train_sizes"):
        evaluate_predictors(bench, ["flops"], [25])  # only 24 rows left for training
    with pytest.raises(ValueError, match="invalid target"):
        evaluate_predictors(bench, ["flops"], [8], targets=["arch"])


def _numbers(path) -> pd.DataFrame:
    return pd.read_csv(path)


def test_fast_command_writes_the_leaderboard_and_is_deterministic(tiny_path, tmp_path, capsys):
    """One full fast run checks the files; a second run of a few predictors gives the same rows (each
    predictor's own determinism under a seed is checked by the contract tests)."""
    outs = [tmp_path / "a", tmp_path / "b"]
    base = ["evaluate-predictors", "--path", str(tiny_path), "--fast", "--quiet"]
    assert main([*base, "--out", str(outs[0])]) == 0
    text = capsys.readouterr().out
    assert "Headline" in text and "wrote" in text
    for name in ("predictors.md", "predictors.csv", "predictors_tau.png", "predictors_scatter.png"):
        assert (outs[0] / name).stat().st_size > 0
    md = (outs[0] / "predictors.md").read_text()
    assert f"- command: `nasbench-mt evaluate-predictors --path {tiny_path} --fast" in md
    assert "SYNTHETIC" in md and "wall time:" in md and "noise ceiling (run-to-run)" in md
    checks = md.split("## Against the ceiling and the flops baseline")[1].split("\n## ")[0]
    assert "| latency_norm | " in checks and "| params |" not in checks  # exact targets have no gap
    a = _numbers(outs[0] / "predictors.csv")
    assert set(a["train_size"]) == {10, 20} and (a["seeds"] == 2).all()
    from predictors import list_predictors

    assert sorted(a["predictor"].unique()) == list_predictors()
    again = ["lgb", "gin", "flops"]
    assert main([*base, "--predictors", *again, "--out", str(outs[1])]) == 0
    b = _numbers(outs[1] / "predictors.csv")
    a = a[a["predictor"].isin(again)].reset_index(drop=True)
    b = b.sort_values(["predictor", "train_size", "target"]).reset_index(drop=True)
    a = a.sort_values(["predictor", "train_size", "target"]).reset_index(drop=True)
    assert len(a) == len(b) > 0
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


def _record_fits(mp: pytest.MonkeyPatch, calls: list) -> None:
    """Append the arguments of every fit the protocol makes to ``calls``, and let it run."""
    import predictors.fitting as ev_mod

    original = ev_mod.fit_predict

    def spy(name, params, seed, X_train, y, X_test, joint, skip=()):
        calls.append({"name": name, "X": X_train, "y": y, "joint": joint, "skip": list(skip)})
        return original(name, params, seed, X_train, y, X_test, joint, skip)

    mp.setattr(ev_mod, "fit_predict", spy)


@pytest.fixture(scope="module")
def variants(bench):
    """One evaluation with every variant (joint, separate, free targets on 12 unlabelled archs at size 8),
    and the arguments of each fit it made."""
    calls = []
    with pytest.MonkeyPatch.context() as mp:
        _record_fits(mp, calls)
        ev = evaluate_predictors(
            bench, ["gin", "xgb", "flops"], [8, 16], seeds=2, predictor_params=LIGHT, fit="both",
            aux_archs=12, aux_sizes=[8],
        )  # fmt: skip
    return ev, calls


def test_fit_both_scores_each_multi_target_predictor_jointly_and_separately(variants):
    ev, calls = variants
    plain = ev.scores[ev.scores["aux_archs"] == 0]
    assert set(plain[["predictor", "fit"]].itertuples(index=False, name=None)) == {
        ("gin", "joint"),
        ("gin", "separate"),
        ("xgb", "joint"),
        ("flops", "joint"),
    }
    assert ev.info["multi_target"] == ["gin"] and ev.info["fit_modes"] == ["joint", "separate"]
    # separate: one fit per target, mean_acc left to its derivation
    mean = ev.info["targets"].index("mean_acc")
    separate = [c for c in calls if c["name"] == "gin" and not c["joint"]]
    assert len(separate) == 4 and all(c["skip"] == [mean] for c in separate)
    gin = plain[plain["predictor"] == "gin"].pivot_table(
        index=["train_size", "seed", "target"], columns="fit", values="kendall_tau"
    )
    assert len(gin) == 2 * 2 * len(ev.info["targets"]) and not np.allclose(gin["joint"], gin["separate"])
    main_scores = ev.main_variant().scores
    assert (main_scores["fit"] == "joint").all() and (main_scores["aux_archs"] == 0).all()
    assert len(main_scores) == 3 * 2 * 2 * len(ev.info["targets"])
    summary = ev.summary()
    assert {"fit", "aux_archs", "seeds"} <= set(summary.columns)
    assert len(summary) == (4 * 2 + 1) * len(ev.info["targets"])  # 4 variants x 2 sizes, aux at one size


def test_free_auxiliary_targets_on_unlabelled_archs(variants, bench):
    from predictors.auxiliary import free_target_names

    ev, calls = variants
    sizes = ev.scores.groupby(["predictor", "fit", "aux_archs"])["train_size"].unique().map(tuple).to_dict()
    assert sizes[("gin", "joint", 12)] == (8,) and ("xgb", "joint", 12) not in sizes
    targets = ev.info["targets"]
    free = free_target_names(bench.space, bench.tasks)
    assert ev.info["aux_predictors"] == ["gin"] and ev.info["free_targets"] == free
    aux_fits = [c for c in calls if len(c["X"]) == 8 + 12]
    assert len(aux_fits) == 2 and all(c["joint"] and c["name"] == "gin" for c in aux_fits)
    names = targets + [n for n in free if n not in targets]
    measured = [j for j, t in enumerate(names) if t in targets and t not in ("params", "flops")]
    for c in aux_fits:
        y = c["y"]
        assert y.shape == (20, len(names))
        assert np.isfinite(y[:8, : len(targets)]).all() and np.isnan(y[8:, measured]).all()
        assert np.isfinite(y[:, [names.index("params"), names.index("flops")]]).all()
    # the same seed draws the same unlabelled archs: the fits repeat exactly
    again = evaluate_predictors(
        bench, ["gin"], [8], seeds=2, predictor_params=LIGHT, aux_archs=12, aux_sizes=[8]
    ).scores
    first = ev.scores[
        (ev.scores["predictor"] == "gin") & (ev.scores["train_size"] == 8) & (ev.scores["fit"] == "joint")
    ]
    cols = [c for c in first.columns if c != "fit_s"]
    pd.testing.assert_frame_equal(first[cols].reset_index(drop=True), again[cols].reset_index(drop=True))


def test_leaderboard_compares_joint_separate_and_aux(variants, bench):
    from predictors.leaderboard import _markdown

    md = _markdown(variants[0], bench, "cmd", 1.0)
    joint = md.split("## Joint vs separate fitting")[1].split("\n## ")[0]
    assert "| gin | " in joint and "| xgb |" not in joint and "90% Student-t interval" in joint
    aux = md.split("## Free auxiliary targets")[1].split("\n## ")[0]
    assert "12 unlabelled archs drawn from the search space" in aux and "| gin | " in aux
    assert "### With aux against the separate fit" in aux and "#### mean_acc" in aux
    headline = md.split("## Headline")[1].split("\n## ")[0]  # the main variant only: one row per target
    assert headline.count("\n| ") == 1 + len(variants[0].info["targets"])


def test_unlabelled_archs_from_the_pool_and_invalid_settings(bench):
    ev = evaluate_predictors(
        bench,
        ["gin"],
        [8],
        seeds=1,
        predictor_params=LIGHT,
        aux_archs=10,
        aux_source="pool",
        targets=["params"],
    )
    assert set(ev.scores["aux_archs"]) == {0, 10} and ev.info["aux_source"] == "pool"
    with pytest.raises(ValueError, match="allowed: at most 16 with aux_source='pool'"):
        evaluate_predictors(bench, ["gin"], [8], aux_archs=17, aux_source="pool")
    with pytest.raises(ValueError, match="fit='separate'"):
        evaluate_predictors(bench, ["gin"], [8], aux_archs=5, fit="separate")
    with pytest.raises(ValueError, match=r"none of \['xgb'\] masks missing labels; allowed: 0, or"):
        evaluate_predictors(bench, ["xgb"], [8], aux_archs=5)
    with pytest.raises(ValueError, match="invalid aux_sizes"):
        evaluate_predictors(bench, ["gin"], [8], aux_archs=5, aux_sizes=[9])
    with pytest.raises(ValueError, match="no measured proxies"):
        evaluate_predictors(bench, ["gin"], [8], aux_archs=5, features="onehot+proxies")


def _with_proxies(bench, missing: int | None = None):
    from nasbench_mt.query.benchmark import Benchmark

    table = bench.table.copy()
    rng = np.random.default_rng(0)
    table["proxy_synflow"] = 10.0 ** rng.uniform(5, 30, len(table))
    table["proxy_jacob_cov"] = -rng.uniform(0, 300, len(table))
    if missing is not None:
        table.loc[missing, "proxy_synflow"] = np.nan
    return Benchmark(table, bench.manifest, bench.root, bench.tasks)


def test_proxies_as_features(bench, monkeypatch):
    from predictors.features import proxy_features

    calls = []
    _record_fits(monkeypatch, calls)
    plain = evaluate_predictors(
        bench, ["xgb", "gin"], [8], seeds=1, predictor_params=LIGHT, targets=["params"]
    )
    width = {c["name"]: (c["X"].shape[1] if c["name"] == "xgb" else c["X"][0].x.shape[1]) for c in calls}
    calls.clear()
    with_proxies = _with_proxies(bench)
    ev = evaluate_predictors(
        with_proxies, ["xgb", "gin"], [8], seeds=1, predictor_params=LIGHT, targets=["params"],
        features="onehot+proxies",
    )  # fmt: skip
    assert ev.info["features"] == "onehot+proxies" and plain.info["features"] == "onehot"
    xgb, gin = calls
    assert xgb["X"].shape[1] == width["xgb"] + 2 and gin["X"][0].x.shape[1] == width["gin"] + 2
    names, values = proxy_features(with_proxies.table)
    assert names == ["proxy_synflow", "proxy_jacob_cov"] and np.abs(values).max() < 70  # log-scaled
    assert np.isin(xgb["X"][:, -2:], values).all()
    g = gin["X"][0]
    assert (g.x[1:, -2:] == 0).all() and (g.x[0, -2:] != 0).all()  # on the global node only
    with pytest.raises(ValueError, match="no proxy_\\* columns"):
        evaluate_predictors(bench, ["xgb"], [8], features="onehot+proxies")
    with pytest.raises(ValueError, match="1 of 30 rows have no proxy values"):
        evaluate_predictors(_with_proxies(bench, missing=4), ["xgb"], [8], features="onehot+proxies")
    with pytest.raises(ValueError, match="invalid features: 'proxies'; allowed"):
        evaluate_predictors(bench, ["xgb"], [8], features="proxies")


def test_command_fit_and_aux_flags(tiny_path, tmp_path):
    out = tmp_path / "lb"
    argv = ["evaluate-predictors", "--path", str(tiny_path), "--predictors", "gin", "--fast", "--quiet",
            "--targets", "params", "test_digit", "--fit", "both", "--aux-archs", "10",
            "--out", str(out)]  # fmt: skip
    assert main([*argv, "--work", str(tmp_path / "work")]) == 0
    first = (out / "predictors.md").read_text()
    assert "read back" not in first and len(list((tmp_path / "work").rglob("*.npz"))) == 2 * 2 * 3
    assert main([*argv, "--work", str(tmp_path / "work")]) == 0
    md = (out / "predictors.md").read_text()
    assert "12 fits" in md and "(12 read back from an earlier run's `--work` folder)" in md
    assert "--work" not in md.split("- command: ")[1].split("\n")[0]  # it does not change the scores
    assert md.split("## Headline")[1] == first.split("## Headline")[1]
    assert "--fast --targets params test_digit --fit both --aux-archs 10 --aux-source space --out" in md
    assert "## Joint vs separate fitting" in md and "## Free auxiliary targets" in md
    csv = pd.read_csv(out / "predictors.csv")
    assert set(csv[["fit", "aux_archs"]].itertuples(index=False, name=None)) == {
        ("joint", 0),
        ("separate", 0),
        ("joint", 10),
    }


def test_paired_difference_interval():
    from scipy import stats

    from predictors.leaderboard import paired_difference

    a, b = np.array([0.5, 0.6, 0.55, 0.7]), np.array([0.45, 0.5, 0.56, 0.6])
    mean, lo, hi = paired_difference(a, b)
    d = a - b
    half = stats.t.ppf(0.95, 3) * d.std(ddof=1) / 2
    assert mean == pytest.approx(d.mean()) and (lo, hi) == pytest.approx((d.mean() - half, d.mean() + half))
    assert np.isnan(paired_difference(a[:1], b[:1])[1])


def test_sequence_model_runs_the_protocol_with_free_targets_and_proxies(bench, monkeypatch):
    calls = []
    _record_fits(monkeypatch, calls)
    ev = evaluate_predictors(
        _with_proxies(bench), ["mtlp_jr"], [8], seeds=1, predictor_params={"mtlp_jr": {"epochs": 5}},
        aux_archs=6, aux_source="pool", features="onehot+proxies",
    )  # fmt: skip
    assert set(ev.scores["aux_archs"]) == {0, 6} and ev.scores["kendall_tau"].notna().all()
    assert ev.info["aux_predictors"] == ["mtlp_jr"] and [len(c["X"]) for c in calls] == [8, 8 + 6]
    tokens = calls[0]["X"][0]  # the global token, then one per block: proxies on the global token only
    assert (tokens[0, -2:] != 0).all() and (tokens[1:, -2:] == 0).all()


def test_workers_fit_side_by_side_with_the_same_scores(bench):
    kw = dict(predictor_params=LIGHT, fit="both", aux_archs=12, aux_sizes=[8], seeds=2)
    calls = []
    one = evaluate_predictors(
        bench, ["gin", "xgb", "flops"], [8, 16], progress=lambda *a: calls.append(a), **kw
    )
    two = evaluate_predictors(bench, ["gin", "xgb", "flops"], [8, 16], workers=2, **kw)
    metric_cols = [c for c in one.scores.columns if c != "fit_s"]
    pd.testing.assert_frame_equal(one.scores[metric_cols], two.scores[metric_cols])
    pd.testing.assert_frame_equal(one.predictions, two.predictions)
    assert two.info["workers"] == 2
    assert len(calls) == 3 * 2 * 2  # one progress call per predictor, size and seed
    with pytest.raises(ValueError, match=r"invalid workers: 0; allowed: an int >= 1"):
        evaluate_predictors(bench, ["flops"], [8], workers=0)


def test_onnx_runtime_latency_gets_its_own_run_to_run_ceiling(bench):
    """A release with ONNX Runtime columns and their repeat tier: ort_latency_norm is a default target, and
    its ceiling is the ONNX Runtime repeat's tau, not the PyTorch one's."""
    from types import SimpleNamespace

    from predictors.evaluation import default_targets

    table = bench.table[["arch_id"]].copy()
    rng = np.random.default_rng(0)
    table["ort_latency_norm"] = rng.uniform(1, 3, len(table))
    table["ort_latency_ms"] = table["ort_latency_norm"] * 0.2
    again = table.iloc[:20].copy()
    again["ort_latency_norm"] = 4 - again["ort_latency_norm"]  # a repeat in the reverse order
    again["ort_latency_ms"] = again["ort_latency_norm"] * 0.2
    noise = pd.concat([bench.noise, again.assign(kind="ort-latency")], ignore_index=True)
    fake = SimpleNamespace(
        table=bench.table.merge(table, on="arch_id"),
        noise=noise,
        tasks=bench.tasks,
        manifest={},
        calibration=None,
    )
    assert "ort_latency_norm" in default_targets(fake)
    ceiling = noise_ceiling(fake, ["latency_norm", "ort_latency_norm"]).set_index("target")
    assert ceiling.loc["ort_latency_norm", "ceiling_kind"] == "run-to-run"
    assert ceiling.loc["ort_latency_norm", "ceiling_n"] == 20
    assert ceiling.loc["ort_latency_norm", "ceiling_tau"] == pytest.approx(-1.0)  # its own repeat's tau
    assert ceiling.loc["latency_norm", "ceiling_tau"] == pytest.approx(
        bench.noise_floor()["latency"]["latency_norm"]
    )


def test_work_folder_keeps_finished_fits_and_a_rerun_reuses_them(bench, tmp_path, monkeypatch):
    import predictors.fitting as fit_mod

    args = (bench, ["xgb", "brp"], [8, 16])
    kw = {"seeds": 2, "predictor_params": LIGHT, "fit": "both", "work": tmp_path}
    first = evaluate_predictors(*args, **kw)
    assert first.info["reused_fits"] == 0 and first.info["fits"] == 12  # xgb 2x2, brp 2x2x2 (both fits)
    stored = sorted(tmp_path.rglob("*.npz"))
    assert len(stored) == 12 and len({p.parent for p in stored}) == 1
    assert (stored[0].parent / "settings.json").exists()

    calls = []
    original = fit_mod.job_prediction
    monkeypatch.setattr(fit_mod, "job_prediction", lambda ctx, job: calls.append(job) or original(ctx, job))
    stored[0].write_bytes(b"not an npz file")  # a damaged fit is fitted again and replaced
    again = evaluate_predictors(*args, **kw)
    assert again.info["reused_fits"] == 11 and len(calls) == 1
    cols = ["predictor", "fit", "train_size", "seed", "target", "kendall_tau", "rmse"]
    pd.testing.assert_frame_equal(again.scores[cols], first.scores[cols])
    assert again.info["fit_s_total"] > 0

    calls.clear()  # other parameters of one predictor: only its fits run again
    evaluate_predictors(*args, **{**kw, "predictor_params": {**LIGHT, "brp": {"epochs": 6}}})
    assert {job.name for job in calls} == {"brp"} and len(calls) == 8
    calls.clear()  # other targets: another folder, nothing reused
    evaluate_predictors(*args, **{**kw, "targets": ["params", "flops"]})
    assert len(calls) == 12 and len({p.parent for p in tmp_path.rglob("*.npz")}) == 2


def test_leaderboard_reports_each_proxy_alone_on_the_test_split(bench, variants):
    from predictors.leaderboard import _markdown, proxy_taus

    assert "## Zero-cost proxies alone" not in _markdown(variants[0], bench, "cmd", 1.0)
    with_proxies = _with_proxies(bench)
    with_proxies.table["proxy_synflow"] = with_proxies.table["params"] * 3.0  # ranks exactly like params
    ev = evaluate_predictors(with_proxies, ["xgb", "flops"], [8, 16], seeds=2, predictor_params=LIGHT)
    taus = proxy_taus(ev, with_proxies.table)
    assert list(taus["proxy"]) == ["synflow", "jacob_cov"] and (taus["rows"] == 6).all()
    assert taus.set_index("proxy").loc["synflow", "params"] == pytest.approx(1.0)
    test = with_proxies.table.set_index("arch_id").loc[ev.predictions["arch_id"].unique()]
    expected = kendall_tau(test["test_digit"], test["proxy_jacob_cov"])
    assert taus.set_index("proxy").loc["jacob_cov", "test_digit"] == pytest.approx(expected)
    section = _markdown(ev, with_proxies, "cmd", 1.0).split("## Zero-cost proxies alone")[1]
    assert "| synflow | " in section and "| best predictor @8 | " in section and "(xgb)" in section
    assert "| flops baseline | " in section and "--features onehot+proxies" in section


def test_separate_fits_at_some_sizes_only(bench):
    from predictors.leaderboard import _markdown

    ev = evaluate_predictors(
        bench, ["gin", "xgb"], [8, 16], seeds=2, predictor_params=LIGHT, fit="both", separate_sizes=[8]
    )
    fits = ev.scores.drop_duplicates(["predictor", "fit", "train_size", "seed"])
    assert sorted(fits.loc[fits["fit"] == "separate", "train_size"].unique()) == [8]
    assert sorted(fits.loc[fits["fit"] == "joint", "train_size"].unique()) == [8, 16]
    assert ev.info["separate_sizes"] == [8]
    section = _markdown(ev, bench, "cmd", 1.0).split("## Joint vs separate fitting")[1].split("\n## ")[0]
    assert "Separate fits at [8] archs only" in section and "| predictor | 8 |" in section
    with pytest.raises(ValueError, match=r"invalid separate_sizes: \[32\]; allowed: some of the train sizes"):
        evaluate_predictors(bench, ["gin"], [8, 16], fit="both", separate_sizes=[32])
    with pytest.raises(ValueError, match=r"invalid separate_sizes with fit='joint'; allowed: only with"):
        evaluate_predictors(bench, ["gin"], [8, 16], separate_sizes=[8])
