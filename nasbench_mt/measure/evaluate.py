"""Scoring a multi-task early-exit network: losses, BN recalibration, per-exit metrics, per-sample data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from nasbench_mt.measure.suite import Split
from nasbench_mt.space.tasks import TaskSpec

__all__ = [
    "ExitScores",
    "evaluate",
    "fold_batchnorm",
    "points_scale",
    "recalibrate_bn",
    "sample_errors",
    "task_loss",
]


def task_loss(task: TaskSpec, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Training loss of one exit: cross-entropy (classification, per-pixel for dense) or smooth L1 on the
    standardised target (regression; see :class:`~nasbench_mt.space.tasks.TaskSpec`)."""
    if task.kind == "regression":
        y = (target.reshape(target.shape[0], -1).float() - task.target_mean) / task.target_std
        return F.smooth_l1_loss(output.reshape(target.shape[0], -1), y)
    return F.cross_entropy(output, target)


def points_scale(task: TaskSpec, target: torch.Tensor) -> torch.Tensor:
    """Per-sample normaliser of a points task's NME from the ground truth ``target`` ``(N, 2 * points)``:
    the distance between the points ``task.norm_points`` (e.g. inter-ocular), or the bounding-box size
    ``sqrt(width * height)`` of all the points when ``norm_points`` is empty."""
    pts = target.reshape(len(target), task.points, 2).double()
    if task.norm_points:
        a, b = task.norm_points
        return (pts[:, a] - pts[:, b]).norm(dim=1)
    size = pts.amax(1) - pts.amin(1)
    return (size[:, 0] * size[:, 1]).sqrt()


