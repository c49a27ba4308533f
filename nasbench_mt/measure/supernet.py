"""One weight-sharing supernet over a whole search space (v1 or any task list), and subnet extraction.

The supernet holds a trunk copy and one branch copy per task of every stage (each with the maximum depth,
kernel and expand ratio), and an exit head per task at every exit position.  A subnet uses

- elastic depth: the first ``d`` blocks of a stage;
- elastic kernel: the centre ``k x k`` crop of the 7x7 depthwise kernel;
- elastic expand: the first ``c_in * e`` hidden channels.

:meth:`Supernet.extract` copies a subnet's weights into the concrete
:func:`~nasbench_mt.space.model.build_model`
network, so every measured row is a real network whose weights exist.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nasbench_mt.space.arch import V1, Arch, Block, SearchSpace, few_shot_regions
from nasbench_mt.space.model import ExitHead, MBConv, MultiTaskNet, build_model, conv_bn
from nasbench_mt.space.tasks import TaskSpec, check_tasks

__all__ = [
    "DeltaMBConv",
    "ElasticMBConv",
    "FewShotSupernet",
    "Supernet",
]


def _bn(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """Batch norm with batch statistics (supernet statistics are never used: every subnet is recalibrated
    after extraction)."""
    return F.batch_norm(x, None, None, weight, bias, training=True, eps=1e-5)


class ElasticMBConv(nn.Module):
    """An MBConv block at maximum size whose kernel and expand ratio are chosen per forward.

    A smaller kernel is the centre crop of the largest one, unless ``kernels`` lists the smaller sizes that
    get depthwise weights of their own (initialised like a standalone convolution of that size).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        stride: int,
        max_kernel: int,
        max_expand: int,
        kernels: Sequence[int] = (),
    ) -> None:
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
        self.own_kernels = nn.ParameterDict(
            {
                f"k{k}": nn.Parameter(nn.Conv2d(hidden, hidden, k, groups=hidden, bias=False).weight.detach())
                for k in kernels
                if k != max_kernel
            }
        )

    def full(self) -> dict[str, torch.Tensor]:
        """The block's tensors at maximum size, keyed like :class:`~nasbench_mt.space.model.MBConv`'s state
        dict."""
        return {
            "expand.0.weight": self.expand_conv.weight,
            "expand.1.weight": self.expand_bn.weight,
            "expand.1.bias": self.expand_bn.bias,
            "depthwise.0.weight": self.dw_conv.weight,
            "depthwise.1.weight": self.dw_bn.weight,
            "depthwise.1.bias": self.dw_bn.bias,
            "project.0.weight": self.project_conv.weight,
            "project.1.weight": self.project_bn.weight,
            "project.1.bias": self.project_bn.bias,
        }

    def weights(self, block: Block) -> dict[str, torch.Tensor]:
        """Sliced weights of ``block``, keyed like :class:`~nasbench_mt.space.model.MBConv`'s state dict."""
        w = self.full()
        h = self.c_in * block.expand
        lo = (self.max_kernel - block.kernel) // 2
        hi = lo + block.kernel
        out = {k: v[:h] for k, v in w.items() if k.startswith(("expand.", "depthwise."))}
        key = f"k{block.kernel}"
        if key in self.own_kernels:
            out["depthwise.0.weight"] = self.own_kernels[key][:h]
        else:
            out["depthwise.0.weight"] = w["depthwise.0.weight"][:h, :, lo:hi, lo:hi]
        out["project.0.weight"] = w["project.0.weight"][:, :h]
        out.update({k: v for k, v in w.items() if k.startswith("project.1.")})
        return out

    def forward(self, x: torch.Tensor, block: Block) -> torch.Tensor:
        w = self.weights(block)
        k = block.kernel
        y = F.relu6(_bn(F.conv2d(x, w["expand.0.weight"]), w["expand.1.weight"], w["expand.1.bias"]))
        y = F.conv2d(
            y, w["depthwise.0.weight"], stride=self.stride, padding=k // 2, groups=self.c_in * block.expand
        )
        y = F.relu6(_bn(y, w["depthwise.1.weight"], w["depthwise.1.bias"]))
        y = _bn(F.conv2d(y, w["project.0.weight"]), w["project.1.weight"], w["project.1.bias"])
        return x + y if self.residual else y


