"""Sandwich variants and few-shot supernets: regions, dispatch, and train-supernet's new options."""

import itertools
import json
import random

import pytest
import torch

from nasbench_mt.cli import main
from nasbench_mt.measure.datasets import load_suite
from nasbench_mt.measure.measurer import Measurer, MeasureSpec, load_supernet, read_supernet
from nasbench_mt.measure.supernet import FewShotSupernet, Supernet
from nasbench_mt.space.arch import V1, few_shot_regions
from nasbench_mt.space.tasks import SCENE_TASKS
from nasbench_mt.testing import TINY_SUITE_KWARGS

NAMES = [t.name for t in SCENE_TASKS]


def test_regions_partition_the_branch_points():
    regions = few_shot_regions("stem-branch", NAMES, V1)
    assert len(regions) == 2 ** len(NAMES) and "none" in regions and "digit-count-seg" in regions
    for branches in itertools.product(V1.branch_choices, repeat=len(NAMES)):
        owners = [k for k, sets in regions.items() if all(b in s for b, s in zip(branches, sets))]
        assert len(owners) == 1
    with pytest.raises(ValueError, match="few-shot split"):
        few_shot_regions("by-kernel", NAMES, V1)
    with pytest.raises(ValueError, match="task_names"):
        few_shot_regions("stem-branch", NAMES[:2], V1)


def test_sandwich_without_options_is_unchanged():
    net = Supernet(SCENE_TASKS)
    a, b = random.Random(5), random.Random(5)
    got = net.sandwich(a, 3, separate_smallest=True)
    want = [V1.largest(), V1.smallest()]
    want.append(type(want[1])(want[1].stages, (0,) * 3, (), space=V1))
    want += [V1.random_arch(b) for _ in range(3)]
    assert got == want


@pytest.mark.parametrize("part", ["none", "digit", "count-seg"])
def test_sandwich_stays_in_its_region(part):
    net = Supernet(SCENE_TASKS)
    region = few_shot_regions("stem-branch", NAMES, V1)[part]
    rng = random.Random(0)
    for _ in range(20):
        members = net.sandwich(rng, 2, separate_smallest=True, separate_random=True, region=region)
        assert len(members) == 6
        for arch in members:  # (a part holds spellings: b=3,0,0 is the network b=0,0,0 laid out otherwise)
            assert all(b in s for b, s in zip(arch.written_branches, region))
        assert members[0].written_branches == tuple(min(s) for s in region)  # most separate, largest blocks
        assert members[1].written_branches == tuple(max(s) for s in region)


def test_few_shot_supernet_extracts_from_its_part():
    torch.manual_seed(0)
    net = FewShotSupernet(SCENE_TASKS, few_shot="stem-branch").eval()
    assert net.structure["few_shot"] == "stem-branch"
    arch = V1.sample(40, seed=1)
    for a in arch[:6]:
        part = net.part_of(a)
        want = net.parts[part].extract(a).state_dict()
        got = net.extract(a).state_dict()
        assert all(torch.equal(got[k], want[k]) for k in want)
        assert ("digit" in part.split("-")) == (a.written_branches[0] == 0)


@pytest.mark.slow
def test_train_supernet_few_shot_from_a_parent(generation_env):
    kw = TINY_SUITE_KWARGS
    parent, out = generation_env / "sn.pt", generation_env / "fs.pt"
    args = ["train-supernet", "--out", str(out), "--init-from", str(parent), "--few-shot", "stem-branch"]
    args += ["--epochs", "0.34", "--batch-size", "32", "--separate-random", "--threads", "1"]
    args += [f"--suite-arg={k}={v}" for k, v in kw.items()]
    assert main(args) == 0
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["few_shot"] == "stem-branch" and meta["init_from"] == parent.name
    assert meta["separate_random"] and meta["core_hours"] >= 0
    assert not list(generation_env.glob("fs.part-*"))  # the parts are assembled and their files removed
    suite = load_suite("mnist-scenes", **kw)
    loaded = load_supernet(read_supernet(out)["state"], suite, meta["structure"])
    assert isinstance(loaded, FewShotSupernet) and len(loaded.parts) == 8
    spec = MeasureSpec(supernet=str(out), suite_kwargs=kw, n_per_sample=4, calib_images=32)
    row, _ = Measurer(spec)(V1.sample(1, seed=0)[0])
    assert 0 <= row["mean_acc"] <= 100
