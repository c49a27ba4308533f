"""Loss balancing across tasks and exits: the default is the v1 sum bit for bit, fixed weights weigh, the
uncertainty scheme learns, bad weights are refused, and the choice is recorded in checkpoint and manifest."""

import json

import pytest
import torch

from nasbench_mt.cli import main
from nasbench_mt.measure.balance import LossBalancer
from nasbench_mt.measure.evaluate import task_loss
from nasbench_mt.measure.supernet import Supernet
from nasbench_mt.measure.train import (
    TrainConfig,
    config_record,
    load_train_state,
    make_balancer,
    multitask_loss,
    train_standalone,
    train_supernet,
)
from nasbench_mt.release.manifest import read_manifest
from nasbench_mt.space.arch import V1
from nasbench_mt.space.model import build_model

pytest.importorskip("mlxtend")

SUITE_KW = {"n_train": 128, "n_val": 16, "n_test": 16}  # the standalone protocol trains with batches of 128
V1_CONFIG_KEYS = ["epochs", "batch_size", "lr", "weight_decay", "warmup_frac", "seed", "supervise_exits"]


@pytest.fixture
def suite(small_scenes):
    return small_scenes


def _batch(suite):
    torch.manual_seed(0)
    net = build_model(V1.largest(), suite.tasks).train()
    x, y = suite.train.tensors(list(range(16)))
    return net, x, y


def _v1_loss(out, y, tasks):
    """The training loss as v1 computed it: the plain sum over tasks and exits, in this order."""
    return sum(task_loss(t, o, y[t.name]) for t in tasks for o in out[t.name].values())


def _grads(net, loss):
    net.zero_grad(set_to_none=True)
    loss.backward()
    return [p.grad.clone() for p in net.parameters()]


def test_default_loss_equals_the_v1_sum_bit_for_bit(suite):
    net, x, y = _batch(suite)
    old = _v1_loss(net(x), y, suite.tasks)
    old_grads = _grads(net, old)
    for cfg in (TrainConfig(), TrainConfig(task_weights={"digit": 1}, exit_weights="4=1")):
        balancer = make_balancer(cfg, suite.tasks, V1)
        assert balancer.plain and not list(balancer.parameters())
        new = multitask_loss(net(x), y, suite.tasks, balancer)
        assert torch.equal(new, old)
        assert all(torch.equal(a, b) for a, b in zip(_grads(net, new), old_grads))
    assert torch.equal(multitask_loss(net(x), y, suite.tasks), old)
    # a run's record (resume check, checkpoint card) reads as before the option existed
    assert list(config_record(TrainConfig())) == V1_CONFIG_KEYS


def test_fixed_weights_weigh_tasks_and_exits(suite):
    net, x, y = _batch(suite)
    out = net(x)
    cfg = TrainConfig(task_weights="digit=2,seg=0", exit_weights={"1": 0.5, 3: 0.25})
    loss = multitask_loss(out, y, suite.tasks, make_balancer(cfg, suite.tasks, V1))
    weight = {"digit": 2.0, "count": 1.0, "seg": 0.0}
    exits = {1: 0.5, 2: 1.0, 3: 0.25, 4: 1.0}
    expect = sum(
        weight[t.name] * exits[k] * task_loss(t, o, y[t.name])
        for t in suite.tasks
        for k, o in out[t.name].items()
    )
    assert loss.item() == pytest.approx(expect.item(), rel=1e-6)
    assert cfg.exit_weights == {1: 0.5, 3: 0.25} and config_record(cfg)["exit_weights"] == {
        "1": 0.5,
        "3": 0.25,
    }


