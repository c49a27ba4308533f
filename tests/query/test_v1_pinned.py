"""The shipped v1 release answers exactly as before the search space took its task list from the release:
ids, strings, best rows, the Pareto front and the space's draws and moves are pinned to values read from the
release before that change (the commit that introduced this file states where they come from)."""

import hashlib
import random

import pytest

from nasbench_mt import V1, load_benchmark
from nasbench_mt.release.manifest import space_from_manifest


@pytest.fixture(scope="module")
def v1():
    return load_benchmark()


def _digest(items) -> str:
    return hashlib.sha1("\n".join(items).encode()).hexdigest()[:12]


def test_v1_space_is_the_scene_tasks(v1):
    assert v1.space is V1 and space_from_manifest(v1.manifest) is V1
    assert V1.task_names == ("digit", "count", "seg") and V1.num_tasks == 3
    assert V1.size == 125_977_689_353_880 and V1.num_branch_settings == len(V1.branch_settings) == 35


@pytest.mark.parametrize(
    ("row", "arch_id", "arch", "mean_acc"),
    [
        (0, "3f3dde9aadb1", "k5e3,k5e6,k5e4|k5e4,k5e6,k3e6|k3e3|k5e6,k7e6|b=1,2,0|x=", 66.743628),
        (1, "5cb836690307", "k3e4,k5e4|k3e6,k5e4|k5e3,k7e3,k3e6|k7e6,k7e3,k7e4|b=2,1,2|x=2", 67.024098),
        (2500, "d58c8d2a2b7f", "k5e6,k7e3,k5e3|k7e4,k7e4|k5e3,k7e6,k3e6|k5e3|b=1,1,1|x=1,3", 66.894973),
        (4999, "e5be24e1f640", "k5e6,k7e6,k3e3|k7e4,k5e4,k7e6|k7e3|k5e3,k7e3,k7e4|b=3,3,1|x=3", 67.45716),
    ],
)
def test_v1_rows(v1, row, arch_id, arch, mean_acc):
    r = v1[row]
    assert (r.arch_id, r.arch) == (arch_id, arch)
    assert v1.table.mean_acc.iloc[row] == pytest.approx(mean_acc, abs=1e-6)
    assert v1.query(arch).arch_id == arch_id == v1.query(arch_id).arch_id


def test_v1_answers(v1):
    assert len(v1) == 5000 and [t.name for t in v1.tasks] == list(V1.task_names)
    best = v1.best("mean_acc")
    assert (best.arch_id, best.arch) == (
        "38e06422fe15",
        "k3e4,k5e4|k5e6,k3e4,k7e4|k7e6,k3e3|k7e3|b=2,2,0|x=1,2",
    )
    assert v1.best("test_seg").arch_id == "f0d300a2f4db"
    assert v1.where("latency_ms < 14").best("mean_acc").arch_id == "38e06422fe15"
    assert v1.query(v1[0].arch).accuracy == pytest.approx({"digit": 80.34, "count": 80.32, "seg": 39.570884})
    front = v1.pareto(["mean_acc", "latency_norm"]).table
    assert len(front) == 19 and list(front.arch_id[:3]) == ["38e06422fe15", "c18c65cfc90c", "d26e0dd8dca2"]
    assert _digest(sorted(front.arch_id)) == "549fb6cd0480"


def test_v1_draws_and_moves():
    drawn = V1.sample(3, seed=7)
    assert [a.id for a in drawn] == ["4b2ac99f03e0", "bbe5fe42dfc5", "8b38570727c3"]
    assert _digest(n.to_string() for n in V1.neighbors(drawn[0])) == "ddb2acdd04b9"
    assert (
        V1.mutate(drawn[0], random.Random(1)).to_string()
        == "k3e4|k3e3,k3e4|k7e3,k3e3|k3e3,k3e6|b=3,0,3|x=1,2"
    )
    network = V1.sample(200, seed=3, distribution="network")
    assert _digest(a.written_id for a in network) == "403e28c65c05"
