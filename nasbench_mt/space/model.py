"""Build a concrete multi-task, early-exit network from an :class:`~nasbench_mt.space.arch.Arch`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from nasbench_mt.space.arch import V1, Arch, Block, SearchSpace
from nasbench_mt.space.tasks import TaskSpec, check_tasks

__all__ = ["HEAD_HIDDEN", "MBConv", "MultiTaskNet", "build_model", "default_tasks", "flat_outputs"]

HEAD_HIDDEN = 64  # width of every classification/regression exit head
DENSE_HIDDEN = 32  # width of every dense exit head


def default_tasks(space: SearchSpace | None = None) -> tuple[TaskSpec, ...]:
    """The task list of ``space`` (default: ``V1``'s), the heads a network of it carries."""
    return (V1 if space is None else space).tasks


def conv_bn(
    c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1, act: bool = True
) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, k, stride, padding=k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, kxk depthwise, 1x1 project (+ identity when shapes match)."""

    def __init__(self, c_in: int, c_out: int, block: Block, stride: int) -> None:
        super().__init__()
        hidden = c_in * block.expand
        self.expand = conv_bn(c_in, hidden, 1)
        self.depthwise = conv_bn(hidden, hidden, block.kernel, stride, groups=hidden)
        self.project = conv_bn(hidden, c_out, 1, act=False)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.project(self.depthwise(self.expand(x)))
        return x + y if self.residual else y


def make_stage(space: SearchSpace, s: int, blocks: Sequence[Block]) -> nn.Sequential:
    """Stage ``s`` (0-based) with the given blocks; the first block carries the stage's stride."""
    c_in = space.stem_channels if s == 0 else space.stages[s - 1].channels
    spec = space.stages[s]
    layers = []
    for i, block in enumerate(blocks):
        layers.append(
            MBConv(c_in if i == 0 else spec.channels, spec.channels, block, spec.stride if i == 0 else 1)
        )
    return nn.Sequential(*layers)


class ExitHead(nn.Module):
    """Small fixed exit head: pooled classifier/regressor, or 1x1 dense decoder upsampled to ``out_size``."""

    def __init__(self, c_in: int, task: TaskSpec) -> None:
        super().__init__()
        self.dense = task.kind == "dense"
        hidden = DENSE_HIDDEN if self.dense else HEAD_HIDDEN
        self.features = conv_bn(c_in, hidden, 1)
        self.out_size = task.out_size
        if self.dense:
            self.out = nn.Conv2d(hidden, task.num_outputs, 1)
        else:
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.out = nn.Linear(hidden, task.num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        if self.dense:
            y = self.out(h)
            if y.shape[-1] != self.out_size:
                y = nn.functional.interpolate(y, size=(self.out_size, self.out_size), mode="bilinear")
            return y
        return self.out(torch.flatten(self.pool(h), 1))


class MultiTaskNet(nn.Module):
    """The network of one :class:`Arch`.

    ``forward(x, upto=None)`` returns ``{task_name: {exit_position: output}}`` for every exit up to stage
    ``upto`` (default: all, the final exit included).  The shared trunk is computed once; each task's own
    stages start at its branch point.
    """

    def __init__(self, arch: Arch, tasks: Sequence[TaskSpec]) -> None:
        super().__init__()
        space = arch.space
        self.arch = arch
        self.tasks = check_tasks(tasks, arch.num_tasks)
        self.stem = conv_bn(space.input_channels, space.stem_channels, 3, stride=2)
        n_shared = max(arch.written_branches)
        self.trunk = nn.ModuleList(make_stage(space, s, arch.stages[s]) for s in range(n_shared))
        self.branches = nn.ModuleDict()
        self.heads = nn.ModuleDict()
        for task, bp in zip(self.tasks, arch.written_branches):
            own = {str(s): make_stage(space, s, arch.stages[s]) for s in range(bp, space.num_stages)}
            self.branches[task.name] = nn.ModuleDict(own)
            self.heads[task.name] = nn.ModuleDict(
                {f"e{x}": ExitHead(space.stages[x - 1].channels, task) for x in arch.all_exits}
            )

    def forward(self, x: torch.Tensor, upto: int | None = None) -> dict[str, dict[int, torch.Tensor]]:
        n = self.arch.space.num_stages
        upto = n if upto is None else upto
        if not 1 <= upto <= n:
            raise ValueError(f"invalid upto: {upto!r}; allowed: 1..{n}")
        shared = [self.stem(x)]
        for s in range(min(len(self.trunk), upto)):
            shared.append(self.trunk[s](shared[-1]))
        out: dict[str, dict[int, torch.Tensor]] = {}
        for task, bp in zip(self.tasks, self.arch.written_branches):
            heads = self.heads[task.name]
            stages = self.branches[task.name]
            h = shared[0]
            outs = {}
            for pos in range(1, upto + 1):
                h = shared[pos] if pos <= bp else stages[str(pos - 1)](h)
                if f"e{pos}" in heads:
                    outs[pos] = heads[f"e{pos}"](h)
            out[task.name] = outs
        return out


def build_model(arch: Arch | str, task_heads: Sequence[TaskSpec] | None = None) -> MultiTaskNet:
    """Return the ``torch.nn.Module`` of ``arch`` with one head per task at every exit.

    ``task_heads`` defaults to the task list of the architecture's space.  Example::

        >>> from nasbench_mt import V1, build_model
        >>> net = build_model(V1.sample(1, seed=0)[0]).eval()
        >>> out = net(torch.zeros(2, 3, 32, 32))
        >>> sorted(out) == sorted(V1.task_names)  # out[task][exit] is a tensor
        True
    """
    if isinstance(arch, str):
        arch = Arch.from_string(arch)
    elif not isinstance(arch, Arch):
        raise ValueError(f"invalid arch: {type(arch).__name__}; allowed: an Arch or its canonical string")
    return MultiTaskNet(arch, arch.space.tasks if task_heads is None else task_heads)


class _FlatOutputs(nn.Module):
    def __init__(self, net: MultiTaskNet, upto: int | None) -> None:
        super().__init__()
        self.net = net
        self.upto = upto

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        out = self.net(x, self.upto)
        return tuple(out[t][k] for t in out for k in sorted(out[t]))


def flat_outputs(net: MultiTaskNet, upto: int | None = None) -> tuple[nn.Module, list[str]]:
    """Wrap ``net`` so forward returns a flat tuple (for ONNX export); also returns the output names."""
    n = net.arch.space.num_stages if upto is None else upto
    names = [f"{t.name}_exit{k}" for t in net.tasks for k in net.arch.all_exits if k <= n]
    wrapper = _FlatOutputs(net, upto).train(net.training)
    return wrapper, names
