import random

import numpy as np
import pytest
import torch

from nasbench_mt.measure.datasets import SCENE_TASKS, Split
from nasbench_mt.measure.evaluate import _forward, evaluate, fold_batchnorm, recalibrate_bn
from nasbench_mt.measure.supernet import Supernet
from nasbench_mt.measure.train import TrainConfig, distill_loss, load_train_state, train_supernet
from nasbench_mt.space.arch import V1, Block
from nasbench_mt.space.model import build_model


def _perturbed(**structure):
    torch.manual_seed(0)
    net = Supernet(SCENE_TASKS, **structure)
    # perturb BN affine parameters (and branch deltas) so that slicing mistakes show up
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        for name, p in net.named_parameters():
            if ".delta." in name:
                p.normal_(0, 0.05)
    return net


@pytest.fixture(scope="module")
def supernet():
    return _perturbed()


@pytest.fixture(scope="module")
def structured():
    return _perturbed(solo_branch=True, branch_delta=True)


@pytest.fixture(scope="module")
def independent():
    return _perturbed(solo_branch=True, independent_kernels=True)


@pytest.mark.parametrize("which", ["supernet", "structured", "independent"])
@pytest.mark.parametrize("arch", [V1.smallest(), V1.largest(), *V1.sample(6, seed=5)], ids=str)
def test_extracted_subnet_computes_the_same_function(request, which, arch):
    # in training mode both use batch statistics, so outputs must agree exactly up to float error
    supernet = request.getfixturevalue(which)
    x = torch.randn(8, 3, 32, 32)
    net = supernet.extract(arch).train()
    with torch.no_grad():
        ref = supernet.train()(x, arch)
        out = net(x)
    for task in out:
        assert set(out[task]) == set(arch.all_exits)
        for k, y in out[task].items():
            torch.testing.assert_close(y, ref[task][k], rtol=1e-4, atol=1e-5)