def sample_errors(task: TaskSpec, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Per-sample error of a regression exit in the target's units: the mean absolute error over the values,
    or for a points task the NME (mean point-to-point distance over :func:`points_scale`)."""
    n = len(target)
    pred = output.float().reshape(n, -1) * task.target_std + task.target_mean
    y = target.reshape(n, -1).float()
    if not task.points:
        return (pred - y).abs().mean(1)
    dist = (pred - y).reshape(n, task.points, 2).double().norm(dim=2).mean(1)
    return (dist / points_scale(task, y)).float()


def recalibrate_bn(net: nn.Module, batches: Iterable[torch.Tensor]) -> nn.Module:
    """Reset every BatchNorm's statistics and re-estimate them as a *cumulative* average over ``batches``.

    ``momentum=None`` makes PyTorch average all batches equally; an exponential momentum over a few batches
    leaves the statistics biased towards the last batch (subnets then score far below their true accuracy).
    Returns ``net`` in eval mode.
    """
    bns = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    saved = [m.momentum for m in bns]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None
    net.train()
    device = _device_of(net)
    with torch.no_grad():
        for x in batches:
            net(x.to(device))
    for m, mom in zip(bns, saved):
        m.momentum = mom
    return net.eval()


def fold_batchnorm(net: nn.Module) -> nn.Module:
    """Fold every ``Conv2d -> BatchNorm2d`` pair of ``nn.Sequential`` containers into one biased convolution.

    Inference-only (the BatchNorm's running statistics are baked in), in place, returns ``net`` in eval mode.
    The outputs agree with the unfolded network up to float rounding; on one CPU thread evaluation takes
    about half the time, because eval-mode BatchNorm is a full extra pass over every activation.
    """
    net.eval()
    for mod in net.modules():
        if not isinstance(mod, nn.Sequential):
            continue
        for i in range(len(mod) - 1):
            conv, bn = mod[i], mod[i + 1]
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                mod[i] = fuse_conv_bn_eval(conv, bn)
                mod[i + 1] = nn.Identity()
    return net


@dataclass(frozen=True)
class ExitScores:
    """Scores of every (task, exit) on one split, plus per-sample confidence and correctness (uint8 x 255)."""

    scores: dict[tuple[str, int], float]
    conf: dict[tuple[str, int], np.ndarray]
    score: dict[tuple[str, int], np.ndarray]


def _to_u8(x: torch.Tensor) -> np.ndarray:
    return torch.round(x.clamp(0, 1) * 255).to(torch.uint8).cpu().numpy()


def _device_of(net: nn.Module) -> torch.device:
    param = next(net.parameters(), None)
    return torch.device("cpu") if param is None else param.device


def _forward(net: nn.Module, x: torch.Tensor, chunk: int) -> dict[str, dict[int, torch.Tensor]]:
    """``net(x)`` computed ``chunk`` samples at a time (the last piece takes the remainder, so no piece is
    smaller than ``chunk`` unless ``x`` is), the outputs concatenated: the activations of a piece stay in the
    CPU's caches.  Eval-mode outputs are per sample; the convolution kernels compute each sample's output in
    the same order whatever the batch size, down to batches of a few hundred pixels (``tests/measure``
    checks the equality), so the result is bit-identical to ``net(x)``."""
    pieces = max(1, len(x) // chunk) if chunk > 0 else 1
    if pieces == 1:
        return net(x)
    bounds = [i * chunk for i in range(pieces)] + [len(x)]
    outs = [net(x[a:b]) for a, b in zip(bounds, bounds[1:])]
    return {t: {k: torch.cat([o[t][k] for o in outs]) for k in outs[0][t]} for t in outs[0]}


@torch.inference_mode()
def evaluate(
    net: nn.Module,
    split: Split,
    tasks: Sequence[TaskSpec],
    batch_size: int = 500,
    n_per_sample: int = 0,
    channels_last: bool = True,
    forward_batch: int = 100,
) -> ExitScores:
    """Score ``net`` (eval mode) on ``split``: accuracy % (classification), mIoU % (dense), MAE (regression)
    or NME (regression of points, a fraction; see :class:`~nasbench_mt.space.tasks.TaskSpec`).

    mIoU is computed from a confusion matrix over the whole split (classes absent from both prediction and
    target are skipped).  For the first ``n_per_sample`` samples it also returns each sample's confidence
    (max softmax probability; dense: its mean over pixels) and score (correct or not; dense: pixel accuracy).

    Regression: the head's output is de-standardised (``out * target_std + target_mean``) so the MAE is in the
    target's own units; a sample's score is correct when its absolute error (points: its NME) is at most the
    task's ``tolerance`` (the cumulative score CS(tolerance) of age estimation; for landmarks one minus the
    failure rate at that threshold), and its confidence is 0 (a
    regression head has no confidence: an exit policy answers it at its first exit only with threshold 0).
    Inputs are moved to the device of ``net``'s parameters; the results are on the CPU.

    Scores accumulate per batch of ``batch_size`` samples; within a batch the network runs ``forward_batch``
    samples at a time on a CPU (faster, same outputs; 0: the whole batch at once; other devices always run
    whole batches).
    """
    net.eval()
    sums: dict[tuple[str, int], float] = {}
    confusion: dict[tuple[str, int], torch.Tensor] = {}
    conf: dict[tuple[str, int], list[np.ndarray]] = {}
    score: dict[tuple[str, int], list[np.ndarray]] = {}
    n = len(split)
    device = _device_of(net)
    for start in range(0, n, batch_size):
        x, ys = split.tensors(slice(start, start + batch_size))
        x, ys = x.to(device), {k: v.to(device) for k, v in ys.items()}
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        out = _forward(net, x, forward_batch if device.type == "cpu" else 0)
        keep = max(0, min(n_per_sample - start, len(x)))
        for task in tasks:
            y = ys[task.name]
            for k, logits in out[task.name].items():
                key = (task.name, k)
                if task.kind == "regression":
                    err = sample_errors(task, logits, y)
                    sums[key] = sums.get(key, 0.0) + float(err.sum())
                    if keep:
                        conf.setdefault(key, []).append(_to_u8(torch.zeros_like(err[:keep])))
                        score.setdefault(key, []).append(_to_u8((err[:keep] <= task.tolerance).float()))
                    continue
                prob = logits.float().softmax(1)
                p_max, pred = prob.max(1)
                correct = (pred == y).float()
                if task.kind == "dense":
                    c = task.num_outputs
                    idx = (y.reshape(-1) * c + pred.reshape(-1)).bincount(minlength=c * c).reshape(c, c)
                    confusion[key] = confusion.get(key, 0) + idx
                    p_max = p_max.flatten(1).mean(1)
                    correct = correct.flatten(1).mean(1)
                else:
                    sums[key] = sums.get(key, 0.0) + float(correct.sum())
                if keep:
                    conf.setdefault(key, []).append(_to_u8(p_max[:keep]))
                    score.setdefault(key, []).append(_to_u8(correct[:keep]))
    scores = {}
    for task in tasks:
        for key in [k for k in (set(sums) | set(confusion)) if k[0] == task.name]:
            if task.kind == "dense":
                cm = confusion[key].double()
                inter = cm.diag()
                union = cm.sum(0) + cm.sum(1) - inter
                present = union > 0
                scores[key] = float((inter[present] / union[present]).mean() * 100)
            elif task.kind == "regression":
                scores[key] = sums[key] / n
            else:
                scores[key] = sums[key] / n * 100
    return ExitScores(
        scores=scores,
        conf={k: np.concatenate(v) for k, v in conf.items()},
        score={k: np.concatenate(v) for k, v in score.items()},
    )
