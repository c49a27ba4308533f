"""``nasbench-mt search``, ``search-leaderboard --fast`` and ``export-onnx`` on the tiny release."""

from __future__ import annotations

import json
import re

import pytest
import torch

from nasbench_mt.cli import main
from nasbench_mt.space.arch import Arch
from nasbench_mt.space.model import build_model, flat_outputs


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def test_search_json(capsys, tiny_path, bench):
    argv = ["search", "--strategy", "evolution", "--budget", 12, "--constraint", "latency_ms<=3", "--seed", 1]
    rc, out, _ = cli(capsys, *argv, "--path", tiny_path, "--json", "--quiet", "--param", "population=5")
    assert rc == 0
    data = json.loads(out)
    assert data["budget"] == 12 and len(data["trajectory"]["query"]) == 12
    best = data["best"]
    assert best["arch"] in bench and best["feasible"] and best["result"]["latency_ms"] <= 3
    assert data["regret"] == pytest.approx(data["oracle"]["value"] - best["values"]["mean_acc"])
    assert data["constraints"] == ["latency_ms <= 3"]
    rc, again, _ = cli(capsys, *argv, "--path", tiny_path, "--json", "--quiet", "--param", "population=5")
    assert json.loads(again)["trajectory"]["arch"] == data["trajectory"]["arch"]


def test_exit_search_prints_the_policy_metric_under_its_own_name(capsys, tiny_path, bench):
    # under an exit policy seg is scored by pixel accuracy: the result is never shown as the table's mean_acc
    argv = ["search", "--strategy", "random", "--budget", 4, "--exit-thresholds", 0.6, 1, "--quiet"]
    rc, out, _ = cli(capsys, *argv, "--path", tiny_path)
    assert rc == 0
    values, measured, policy = [line for line in out.splitlines() if line.startswith("  ")][1:4]
    assert values.split()[0] == "policy_mean_acc" and "exit thresholds" in policy
    assert "policy_mean_acc" in policy and " mean_acc " not in policy and " mean_acc " in measured
    regret = next(line for line in out.splitlines() if line.startswith("regret"))
    assert "table's best policy_mean_acc" in regret and "same exit-threshold grid" in regret
    rc, out, _ = cli(capsys, *argv, "--path", tiny_path, "--json")
    data = json.loads(out)
    assert data["objectives"] == ["policy_mean_acc"] and "mean_acc" not in data["best"]["metrics"]
    problem_best = max(
        float(
            bench.exit_metrics(
                r.arch, [[a, b, c] for a in (0.6, 1) for b in (0.6, 1) for c in (0.6, 1)]
            ).policy_mean_acc.max()
        )
        for r in bench
    )
    assert data["oracle"]["value"] == pytest.approx(problem_best)  # the same metric over the table
    assert data["oracle"]["value"] != pytest.approx(bench.best("mean_acc").mean_acc)
    rc, _, err = cli(capsys, *argv, "--objective", "mean_acc", "--path", tiny_path)
    assert rc == 2 and "invalid objective 'mean_acc' in early-exit mode" in err and "policy_mean_acc" in err


def test_search_text_plot_and_pareto(capsys, tiny_path, tmp_path):
    png = tmp_path / "mo.png"
    argv = ["search", "--strategy", "nsga2", "--budget", 10, "--objective", "mean_acc"]
    argv += ["--objective", "latency_ms", "--path", tiny_path, "--plot", png, "--quiet"]
    rc, out, _ = cli(capsys, *argv)
    assert rc == 0 and "found" in out and "measured:" in out and "regret" in out and "pareto" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--constraint", "latncy_ms<=3"], "unknown constraint metric 'latncy_ms'"),
        (["--constraint", "latency_ms=<3"], "invalid constraint operator"),
        (["--objective", "acc"], "unknown objective metric 'acc'"),
        (["--budget", "31"], "pool holds only 30"),
        (["--param", "population"], "invalid --param"),
        (["--plot", "/no/such/folder/x.png"], "invalid --plot.*does not exist"),
        (["--plot", "x.txt"], "invalid --plot.*unknown image type"),
        (["--plot", ""], "invalid --plot.*not a file path"),
        (["--exit-thresholds", "0.9", "--constraint", "latency_ms<=3"], "'policy_latency_ms'"),
    ],
)
def test_search_errors_are_one_line(capsys, tiny_path, extra, match):
    rc, _, err = cli(capsys, "search", "--strategy", "evolution", "--path", tiny_path, "--quiet", *extra)
    assert rc == 2 and err.startswith("nasbench-mt search: error:") and err.count("\n") == 1
    assert re.search(match, err)


