"""Exact cost metrics of a built network: parameters, MACs (cumulative per exit), peak activation memory.

MACs are counted by :class:`torch.utils.flop_counter.FlopCounterMode` (convolutions and linear layers; FLOPs =
2 x MACs); normalisation, activations, pooling and upsampling are not counted, as is usual for MobileNets.

The network is cut into *segments* so that any early-exit policy can be costed exactly:

- ``stem``; ``trunk_s{s}`` (shared stage s); ``{task}_s{s}`` (a task's own copy of stage s);
- ``{task}_e{k}`` (a task's exit head after stage k).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten
from torch.utils.flop_counter import FlopCounterMode

from nasbench_mt.model import MultiTaskNet

__all__ = ["Costs", "measure_costs", "peak_activation_bytes", "segment_names"]


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


def _path_segments(net: MultiTaskNet, task_index: int) -> list[str]:
    task = net.tasks[task_index]
    bp = net.arch.branches[task_index]
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

    macs_per_exit = {
        k: sum(v for name, v in seg_macs.items() if _segment_stage(name) <= k) for k in net.arch.all_exits
    }
    params_per_task = {
        task.name: sum(seg_params[s] for s in _path_segments(net, i)) for i, task in enumerate(net.tasks)
    }
    return Costs(
        params=sum(p.numel() for p in net.parameters()),
        params_per_task=params_per_task,
        macs=sum(seg_macs.values()),
        macs_per_exit=macs_per_exit,
        segment_macs=seg_macs,
        segment_params=seg_params,
        peak_activation_bytes=peak_activation_bytes(net, x),
    )
