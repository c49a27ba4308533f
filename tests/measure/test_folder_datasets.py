"""Your own data: tiny synthetic UTKFace / CelebA / image-folder layouts through the whole pipeline, and every
kind of bad input (clear error naming the file and line, nothing already measured lost)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from nasbench_mt.cli import main
from nasbench_mt.measure.datasets import cache_dir, load_suite
from nasbench_mt.measure.evaluate import evaluate, task_loss
from nasbench_mt.measure.generate import GenerateConfig, generate
from nasbench_mt.measure.measurer import MeasureSpec
from nasbench_mt.measure.train import TrainConfig, resolve_device, train_standalone
from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.manifest import verify
from nasbench_mt.space.arch import V1
from predictors import create_predictor, encode_archs

N_IMAGES = 40
CELEBA_ATTRS = ["5_o_Clock_Shadow", "Male", "Smiling", "Wavy_Hair", "Young"]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NASBENCH_MT_CACHE", str(tmp_path / "cache"))


def _save(path: Path, rng: np.random.Generator, level: int) -> None:
    """A noisy image whose brightness follows ``level`` (so the labels are learnable), 44x50 (not square)."""
    arr = rng.integers(0, 120, (50, 44, 3)) + 25 * level
    Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(path)


def make_utkface(root: Path, n: int = N_IMAGES) -> Path:
    root.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        age, gender, race = int(rng.integers(1, 90)), i % 2, int(rng.integers(0, 5))
        suffix = ".jpg.chip.jpg" if i % 4 else ".png"
        _save(root / f"{age}_{gender}_{race}_2017011617{i:07d}{suffix}", rng, gender + race)
    return root


def make_celeba(root: Path, n: int = N_IMAGES, partition: bool = True) -> Path:
    images = root / "img_align_celeba"
    images.mkdir(parents=True)
    rng = np.random.default_rng(1)
    lines = [str(n), " ".join(CELEBA_ATTRS) + " "]
    parts = []
    for i in range(n):
        name = f"{i + 1:06d}.jpg"
        values = rng.choice([-1, 1], len(CELEBA_ATTRS))
        _save(images / name, rng, int(values[1] + values[2]) + 2)
        lines.append(name + " " + " ".join(f"{v:2d}" for v in values))
        parts.append(f"{name} {0 if i < n * 0.7 else 1 if i < n * 0.85 else 2}")
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    if partition:
        (root / "list_eval_partition.txt").write_text("\n".join(parts) + "\n")
    return root


def make_folder(root: Path, n: int = N_IMAGES, suffix: str = ".csv") -> Path:
    """An image folder, a label file and a JSON config beside them; returns the config path."""
    (root / "img").mkdir(parents=True)
    rng = np.random.default_rng(2)
    rows = []
    for i in range(n):
        row = {
            "file": f"img/p{i:03d}.png",
            "score": float(rng.normal(50, 10)),
            "smile": i % 2,
            "kind": "ab"[i % 3 // 2],
        }
        _save(root / row["file"], rng, row["smile"])
        rows.append(row)
    df = pd.DataFrame(rows)
    labels = root / f"labels{suffix}"
    df.to_parquet(labels) if suffix == ".parquet" else df.to_csv(labels, index=False)
    config = {
        "images": ".",
        "labels": labels.name,
        "image_column": "file",
        "tasks": [
            {"column": "score", "kind": "regression", "tolerance": 4},
            {"column": "smile", "kind": "classification", "num_classes": 2},
            {"column": "kind", "kind": "classification", "classes": ["a", "b"]},
        ],
    }
    (root / "config.json").write_text(json.dumps(config))
    return root / "config.json"


def _pipeline(tmp: Path, suite: str, args: dict) -> Path:
    """train-supernet then generate 4 archs through the CLI (in process); returns the release directory."""
    suite_args = ["--suite", suite, *(f"--suite-arg={k}={v}" for k, v in args.items())]
    sn = tmp / "sn.pt"
    assert main(["train-supernet", "--out", str(sn), "--epochs", "1", "--batch-size", "8", *suite_args]) == 0
    out = tmp / "release"
    cmd = ["generate", "--out", str(out), "--n", "4", "--shard-size", "2", "--supernet", str(sn)]
    assert main([*cmd, "--n-per-sample", "6", "--device", "auto", *suite_args]) == 0
    return out


def _check_release(out: Path, metrics: list[str]) -> None:
    manifest = verify(out)
    assert manifest["generation"]["archs"]["device"] == str(resolve_device("auto"))
    bench = load_benchmark(path=out)
    assert len(bench) == 4 and [t.metric for t in bench.tasks] == metrics
    table = bench.table
    assert list(table.arch_id) == [a.written_id for a in V1.sample(4, seed=0)]
    ranked = [t.name for t in bench.tasks if t.higher_is_better]
    expect = table[[f"test_{t}" for t in ranked]].mean(axis=1)
    np.testing.assert_allclose(table.mean_acc, expect)
    for t in bench.tasks:
        col = table[f"test_{t.name}"]
        assert col.notna().all() and (col >= 0).all()
        if t.higher_is_better:
            assert (col <= 100).all()
    arch = bench[0].arch
    policy = bench.exit_metrics(arch, {t.name: 0.5 for t in bench.tasks})
    assert policy.policy_acc.shape == (1, 3)
    X = encode_archs(list(table.arch), tasks=bench.tasks)
    for target in ("mean_acc", f"test_{bench.tasks[0].name}"):
        model = create_predictor("xgb", random_state=0).fit(X, table[target].to_numpy())
        assert np.isfinite(model.predict(X)).all()


@pytest.mark.slow  # ~100 s: trains and generates end to end; the CelebA pipeline covers the same path
def test_utkface_pipeline(tmp_path):
    root = make_utkface(tmp_path / "UTKFace")
    out = _pipeline(tmp_path, "utkface", {"root": root})
    _check_release(out, ["mae", "acc", "acc"])
    bench = load_benchmark(path=out)
    age = bench.tasks[0]
    assert age.name == "age" and age.tolerance == 5.0 and age.target_std > 0
    assert not bench.higher_is_better("test_age")
    assert bench.best("test_age").accuracy["age"] == bench.table.test_age.min()  # lower MAE is better
    # the MAE is in years: far above the standardised scale of a head that has barely trained
    assert bench.table.test_age.min() > 1.0
    # latency pass: the timed network carries the suite's heads (age 1 output, no dense head)
    cmd = ["generate", "--out", str(out), "--n", "4", "--shard-size", "2", "--protocol", "latency"]
    assert main([*cmd, "--latency-rounds", "5", "--suite", "utkface", f"--suite-arg=root={root}"]) == 0
    assert load_benchmark(path=out).table.latency_ms.gt(0).all()


def test_celeba_pipeline(tmp_path):
    root = make_celeba(tmp_path / "celeba")
    out = _pipeline(tmp_path, "celeba", {"root": root, "attrs": "Male,Smiling,5_o_Clock_Shadow"})
    _check_release(out, ["acc", "acc", "acc"])
    assert [t.name for t in load_benchmark(path=out).tasks] == ["male", "smiling", "a_5_o_clock_shadow"]


def test_celeba_official_partition_and_seeded_split(tmp_path):
    root = make_celeba(tmp_path / "celeba")
    suite = load_suite("celeba", root=str(root))
    assert (len(suite.train), len(suite.val), len(suite.test)) == (28, 6, 6)
    assert suite.train.images.shape == (28, 3, 32, 32) and suite.train.images.dtype == np.uint8
    assert [t.name for t in suite.tasks] == ["male", "smiling", "wavy_hair"]
    seeded = load_suite("celeba", root=str(root), partition=False, seed=3)
    again = load_suite("celeba", root=str(root), partition=False, seed=3)
    assert seeded.fingerprint == again.fingerprint != suite.fingerprint
    assert len(seeded.test) == 6


def test_image_folder_csv_and_parquet(tmp_path):
    config = make_folder(tmp_path / "csv")
    suite = load_suite("image-folder", config=str(config))
    assert [(t.name, t.metric) for t in suite.tasks] == [("score", "mae"), ("smile", "acc"), ("kind", "acc")]
    assert suite.train.targets["score"].dtype == np.float32 and suite.train.targets["kind"].max() == 1
    score = suite.tasks[0]
    np.testing.assert_allclose(score.target_mean, suite.train.targets["score"].mean(), rtol=1e-5)
    parquet = make_folder(tmp_path / "pq", suffix=".parquet")
    assert load_suite("image-folder", config=str(parquet)).fingerprint == suite.fingerprint
    fields = json.loads(config.read_text()) | {
        "images": str(tmp_path / "csv"),
        "labels": str(tmp_path / "csv/labels.csv"),
    }
    assert load_suite("image-folder", **fields).fingerprint == suite.fingerprint


def test_cache_is_reused_and_invalidated(tmp_path):
    root = make_utkface(tmp_path / "utk")
    a = load_suite("utkface", root=str(root))
    assert len(list(cache_dir().glob("utkface-*.npz"))) == 1
    assert load_suite("utkface", root=str(root)).fingerprint == a.fingerprint
    first = sorted(root.iterdir())[0]
    first.rename(first.with_name("5" + first.name[first.name.index("_") :]))  # a changed age
    b = load_suite("utkface", root=str(root))
    assert len(list(cache_dir().glob("utkface-*.npz"))) == 2 and b.fingerprint != a.fingerprint


def test_regression_is_standardised_for_training_and_scored_in_units(tmp_path):
    suite = load_suite("image-folder", config=str(make_folder(tmp_path / "f")))
    task = suite.tasks[0]
    y = torch.tensor([task.target_mean, task.target_mean + task.target_std])
    assert task_loss(task, torch.tensor([[0.0], [1.0]]), y).item() == pytest.approx(0.0, abs=1e-6)

    class Zero(torch.nn.Module):  # predicts the training mean at one exit
        def __init__(self):
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            z = self.w * x[:, :1, 0, 0]
            return {
                t.name: {4: z if t.kind == "regression" else z.repeat(1, t.num_outputs)} for t in suite.tasks
            }

    res = evaluate(Zero(), suite.test, suite.tasks, n_per_sample=4, channels_last=False)
    err = np.abs(suite.test.targets["score"] - task.target_mean)
    assert res.scores[("score", 4)] == pytest.approx(err.mean(), rel=1e-5)
    assert list(res.score[("score", 4)]) == [255 if e <= task.tolerance else 0 for e in err[:4]]
    assert not res.conf[("score", 4)].any()


def test_standalone_protocol_and_devices(tmp_path):
    suite = load_suite("image-folder", config=str(make_folder(tmp_path / "f")))
    net = train_standalone(
        V1.smallest(), suite.train, suite.tasks, TrainConfig(epochs=1, batch_size=8), device="auto"
    )
    res = evaluate(net, suite.test, suite.tasks)
    assert np.isfinite(res.scores[("score", 4)])
    assert resolve_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(ValueError, match="invalid device"):
        resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            resolve_device("cuda")
    with pytest.raises(ValueError, match="batch_size"):
        train_standalone(V1.smallest(), suite.val, suite.tasks, TrainConfig(epochs=1, batch_size=64))


# ----------------------------------------------------------------------------------------- bad input
def _edit_csv(config: Path, fn) -> None:
    path = config.parent / "labels.csv"
    lines = path.read_text().splitlines()
    fn(lines)
    path.write_text("\n".join(lines) + "\n")


def test_missing_image(tmp_path):
    config = make_folder(tmp_path)
    (tmp_path / "img/p002.png").unlink()
    with pytest.raises(ValueError, match=r"labels\.csv line 4: image .*p002\.png does not exist"):
        load_suite("image-folder", config=str(config))


def test_unknown_label_column(tmp_path):
    config = make_folder(tmp_path)
    cfg = json.loads(config.read_text())
    cfg["tasks"][1]["column"] = "smiles"
    config.write_text(json.dumps(cfg))
    with pytest.raises(ValueError, match=r"labels\.csv line 1: unknown label column 'smiles'"):
        load_suite("image-folder", config=str(config))


@pytest.mark.parametrize(
    "column,value,match",
    [
        (2, "2", r"line 6: label smile='2' out of the declared range 0\.\.1"),
        (3, "c", r"line 6: label kind='c' out of the declared classes"),
        (1, "abc", r"line 6: label score='abc' is not a number"),
        (1, "", r"line 6: missing value in label column 'score'"),
    ],
)
def test_label_out_of_range(tmp_path, column, value, match):
    config = make_folder(tmp_path)

    def edit(lines):
        cells = lines[5].split(",")
        cells[column] = value
        lines[5] = ",".join(cells)

    _edit_csv(config, edit)
    with pytest.raises(ValueError, match=match):
        load_suite("image-folder", config=str(config))


def test_parquet_label_out_of_range_names_the_row(tmp_path):
    config = make_folder(tmp_path, suffix=".parquet")
    df = pd.read_parquet(tmp_path / "labels.parquet")
    df.loc[9, "smile"] = 5
    df.to_parquet(tmp_path / "labels.parquet")
    with pytest.raises(ValueError, match=r"labels\.parquet row 10: label smile='5'"):
        load_suite("image-folder", config=str(config))


def test_unreadable_image(tmp_path):
    config = make_folder(tmp_path)
    (tmp_path / "img/p010.png").write_bytes(b"not an image at all")
    with pytest.raises(ValueError, match=r"labels\.csv line 12: image .*p010\.png is unreadable"):
        load_suite("image-folder", config=str(config))


def test_malformed_utkface_names(tmp_path):
    root = make_utkface(tmp_path / "utk")
    _save(root / "39_1_20170116174525125.jpg.chip.jpg", np.random.default_rng(0), 1)  # no race field
    with pytest.raises(
        ValueError, match=r"39_1_20170116174525125\.jpg\.chip\.jpg: malformed UTKFace file name"
    ):
        load_suite("utkface", root=str(root))
    suite = load_suite("utkface", root=str(root), skip_malformed=True)
    assert len(suite.train) + len(suite.val) + len(suite.test) == N_IMAGES
    _save(root / "30_3_1_20170116174525125.jpg", np.random.default_rng(0), 1)
    with pytest.raises(
        ValueError, match=r"30_3_1_20170116174525125\.jpg: label gender='3' out of the declared"
    ):
        load_suite("utkface", root=str(root), skip_malformed=False)


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda ls: ls.__setitem__(0, "41"), r"list_attr_celeba\.txt line 1: declares 41 images but 40"),
        (lambda ls: ls.__setitem__(0, "Male Smiling"), r"list_attr_celeba\.txt line 1: expected the number"),
        (lambda ls: ls.__setitem__(6, ls[6][:-3]), r"list_attr_celeba\.txt line 7: 5 fields; expected"),
        (
            lambda ls: ls.__setitem__(6, ls[6].replace("-1", " 0")),
            r"line 7: label \w+='0' out of the declared",
        ),
        (
            lambda ls: ls.__setitem__(4, "000999.jpg" + ls[4][10:]),
            r"line 5: image .*000999\.jpg does not exist",
        ),
    ],
)
def test_malformed_celeba(tmp_path, edit, match):
    root = make_celeba(tmp_path, partition=False)
    path = root / "list_attr_celeba.txt"
    lines = path.read_text().splitlines()
    lines[6] = "000005.jpg -1 -1 -1 -1 -1"
    edit(lines)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=match):
        load_suite("celeba", root=str(root), attrs=CELEBA_ATTRS[:3])


def test_celeba_unknown_attribute_and_task_count(tmp_path):
    root = make_celeba(tmp_path)
    with pytest.raises(ValueError, match=r"list_attr_celeba\.txt line 2: unknown attribute .*'Smiles'"):
        load_suite("celeba", root=str(root), attrs="Male,Smiles,Young")
    two = load_suite("celeba", root=str(root), attrs=["Male", "Smiling"])  # any number of tasks
    assert [t.name for t in two.tasks] == ["male", "smiling"]
    with pytest.raises(ValueError, match=r"declares no tasks"):
        load_suite("celeba", root=str(root), attrs=[])
    (root / "list_eval_partition.txt").write_text("000001.jpg 0\n000002.jpg 7\n")
    with pytest.raises(ValueError, match=r"list_eval_partition\.txt line 2: malformed partition line"):
        load_suite("celeba", root=str(root))


def test_bad_data_on_resume_keeps_measured_shards(tmp_path):
    """A resume that meets a corrupted dataset fails at suite load, before measuring or touching anything."""
    from nasbench_mt.measure.measurer import save_supernet
    from nasbench_mt.measure.supernet import Supernet

    root = make_utkface(tmp_path / "utk")
    suite = load_suite("utkface", root=str(root))
    save_supernet(Supernet(suite.tasks), tmp_path / "sn.pt", {"seed": 0})
    spec = MeasureSpec(
        supernet=str(tmp_path / "sn.pt"),
        suite="utkface",
        suite_kwargs={"root": str(root)},
        n_per_sample=4,
        calib_images=16,
    )
    out = tmp_path / "release"
    generate(GenerateConfig(out=str(out), n=2, shard_size=2, spec=spec), progress=False)
    spec50 = MeasureSpec(
        supernet=str(tmp_path / "sn.pt"), suite="utkface", suite_kwargs={"root": str(root)}, n_per_sample=50
    )
    with pytest.raises(ValueError, match="n_per_sample: 50 > 6 test images"):
        generate(GenerateConfig(out=str(tmp_path / "other"), n=1, spec=spec50), progress=False)
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()}
    assert {"archs-00000.parquet", "exits-00000.parquet", "manifest.json"} <= set(before)
    sorted(root.iterdir())[3].write_bytes(b"\xff\xd8 truncated")
    with pytest.raises(ValueError, match="is unreadable"):
        generate(GenerateConfig(out=str(out), n=4, shard_size=2, spec=spec), resume=True, progress=False)
    assert {p.name: p.read_bytes() for p in out.iterdir() if p.is_file()} == before
    assert len(load_benchmark(path=out)) == 2


def test_suite_arguments_are_checked(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"unknown arguments \['roots'\] of dataset suite 'utkface'"):
        load_suite("utkface", roots="x")
    with pytest.raises(ValueError, match=r"UTKFace folder .*nope does not exist"):
        load_suite("utkface", root=str(tmp_path / "nope"))
    assert main(["train-supernet", "--out", str(tmp_path / "sn.pt"), "--suite", "utkface"]) == 2
    assert "needs the arguments ['root']" in capsys.readouterr().err
