"""Exact cost metrics of a network: parameters, MACs (cumulative per exit), peak activation memory.

:func:`measure_costs` counts them on a built network; :func:`analytic_costs` gets the same numbers without
building it, from the costs of its distinct parts.  MACs are counted by
:class:`torch.utils.flop_counter.FlopCounterMode` (convolutions and linear layers; FLOPs = 2 x MACs);
normalisation, activations, pooling and upsampling are not counted, as is usual for MobileNets.

The network is cut into *segments* so that any early-exit policy can be costed exactly:

- ``stem``; ``trunk_s{s}`` (shared stage s); ``{task}_s{s}`` (a task's own copy of stage s);
- ``{task}_e{k}`` (a task's exit head after stage k).
"""

from __future__ import annotations

import functools
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from nasbench_mt.space.arch import Arch, Block, SearchSpace
from nasbench_mt.space.model import ExitHead, MBConv, MultiTaskNet, conv_bn
from nasbench_mt.space.tasks import TaskSpec, check_tasks

__all__ = [
    "Costs",
    "analytic_costs",
    "block_costs",
    "head_costs",
    "measure_costs",
    "peak_activation_bytes",
    "segment_names",
    "stem_costs",
]


@dataclass(frozen=True)
class Costs:
    """Exact costs of one network at batch size 1."""

    params: int
    params_per_task: dict[str, int]
    macs: int
    macs_per_exit: dict[int, int]
    segment_macs: dict[str, int]
    segment_params: dict[str, int]
    peak_activation_bytes: int = field(default=0)

    def as_row(self) -> dict[str, int]:
        """Flat columns for the benchmark table."""
        row = {
            "params": self.params,
            "macs": self.macs,
            "flops": 2 * self.macs,
            "peak_mem_bytes": self.peak_activation_bytes,
        }
        row.update({f"params_{t}": v for t, v in self.params_per_task.items()})
        row.update({f"macs_e{k}": v for k, v in self.macs_per_exit.items()})
        row.update({f"macs_seg_{k}": v for k, v in self.segment_macs.items()})
        return row


_SEGMENT_DEPTH = {"stem": 1, "trunk": 2, "branches": 3, "heads": 3}


def _segment_of(qualname: str, top_only: bool = False) -> str | None:
    """Segment name of a module or parameter path (relative to the net), or None for the net itself.

    With ``top_only``, only the segment's own top-level module maps to it (not its children).
    """
    parts = qualname.split(".")
    if top_only and len(parts) != _SEGMENT_DEPTH.get(parts[0], -1):
        return None
    if parts[0] == "stem":
        return "stem"
    if parts[0] == "trunk" and len(parts) >= 2:
        return f"trunk_s{int(parts[1]) + 1}"
    if parts[0] == "branches" and len(parts) >= 3:
        return f"{parts[1]}_s{int(parts[2]) + 1}"
    if parts[0] == "heads" and len(parts) >= 3:
        return f"{parts[1]}_{parts[2]}"
    return None


def segment_names(net: MultiTaskNet) -> list[str]:
    """Segments present in ``net`` in execution order."""
    names = ["stem"] + [f"trunk_s{s + 1}" for s in range(len(net.trunk))]
    for task in net.tasks:
        names += [f"{task.name}_s{int(s) + 1}" for s in net.branches[task.name]]
        names += [f"{task.name}_{e}" for e in net.heads[task.name]]
    return names


def _segment_stage(name: str) -> int:
    """Stage position of a segment: 0 for the stem, s for a stage s or an exit head after stage s."""
    if name == "stem":
        return 0
    return int(name.rsplit("_", 1)[1][1:])


def _macs_per_exit(seg_macs: dict[str, int], exits: Sequence[int]) -> dict[int, int]:
    """MACs of a forward up to each exit: every segment at or before its stage."""
    return {k: sum(v for name, v in seg_macs.items() if _segment_stage(name) <= k) for k in exits}


def _path_segments(net: MultiTaskNet, task_index: int) -> list[str]:
    task = net.tasks[task_index]
    bp = net.arch.written_branches[task_index]
    return (
        ["stem"]
        + [f"trunk_s{s}" for s in range(1, bp + 1)]
        + [f"{task.name}_s{int(s) + 1}" for s in net.branches[task.name]]
        + [f"{task.name}_{e}" for e in net.heads[task.name]]
    )