class DeltaMBConv(ElasticMBConv):
    """A task-branch block stored as ``base + delta``: the trunk block's tensors plus this task's own
    difference, initialised at zero, so a branch starts from (and keeps learning through) the trunk weights
    however rarely the subnets route through it."""

    def __init__(self, base: ElasticMBConv) -> None:
        nn.Module.__init__(self)
        self.c_in, self.c_out, self.stride = base.c_in, base.c_out, base.stride
        self.max_kernel, self.residual = base.max_kernel, base.residual
        self.own_kernels = nn.ParameterDict()
        self._base = (base,)  # a tuple: not registered twice in the state dict
        self.delta = nn.ParameterDict(
            {k.replace(".", "_"): nn.Parameter(torch.zeros_like(v)) for k, v in base.full().items()}
        )

    def full(self) -> dict[str, torch.Tensor]:
        return {k: v + self.delta[k.replace(".", "_")] for k, v in self._base[0].full().items()}


def _elastic_stage(space: SearchSpace, s: int, independent_kernels: bool = False) -> nn.ModuleList:
    c_in = space.stem_channels if s == 0 else space.stages[s - 1].channels
    spec = space.stages[s]
    return nn.ModuleList(
        ElasticMBConv(
            c_in if i == 0 else spec.channels,
            spec.channels,
            spec.stride if i == 0 else 1,
            max(space.kernels),
            max(space.expands),
            space.kernels if independent_kernels else (),
        )
        for i in range(space.max_depth)
    )


class Supernet(nn.Module):
    """Trunk + one branch copy per task of every stage + every exit head, all at maximum size (``space``
    defaults to the v1 geometry with the task list ``tasks``).

    Three structure options (saved with a checkpoint, see :attr:`structure`):

    - ``solo_branch``: a trunk stage that only one task still uses (every other task has branched off
      before it) computes exactly what that task's own branch would, so it is routed through -- and
      extracted from -- that task's branch copy instead of the trunk, which is trained as a compromise
      between tasks.  Two ids that describe the same network then also share weights.
    - ``branch_delta``: each task's branch copy is the trunk's block plus a per-task difference initialised
      at zero (:class:`DeltaMBConv`), so rarely sampled early branches are never left untrained.
    - ``independent_kernels``: every kernel size has depthwise weights of its own instead of being the
      centre crop of the largest kernel (OFA shares them; a crop cannot be worse than the kernel it is cut
      from, which inverts the ranking where a large kernel trains worse from scratch).  Not combinable
      with ``branch_delta``.
    """

    def __init__(
        self,
        tasks: Sequence[TaskSpec],
        space: SearchSpace | None = None,
        *,
        solo_branch: bool = False,
        branch_delta: bool = False,
        independent_kernels: bool = False,
    ) -> None:
        super().__init__()
        if branch_delta and independent_kernels:
            raise ValueError(
                "invalid supernet structure: branch_delta with independent_kernels; "
                "allowed: at most one of them"
            )
        space = V1.with_tasks(tasks) if space is None else space
        self.space = space
        self.tasks = check_tasks(tasks, space.num_tasks)
        self.solo_branch, self.branch_delta = bool(solo_branch), bool(branch_delta)
        self.independent_kernels = bool(independent_kernels)
        self.stem = conv_bn(space.input_channels, space.stem_channels, 3, stride=2)
        self.trunk = nn.ModuleList(
            _elastic_stage(space, s, independent_kernels) for s in range(space.num_stages)
        )

        def branch(s: int) -> nn.ModuleList:
            if branch_delta:
                return nn.ModuleList(DeltaMBConv(b) for b in self.trunk[s])
            return _elastic_stage(space, s, independent_kernels)

        self.branches = nn.ModuleDict(
            {t.name: nn.ModuleList(branch(s) for s in range(space.num_stages)) for t in self.tasks}
        )
        positions = range(1, space.num_stages + 1)
        self.heads = nn.ModuleDict(
            {
                t.name: nn.ModuleDict({f"e{k}": ExitHead(space.stages[k - 1].channels, t) for k in positions})
                for t in self.tasks
            }
        )

    @property
    def structure(self) -> dict[str, bool]:
        """The constructor options a checkpoint needs to be loaded (``Supernet(tasks, **structure)``)."""
        return {
            "solo_branch": self.solo_branch,
            "branch_delta": self.branch_delta,
            "independent_kernels": self.independent_kernels,
        }

    def trunk_stage(self, arch: Arch, s: int) -> nn.ModuleList:
        """The blocks that compute trunk stage ``s`` of ``arch`` (see ``solo_branch``)."""
        if self.solo_branch:
            users = [t for t, bp in zip(self.tasks, arch.written_branches) if bp > s]
            if len(users) == 1:
                return self.branches[users[0].name][s]
        return self.trunk[s]

    @staticmethod
    def _stage(blocks: nn.ModuleList, choice: Sequence[Block], x: torch.Tensor) -> torch.Tensor:
        for module, block in zip(blocks, choice):
            x = module(x, block)
        return x

    def forward(self, x: torch.Tensor, arch: Arch) -> dict[str, dict[int, torch.Tensor]]:
        """Outputs of subnet ``arch`` at *every* exit position (all heads are trained every step)."""
        n = self.space.num_stages
        shared = [self.stem(x)]
        for s in range(max(arch.written_branches)):
            shared.append(self._stage(self.trunk_stage(arch, s), arch.stages[s], shared[-1]))
        out = {}
        for task, bp in zip(self.tasks, arch.written_branches):
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
            copy_stage(f"trunk.{s}", self.trunk_stage(arch, s), s)
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

    def sandwich(
        self,
        rng: random.Random,
        n_random: int = 2,
        separate_smallest: bool = False,
        separate_random: bool = False,
        region: Sequence[Sequence[int]] | None = None,
    ) -> list[Arch]:
        """The subnets of one sandwich-rule step: largest, smallest and ``n_random`` random ones.

        The largest network has one backbone per task (every branch point 0) and the smallest is fully
        shared, so the task branches' copies of the early stages are otherwise trained at full size only
        (plus the rare random subnet that branches early).  ``separate_smallest`` adds the smallest blocks
        with every branch point at 0, the other corner of the (size, sharing) square; ``separate_random``
        adds random blocks with every branch point at 0, so every branch copy is also trained at a random
        size in every step.

        ``region`` (a few-shot part, see :func:`few_shot_regions`) restricts each task's branch point to a
        set: the largest subnet takes each set's smallest branch point, the smallest its largest, random
        subnets a uniform choice.  Without it the step is exactly the unrestricted one.
        """
        largest, smallest = self.space.largest(), self.space.smallest()
        sets = [tuple(s) for s in region] if region is not None else None
        low = tuple(min(s) for s in sets) if sets else largest.branches
        high = tuple(max(s) for s in sets) if sets else smallest.branches
        archs = [
            Arch(largest.stages, low, largest.exits, space=self.space),
            Arch(smallest.stages, high, smallest.exits, space=self.space),
        ]
        separate = tuple(min(s) for s in sets) if sets else (0,) * self.space.num_tasks
        if separate_smallest:
            archs.append(Arch(smallest.stages, separate, (), space=self.space))
        if separate_random:
            drawn = self.space.random_arch(rng)
            archs.append(Arch(drawn.stages, separate, drawn.exits, space=self.space))
        for _ in range(n_random):
            drawn = self.space.random_arch(rng)
            if sets:
                branches = tuple(rng.choice(s) for s in sets)
                drawn = Arch(drawn.stages, branches, drawn.exits, space=self.space)
            archs.append(drawn)
        return archs