def test_uncertainty_weighting_starts_at_half_the_sum_and_learns(suite, tmp_path):
    net, x, y = _batch(suite)
    balancer = LossBalancer(suite.tasks, "uncertainty", exits=(1, 2, 3, 4))
    out = net(x)
    loss = balancer(out, y)
    assert loss.item() == pytest.approx(0.5 * _v1_loss(out, y, suite.tasks).item(), rel=1e-6)
    loss.backward()
    assert balancer.log_vars.grad is not None and balancer.log_vars.grad.ne(0).all()
    cfg = TrainConfig(epochs=1, batch_size=16, loss_balance="uncertainty", task_weights="seg=0.5")
    state = tmp_path / "sn.state.pt"
    train_supernet(Supernet(suite.tasks), suite.train, cfg, n_random=0, state_path=state)
    record = load_train_state(state)["balance_record"]
    assert record["scheme"] == "uncertainty" and record["task_weights"] == {"seg": 0.5}
    assert set(record["log_variances"]) == {"digit", "count", "seg"}
    assert any(v != 0 for v in record["log_variances"].values())  # learned over 4 steps
    net = train_standalone(V1.smallest(), suite.train, suite.tasks, cfg)
    assert not any(k.startswith("balance") for k in net.state_dict())  # the network carries no loss weights


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (
            {"loss_balance": "gradnorm"},
            r"invalid loss balance: 'gradnorm'; allowed: \['fixed', 'uncertainty'\]",
        ),
        ({"task_weights": "digit:2"}, r"invalid loss weights: 'digit:2'; allowed: KEY=WEIGHT pairs"),
        (
            {"task_weights": {"digit": -1}},
            r"invalid loss weights: task 'digit' has weight -1; allowed: a finite",
        ),
        ({"task_weights": "digit=x"}, r"invalid loss weights: task 'digit' has weight 'x'"),
        ({"exit_weights": "e1=2"}, r"invalid loss weights: exit 'e1'; allowed: exit positions 1, 2"),
        ({"exit_weights": {1: 0, 2: 0}}, r"invalid loss weights: every exit weight is 0"),
        ({"task_weights": [1, 2]}, r"invalid loss weights: \[1, 2\]; allowed: a mapping of task to weight"),
    ],
)
def test_bad_weights(kwargs, match):
    with pytest.raises(ValueError, match=match):
        TrainConfig(**kwargs)


def test_weights_must_name_the_suite_tasks_and_space_exits(suite):
    with pytest.raises(ValueError, match=r"unknown tasks \['age'\]; allowed: the suite's tasks \['digit'"):
        make_balancer(TrainConfig(task_weights="age=2"), suite.tasks, V1)
    with pytest.raises(
        ValueError, match=r"unknown exit positions \[7\]; allowed: the space's exits \[1, 2, 3, 4\]"
    ):
        make_balancer(TrainConfig(exit_weights="7=2"), suite.tasks, V1)


def test_cli_records_the_balance_in_checkpoint_and_manifest(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("NASBENCH_MT_CACHE", str(tmp_path / "cache"))
    suite_args = [f"--suite-arg={k}={v}" for k, v in SUITE_KW.items()]
    sn = tmp_path / "sn.pt"
    cmd = ["train-supernet", "--out", str(sn), "--epochs", "0.5", "--batch-size", "32", "--n-random", "0"]
    assert main([*cmd, "--task-weights", "age=1", *suite_args]) == 2
    assert "invalid loss weights: unknown tasks ['age']" in capsys.readouterr().err
    assert not sn.exists()
    balance = ["--loss-balance", "uncertainty", "--task-weights", "seg=0.5", "--exit-weights", "1=0.5"]
    assert main([*cmd, *balance, *suite_args]) == 0
    meta = json.loads(sn.with_suffix(".json").read_text())
    assert meta["train_config"]["loss_balance"] == "uncertainty"
    assert meta["loss_balance"]["exit_weights"] == {"1": 0.5} and "log_variances" in meta["loss_balance"]
    out = tmp_path / "release"
    gen = ["generate", "--out", str(out), "--n", "1", "--supernet", str(sn), "--n-per-sample", "4"]
    assert main([*gen, *suite_args]) == 0
    assert read_manifest(out)["generation"]["archs"]["loss_balance"] == meta["loss_balance"]
    std = ["generate", "--out", str(out), "--n", "1", "--protocol", "standalone", "--epochs", "0.5"]
    assert main([*std, "--task-weights", "digit=2", "--n-per-sample", "4", *suite_args]) == 0
    spec = read_manifest(out)["generation"]["calibration"]["spec"]
    assert spec["train"]["task_weights"] == "digit=2"
    default = tmp_path / "plain.pt"
    assert main(["train-supernet", "--out", str(default), *cmd[3:], *suite_args]) == 0
    meta = json.loads(default.with_suffix(".json").read_text())
    assert list(meta["train_config"]) == V1_CONFIG_KEYS
    assert meta["loss_balance"] == {"scheme": "fixed", "task_weights": {}, "exit_weights": {}}
