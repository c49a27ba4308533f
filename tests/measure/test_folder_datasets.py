"""Your own data: tiny synthetic UTKFace / CelebA / MTFL / image-folder layouts through the whole pipeline
(every task kind: classification, regression of one value, of several and of points, dense masks), and every
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


MTFL_FOLDERS = {"training.txt": ["lfw_5590", "net_7876"], "testing.txt": ["AFLW"]}
MTFL_SIZES = [(60, 50), (50, 50), (48, 64)]  # (width, height) as stored, so the crop moves the points


def _landmarks(rng: np.random.Generator, w: int, h: int) -> np.ndarray:
    """Five points (eyes, nose, mouth corners) in pixels, as ``x1..x5 y1..y5``."""
    side = min(w, h)
    base = np.array([[0.3, 0.4], [0.7, 0.4], [0.5, 0.55], [0.35, 0.75], [0.65, 0.75]])
    pts = base * side + [(w - side) / 2, (h - side) / 2] + rng.normal(0, 1.0, (5, 2))
    return np.concatenate([pts[:, 0], pts[:, 1]])


def make_mtfl(root: Path, n_train: int = 40, n_test: int = 8) -> Path:
    """The MTFL layout: ``training.txt`` / ``testing.txt`` with Windows-style paths into AFLW/, lfw_5590/ and
    net_7876/, ``path x1..x5 y1..y5 gender smile glasses pose`` with 1-based codes."""
    rng = np.random.default_rng(3)
    for name, n in (("training.txt", n_train), ("testing.txt", n_test)):
        lines = []
        for i in range(n):
            folder = MTFL_FOLDERS[name][i % len(MTFL_FOLDERS[name])]
            (root / folder).mkdir(parents=True, exist_ok=True)
            w, h = MTFL_SIZES[i % len(MTFL_SIZES)]
            codes = [int(rng.integers(1, 3)), i % 2 + 1, int(rng.integers(1, 3)), int(rng.integers(1, 6))]
            arr = rng.integers(0, 120, (h, w, 3)) + 60 * (codes[1] - 1)
            Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8)).save(
                root / folder / f"{name[:4]}{i:03d}.jpg"
            )
            coords = " ".join(f"{v:.2f}" for v in _landmarks(rng, w, h))
            lines.append(f"{folder}\\{name[:4]}{i:03d}.jpg {coords} " + " ".join(map(str, codes)))
        (root / name).write_text("\n".join(lines) + "\n")
    return root


def make_kinds_folder(root: Path, n: int = N_IMAGES) -> Path:
    """An image folder whose three tasks are one of each other kind: dense masks (``seg``, 3 classes), two
    points from four columns (``eyes``) and three values in one list-valued column (``box``)."""
    (root / "img").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(4)
    rows = []
    for i in range(n):
        w, h = MTFL_SIZES[i % len(MTFL_SIZES)]
        image = rng.integers(0, 120, (h, w, 3)) + 40 * (i % 3)
        Image.fromarray(image.astype(np.uint8)).save(root / f"img/p{i:03d}.png")
        mask = (np.arange(w)[None, :] * 3 // w + np.arange(h)[:, None] * 0 + i) % 3
        Image.fromarray(mask.astype(np.uint8), mode="L").save(root / f"masks/p{i:03d}.png")
        pts = _landmarks(rng, w, h)
        rows.append(
            {
                "file": f"img/p{i:03d}.png",
                "mask": f"masks/p{i:03d}.png",
                "lx": pts[0],
                "ly": pts[5],
                "rx": pts[1],
                "ry": pts[6],
                "box": " ".join(f"{v:.1f}" for v in rng.normal(10, 2, 3)),
            }
        )
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    config = {
        "images": ".",
        "labels": "labels.csv",
        "image_column": "file",
        "tasks": [
            {"column": "mask", "kind": "dense", "num_classes": 3, "out_size": 8, "name": "seg"},
            {
                "column": ["lx", "ly", "rx", "ry"],
                "kind": "regression",
                "points": 2,
                "norm_points": [0, 1],
                "name": "eyes",
            },
            {"column": "box", "kind": "regression", "num_values": 3, "tolerance": 1.5},
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
    assert policy.policy_acc.shape == (1, len(bench.tasks))
    X = encode_archs(list(table.arch), tasks=bench.tasks)
    for target in ("mean_acc", f"test_{bench.tasks[0].name}"):
        model = create_predictor("xgb", random_state=0).fit(X, table[target].to_numpy())
        assert np.isfinite(model.predict(X)).all()


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


def test_mtfl_pipeline(tmp_path):
    root = make_mtfl(tmp_path / "MTFL")
    out = _pipeline(tmp_path, "mtfl", {"root": root})
    _check_release(out, ["nme", "acc", "acc"])
    bench = load_benchmark(path=out)
    landmarks = bench.tasks[0]
    assert [t.name for t in bench.tasks] == ["landmarks", "smile", "glasses"]
    assert (landmarks.points, landmarks.norm_points, landmarks.tolerance) == (5, (0, 1), 0.1)
    assert landmarks.num_outputs == 10 and not bench.higher_is_better("test_landmarks")
    assert bench.table.test_landmarks.gt(0).all()
    exits = pd.read_parquet(out / "exits-00000.parquet")
    rows = exits[exits.task == "landmarks"]
    assert len(rows) > 0 and all(len(c) == 6 and not any(c) for c in rows.conf)


def test_folder_dense_and_points_pipeline(tmp_path):
    config = make_kinds_folder(tmp_path / "kinds")
    out = _pipeline(tmp_path, "image-folder", {"config": config})
    _check_release(out, ["miou", "nme", "mae"])
    bench = load_benchmark(path=out)
    seg, eyes, box = bench.tasks
    assert (seg.kind, seg.num_outputs, seg.out_size) == ("dense", 3, 8)
    assert (eyes.points, eyes.norm_points, eyes.num_outputs) == (2, (0, 1), 4)
    assert (box.kind, box.num_outputs, box.points, box.tolerance) == ("regression", 3, 0, 1.5)
    assert list(bench.table.mean_acc) == list(bench.table.test_seg)  # the only higher-is-better task


def test_mtfl_layout_and_splits(tmp_path):
    root = make_mtfl(tmp_path / "MTFL")
    suite = load_suite("mtfl", root=str(root), tasks="landmarks,gender,pose")
    assert (len(suite.train), len(suite.val), len(suite.test)) == (34, 6, 8)
    assert [(t.name, t.metric, t.num_outputs) for t in suite.tasks] == [
        ("landmarks", "nme", 10),
        ("gender", "acc", 2),
        ("pose", "acc", 5),
    ]
    lines = [line.split() for line in (root / "testing.txt").read_text().splitlines()]
    first = np.array(lines[0][1:11], dtype=float)  # testing.txt line 1: a 60x50 image, cropped to 50x50
    expect = np.stack([(first[:5] - 5) / 50, first[5:] / 50], axis=1).reshape(-1)  # x1, y1, x2, y2, ...
    np.testing.assert_allclose(suite.test.targets["landmarks"][0], expect, rtol=1e-6)
    assert list(suite.test.targets["pose"]) == [int(parts[14]) - 1 for parts in lines]
    seeded = load_suite("mtfl", root=str(root), official_split=False, seed=1)
    assert len(seeded.train) + len(seeded.val) + len(seeded.test) == 48 and len(seeded.test) == 7
    task = suite.tasks[0]
    assert task.target_mean == pytest.approx(float(suite.train.targets["landmarks"].mean()), rel=1e-5)


def test_dense_and_multi_value_labels(tmp_path):
    config = make_kinds_folder(tmp_path / "kinds")
    suite = load_suite("image-folder", config=str(config))
    seg = suite.train.targets["seg"]
    assert (
        seg.shape == (len(suite.train), 8, 8) and seg.dtype == np.int64 and set(np.unique(seg)) == {0, 1, 2}
    )
    assert suite.train.targets["eyes"].shape == (len(suite.train), 4)
    assert suite.train.targets["box"].shape == (len(suite.train), 3)
    # the mask gets the image's centre crop and a nearest-neighbour resize: as PIL's NEAREST on the crop
    df = pd.read_csv(config.parent / "labels.csv").sort_values("file")
    first_test = int(np.sort(np.random.default_rng(0).permutation(N_IMAGES)[:6])[0])  # the seeded split
    with Image.open(config.parent / df.iloc[first_test]["mask"]) as m:
        w, h = m.size
        side = min(w, h)
        box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
        expect = np.asarray(m.crop(box).resize((8, 8), Image.Resampling.NEAREST))
    np.testing.assert_array_equal(suite.test.targets["seg"][0], expect)
    assert len(np.unique(expect)) == 3


def test_nme_and_per_sample_records():
    from nasbench_mt.measure.suite import Split
    from nasbench_mt.space.tasks import TaskSpec

    eyes = TaskSpec("eyes", "regression", 4, points=2, norm_points=(0, 1), tolerance=0.08)
    blob = TaskSpec("blob", "regression", 6, points=3, tolerance=0.1)  # bounding-box normaliser
    cls = TaskSpec("c", "classification", 2)
    y_eyes = np.array([[0.2, 0.5, 0.6, 0.5], [0.0, 0.0, 0.0, 0.8]], dtype=np.float32)
    y_blob = np.array([[0, 0, 0.4, 0, 0, 0.9], [0, 0, 0.5, 0.5, 0.2, 0.5]], dtype=np.float32)
    shift = np.array([0.02, 0.0, 0.0, 0.06], dtype=np.float32)  # per point: 0.02 then 0.06 away

    class Fixed(torch.nn.Module):  # predicts the ground truth moved by ``shift`` (blob: by 0.1 in x)
        def forward(self, x):
            n = len(x)
            e = torch.from_numpy(y_eyes + shift)[:n]
            b = torch.from_numpy(y_blob)[:n] + torch.tensor([0.1, 0, 0.1, 0, 0.1, 0])
            return {"eyes": {4: e}, "blob": {4: b}, "c": {4: torch.zeros(n, 2)}}

    split = Split(
        np.zeros((2, 3, 4, 4), np.uint8),
        {"eyes": y_eyes, "blob": y_blob, "c": np.zeros(2, np.int64)},
    )
    res = evaluate(Fixed(), split, [eyes, blob, cls], n_per_sample=2, channels_last=False)
    nme_eyes = [0.04 / 0.4, 0.04 / 0.8]  # mean distance 0.04, inter-ocular 0.4 and 0.8
    nme_blob = [0.1 / np.sqrt(0.4 * 0.9), 0.1 / np.sqrt(0.5 * 0.5)]
    assert res.scores[("eyes", 4)] == pytest.approx(np.mean(nme_eyes), rel=1e-5)
    assert res.scores[("blob", 4)] == pytest.approx(np.mean(nme_blob), rel=1e-5)
    assert list(res.score[("eyes", 4)]) == [0, 255]  # NME 0.1 is above the tolerance 0.08, 0.05 is not
    assert list(res.score[("blob", 4)]) == [255 if e <= 0.1 else 0 for e in nme_blob]
    assert not res.conf[("eyes", 4)].any()


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


def test_malformed_mtfl(tmp_path):
    root = make_mtfl(tmp_path / "MTFL")
    path = root / "training.txt"
    good = path.read_text().splitlines()

    def expect(line: int, text: str, match: str, **kwargs) -> None:
        lines = list(good)
        lines[line - 1] = text
        path.write_text("\n".join(lines) + "\n")
        with pytest.raises(ValueError, match=match):
            load_suite("mtfl", root=str(root), **kwargs)

    parts = good[2].split()
    expect(3, " ".join(parts[:10] + parts[11:]), r"training\.txt line 3: 14 fields; expected 15")
    expect(
        3,
        " ".join(parts[:14] + ["6"]),
        r"line 3: label pose='6' out of the declared range 1\.\.5",
        tasks="landmarks,smile,pose",
    )
    expect(3, " ".join(parts[:12] + ["0"] + parts[13:]), r"line 3: label smile='0' out of the declared range")
    expect(3, " ".join(parts[:3] + ["abc"] + parts[4:]), r"line 3: label landmarks='abc' is not a number")
    eyes = parts[:2] + [parts[1]] + parts[3:7] + [parts[6]] + parts[8:]  # right eye on the left eye
    expect(3, " ".join(eyes), r"training\.txt line 3: label landmarks: points 0 and 1 coincide")
    expect(
        3, "lfw_5590\\nope.jpg" + good[2][good[2].index(" ") :], r"line 3: image .*nope\.jpg does not exist"
    )
    path.write_text("\n".join(good) + "\n")
    with pytest.raises(ValueError, match=r"invalid MTFL task: 'age'; allowed: \['landmarks'"):
        load_suite("mtfl", root=str(root), tasks="landmarks,age,smile")
    (root / "training.txt").unlink()
    (root / "testing.txt").unlink()
    with pytest.raises(ValueError, match=r"no MTFL label file in .*; looked for \['training\.txt'"):
        load_suite("mtfl", root=str(root))


def _kinds_error(tmp_path, edit, match) -> None:
    config = make_kinds_folder(tmp_path / "kinds")
    edit(config.parent)
    with pytest.raises(ValueError, match=match):
        load_suite("image-folder", config=str(config))


def _set_cell(root: Path, row: int, column: str, value) -> None:
    df = pd.read_csv(root / "labels.csv")
    df[column] = df[column].astype(object)
    df.loc[row, column] = value
    df.to_csv(root / "labels.csv", index=False)


@pytest.mark.parametrize(
    "edit,match",
    [
        (lambda r: (r / "masks/p004.png").unlink(), r"labels\.csv line 6: mask .*p004\.png does not exist"),
        (
            lambda r: Image.fromarray(np.full((50, 60), 3, np.uint8), mode="L").save(r / "masks/p003.png"),
            r"line 5: mask .*p003\.png has the value 3 out of the declared classes 0\.\.2 of 'seg'",
        ),
        (
            lambda r: Image.fromarray(np.zeros((50, 60, 3), np.uint8)).save(r / "masks/p003.png"),
            r"line 5: mask .*p003\.png has mode RGB; allowed: a single-channel image",
        ),
        (
            lambda r: Image.fromarray(np.zeros((40, 40), np.uint8), mode="L").save(r / "masks/p003.png"),
            r"line 5: mask .*p003\.png is 40x40 but its image is 60x50",
        ),
        (lambda r: _set_cell(r, 7, "box", "1 2"), r"line 9: label box has 2 values; expected 3"),
        (lambda r: _set_cell(r, 7, "box", "[1, 2, x]"), r"line 9: label box='\[1, 2, x\]' is not a list"),
        (lambda r: _set_cell(r, 7, "ry", ""), r"line 9: missing value in label column 'ry'"),
        (lambda r: _set_cell(r, 7, "rx", "inf"), r"line 9: label rx='inf' out of the declared range"),
    ],
)
def test_bad_dense_and_multi_value_labels(tmp_path, edit, match):
    _kinds_error(tmp_path, edit, match)


def test_bad_label_column_declarations():
    from nasbench_mt.measure.folder_datasets import LabelColumn

    with pytest.raises(ValueError, match=r"invalid kind of label column 'm': 'mask'; allowed: \['classif"):
        LabelColumn("m", "mask")
    with pytest.raises(ValueError, match=r"invalid column: \['a', 'b'\]; allowed: a list of columns only"):
        LabelColumn(["a", "b"], "regression")
    with pytest.raises(ValueError, match=r"invalid points of label column 'p': 3 with 4 values"):
        LabelColumn("p", "regression", num_values=4, points=3)
    with pytest.raises(ValueError, match=r"invalid norm_points for 'p': \[0, 5\]"):
        LabelColumn("p", "regression", points=5, norm_points=(0, 5))
    with pytest.raises(ValueError, match=r"invalid num_classes of label column 'm'"):
        LabelColumn("m", "dense")
    with pytest.raises(ValueError, match=r"invalid layout of label column 'p': 'yx'"):
        LabelColumn("p", "regression", points=2, layout="yx")
