"""Training loops: a standalone network from scratch, the supernet, and their shared helpers."""

from __future__ import annotations

import math
import pickle
import random
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from nasbench_mt.measure.balance import BALANCES, LossBalancer, parse_weights, unweighted_loss
from nasbench_mt.measure.datasets import Split
from nasbench_mt.measure.supernet import Supernet
from nasbench_mt.space.arch import Arch, SearchSpace
from nasbench_mt.space.model import MultiTaskNet, build_model
from nasbench_mt.space.tasks import TaskSpec

__all__ = [
    "DEVICES",
    "SUPERVISE_EXITS",
    "TrainConfig",
    "config_record",
    "distill_loss",
    "finetune_subnet",
    "keep_exits",
    "load_train_state",
    "make_balancer",
    "multitask_loss",
    "resolve_device",
    "save_atomic",
    "train_batches",
    "train_standalone",
    "train_supernet",
]

DEVICES = ("auto", "cpu", "cuda")
SUPERVISE_EXITS = ("all", "arch")


def resolve_device(device: str | torch.device = "cpu") -> torch.device:
    """``auto`` -> ``cuda`` when available, else ``cpu``; ``cuda`` without a GPU is an error.

    Runs are bit-identical for a seed on the CPU; on CUDA they are seeded but not bit-identical (cuDNN
    and atomic-add kernels are not deterministic).
    """
    name = str(device)
    kind = name.split(":", 1)[0]
    if kind not in DEVICES or (kind != "cuda" and ":" in name):
        raise ValueError(f"invalid device: {name!r}; allowed: {list(DEVICES)} (or cuda:N)")
    if kind == "auto":
        kind = name = "cuda" if torch.cuda.is_available() else "cpu"
    if kind == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"invalid device: {name!r}: torch sees no CUDA GPU here; allowed: 'auto' or 'cpu'")
    return torch.device(name)


@dataclass(frozen=True)
class TrainConfig:
    """Budget and optimiser of a training run (AdamW, linear warm-up then cosine decay, per step)."""

    epochs: float = 3.0
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 5e-5
    warmup_frac: float = 0.03
    seed: int = 0
    # standalone protocol: "all" trains a head at every exit position (as the supernet does) and keeps
    # only the architecture's exits, so the exit set never changes the backbone; "arch" supervises only
    # the architecture's own exits (deep supervision then varies with the exit set)
    supervise_exits: str = "all"
    # loss balancing across tasks and exits (see nasbench_mt.measure.balance): "fixed" weights (every weight 1
    # by default: the unweighted sum v1 used) or learned "uncertainty" weighting on top of the fixed weights;
    # weights are {task: w} / {exit position: w} mappings or "KEY=W,..." strings, unlisted keys weigh 1
    loss_balance: str = "fixed"
    task_weights: dict | None = None
    exit_weights: dict | None = None

    def __post_init__(self) -> None:
        if self.loss_balance not in BALANCES:
            raise ValueError(f"invalid loss balance: {self.loss_balance!r}; allowed: {list(BALANCES)}")
        object.__setattr__(self, "task_weights", parse_weights(self.task_weights, "task"))
        object.__setattr__(self, "exit_weights", parse_weights(self.exit_weights, "exit"))
        if self.supervise_exits not in SUPERVISE_EXITS:
            raise ValueError(
                f"invalid supervise_exits: {self.supervise_exits!r}; allowed: {list(SUPERVISE_EXITS)}"
            )
        if not self.epochs > 0:
            raise ValueError(f"invalid epochs: {self.epochs!r}; allowed: > 0")
        if not isinstance(self.batch_size, int) or self.batch_size < 2:
            raise ValueError(f"invalid batch_size: {self.batch_size!r}; allowed: int >= 2")
        if not self.lr > 0:
            raise ValueError(f"invalid lr: {self.lr!r}; allowed: > 0")