# ------------------------------------------------------------------------------------------- few-shot
class FewShotSupernet(nn.Module):
    """Few-shot NAS: one :class:`Supernet` per part of a split of the space (:func:`few_shot_regions`),
    each usually fine-tuned from a shared parent on its own part only; a subnet is extracted from (and
    measured with) the part it belongs to."""

    def __init__(
        self, tasks: Sequence[TaskSpec], space: SearchSpace | None = None, *, few_shot: str, **structure: bool
    ) -> None:
        super().__init__()
        space = V1.with_tasks(tasks) if space is None else space
        self.split = few_shot
        names = [t.name for t in check_tasks(tasks, space.num_tasks)]
        self.regions = few_shot_regions(few_shot, names, space)
        self.parts = nn.ModuleDict({k: Supernet(tasks, space, **structure) for k in self.regions})
        first = next(iter(self.parts.values()))
        self.space, self.tasks = space, first.tasks

    @property
    def structure(self) -> dict:
        return {**next(iter(self.parts.values())).structure, "few_shot": self.split}

    def part_of(self, arch: Arch) -> str:
        """The name of the part ``arch`` belongs to."""
        for name, sets in self.regions.items():
            if all(b in s for b, s in zip(arch.written_branches, sets)):
                return name
        raise ValueError(f"invalid arch: {arch.to_string()} is in no part of split {self.split!r}")

    def forward(self, x: torch.Tensor, arch: Arch) -> dict[str, dict[int, torch.Tensor]]:
        return self.parts[self.part_of(arch)](x, arch)

    def extract(self, arch: Arch) -> MultiTaskNet:
        return self.parts[self.part_of(arch)].extract(arch)


_ = MBConv  # extraction targets MBConv's parameter names ("expand.0.weight", ...)
