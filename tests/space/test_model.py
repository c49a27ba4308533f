import pytest
import torch

from nasbench_mt import V1, build_model
from nasbench_mt.space.model import default_tasks
from nasbench_mt.space.tasks import TaskSpec

ARCHS = V1.sample(200, seed=11)
TASKS = default_tasks()


def expected_shape(task, batch=2):
    if task.kind == "dense":
        return (batch, task.num_outputs, task.out_size, task.out_size)
    return (batch, task.num_outputs)


@torch.no_grad()
def test_every_sampled_arch_builds_and_runs():
    x = torch.randn(2, 3, 32, 32)
    for arch in ARCHS:
        net = build_model(arch).eval()
        out = net(x)
        assert set(out) == {t.name for t in TASKS}
        for task in TASKS:
            assert set(out[task.name]) == set(arch.all_exits), arch
            for y in out[task.name].values():
                assert y.shape == expected_shape(task), arch
                assert torch.isfinite(y).all()


@torch.no_grad()
def test_upto_returns_prefix_of_exits_with_same_values():
    torch.manual_seed(0)
    arch = V1.largest()
    net = build_model(arch).eval()
    x = torch.randn(1, 3, 32, 32)
    full = net(x)
    for k in (1, 2, 3, 4):
        part = net(x, upto=k)
        for t in part:
            assert set(part[t]) == {e for e in arch.all_exits if e <= k}
            for e, y in part[t].items():
                torch.testing.assert_close(y, full[t][e])
    with pytest.raises(ValueError, match="upto"):
        net(x, upto=5)


def test_trunk_is_shared_and_branches_split_at_branch_point():
    arch = ARCHS[0].__class__.from_string("k3e3|k3e3|k3e3|k3e3|b=4,4,2|x=")
    net = build_model(arch)
    assert len(net.trunk) == 4
    assert sorted(net.branches["digit"]) == []
    assert sorted(net.branches["count"]) == []
    assert sorted(net.branches["seg"]) == ["2", "3"]


def _canonical_layout_state(written_net, arch):
    """``written_net``'s weights renamed for the canonical layout of ``arch``: a trunk stage that only one
    task uses in the written layout is that task's own stage in the canonical one."""
    cap, written = max(arch.branches), arch.written_branches
    owner = [t.name for t, b in zip(TASKS, written) if b > cap]
    state = {}
    for key, value in written_net.state_dict().items():
        part = key.split(".")
        if part[0] == "trunk" and int(part[1]) >= cap:
            key = ".".join(["branches", owner[0], *part[1:]])
        state[key] = value
    return state


@pytest.mark.parametrize(
    "written",
    ["b=2,0,4", "b=4,0,0", "b=1,0,0", "b=0,3,1", "b=3,4,3", "b=0,0,4"],
)
@torch.no_grad()
def test_equivalent_spellings_build_the_same_network(written):
    # a trunk stage that only one task uses computes exactly that task's own stage: the written layout and
    # the canonical one have the same parameters, MACs and (with the same weights) the same outputs
    from nasbench_mt.space.arch import Arch
    from nasbench_mt.space.costs import measure_costs

    arch = Arch.from_string(f"k3e4|k5e3,k3e6|k7e3|k3e3,k5e4|{written}|x=1,3")
    canonical = Arch(arch.stages, arch.branches, arch.exits)
    assert canonical == arch and canonical.written_branches != arch.written_branches
    torch.manual_seed(0)
    net_written = build_model(arch).eval()
    net_canonical = build_model(canonical).eval()
    assert len(net_canonical.trunk) == max(arch.branches) < len(net_written.trunk)
    net_canonical.load_state_dict(_canonical_layout_state(net_written, arch))
    a, b = measure_costs(net_written), measure_costs(net_canonical)
    assert (a.params, a.macs, a.macs_per_exit, a.params_per_task) == (
        b.params,
        b.macs,
        b.macs_per_exit,
        b.params_per_task,
    )
    x = torch.randn(2, 3, 32, 32)
    out_w, out_c = net_written(x), net_canonical(x)
    for t in out_w:
        for k in out_w[t]:
            torch.testing.assert_close(out_w[t][k], out_c[t][k], rtol=0, atol=0)


def test_trains_and_is_deterministic_under_seed():
    arch = ARCHS[3]

    def one_step(seed):
        torch.manual_seed(seed)
        net = build_model(arch).train()
        opt = torch.optim.SGD(net.parameters(), lr=0.1)
        x = torch.randn(4, 3, 32, 32)
        out = net(x)
        loss = sum(y.float().pow(2).mean() for o in out.values() for y in o.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item(), [p.detach().clone() for p in net.parameters()]

    l1, p1 = one_step(0)
    l2, p2 = one_step(0)
    assert l1 == l2
    assert all(torch.equal(a, b) for a, b in zip(p1, p2))


@torch.no_grad()
def test_channels_last_matches():
    net = build_model(ARCHS[4]).eval()
    x = torch.randn(2, 3, 32, 32)
    ref = net(x)
    net_cl = net.to(memory_format=torch.channels_last)
    out = net_cl(x.to(memory_format=torch.channels_last))
    for t in ref:
        for e in ref[t]:
            torch.testing.assert_close(out[t][e], ref[t][e], rtol=1e-4, atol=1e-5)


def test_custom_task_heads():
    tasks = [
        TaskSpec("age", "regression", 1),
        TaskSpec("gender", "classification", 2),
        TaskSpec("race", "classification", 5),
    ]
    out = build_model(ARCHS[5], tasks).eval()(torch.zeros(1, 3, 32, 32))
    assert out["age"][4].shape == (1, 1) and out["race"][4].shape == (1, 5)


@pytest.mark.parametrize(
    "tasks,match",
    [
        ([TaskSpec("a", "classification", 2)], "exactly 3"),
        ([TaskSpec("a", "classification", 2)] * 3, "duplicate"),
        (["a", "b", "c"], "TaskSpec"),
    ],
)
def test_bad_task_heads(tasks, match):
    with pytest.raises(ValueError, match=match):
        build_model(ARCHS[0], tasks)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(name="a b", kind="classification", num_outputs=2), "name"),
        (dict(name="a", kind="ranking", num_outputs=2), "kind"),
        (dict(name="a", kind="classification", num_outputs=1), "num_outputs"),
        (dict(name="a", kind="dense", num_outputs=3, out_size=0), "out_size"),
    ],
)
def test_bad_task_spec(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TaskSpec(**kwargs)


def test_bad_arch_argument():
    with pytest.raises(ValueError, match="arch"):
        build_model(123)
    with pytest.raises(ValueError, match="kernel"):
        build_model("k4e3|k3e3|k3e3|k3e3|b=4,4,4|x=")