def train_batches(
    split: Split, cfg: TrainConfig, start: int = 0
) -> Iterator[tuple[torch.Tensor, dict[str, torch.Tensor]]]:
    """Shuffled mini-batches for ``cfg.epochs`` epochs (fractional allowed), deterministic in the seed.

    ``start`` skips the first ``start`` batches without loading them (a resumed run sees the same order).
    """
    gen = torch.Generator().manual_seed(cfg.seed)
    n = len(split)
    if n < cfg.batch_size:
        raise ValueError(
            f"invalid batch_size: {cfg.batch_size} > {n} training images; allowed: <= the training split size"
        )
    total = max(1, int(cfg.epochs * n) // cfg.batch_size)
    done = 0
    while done < total:
        perm = torch.randperm(n, generator=gen).numpy()
        for begin in range(0, n - cfg.batch_size + 1, cfg.batch_size):
            if done == total:
                return
            if done >= start:
                x, y = split.tensors(perm[begin : begin + cfg.batch_size])
                yield x.contiguous(memory_format=torch.channels_last), y
            done += 1


def _to(
    device: torch.device, x: torch.Tensor, y: dict[str, torch.Tensor]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    if device.type == "cpu":
        return x, y
    return x.to(device, non_blocking=True), {k: v.to(device, non_blocking=True) for k, v in y.items()}


def num_steps(split: Split, cfg: TrainConfig) -> int:
    return max(1, int(cfg.epochs * len(split)) // cfg.batch_size)


def make_optimizer(params: Sequence[tuple[str, nn.Parameter]], cfg: TrainConfig, total_steps: int):
    """AdamW without weight decay on norms and biases, and a warm-up + cosine LambdaLR schedule."""
    decay = [p for n, p in params if p.ndim > 1]
    no_decay = [p for n, p in params if p.ndim <= 1]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=cfg.lr,
    )
    warm = max(1, int(cfg.warmup_frac * total_steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warm) / max(1, total_steps - warm))))

    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def multitask_loss(
    out: dict[str, dict[int, torch.Tensor]],
    targets: dict[str, torch.Tensor],
    tasks: Sequence[TaskSpec],
    balancer: LossBalancer | None = None,
) -> torch.Tensor:
    """Sum over tasks and exits of each exit's loss (every exit supervised, as in MSDNet), or the loss of
    ``balancer`` (a :class:`~nasbench_mt.measure.balance.LossBalancer` over the same tasks)."""
    if balancer is not None:
        return balancer(out, targets)
    return unweighted_loss(out, targets, tasks)


def make_balancer(cfg: TrainConfig, tasks: Sequence[TaskSpec], space: SearchSpace) -> LossBalancer:
    """The loss balancing ``cfg`` asks for over ``tasks`` and the exit positions of ``space``."""
    exits = tuple(range(1, space.num_stages + 1))
    return LossBalancer(tasks, cfg.loss_balance, cfg.task_weights, cfg.exit_weights, exits)


def config_record(cfg: TrainConfig) -> dict:
    """``cfg`` as plain data, the loss-balancing fields only where they differ from the default (so records
    of runs from before the option read the same)."""
    out = asdict(cfg)
    for key in ("loss_balance", "task_weights", "exit_weights"):
        if out[key] == getattr(TrainConfig, key):
            del out[key]
    if out.get("exit_weights"):
        out["exit_weights"] = {str(k): w for k, w in out["exit_weights"].items()}
    return out


def distill_loss(
    out: dict[str, dict[int, torch.Tensor]],
    teacher: dict[str, dict[int, torch.Tensor]],
    tasks: Sequence[TaskSpec],
) -> torch.Tensor:
    """In-place distillation (BigNAS): each exit matches the teacher's output at the same exit (its final exit
    where the teacher has none there). Classification and dense exits: cross-entropy against the teacher's
    softmax, per pixel for dense; regression: smooth L1 to the teacher's output. The teacher is detached."""
    total = 0.0
    for t in tasks:
        final = teacher[t.name][max(teacher[t.name])]
        for k, y in out[t.name].items():
            target = teacher[t.name].get(k, final).detach()
            if t.kind == "regression":
                total = total + F.smooth_l1_loss(y, target)
            else:
                total = total - (target.softmax(1) * y.log_softmax(1)).sum(1).mean()
    return total


def train_standalone(
    arch: Arch,
    train: Split,
    tasks: Sequence[TaskSpec],
    cfg: TrainConfig = TrainConfig(),
    progress: bool = False,
    on_step: Callable[[int, float], None] | None = None,
    device: str | torch.device = "cpu",
) -> MultiTaskNet:
    """Train ``arch`` afresh on ``train`` under ``cfg`` (standalone protocol), returned in eval mode on
    ``device`` (see :func:`resolve_device`).

    With ``cfg.supervise_exits == "all"`` (the default) the network is trained with a head at every exit
    position, exactly as every subnet of the supernet is, and the returned network is ``build_model(arch)``
    holding the trained weights: the heads of exits outside ``arch.exits`` are dropped after training."""
    device = resolve_device(device)
    torch.manual_seed(cfg.seed)
    trained = _supervised(arch, cfg)
    net = build_model(trained, tasks)
    return _fit(net, arch, train, tasks, cfg, device, progress, on_step, f"standalone {arch.id}")


