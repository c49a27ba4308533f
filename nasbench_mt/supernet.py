"""One weight-sharing supernet over the whole v1 space, and subnet extraction.

The supernet holds a trunk copy and one branch copy per task of every stage (each with the maximum depth,
kernel and expand ratio), and an exit head per task at every exit position.  A subnet uses

- elastic depth: the first ``d`` blocks of a stage;
- elastic kernel: the centre ``k x k`` crop of the 7x7 depthwise kernel;
- elastic expand: the first ``c_in * e`` hidden channels.

:meth:`Supernet.extract` copies a subnet's weights into the concrete :func:`~nasbench_mt.model.build_model`
network, so every measured row is a real network whose weights exist.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasbench_mt.model import ExitHead, MBConv, MultiTaskNet, build_model, conv_bn
from nasbench_mt.space import V1, Arch, Block, SearchSpace
from nasbench_mt.tasks import TaskSpec, check_tasks

__all__ = ["ElasticMBConv", "Supernet"]


def _bn(x: torch.Tensor, bn: nn.BatchNorm2d, n: int) -> torch.Tensor:
    """Batch norm over the first ``n`` channels with batch statistics (supernet statistics are never used:
    every subnet is recalibrated after extraction)."""
    return F.batch_norm(x, None, None, bn.weight[:n], bn.bias[:n], training=True, eps=bn.eps)


class ElasticMBConv(nn.Module):
    """An MBConv block at maximum size whose kernel and expand ratio are chosen per forward."""

    def __init__(self, c_in: int, c_out: int, stride: int, max_kernel: int, max_expand: int) -> None:
        super().__init__()
        hidden = c_in * max_expand
        self.c_in, self.c_out, self.stride, self.max_kernel = c_in, c_out, stride, max_kernel
        self.expand_conv = nn.Conv2d(c_in, hidden, 1, bias=False)
        self.expand_bn = nn.BatchNorm2d(hidden)
        self.dw_conv = nn.Conv2d(
            hidden, hidden, max_kernel, stride, max_kernel // 2, groups=hidden, bias=False
        )
        self.dw_bn = nn.BatchNorm2d(hidden)
        self.project_conv = nn.Conv2d(hidden, c_out, 1, bias=False)
        self.project_bn = nn.BatchNorm2d(c_out)
        self.residual = stride == 1 and c_in == c_out

    def weights(self, block: Block) -> dict[str, torch.Tensor]:
        """Sliced weights of ``block``, keyed like :class:`~nasbench_mt.model.MBConv`'s state dict."""
        h = self.c_in * block.expand
        lo = (self.max_kernel - block.kernel) // 2
        hi = lo + block.kernel
        out = {
            "expand.0.weight": self.expand_conv.weight[:h],
            "depthwise.0.weight": self.dw_conv.weight[:h, :, lo:hi, lo:hi],
            "project.0.weight": self.project_conv.weight[:, :h],
        }
        for name, bn, n in (
            ("expand.1", self.expand_bn, h),
            ("depthwise.1", self.dw_bn, h),
            ("project.1", self.project_bn, self.c_out),
        ):
            out[f"{name}.weight"] = bn.weight[:n]
            out[f"{name}.bias"] = bn.bias[:n]
        return out

    def forward(self, x: torch.Tensor, block: Block) -> torch.Tensor:
        h = self.c_in * block.expand
        k = block.kernel
        lo = (self.max_kernel - k) // 2
        y = F.conv2d(x, self.expand_conv.weight[:h])
        y = F.relu6(_bn(y, self.expand_bn, h))
        w = self.dw_conv.weight[:h, :, lo : lo + k, lo : lo + k]
        y = F.conv2d(y, w, stride=self.stride, padding=k // 2, groups=h)
        y = F.relu6(_bn(y, self.dw_bn, h))
        y = _bn(F.conv2d(y, self.project_conv.weight[:, :h]), self.project_bn, self.c_out)
        return x + y if self.residual else y


def _elastic_stage(space: SearchSpace, s: int) -> nn.ModuleList:
    c_in = space.stem_channels if s == 0 else space.stages[s - 1].channels
    spec = space.stages[s]
    return nn.ModuleList(
        ElasticMBConv(
            c_in if i == 0 else spec.channels,
            spec.channels,
            spec.stride if i == 0 else 1,
            max(space.kernels),
            max(space.expands),
        )
        for i in range(space.max_depth)
    )


class Supernet(nn.Module):
    """Trunk + one branch copy per task of every stage + every exit head, all at maximum size."""

    def __init__(self, tasks: Sequence[TaskSpec], space: SearchSpace = V1) -> None:
        super().__init__()
        self.space = space
        self.tasks = check_tasks(tasks, space.num_tasks)
        self.stem = conv_bn(space.input_channels, space.stem_channels, 3, stride=2)
        self.trunk = nn.ModuleList(_elastic_stage(space, s) for s in range(space.num_stages))
        self.branches = nn.ModuleDict(
            {
                t.name: nn.ModuleList(_elastic_stage(space, s) for s in range(space.num_stages))
                for t in self.tasks
            }
        )
        positions = range(1, space.num_stages + 1)
        self.heads = nn.ModuleDict(
            {
                t.name: nn.ModuleDict({f"e{k}": ExitHead(space.stages[k - 1].channels, t) for k in positions})
                for t in self.tasks
            }
        )

    @staticmethod
    def _stage(blocks: nn.ModuleList, choice: Sequence[Block], x: torch.Tensor) -> torch.Tensor:
        for module, block in zip(blocks, choice):
            x = module(x, block)
        return x

    def forward(self, x: torch.Tensor, arch: Arch) -> dict[str, dict[int, torch.Tensor]]:
        """Outputs of subnet ``arch`` at *every* exit position (all heads are trained every step)."""
        n = self.space.num_stages
        shared = [self.stem(x)]
        for s in range(max(arch.branches)):
            shared.append(self._stage(self.trunk[s], arch.stages[s], shared[-1]))
        out = {}
        for task, bp in zip(self.tasks, arch.branches):
            h = shared[0]
            outs = {}
            for pos in range(1, n + 1):
                h = (
                    shared[pos]
                    if pos <= bp
                    else self._stage(self.branches[task.name][pos - 1], arch.stages[pos - 1], h)
                )
                outs[pos] = self.heads[task.name][f"e{pos}"](h)
            out[task.name] = outs
        return out

    @torch.no_grad()
    def extract(self, arch: Arch) -> MultiTaskNet:
        """The concrete network of ``arch`` with this supernet's sliced weights (BatchNorm not calibrated)."""
        net = build_model(arch, self.tasks)
        state: dict[str, torch.Tensor] = {}
        for name, value in self.stem.state_dict().items():
            state[f"stem.{name}"] = value

        def copy_stage(prefix: str, blocks: nn.ModuleList, s: int) -> None:
            for i, block in enumerate(arch.stages[s]):
                for key, w in blocks[i].weights(block).items():
                    state[f"{prefix}.{i}.{key}"] = w

        for s in range(len(net.trunk)):
            copy_stage(f"trunk.{s}", self.trunk[s], s)
        for task in self.tasks:
            for s in net.branches[task.name]:
                copy_stage(f"branches.{task.name}.{s}", self.branches[task.name][int(s)], int(s))
            for e in net.heads[task.name]:
                for key, w in self.heads[task.name][e].state_dict().items():
                    state[f"heads.{task.name}.{e}.{key}"] = w
        # running statistics are recalibrated after extraction; start them from the defaults
        missing = {k for k in net.state_dict() if k not in state}
        assert all(k.endswith(("running_mean", "running_var", "num_batches_tracked")) for k in missing), (
            missing
        )
        net.load_state_dict(state, strict=False)
        return net

    def sandwich(self, rng: random.Random, n_random: int = 2, separate_smallest: bool = False) -> list[Arch]:
        """The subnets of one sandwich-rule step: largest, smallest and ``n_random`` random ones.

        The largest network has one backbone per task (every branch point 0) and the smallest is fully
        shared, so the task branches' copies of the early stages are otherwise trained at full size only
        (plus the rare random subnet that branches early).  ``separate_smallest`` adds the smallest blocks
        with every branch point at 0, the other corner of the (size, sharing) square.
        """
        archs = [self.space.largest(), self.space.smallest()]
        if separate_smallest:
            archs.append(Arch(archs[1].stages, (0,) * self.space.num_tasks, (), space=self.space))
        return archs + [self.space.random_arch(rng) for _ in range(n_random)]


_ = MBConv  # extraction targets MBConv's parameter names ("expand.0.weight", ...)