class _LiveActivations(TorchDispatchMode):
    """Track bytes of live tensors produced inside the mode; ``peak`` is the high-water mark."""

    def __init__(self, start_bytes: int = 0) -> None:
        super().__init__()
        self.refs: dict[int, list[int]] = {}
        self.current = start_bytes
        self.peak = start_bytes

    def _release(self, key: int) -> None:
        entry = self.refs.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] == 0:
            self.current -= entry[0]
            del self.refs[key]

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        for t in tree_flatten(out)[0]:
            if isinstance(t, torch.Tensor) and t.device.type != "meta":
                storage = t.untyped_storage()
                key = storage.data_ptr()
                if key in self.refs:
                    self.refs[key][1] += 1
                else:
                    self.refs[key] = [storage.nbytes(), 1]
                    self.current += storage.nbytes()
                    self.peak = max(self.peak, self.current)
                weakref.finalize(t, self._release, key)
        return out


def peak_activation_bytes(net: torch.nn.Module, x: torch.Tensor) -> int:
    """Peak bytes of live activations (input included, weights excluded) during one eval forward of ``x``."""
    net = net.eval()
    with torch.no_grad():
        mode = _LiveActivations(start_bytes=x.untyped_storage().nbytes())
        with mode:
            out = net(x)
        peak = mode.peak
        del out
    return int(peak)