def test_leaderboard_fast(capsys, tiny_path, tmp_path):
    out_dir = tmp_path / "lb"
    rc, out, _ = cli(capsys, "search-leaderboard", "--fast", "--path", tiny_path, "--out", out_dir, "--json")
    assert rc == 0
    info = json.loads(out)
    md = (out_dir / "search.md").read_text()
    assert "SYNTHETIC" in md and "nasbench-mt search-leaderboard --path" in md and "versions:" in md
    csv = (out_dir / "search.csv").read_text().splitlines()
    assert csv[0].startswith("strategy,budget,seeds,regret_mean,regret_std")
    assert len(csv) == 1 + 2 * len(info["hits"])  # budgets 5 and 10 per strategy
    assert (out_dir / "search.png").stat().st_size > 1000
    settings = md.split("## Strategy settings")[1]  # each strategy as it ran, --fast's light predictor too
    assert "- evolution: `RegularizedEvolution(population=" in settings
    assert f"- brp: `{info['info']['settings']['brp']}`" in settings and "aux_archs=" in settings


def test_standard_constraints_use_normalised_latency(bench):
    import numpy as np

    from nasbench_mt.search.leaderboard import standard_constraints

    (con,) = standard_constraints(bench)
    med = float(np.median(bench.table["latency_norm"]))
    assert con == f"latency_norm <= {float(f'{med:.2g}'):g}"
    assert 0.4 < len(bench.where(con)) / len(bench) < 0.6  # about half the table is feasible
    no_lat = bench.where("mean_acc >= 0")
    no_lat.table["latency_norm"] = np.nan
    with pytest.raises(ValueError, match="no latency measurements"):
        standard_constraints(no_lat)


def test_leaderboard_refuses_fast_results_in_leaderboards(capsys, tiny_path):
    from nasbench_mt.cli.options import REPO_LEADERBOARDS as _REPO_LEADERBOARDS

    before = {p.name: p.read_bytes() for p in _REPO_LEADERBOARDS.glob("*") if p.is_file()}
    rc, _, err = cli(capsys, "search-leaderboard", "--fast", "--path", tiny_path, "--out", _REPO_LEADERBOARDS)
    assert rc == 2 and "real release only" in err
    assert {p.name: p.read_bytes() for p in _REPO_LEADERBOARDS.glob("*") if p.is_file()} == before


def test_export_onnx(capsys, tmp_path, bench):
    onnx = pytest.importorskip("onnx")
    pytest.importorskip("onnxscript")
    path = tmp_path / "net.onnx"
    arch = bench.table.arch[bench.table.macs.idxmin()]  # the exporter's time grows with the graph
    assert Arch.from_string(arch).all_exits[:-1]  # early exits too: several outputs per task
    torch.manual_seed(0)  # the command builds the network from torch's global generator
    rc, _, _ = cli(capsys, "export-onnx", arch, "--out", path)
    assert rc == 0 and path.is_file()
    outputs = [o.name for o in onnx.load(str(path)).graph.output]
    exits = Arch.from_string(arch).all_exits
    assert outputs == [f"{t.name}_exit{k}" for t in bench.tasks for k in exits]
    # the exported graph computes what the eager network with the same weights computes, every output
    ort = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    model, names = flat_outputs(build_model(Arch.from_string(arch)).eval())
    assert names == outputs
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        ref = model(x)
    got = ort.InferenceSession(str(path)).run(None, {"image": x.numpy()})
    assert len(got) == len(ref)
    for o, r in zip(got, ref):
        assert abs(o - r.numpy()).max() < 1e-4


@pytest.mark.parametrize("out", ["", ".", "tests/fixtures/tiny/manifest.json/net.onnx"])
def test_export_onnx_refuses_a_bad_out_before_building(capsys, out):
    rc, _, err = cli(capsys, "export-onnx", "k3e3|k3e3|k3e3|k3e3|b=4,4,4|x=", "--out", out)
    assert rc == 2 and "invalid --out" in err and err.count("\n") == 1


def test_export_onnx_without_the_extra_says_what_to_install(capsys, monkeypatch, tmp_path):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "onnx" else real(name, *a)
    )
    from nasbench_mt.space.arch import V1

    arch = V1.sample(1, seed=0)[0].to_string()
    rc, _, err = cli(capsys, "export-onnx", arch, "--out", tmp_path / "m.onnx")
    assert rc == 2 and "nasbench-mt[onnx]" in err and err.count("\n") == 1


def test_search_joint_exits_json_and_text(capsys, tiny_path, bench, tmp_path):
    argv = ["search", "--strategy", "nsga2", "--budget", 10, "--exits", "joint"]
    argv += ["--exit-grid", 0.6, 0.9, "off", "--path", tiny_path]
    argv += ["--objective", "policy_mean_acc", "--objective", "policy_latency_norm"]
    rc, out, _ = cli(capsys, *argv, "--json", "--quiet")
    assert rc == 0
    data = json.loads(out)
    assert data["objectives"] == ["policy_mean_acc", "policy_latency_norm"]
    assert len(data["trajectory"]["thresholds"]) == 10
    for e in data["pareto"]:  # thresholds per task; JSON null = off (never leave early)
        assert set(e["thresholds"]) == {t.name for t in bench.tasks}
        assert all(v in (0.6, 0.9, None) for v in e["thresholds"].values())
        assert set(e["metrics"]) >= {"policy_mean_acc", "policy_latency_norm", "policy_macs"}
    png = tmp_path / "joint.png"
    rc, out, _ = cli(capsys, *argv, "--quiet", "--plot", png)
    assert rc == 0 and "exit thresholds digit" in out and "candidates; hypervolume regret" in out
    assert " @ digit " in out and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    "extra, match",
    [
        (["--objective", "policy_mean_acc"], "policy_\\* metrics .*--exits joint"),
        (["--exits", "joint", "--exit-grid", "0.5", "1.5"], "invalid exit thresholds"),
        (["--exits", "joint", "--full-space"], "pool mode only"),
    ],
)
def test_search_exit_errors_are_one_line(capsys, tiny_path, extra, match):
    rc, _, err = cli(capsys, "search", "--path", tiny_path, "--quiet", *extra)
    assert rc == 2 and err.startswith("nasbench-mt search: error:") and err.count("\n") == 1
    assert re.search(match, err)