def test_branch_delta_starts_as_the_trunk_and_is_stored_once():
    net = Supernet(SCENE_TASKS, branch_delta=True)
    block = V1.largest().stages[1][0]
    x = torch.randn(4, V1.stages[0].channels, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(net.branches["digit"][1][0](x, block), net.trunk[1][0](x, block))
    keys = list(net.state_dict())
    assert not any(k.startswith("branches.") and ".delta." not in k for k in keys)
    # every delta is a parameter of its own; the trunk is shared, not copied
    assert len(keys) == len(list(net.parameters())) + len(list(net.buffers()))


def test_independent_kernels_do_not_share_weights(independent):
    block = independent.trunk[0][0]
    assert sorted(block.own_kernels) == ["k3", "k5"]  # the largest kernel keeps dw_conv
    assert block.own_kernels["k3"].shape == (block.c_in * max(V1.expands), 1, 3, 3)
    small, large = Block(3, 6), Block(7, 6)
    w3 = block.weights(small)["depthwise.0.weight"]
    assert not torch.equal(w3, block.weights(large)["depthwise.0.weight"][:, :, 2:5, 2:5])
    # a gradient through the k3 subnet reaches only the k3 weights
    x = torch.randn(2, block.c_in, 16, 16)
    block(x, small).sum().backward()
    assert block.own_kernels["k3"].grad is not None and block.dw_conv.weight.grad is None
    block.zero_grad(set_to_none=True)
    with pytest.raises(ValueError, match="at most one of them"):
        Supernet(SCENE_TASKS, branch_delta=True, independent_kernels=True)


def test_solo_branch_gives_equivalent_ids_the_same_network(structured):
    # b=(2,0,4) and b=(2,0,2): after stage 2 only seg still uses the trunk, so both are one network (one
    # Arch); the supernet runs each spelling's layout, which solo_branch makes compute the same
    stages = V1.largest().stages
    a = V1.validate(V1.largest().to_string().replace("b=0,0,0", "b=2,0,4"))
    b = V1.validate(V1.largest().to_string().replace("b=0,0,0", "b=2,0,2"))
    assert a.stages == b.stages == stages and a == b and a.written_branches != b.written_branches
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        out_a, out_b = structured.train()(x, a), structured(x, b)
        plain = Supernet(SCENE_TASKS).train()
        plain.load_state_dict(_perturbed().state_dict())
        differ = plain(x, a)["seg"][4] - plain(x, b)["seg"][4]
    torch.testing.assert_close(out_a["seg"][4], out_b["seg"][4])
    assert differ.abs().max() > 1e-3  # without the option, trunk and branch weights differ


def test_structure_round_trips_through_a_checkpoint(tmp_path):
    from nasbench_mt.measure.measurer import load_supernet, read_supernet, save_supernet

    net = _perturbed(solo_branch=True, independent_kernels=True)
    save_supernet(net, tmp_path / "sn.pt", {"seed": 0, "structure": net.structure})
    ck = read_supernet(tmp_path / "sn.pt")
    suite = type("Suite", (), {"tasks": SCENE_TASKS})()  # load_supernet reads only .tasks
    back = load_supernet(ck["state"], suite, ck["meta"]["structure"])
    assert back.structure == net.structure
    for (k, v), (k2, v2) in zip(net.state_dict().items(), back.state_dict().items()):
        assert k == k2 and torch.equal(v, v2)
    with pytest.raises(ValueError, match=r"invalid supernet structure.*allowed keys"):
        load_supernet(ck["state"], suite, {"wider": True})
    with pytest.raises(ValueError, match="do not match the structure"):
        load_supernet(ck["state"], suite, {})


def test_extraction_copies_weights_not_views(supernet):
    arch = V1.sample(1, seed=9)[0]
    net = supernet.extract(arch)
    before = [p.clone() for p in supernet.parameters()]
    with torch.no_grad():
        for p in net.parameters():
            p.add_(1.0)
    assert all(torch.equal(a, b) for a, b in zip(before, supernet.parameters()))


def test_bn_recalibration_is_cumulative():
    # recalibrated statistics must equal the exact mean/var over all batches, not an EMA of the last ones
    net = torch.nn.Sequential(torch.nn.BatchNorm2d(3))
    batches = [torch.randn(16, 3, 4, 4) * (i + 1) + i for i in range(5)]
    recalibrate_bn(net, batches)
    bn = net[0]
    means = torch.stack([b.mean((0, 2, 3)) for b in batches]).mean(0)
    vars_ = torch.stack([b.var((0, 2, 3), unbiased=True) for b in batches]).mean(0)
    torch.testing.assert_close(bn.running_mean, means)
    torch.testing.assert_close(bn.running_var, vars_)
    assert bn.momentum == 0.1  # restored
    assert not net.training


def test_folding_batchnorm_keeps_the_function_and_removes_every_batchnorm(supernet):
    arch = V1.sample(1, seed=4)[0]
    net = recalibrate_bn(supernet.extract(arch), [torch.randn(16, 3, 32, 32) for _ in range(2)])
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        ref = net(x)
        out = fold_batchnorm(net)(x)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in net.modules())
    for task in ref:
        for k, y in ref[task].items():
            torch.testing.assert_close(out[task][k], y, rtol=1e-4, atol=1e-4)


def test_evaluating_in_pieces_is_bit_identical(supernet):
    # the network runs forward_batch samples at a time within a scoring batch; scores and per-sample records
    # must not move at all (the release's values are reproduced bit for bit)
    rng = np.random.default_rng(0)
    n = 260  # one scoring batch: pieces of 100 and 160 (the last piece takes the remainder)
    split = Split(
        rng.integers(0, 256, (n, 3, 32, 32), dtype=np.uint8),
        {
            "digit": rng.integers(0, 10, n),
            "count": rng.integers(0, 4, n),
            "seg": rng.integers(0, 11, (n, 8, 8)),
        },
    )
    arch = V1.largest()
    net = recalibrate_bn(supernet.extract(arch), [torch.randn(32, 3, 32, 32) for _ in range(2)])
    net = fold_batchnorm(net).to(memory_format=torch.channels_last)
    with torch.inference_mode():  # the raw outputs: equal bit for bit, not only up to the scores' rounding
        x = split.tensors()[0].contiguous(memory_format=torch.channels_last)
        ref, out = net(x), _forward(net, x, 100)
    for task in ref:
        for k in ref[task]:
            assert torch.equal(out[task][k], ref[task][k]), (task, k)
    whole = evaluate(net, split, SCENE_TASKS, batch_size=n, n_per_sample=200, forward_batch=0)
    pieces = evaluate(net, split, SCENE_TASKS, batch_size=n, n_per_sample=200, forward_batch=100)
    assert len(whole.scores) == len(SCENE_TASKS) * len(arch.all_exits)
    assert pieces.scores == whole.scores
    for key in whole.conf:
        assert len(whole.conf[key]) == 200
        np.testing.assert_array_equal(pieces.conf[key], whole.conf[key])
        np.testing.assert_array_equal(pieces.score[key], whole.score[key])