def measure_costs(net: MultiTaskNet) -> Costs:
    """Exact parameters, MACs per segment / per exit, and peak activation memory of ``net`` at batch 1."""
    space = net.arch.space
    x = torch.zeros(1, space.input_channels, space.input_size, space.input_size)
    was_training = net.training
    net.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        net(x)
    net.train(was_training)
    seg_flops: dict[str, int] = {name: 0 for name in segment_names(net)}
    prefix = type(net).__name__ + "."
    for qualname, counts in counter.get_flop_counts().items():
        if not qualname.startswith(prefix):
            continue
        seg = _segment_of(qualname[len(prefix) :], top_only=True)  # children repeat their parent's flops
        if seg is not None:
            seg_flops[seg] += int(sum(counts.values()))
    seg_macs = {k: v // 2 for k, v in seg_flops.items()}

    seg_params: dict[str, int] = {name: 0 for name in seg_macs}
    for qualname, p in net.named_parameters():
        seg_params[_segment_of(qualname)] += p.numel()

    params_per_task = {
        task.name: sum(seg_params[s] for s in _path_segments(net, i)) for i, task in enumerate(net.tasks)
    }
    return Costs(
        params=sum(p.numel() for p in net.parameters()),
        params_per_task=params_per_task,
        macs=sum(seg_macs.values()),
        macs_per_exit=_macs_per_exit(seg_macs, net.arch.all_exits),
        segment_macs=seg_macs,
        segment_params=seg_params,
        peak_activation_bytes=peak_activation_bytes(net, x),
    )


# ------------------------------------------------------------------ analytic costs (no network built)
# Costs are additive over the stem, blocks and exit heads, and each of those depends only on its own choices
# and position: every distinct part is counted once (same counters, same modules) and the totals composed.


def _count(module: torch.nn.Module, channels: int, size: int) -> tuple[int, int]:
    """(params, MACs) of one eval forward of ``module`` on a batch-1 input."""
    module.eval()
    x = torch.zeros(1, channels, size, size)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(x)
    return sum(p.numel() for p in module.parameters()), counter.get_total_flops() // 2


def _activations(module: torch.nn.Module, channels: int, size: int) -> tuple[int, int]:
    """(peak, output) live activation bytes of one eval forward of ``module``, beyond its batch-1 input."""
    module.eval()
    with torch.no_grad():
        mode = _LiveActivations()
        with mode:
            x = torch.zeros(1, channels, size, size)
            start = mode.current
            out = module(x)
            out_bytes = mode.current - start
        del out
    return mode.peak - start, out_bytes


def _stem(space: SearchSpace) -> tuple[torch.nn.Module, int, int]:
    stem = conv_bn(space.input_channels, space.stem_channels, 3, stride=2)
    return stem, space.input_channels, space.input_size


def _block(space: SearchSpace, stage: int, first: bool, block: Block) -> tuple[torch.nn.Module, int, int]:
    spec = space.stages[stage]
    c_in = (
        (space.stem_channels if stage == 0 else space.stages[stage - 1].channels) if first else spec.channels
    )
    size = space.resolution_after(stage) if first else space.resolution_after(stage + 1)
    return MBConv(c_in, spec.channels, block, spec.stride if first else 1), c_in, size


def _head(space: SearchSpace, task: TaskSpec, position: int) -> tuple[torch.nn.Module, int, int]:
    channels = space.stages[position - 1].channels
    return ExitHead(channels, task), channels, space.resolution_after(position)


@functools.cache
def stem_costs(space: SearchSpace) -> tuple[int, int]:
    """(params, MACs) of the stem of ``space``."""
    return _count(*_stem(space))


@functools.cache
def block_costs(space: SearchSpace, stage: int, first: bool, block: Block) -> tuple[int, int]:
    """(params, MACs) of a block of 0-based ``stage``; the ``first`` one changes width and strides."""
    return _count(*_block(space, stage, first, block))


@functools.cache
def head_costs(space: SearchSpace, task: TaskSpec, position: int) -> tuple[int, int]:
    """(params, MACs) of ``task``'s exit head after stage ``position``."""
    return _count(*_head(space, task, position))


@functools.cache
def _part_activations(part: Callable[..., tuple[torch.nn.Module, int, int]], *key: Any) -> tuple[int, int]:
    """:func:`_activations` of the part that ``part(*key)`` builds (``_stem``, ``_block`` or ``_head``)."""
    return _activations(*part(*key))


def _stage_activations(space: SearchSpace, stage: int, blocks: Sequence[Block]) -> tuple[int, int]:
    """(peak, output) bytes of a stage beyond its input: each block runs while the previous output lives."""
    peak = prev = 0
    for i, block in enumerate(blocks):
        block_peak, out = _part_activations(_block, space, stage, i == 0, block)
        peak, prev = max(peak, prev + block_peak), out
    return peak, prev


def _analytic_peak_bytes(arch: Arch, tasks: Sequence[TaskSpec]) -> int:
    """:func:`peak_activation_bytes` of the built network, replaying :meth:`MultiTaskNet.forward`'s live set:
    the input and every shared-stage output live to the end, so does every exit output; a task's own stage
    output lives until the next one replaces it."""
    space = arch.space
    live = 4 * space.input_channels * space.input_size**2  # the float32 input
    peak, out = _part_activations(_stem, space)
    peak, live = live + peak, live + out
    for s in range(max(arch.written_branches)):
        stage_peak, out = _stage_activations(space, s, arch.stages[s])
        peak, live = max(peak, live + stage_peak), live + out
    for task, bp in zip(tasks, arch.written_branches):
        own = 0
        for pos in range(1, space.num_stages + 1):
            if pos > bp:
                stage_peak, out = _stage_activations(space, pos - 1, arch.stages[pos - 1])
                peak, own = max(peak, live + own + stage_peak), out
            if pos in arch.all_exits:
                head_peak, out = _part_activations(_head, space, task, pos)
                peak, live = max(peak, live + own + head_peak), live + out
    return peak


def analytic_costs(arch: Arch, tasks: Sequence[TaskSpec] | None = None, peak_memory: bool = False) -> Costs:
    """:func:`measure_costs` of ``arch``'s network without building it (``peak_activation_bytes`` is 0 unless
    ``peak_memory``, which costs a little more the first time each part is seen).

    ``tasks`` defaults to the task list of the architecture's space, as in
    :func:`~nasbench_mt.space.model.build_model`.
    Example::

        >>> from nasbench_mt import V1
        >>> c = analytic_costs(V1.smallest())
        >>> c.params, c.macs
        (73209, 2599680)
    """
    if not isinstance(arch, Arch):
        raise ValueError(f"invalid arch: {type(arch).__name__}; allowed: an Arch")
    space = arch.space
    tasks = check_tasks(space.tasks if tasks is None else tasks, arch.num_tasks)
    stem_p, stem_m = stem_costs(space)
    seg_params: dict[str, int] = {"stem": stem_p}
    seg_macs: dict[str, int] = {"stem": stem_m}
    stage_costs = []
    for s in range(space.num_stages):
        blocks = [block_costs(space, s, i == 0, b) for i, b in enumerate(arch.stages[s])]
        stage_costs.append((sum(c[0] for c in blocks), sum(c[1] for c in blocks)))
    for s in range(max(arch.written_branches)):
        seg_params[f"trunk_s{s + 1}"], seg_macs[f"trunk_s{s + 1}"] = stage_costs[s]
    path_stage_params = sum(p for p, _ in stage_costs)
    params_per_task = {}
    for task, bp in zip(tasks, arch.written_branches):
        for s in range(bp, space.num_stages):
            seg_params[f"{task.name}_s{s + 1}"], seg_macs[f"{task.name}_s{s + 1}"] = stage_costs[s]
        head_params = 0
        for k in arch.all_exits:
            p, m = head_costs(space, task, k)
            seg_params[f"{task.name}_e{k}"], seg_macs[f"{task.name}_e{k}"] = p, m
            head_params += p
        params_per_task[task.name] = stem_p + path_stage_params + head_params
    return Costs(
        params=sum(seg_params.values()),
        params_per_task=params_per_task,
        macs=sum(seg_macs.values()),
        macs_per_exit=_macs_per_exit(seg_macs, arch.all_exits),
        segment_macs=seg_macs,
        segment_params=seg_params,
        peak_activation_bytes=_analytic_peak_bytes(arch, tasks) if peak_memory else 0,
    )
