"""Any number of tasks end to end: a synthetic image folder of N tasks is trained on, generated, loaded,
predicted and searched at tiny size, and its release rebuilds the search space of its own task list."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from nasbench_mt.cli import main
from nasbench_mt.measure.datasets import load_suite
from nasbench_mt.measure.supernet import Supernet
from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.manifest import verify
from nasbench_mt.release.schema import table_columns
from nasbench_mt.space.arch import V1
from nasbench_mt.space.model import build_model
from nasbench_mt.testing import synthetic_image_folder
from predictors import create_predictor, encode_archs, encode_graphs


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NASBENCH_MT_CACHE", str(tmp_path / "cache"))


def _release(tmp: Path, n_tasks: int, n: int = 6) -> Path:
    """train-supernet, then generate ``n`` archs through the CLI (in process); returns the release."""
    config = synthetic_image_folder(tmp / "data", n_tasks=n_tasks, n_images=40)
    suite = ["--suite", "image-folder", f"--suite-arg=config={config}"]
    sn = tmp / "sn.pt"
    assert main(["train-supernet", "--out", str(sn), "--epochs", "1", "--batch-size", "8", *suite]) == 0
    out = tmp / "release"
    cmd = ["generate", "--out", str(out), "--n", str(n), "--shard-size", "3", "--supernet", str(sn)]
    assert main([*cmd, "--n-per-sample", "6", "--quiet", *suite]) == 0
    return out


@pytest.mark.parametrize("n_tasks", [2, 5])
def test_release_of_n_tasks_is_generated_loaded_predicted_and_searched(tmp_path, capsys, n_tasks):
    out = _release(tmp_path, n_tasks)
    manifest = verify(out)
    names = [f"band{i}" for i in range(n_tasks)]
    assert [t["name"] for t in manifest["tasks"]] == names and manifest["space"] == "v1"

    bench = load_benchmark(path=out)
    space = bench.space
    assert space.num_tasks == n_tasks and space.task_names == tuple(names) and space.name == V1.name
    assert list(bench.table.columns[: len(table_columns(bench.tasks))]) == table_columns(bench.tasks)
    # rows are the first draws of the release's space, named as drawn; each has one branch point per task
    assert list(bench.table.arch_id) == [a.written_id for a in space.sample(6, seed=0)]
    archs = [space.validate(s) for s in bench.table.arch]
    assert all(len(a.branches) == n_tasks for a in archs)
    ranked = [t.name for t in bench.tasks if t.higher_is_better]
    np.testing.assert_allclose(bench.table.mean_acc, bench.table[[f"test_{t}" for t in ranked]].mean(axis=1))
    assert bench.query(archs[0].to_string()).arch_id == bench[0].arch_id
    assert set(bench.query(archs[0]).accuracy) == set(names)
    policy = bench.exit_metrics(archs[0], {t: 0.5 for t in names})
    assert policy.policy_acc.shape == (1, n_tasks)

    capsys.readouterr()
    assert main(["space", "--path", str(out), "--sample", "2", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["tasks"] == n_tasks and described["task_names"] == names
    assert described["size"] == space.size and described["size"] != V1.size

    # a tree and a graph predictor, encoded from the table's strings with the release's tasks
    y = bench.table.mean_acc.to_numpy()
    X = encode_archs(list(bench.table.arch), tasks=bench.tasks)
    assert X.shape[0] == 6 and np.isfinite(create_predictor("xgb", random_state=0).fit(X, y).predict(X)).all()
    graphs = encode_graphs(list(bench.table.arch), tasks=bench.tasks)
    gin = create_predictor("gin", epochs=2, random_state=0).fit(graphs, y)
    assert np.isfinite(gin.predict(graphs)).all()

    # the search driver over the release, pool and whole-space modes
    capsys.readouterr()
    cmd = ["search", "--path", str(out), "--budget", "4", "--quiet", "--json"]
    assert main([*cmd, "--strategy", "evolution", "--param", "population=2"]) == 0
    best = json.loads(capsys.readouterr().out)["best"]
    assert best["arch"] in set(bench.table.arch) | {a.to_string() for a in archs}
    assert set(best["result"]["accuracy"]) == set(names)
    assert main([*cmd, "--strategy", "random", "--full-space", "--surrogate", "xgb"]) == 0
    best = json.loads(capsys.readouterr().out)["best"]
    assert len(space.validate(best["arch"]).branches) == n_tasks


def test_space_of_any_task_list(tmp_path):
    config = synthetic_image_folder(tmp_path, n_tasks=8, n_images=20)
    tasks = load_suite("image-folder", config=str(config)).tasks
    space = V1.with_tasks(tasks)
    assert space.num_tasks == 8 and V1.with_tasks(V1.tasks) is V1
    assert space.num_branch_settings == len(space.branch_settings)
    a = space.sample(1, seed=0)[0]
    assert len(a.branches) == 8 and space.validate(a.to_string()) == a
    assert all(len(n.branches) == 8 for n in space.neighbors(a))
    net = build_model(a).eval()  # the heads of the space's tasks
    assert sorted(net(torch.zeros(1, 3, 32, 32))) == sorted(space.task_names)
    supernet = Supernet(tasks)
    assert supernet.space == space and sorted(supernet.extract(a).heads) == sorted(space.task_names)
    with pytest.raises(ValueError, match="branches"):
        V1.validate(a.to_string())  # a v1 string has three branch points
    with pytest.raises(ValueError, match="duplicate task names"):
        V1.with_tasks([tasks[0], tasks[0]])