def test_sandwich_contains_largest_smallest_and_random(supernet):
    archs = supernet.sandwich(random.Random(0), n_random=3)
    assert archs[0] == V1.largest() and archs[1] == V1.smallest() and len(archs) == 5
    archs = supernet.sandwich(random.Random(0), n_random=3, separate_smallest=True)
    assert len(archs) == 6 and archs[2].branches == (0, 0, 0) and archs[2].stages == V1.smallest().stages
    assert V1.validate(archs[2].to_string()) == archs[2]


def _random_split(n=16, seed=0):
    rng = np.random.default_rng(seed)
    targets = {}
    for t in SCENE_TASKS:
        shape = (n, t.out_size, t.out_size) if t.kind == "dense" else (n,)
        targets[t.name] = rng.integers(0, t.num_outputs, size=shape).astype(np.int64)
    return Split(rng.integers(0, 256, size=(n, 3, 32, 32), dtype=np.uint8), targets)


def test_distill_loss_is_smallest_when_the_student_matches_the_teacher():
    torch.manual_seed(0)
    arch = V1.sample(1, seed=2)[0]
    with torch.no_grad():
        teacher = build_model(arch).eval()(torch.randn(4, 3, 32, 32))
    noisy = {t: {k: v + torch.randn_like(v) for k, v in o.items()} for t, o in teacher.items()}
    assert float(distill_loss(teacher, teacher, SCENE_TASKS)) < float(
        distill_loss(noisy, teacher, SCENE_TASKS)
    )


def test_supernet_training_with_distillation_is_deterministic_and_differs():
    def train(distill):
        torch.manual_seed(0)
        net = train_supernet(
            Supernet(SCENE_TASKS), _random_split(), TrainConfig(epochs=1, batch_size=8), distill=distill
        )
        return [p.detach().clone() for p in net.parameters()]

    a, b, plain = train(0.5), train(0.5), train(0.0)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert not all(torch.equal(x, y) for x, y in zip(a, plain))
    with pytest.raises(ValueError, match="invalid distill"):
        train(1.5)


class _Stop(Exception):
    pass


def _train_resumable(state_path, stop_at=None, **kw):
    """Two epochs of 2 steps each on a 16-image split, stopped (as if killed) after step ``stop_at``."""

    def on_step(step, loss):
        seen.append((step, loss))
        if step == stop_at:
            raise _Stop

    seen = []
    torch.manual_seed(0)
    net = Supernet(SCENE_TASKS)
    cfg = TrainConfig(epochs=kw.pop("epochs", 2), batch_size=8, seed=1)
    try:
        train_supernet(
            net,
            _random_split(),
            cfg,
            distill=0.5,
            on_step=on_step,
            state_path=state_path,
            **kw,
            state_every=1,
        )
    except _Stop:
        return None, seen
    return net.state_dict(), seen


def test_killed_supernet_training_resumes_bit_identically(tmp_path):
    whole, whole_seen = _train_resumable(None)
    state = tmp_path / "sn.state.pt"
    assert _train_resumable(state, stop_at=2)[0] is None  # stopped after step 3, whose state is on disk
    assert load_train_state(state)["step"] == 3
    resumed, seen = _train_resumable(state)
    assert [s for s, _ in seen] == [0, 1, 2, 3]  # earlier steps replayed from the state, then the rest
    assert seen == whole_seen
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert load_train_state(state)["step"] == 4


def test_resuming_another_runs_training_state_is_refused(tmp_path):
    state = tmp_path / "sn.state.pt"
    _train_resumable(state, stop_at=1)
    with pytest.raises(ValueError, match="written by another run"):
        _train_resumable(state, epochs=3)
    state.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="invalid training state"):
        _train_resumable(state)