def test_exit_grid_refuses_words_other_than_off(capsys, tiny_path):
    with pytest.raises(SystemExit) as stop:
        main(["search", "--path", str(tiny_path), "--exits", "joint", "--exit-grid", "0.9", "high"])
    assert stop.value.code == 2
    assert "invalid threshold 'high'; allowed: a number in [0, 1] or off" in capsys.readouterr().err


def test_exit_leaderboard_fast(capsys, tiny_path, tmp_path):
    out_dir = tmp_path / "lb"
    argv = ["exit-leaderboard", "--fast", "--path", tiny_path, "--exit-grid", 0.6, 0.9, "off"]
    rc, out, _ = cli(capsys, *argv, "--strategies", "random", "nsga2", "--out", out_dir, "--json")
    assert rc == 0
    info = json.loads(out)["info"]
    assert info["table_hv"]["exit-aware"] == pytest.approx(1.0)
    assert 0 < info["table_hv"]["no exits"] <= 1.0 + 1e-12  # off is on the grid: the joint front covers it
    md = (out_dir / "exits.md").read_text()
    assert "SYNTHETIC" in md and "nasbench-mt exit-leaderboard --path" in md
    assert "--exit-grid 0.6 0.9 off" in md
    assert "| random | 10 |" in md and "| nsga2 | 5 |" in md and "point accuracy drop" in md
    csv = (out_dir / "exits.csv").read_text().splitlines()
    assert csv[0] == "strategy,mode,budget,seeds,hv_mean,hv_std,archs_mean,sim_time_h_mean"
    assert len(csv) == 1 + 2 * 2 * 2  # strategies x modes x budgets
    for line in csv[1:]:
        hv = float(line.split(",")[4])
        assert 0 <= hv <= 1.0 + 1e-12
    assert (out_dir / "exits.png").stat().st_size > 1000
    rc, _, err = cli(capsys, "exit-leaderboard", "--fast", "--path", tiny_path, "--out", "leaderboards")
    assert rc == 2 and "real release only" in err


def test_leaderboard_params_reach_the_strategy_and_its_command_line(capsys, tiny_path, tmp_path):
    out_dir = tmp_path / "lb"
    argv = ["search-leaderboard", "--fast", "--path", tiny_path, "--strategies", "random", "evolution"]
    rc, out, _ = cli(capsys, *argv, "--param", "evolution.population=3", "--out", out_dir, "--json")
    assert rc == 0 and json.loads(out)["info"]["strategy_params"] == {"evolution": {"population": 3}}
    assert "--param evolution.population=3" in (out_dir / "search.md").read_text()
    bad = [
        ("evolution.populaton=3", "invalid keyword arguments for strategy 'evolution'"),
        ("population=3", r"invalid --param 'population=3'; allowed: STRATEGY.NAME=VALUE"),
        ("nsga2.population=3", "STRATEGY one of \\['random', 'evolution'\\]"),
    ]
    for param, match in bad:
        rc, _, err = cli(capsys, *argv, "--param", param, "--out", out_dir, "--quiet")
        assert rc == 2 and err.count("\n") == 1 and re.search(match, err), err


@pytest.mark.parametrize(
    ("command", "strategies", "csv"),
    [("search-leaderboard", ["random", "brp"], "search.csv"), ("exit-leaderboard", ["random"], "exits.csv")],
)
def test_leaderboards_are_the_same_with_workers(capsys, tiny_path, tmp_path, command, strategies, csv):
    written = {}
    for workers in (1, 2):
        out_dir = tmp_path / f"w{workers}"
        argv = [command, "--fast", "--path", tiny_path, "--strategies", *strategies, "--workers", workers]
        rc, _, err = cli(capsys, *argv, "--out", out_dir, "--quiet")
        assert rc == 0, err
        written[workers] = (out_dir / csv).read_text()
    assert written[1] == written[2]
    assert "--workers 2" in (tmp_path / "w2" / csv.replace(".csv", ".md")).read_text()
    rc, _, err = cli(capsys, command, "--fast", "--path", tiny_path, "--workers", 0, "--out", tmp_path / "w0")
    assert rc == 2 and "invalid workers: 0; allowed: an int >= 1" in err
