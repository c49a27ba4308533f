"""Exact parameters and MACs of an :class:`~nasbench_mt.space.Arch` without building its network.

:func:`nasbench_mt.measure_costs` builds the whole multi-task network and runs a counted forward (~0.1 s per
architecture).  Costs are additive over blocks, exit heads and the stem, and each of those depends only on its
own choices and position, so this module counts every distinct part once (with the same counter, on the same
modules) and composes the totals.  :func:`analytic_costs` returns exactly what ``measure_costs`` returns, peak
activation memory aside (it is left at 0); ``tests/predictors/test_analytic_costs.py`` checks the equality.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import torch
from torch.utils.flop_counter import FlopCounterMode

from nasbench_mt.costs import Costs
from nasbench_mt.model import ExitHead, MBConv, conv_bn, default_tasks
from nasbench_mt.space import Arch, Block, SearchSpace
from nasbench_mt.tasks import TaskSpec, check_tasks

__all__ = ["analytic_costs"]


def _count(module: torch.nn.Module, channels: int, size: int) -> tuple[int, int]:
    """(params, MACs) of one eval forward of ``module`` on a batch-1 input."""
    module.eval()
    x = torch.zeros(1, channels, size, size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    return sum(p.numel() for p in module.parameters()), counter.get_total_flops() // 2


@functools.cache
def _stem_cost(space: SearchSpace) -> tuple[int, int]:
    stem = conv_bn(space.input_channels, space.stem_channels, 3, stride=2)
    return _count(stem, space.input_channels, space.input_size)


@functools.cache
def _block_cost(space: SearchSpace, stage: int, first: bool, block: Block) -> tuple[int, int]:
    """Cost of a block of 0-based ``stage``; the first block changes width and carries the stride."""
    spec = space.stages[stage]
    c_in = (
        (space.stem_channels if stage == 0 else space.stages[stage - 1].channels) if first else spec.channels
    )
    size = space.resolution_after(stage) if first else space.resolution_after(stage + 1)
    module = MBConv(c_in, spec.channels, block, spec.stride if first else 1)
    return _count(module, c_in, size)


@functools.cache
def _head_cost(space: SearchSpace, task: TaskSpec, position: int) -> tuple[int, int]:
    channels = space.stages[position - 1].channels
    return _count(ExitHead(channels, task), channels, space.resolution_after(position))


def _stage_cost(space: SearchSpace, stage: int, blocks: Sequence[Block]) -> tuple[int, int]:
    costs = [_block_cost(space, stage, i == 0, b) for i, b in enumerate(blocks)]
    return sum(c[0] for c in costs), sum(c[1] for c in costs)


def analytic_costs(arch: Arch, tasks: Sequence[TaskSpec] | None = None) -> Costs:
    """Exact :class:`~nasbench_mt.costs.Costs` of ``arch`` (``peak_activation_bytes`` = 0).

    ``tasks`` defaults to the built-in task suite, as in :func:`~nasbench_mt.model.build_model`. Example::

        >>> from nasbench_mt import V1
        >>> c = analytic_costs(V1.smallest())
        >>> c.params, c.macs
        (73209, 2599680)
    """
    if not isinstance(arch, Arch):
        raise ValueError(f"invalid arch: {type(arch).__name__}; allowed: an Arch")
    space = arch.space
    tasks = check_tasks(default_tasks() if tasks is None else tasks, arch.num_tasks)
    n_shared = max(arch.branches)
    stem_p, stem_m = _stem_cost(space)
    seg_params: dict[str, int] = {"stem": stem_p}
    seg_macs: dict[str, int] = {"stem": stem_m}
    stage_cost = [_stage_cost(space, s, arch.stages[s]) for s in range(space.num_stages)]
    for s in range(n_shared):
        seg_params[f"trunk_s{s + 1}"], seg_macs[f"trunk_s{s + 1}"] = stage_cost[s]
    path_stage_params = sum(p for p, _ in stage_cost)
    params_per_task = {}
    for task, bp in zip(tasks, arch.branches):
        for s in range(bp, space.num_stages):
            seg_params[f"{task.name}_s{s + 1}"], seg_macs[f"{task.name}_s{s + 1}"] = stage_cost[s]
        head_params = 0
        for k in arch.all_exits:
            p, m = _head_cost(space, task, k)
            seg_params[f"{task.name}_e{k}"], seg_macs[f"{task.name}_e{k}"] = p, m
            head_params += p
        params_per_task[task.name] = stem_p + path_stage_params + head_params

    def position(name: str) -> int:
        return 0 if name == "stem" else int(name.rsplit("_", 1)[1][1:])

    macs_per_exit = {k: sum(v for n, v in seg_macs.items() if position(n) <= k) for k in arch.all_exits}
    return Costs(
        params=sum(seg_params.values()),
        params_per_task=params_per_task,
        macs=sum(seg_macs.values()),
        macs_per_exit=macs_per_exit,
        segment_macs=seg_macs,
        segment_params=seg_params,
    )
