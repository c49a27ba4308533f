"""Standalone training: which exits are supervised, and what the returned network holds."""

import pytest
import torch

from nasbench_mt.measure.train import TrainConfig, keep_exits, train_standalone
from nasbench_mt.space.arch import Arch
from nasbench_mt.space.model import build_model

pytest.importorskip("mlxtend")

ARCH = Arch.from_string("k3e3|k3e3|k3e3|k3e3|b=4,2,0|x=2")


@pytest.fixture
def suite(small_scenes):
    return small_scenes


def _train(suite, arch, mode, seed=0):
    cfg = TrainConfig(epochs=1, batch_size=32, seed=seed, supervise_exits=mode)
    return train_standalone(arch, suite.train, suite.tasks, cfg)


def test_all_exits_trained_and_only_the_arch_exits_kept(suite):
    net = _train(suite, ARCH, "all")
    assert net.arch == ARCH
    assert set(net.state_dict()) == set(build_model(ARCH, suite.tasks).state_dict())
    x, _ = suite.test.tensors(list(range(8)))
    out = net(x)
    assert {t: sorted(o) for t, o in out.items()} == {t.name: [2, 4] for t in suite.tasks}
    assert not net.training


def test_supervise_all_makes_the_backbone_independent_of_the_exit_set(suite):
    """Same stages and branches, different exits: under "all" the shared weights train identically."""
    other = Arch(ARCH.stages, ARCH.written_branches, (1, 3))  # the same layout (b=4,2,0 as written)
    a, b = _train(suite, ARCH, "all"), _train(suite, other, "all")
    sa, sb = a.state_dict(), b.state_dict()
    common = [k for k in sa if k in sb]  # backbone, branches and the final exit's heads
    assert any(".e4." in k for k in common)
    assert all(torch.equal(sa[k], sb[k]) for k in common)
    # "arch" supervises only the arch's own exits, so a different exit set trains a different backbone
    c, d = _train(suite, ARCH, "arch"), _train(suite, other, "arch")
    sc, sd = c.state_dict(), d.state_dict()
    assert any(not torch.equal(sc[k], sd[k]) for k in common)


def test_all_exits_equals_arch_mode_when_the_arch_has_every_exit(suite):
    full = Arch(ARCH.stages, ARCH.branches, ARCH.space.exit_choices)
    a, b = _train(suite, full, "all"), _train(suite, full, "arch")
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())


def test_keep_exits_refuses_a_network_with_fewer_exits(suite):
    small = build_model(ARCH, suite.tasks)
    full = Arch(ARCH.stages, ARCH.branches, (1, 2, 3))
    with pytest.raises(ValueError, match="lacks"):
        keep_exits(small, full, suite.tasks)


def test_bad_supervise_exits():
    with pytest.raises(ValueError, match=r"supervise_exits.*'all', 'arch'"):
        TrainConfig(supervise_exits="some")
