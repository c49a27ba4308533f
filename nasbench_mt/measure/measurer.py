"""Turn an architecture into a measured table row (supernet or standalone protocol).

Both protocols end the same way: BatchNorm statistics recalibrated (cumulative average) on a fixed set of
training batches and folded into the convolutions, then every exit of every task scored on the validation
and test splits, per-sample exit confidences and correctness kept for the first ``n_per_sample`` test
scenes, and the exact costs counted. Measurement runs with one intra-op thread so that a row is
bit-identical whichever worker computed it.
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np
import torch

from nasbench_mt.measure.datasets import Suite, load_suite, suite_tasks
from nasbench_mt.measure.evaluate import evaluate, fold_batchnorm, recalibrate_bn
from nasbench_mt.measure.latency import measure_latency, reference_net
from nasbench_mt.measure.proxies import compute_proxies
from nasbench_mt.measure.supernet import FewShotSupernet, Supernet
from nasbench_mt.measure.train import (
    DEVICES,
    TrainConfig,
    finetune_subnet,
    resolve_device,
    save_atomic,
    train_standalone,
)
from nasbench_mt.release.manifest import sha256_file
from nasbench_mt.release.schema import (
    EXIT_POSITIONS,
    MEAN_COLUMNS,
    SPLITS,
    mean_parts,
    ort_latency_columns,
    score_column,
    segment_columns,
    table_columns,
)
from nasbench_mt.space.arch import V1, Arch
from nasbench_mt.space.costs import analytic_costs
from nasbench_mt.space.model import MultiTaskNet, build_model

__all__ = ["MeasureSpec", "Measurer", "load_supernet", "read_supernet", "save_supernet"]

PROTOCOLS = ("supernet", "standalone", "latency", "latency-onnx", "proxies")


@dataclass(frozen=True)
class MeasureSpec:
    """Everything a worker needs to measure rows; plain data so it can be sent to other processes."""

    protocol: str = "supernet"
    supernet: str | None = None  # checkpoint path (supernet protocol)
    suite: str = "mnist-scenes"
    suite_kwargs: dict = field(default_factory=dict)
    n_per_sample: int = 1000
    calib_images: int = 1024
    calib_batch: int = 256
    train: dict = field(default_factory=dict)  # TrainConfig fields (standalone protocol)
    # TrainConfig fields of a per-subnet fine-tune before measuring (supernet protocol; empty: none)
    finetune: dict = field(default_factory=dict)
    latency_rounds: int = 30
    proxy_batch: int = 64  # proxies protocol: training scenes in the fixed batch (the first of the calib set)
    device: str = "cpu"  # auto | cpu | cuda: training and evaluation (latency is always timed on the CPU)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"invalid protocol: {self.protocol!r}; allowed: {list(PROTOCOLS)}")
        if str(self.device).split(":", 1)[0] not in DEVICES:
            raise ValueError(f"invalid device: {self.device!r}; allowed: {list(DEVICES)}")
        if self.protocol == "supernet" and not self.supernet:
            raise ValueError(
                "invalid supernet: None; allowed: a checkpoint path (train one with train-supernet)"
            )
        if self.finetune and self.protocol != "supernet":
            raise ValueError(
                f"invalid finetune for protocol {self.protocol!r}: {self.finetune}; allowed: only with the "
                "supernet protocol"
            )
        for what, given in (("finetune", self.finetune), ("train", self.train)):
            if given:  # a bad field or value fails here, before any worker starts
                allowed = [f.name for f in fields(TrainConfig)]
                unknown = sorted(set(given) - set(allowed))
                if unknown:
                    raise ValueError(f"invalid {what} fields: {unknown}; allowed: {allowed}")
                TrainConfig(**given)
        if self.protocol == "supernet" and not Path(self.supernet).is_file():
            raise ValueError(
                f"invalid supernet: {self.supernet} does not exist; allowed: a checkpoint file path"
            )


def save_supernet(supernet: Supernet | FewShotSupernet, path: str | Path, meta: dict) -> None:
    """``state_dict`` via ``torch.save`` plus a JSON side file (tasks, space, training config, sha256)."""
    path = Path(path)
    save_atomic(supernet.state_dict(), path)
    info = dict(
        meta, tasks=[asdict(t) for t in supernet.tasks], space=supernet.space.name, sha256=sha256_file(path)
    )
    path.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n")


def read_supernet(path: str | Path) -> dict:
    """A checkpoint and its JSON side file as one plain value ``{"state": bytes, "meta": dict}``.

    This is what a distributed run ships to its workers once; :class:`Measurer` accepts it as
    ``checkpoint=`` so that no worker needs the file.
    """
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"invalid supernet checkpoint: {path} does not exist")
    side = path.with_suffix(".json")
    meta = json.loads(side.read_text()) if side.is_file() else {}
    return {"state": path.read_bytes(), "meta": meta}


def load_supernet(
    path: str | Path | bytes, suite: Suite, structure: dict | None = None
) -> Supernet | FewShotSupernet:
    """Load a checkpoint written by :func:`save_supernet` (``weights_only=True``: no code is executed).

    ``path`` may also be the checkpoint's bytes (``read_supernet(path)["state"]``); ``structure`` is the
    :attr:`Supernet.structure` saved in its side file (absent in checkpoints that predate the options); one
    with a ``few_shot`` split loads as a :class:`~nasbench_mt.supernet.FewShotSupernet`.
    """
    structure = dict(structure or {})
    allowed = {*Supernet(suite.tasks).structure, "few_shot"}
    if not set(structure) <= allowed:
        raise ValueError(
            f"invalid supernet structure: {sorted(set(structure) - allowed)}; allowed keys: {sorted(allowed)}"
        )
    if isinstance(path, bytes):
        source: io.BytesIO | Path = io.BytesIO(path)
    else:
        source = Path(path)
        if not source.is_file():
            raise ValueError(f"invalid supernet checkpoint: {source} does not exist")
    net = (
        FewShotSupernet(suite.tasks, **structure)
        if "few_shot" in structure
        else Supernet(suite.tasks, **structure)
    )
    try:
        net.load_state_dict(torch.load(source, map_location="cpu", weights_only=True))
    except RuntimeError as err:
        first = str(err).splitlines()[1:2] or [str(err)]
        raise ValueError(
            f"invalid supernet checkpoint: its weights do not match the structure {net.structure} "
            f"({first[0].strip()}); allowed: the structure saved in the checkpoint's .json side file"
        ) from None
    return net.eval()


class Measurer:
    """Measures one architecture at a time under a :class:`MeasureSpec` (build once per process).

    ``checkpoint`` (supernet protocol) is :func:`read_supernet`'s value, used instead of reading
    ``spec.supernet`` from disk (distributed workers get it from the object store). After each call,
    :attr:`timings` holds the seconds its stages took (``benchmarks/bench_measure.py`` reports them).
    """

    timings: dict[str, float]

    def __init__(self, spec: MeasureSpec, checkpoint: dict | None = None) -> None:
        torch.set_num_threads(1)
        self.spec = spec
        self.timings = {}
        if spec.protocol in ("latency", "latency-onnx"):
            self.suite = None
            # the timed network carries the suite's heads; the built-in suite's are known without building it
            self.tasks = suite_tasks(spec.suite, **spec.suite_kwargs)
            self.space = V1.with_tasks(self.tasks)
            if spec.protocol == "latency-onnx":
                from nasbench_mt.measure.latency_onnx import export_onnx, onnx_session

                self.reference = onnx_session(export_onnx(reference_net()))
            else:
                self.reference = reference_net()
            return
        self.device = resolve_device(spec.device)
        self.suite = load_suite(spec.suite, **spec.suite_kwargs)
        self.tasks = self.suite.tasks
        self.space = V1.with_tasks(
            self.tasks
        )  # the space of this suite's task list: arch strings parse in it
        gen = np.random.default_rng(0)
        idx = np.sort(
            gen.choice(
                len(self.suite.train), size=min(spec.calib_images, len(self.suite.train)), replace=False
            )
        )
        if spec.protocol == "proxies":  # a fixed batch: the first proxy_batch scenes of the calibration set
            self.proxy_batch = self.suite.train.tensors(idx[: spec.proxy_batch])
            return
        x, _ = self.suite.train.tensors(idx)
        x = x.to(self.device).contiguous(memory_format=torch.channels_last)
        self.calib = [x[i : i + spec.calib_batch] for i in range(0, len(x), spec.calib_batch)]
        self.supernet = None
        if spec.protocol == "supernet":
            checkpoint = checkpoint if checkpoint is not None else read_supernet(spec.supernet)
            self.supernet = load_supernet(
                checkpoint["state"], self.suite, checkpoint["meta"].get("structure")
            )
            self.supernet_seed = checkpoint["meta"].get("seed", 0)

    def __call__(self, arch: Arch) -> tuple[dict, list[dict]]:
        """One table row (dict of columns) and its per-sample exit rows."""
        t0 = time.perf_counter()
        if self.spec.protocol == "latency":
            net = build_model(arch, self.tasks).eval()
            lat = measure_latency(net, self.reference, rounds=self.spec.latency_rounds)
            return {"arch_id": arch.written_id, **lat.as_row()}, []
        if self.spec.protocol == "proxies":
            x, y = self.proxy_batch
            row = {"arch_id": arch.written_id, **compute_proxies(arch, self.tasks, x, y)}
            return {**row, "measure_s": time.perf_counter() - t0}, []
        if self.spec.protocol == "latency-onnx":
            from nasbench_mt.measure.latency_onnx import measure_latency_onnx

            net = build_model(arch, self.tasks).eval()
            lat = measure_latency_onnx(net, self.reference, rounds=self.spec.latency_rounds).as_row("ort_")
            return {
                "arch_id": arch.written_id,
                **{c: lat.get(c, math.nan) for c in ort_latency_columns()},
            }, []
        if self.spec.protocol == "supernet" and self.spec.finetune:
            cfg = TrainConfig(**self.spec.finetune)
            net = finetune_subnet(self.supernet, arch, self.suite.train, cfg, device=self.device)
            seed = self.supernet_seed
        elif self.spec.protocol == "supernet":
            net = self.supernet.extract(arch)
            seed = self.supernet_seed
        else:
            cfg = TrainConfig(**self.spec.train)
            net = train_standalone(arch, self.suite.train, self.tasks, cfg, device=self.device)
            seed = cfg.seed
        stage = "train" if self.supernet is None or self.spec.finetune else "extract"
        self.timings = {stage: time.perf_counter() - t0}
        return self._score(arch, net, seed, t0)

    def _lap(self, stage: str, since: float) -> float:
        now = time.perf_counter()
        self.timings[stage] = now - since
        return now

    def _score(self, arch: Arch, net: MultiTaskNet, seed: int, t0: float) -> tuple[dict, list[dict]]:
        t = time.perf_counter()
        net = recalibrate_bn(net.to(self.device, memory_format=torch.channels_last), self.calib)
        net = fold_batchnorm(net)
        t = self._lap("recalibrate", t)
        results = {}
        for split in SPLITS:
            results[split] = evaluate(
                net,
                self.suite.split(split),
                self.tasks,
                n_per_sample=self.spec.n_per_sample if split == "test" else 0,
            )
            t = self._lap(f"evaluate_{split}", t)
        row: dict = {
            "arch_id": arch.written_id,
            "arch": arch.written_string,
            "protocol": self.spec.protocol,
            "seed": seed,
        }
        for split in SPLITS:
            for task in self.tasks:
                for k in EXIT_POSITIONS:
                    row[score_column(task.name, split, k)] = results[split].scores.get(
                        (task.name, k), math.nan
                    )
                row[score_column(task.name, split)] = results[split].scores[(task.name, EXIT_POSITIONS[-1])]
        for split, mean in MEAN_COLUMNS.items():
            row[mean] = float(np.mean([row[c] for c in mean_parts(self.tasks, split)]))
        # the costs of the parts, counted once per process and composed: measure_costs of the built network
        # gives the same numbers (tests/space/test_analytic_costs.py) at several times the cost per row
        costs = analytic_costs(arch, self.tasks, peak_memory=True)
        self._lap("costs", t)
        cost_row = costs.as_row()
        for col in segment_columns(self.tasks):
            cost_row.setdefault(col, 0)
        row.update(cost_row)
        for k in EXIT_POSITIONS:
            row.setdefault(f"macs_e{k}", math.nan)
        row["measure_s"] = time.perf_counter() - t0
        row = {c: row[c] for c in table_columns(self.tasks) if c in row}
        test = results["test"]
        exits = [
            {
                "arch_id": arch.written_id,
                "task": task,
                "exit": int(k),
                "conf": test.conf[(task, k)].tobytes(),
                "score": test.score[(task, k)].tobytes(),
            }
            for (task, k) in sorted(test.conf)
        ]
        return row, exits