def finetune_subnet(
    supernet: Supernet,
    arch: Arch,
    train: Split,
    cfg: TrainConfig,
    progress: bool = False,
    on_step: Callable[[int, float], None] | None = None,
    device: str | torch.device = "cpu",
) -> MultiTaskNet:
    """``arch`` extracted from ``supernet`` and trained on its own for ``cfg.epochs`` (usually a fraction of
    an epoch) before it is measured: the supernet protocol's optional per-subnet fine-tune.

    The loop is the standalone protocol's (same loss over every task and exit, AdamW, warm-up + cosine);
    only the starting weights differ. With ``cfg.supervise_exits == "all"`` the heads at every exit position
    are extracted and trained, and those outside ``arch.exits`` dropped afterwards, so the exit set never
    changes the backbone. Deterministic in ``cfg.seed`` on the CPU."""
    device = resolve_device(device)
    torch.manual_seed(cfg.seed)
    net = supernet.extract(_supervised(arch, cfg))
    return _fit(net, arch, train, supernet.tasks, cfg, device, progress, on_step, f"finetune {arch.id}")


def _supervised(arch: Arch, cfg: TrainConfig) -> Arch:
    """The network actually trained for ``arch``: with every exit under ``supervise_exits="all"``."""
    if cfg.supervise_exits == "all":
        return Arch(arch.stages, arch.written_branches, arch.space.exit_choices, space=arch.space)
    return arch


def _fit(
    net: MultiTaskNet,
    arch: Arch,
    train: Split,
    tasks: Sequence[TaskSpec],
    cfg: TrainConfig,
    device: torch.device,
    progress: bool,
    on_step: Callable[[int, float], None] | None,
    desc: str,
) -> MultiTaskNet:
    """Train ``net`` (``arch``, possibly with extra exit heads) under ``cfg``; returns ``build_model(arch)``
    with the trained weights, in eval mode on ``device``."""
    net = net.to(device, memory_format=torch.channels_last).train()
    balancer = make_balancer(cfg, tasks, arch.space).to(device)
    total = num_steps(train, cfg)
    params = list(net.named_parameters()) + list(balancer.named_parameters(prefix="balance"))
    opt, sched = make_optimizer(params, cfg, total)
    bar = tqdm(total=total, desc=desc, disable=not progress, leave=False)
    for step, (x, y) in enumerate(train_batches(train, cfg)):
        x, y = _to(device, x, y)
        loss = multitask_loss(net(x), y, tasks, balancer)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        bar.update()
        if on_step is not None:
            on_step(step, loss.item())
    bar.close()
    if net.arch != arch:
        net = keep_exits(net, arch, tasks)
    return net.eval()


def keep_exits(net: MultiTaskNet, arch: Arch, tasks: Sequence[TaskSpec]) -> MultiTaskNet:
    """``build_model(arch)`` holding ``net``'s weights, where ``net`` is the same network with more exits."""
    kept = build_model(arch, tasks)
    state, wanted = net.state_dict(), kept.state_dict()
    missing = sorted(set(wanted) - set(state))
    if missing:
        raise ValueError(
            f"invalid net: it lacks {missing[:3]} of {arch.to_string()}; allowed: a network with more exits"
        )
    kept.load_state_dict({k: state[k] for k in wanted})
    device = next(net.parameters()).device
    return kept.to(device, memory_format=torch.channels_last).train(net.training)


def train_supernet(
    supernet: Supernet,
    train: Split,
    cfg: TrainConfig = TrainConfig(),
    n_random: int = 2,
    progress: bool = False,
    on_step: Callable[[int, float], None] | None = None,
    device: str | torch.device = "cpu",
    distill: float = 0.0,
    separate_smallest: bool = False,
    state_path: str | Path | None = None,
    state_every: int = 25,
    separate_random: bool = False,
    region: Sequence[Sequence[int]] | None = None,
) -> Supernet:
    """Sandwich-rule training (BigNAS): every step back-propagates the largest, the smallest and ``n_random``
    uniformly sampled subnets on the same batch, then takes one optimiser step.  The supernet is moved to
    ``device`` (see :func:`resolve_device`) and returned there.

    ``distill`` in [0, 1] turns on in-place distillation: the largest subnet learns from the labels, every
    other subnet from ``(1 - distill) * labels + distill * the largest subnet's outputs``
    (:func:`distill_loss`); the label loss adds up the tasks and exits as ``cfg.loss_balance`` says
    (:mod:`nasbench_mt.measure.balance`; by default the plain sum).  ``separate_smallest`` and
    ``separate_random`` add sandwich members, and ``region`` restricts every member to one part of a few-shot
    split (see :meth:`Supernet.sandwich`).

    ``state_path`` makes the run resumable: after every ``state_every`` steps (and after the last) the
    weights, optimiser and schedule, the sampler's and torch's random states, the losses and the seconds
    spent so far are written there atomically.  If the file exists when training starts, training
    continues from it, on the CPU bit-identical to a run that was never stopped, after checking it was
    written by the same run (config, sandwich options, supernet structure, training-split size); ``on_step``
    is first called for each step the file holds.  The caller removes the file once the result is saved."""
    if not 0.0 <= distill <= 1.0:
        raise ValueError(f"invalid distill: {distill!r}; allowed: a weight in [0, 1]")
    if not isinstance(state_every, int) or state_every < 1:
        raise ValueError(f"invalid state_every: {state_every!r}; allowed: an int >= 1 (steps)")
    device = resolve_device(device)
    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    supernet = supernet.to(device, memory_format=torch.channels_last).train()
    balancer = make_balancer(cfg, supernet.tasks, supernet.space).to(device)
    total = num_steps(train, cfg)
    params = list(supernet.named_parameters()) + list(balancer.named_parameters(prefix="balance"))
    opt, sched = make_optimizer(params, cfg, total)
    run = {
        "config": config_record(cfg),
        "n_random": n_random,
        "distill": distill,
        "separate_smallest": separate_smallest,
        "separate_random": separate_random,
        "region": [list(r) for r in region] if region is not None else None,
        "structure": supernet.structure,
        "n_train": len(train),
        "total_steps": total,
    }
    start, losses, seconds = 0, [], 0.0
    if state_path is not None and Path(state_path).is_file():
        state = load_train_state(state_path)
        if state["run"] != run:
            raise ValueError(
                f"invalid training state {state_path}: written by another run ({state['run']}); allowed: "
                f"a state of this run ({run}), or delete the file to start afresh"
            )
        supernet.load_state_dict(state["supernet"])
        balancer.load_state_dict(state.get("balance", {}))
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        rng.setstate(state["sampler_rng"])
        torch.set_rng_state(state["torch_rng"])
        start, losses, seconds = state["step"], list(state["losses"]), state["seconds"]
        if on_step is not None:
            for step, loss in enumerate(losses):
                on_step(step, loss)
    t0 = time.perf_counter()
    bar = tqdm(total=total, initial=start, desc="supernet", disable=not progress, smoothing=0.02)
    for step, (x, y) in enumerate(train_batches(train, cfg, start=start), start=start):
        x, y = _to(device, x, y)
        opt.zero_grad(set_to_none=True)
        total_loss = 0.0
        teacher = None
        members = supernet.sandwich(rng, n_random, separate_smallest, separate_random, region)
        for i, arch in enumerate(members):
            out = supernet(x, arch)
            loss = multitask_loss(out, y, supernet.tasks, balancer)
            if distill and i == 0:  # the sandwich starts with the largest subnet
                teacher = {t: {k: v.detach() for k, v in o.items()} for t, o in out.items()}
            elif distill:
                loss = (1 - distill) * loss + distill * distill_loss(out, teacher, supernet.tasks)
            loss.backward()
            total_loss += loss.item()
        opt.step()
        sched.step()
        losses.append(total_loss)
        bar.update()
        bar.set_postfix(loss=f"{total_loss:.2f}", refresh=False)
        if state_path is not None and ((step + 1) % state_every == 0 or step + 1 == total):
            save_atomic(
                {
                    "run": run,
                    "step": step + 1,
                    "supernet": supernet.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "sampler_rng": rng.getstate(),
                    "torch_rng": torch.get_rng_state(),
                    "losses": losses,
                    "seconds": seconds + time.perf_counter() - t0,
                    "balance": balancer.state_dict(),
                    "balance_record": balancer.record(),
                },
                state_path,
            )
        if on_step is not None:
            on_step(step, total_loss)
    bar.close()
    return supernet.eval()


def save_atomic(obj: object, path: str | Path) -> None:
    """``torch.save`` to a temporary file beside ``path``, then rename: a crash leaves the previous file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(obj, tmp)
    tmp.replace(path)


def load_train_state(path: str | Path) -> dict:
    """A resumable training state written by :func:`train_supernet` (``weights_only=True``: no code runs).

    Keys: ``run`` (what the run was), ``step`` (steps done), ``seconds`` (training time spent so far),
    ``losses``, and the weights, optimiser, schedule and random states; states written since loss balancing
    exists also hold ``balance`` (the learned loss weights, if any) and ``balance_record``
    (:meth:`~nasbench_mt.measure.balance.LossBalancer.record`)."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, pickle.UnpicklingError) as err:
        raise ValueError(f"invalid training state {path}: cannot be read ({err})") from None
    keys = (
        "run",
        "step",
        "supernet",
        "optimizer",
        "scheduler",
        "sampler_rng",
        "torch_rng",
        "losses",
        "seconds",
    )
    if not isinstance(state, dict):
        raise ValueError(f"invalid training state {path}: not a dict of {sorted(keys)}")
    missing = set(keys) - set(state)
    if missing:
        raise ValueError(f"invalid training state {path}: missing {sorted(missing)}")
    return state
