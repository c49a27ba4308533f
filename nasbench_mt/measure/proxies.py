"""Zero-cost proxies: scores of a network at initialisation, computed without training.

Each proxy is computed on the architecture's own multi-task network
(:func:`~nasbench_mt.space.model.build_model`: every task and every one of its exits), freshly initialised
with a fixed seed, on one fixed batch of training scenes (``generate --protocol proxies`` uses the first 64
scenes of the measurement's fixed BatchNorm-calibration set).  How the several outputs of a multi-task,
early-exit network enter each proxy:

- ``synflow`` (Tanaka et al. 2020): all parameters replaced by their absolute values, an all-ones input, and
  ``R`` = the sum of *every* output of every task head at every exit; the score is
  ``sum |theta * dR/dtheta|`` over all parameters.  BatchNorm runs in eval mode (at initialisation its
  running statistics make it the identity), computed in float64 so that deep nets do not overflow.
- ``snip`` (Lee et al. 2019): ``sum |theta * dL/dtheta|``, ``L`` = the training loss (the sum over tasks and
  over the architecture's exits of each exit's loss, as :func:`~nasbench_mt.measure.train.multitask_loss`).
- ``grad_norm`` (Abdelfattah et al. 2021): the sum over parameter tensors of ``||dL/dtheta||_2``, same ``L``.
- ``jacob_cov`` (Mellor et al. 2021, v1): per-scene gradients of the sum of every output with respect to the
  input; with ``C`` their correlation matrix over the batch and ``v`` its eigenvalues,
  ``-sum(log(v + 1e-5) + 1 / (v + 1e-5))``.
- ``naswot`` (Mellor et al. 2021, v2): every ReLU6 in the network (trunk, task branches and heads) gives each
  scene a binary code (unit active or not); with ``K[i, j]`` the number of units on which scenes ``i`` and
  ``j`` agree, the score is ``log |det K|``.

Larger is better for every proxy (as published).  The scores are deterministic on the CPU for a seed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from nasbench_mt.measure.train import multitask_loss
from nasbench_mt.space.arch import Arch
from nasbench_mt.space.model import MultiTaskNet, build_model
from nasbench_mt.space.tasks import TaskSpec

__all__ = ["PROXIES", "compute_proxies", "proxy_columns"]


def _all_outputs(out: dict[str, dict[int, torch.Tensor]]) -> torch.Tensor:
    return sum(y.sum() for per_task in out.values() for y in per_task.values())


def _synflow(net: MultiTaskNet, x: torch.Tensor, y: dict, tasks: Sequence[TaskSpec]) -> float:
    net = net.double().eval()
    with torch.no_grad():
        for p in net.parameters():
            p.abs_()
    net.zero_grad()
    ones = torch.ones((1, *x.shape[1:]), dtype=torch.float64)
    _all_outputs(net(ones)).backward()
    with torch.no_grad():
        return float(sum((p * p.grad).abs().sum() for p in net.parameters() if p.grad is not None))


def _loss_grads(net: MultiTaskNet, x: torch.Tensor, y: dict, tasks: Sequence[TaskSpec]) -> list:
    """(parameter, gradient of the training loss) pairs; computed once and shared by snip and grad_norm
    (neither changes the weights)."""
    net.train()
    net.zero_grad()
    multitask_loss(net(x), y, tasks).backward()
    return [(p.detach(), p.grad.detach()) for p in net.parameters() if p.grad is not None]


def _snip(grads: list) -> float:
    return float(sum((p * g).abs().sum() for p, g in grads))


def _grad_norm(grads: list) -> float:
    return float(sum(g.norm() for _, g in grads))


def _jacob_cov(net: MultiTaskNet, x: torch.Tensor, y: dict, tasks: Sequence[TaskSpec]) -> float:
    net.train()
    x = x.clone().requires_grad_(True)
    net.zero_grad()
    _all_outputs(net(x)).backward()
    jac = x.grad.reshape(len(x), -1).double().numpy()
    corr = np.corrcoef(jac)
    corr = np.nan_to_num(corr, nan=0.0)
    v = np.linalg.eigvalsh(corr)
    k = 1e-5
    return float(-np.sum(np.log(np.abs(v) + k) + 1.0 / (np.abs(v) + k)))


def _naswot(net: MultiTaskNet, x: torch.Tensor, y: dict, tasks: Sequence[TaskSpec]) -> float:
    net.train()
    n = len(x)
    kernel = torch.zeros((n, n), dtype=torch.float64)

    def hook(module: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        code = (output.detach().reshape(n, -1) > 0).double()
        kernel.add_(code @ code.T + (1 - code) @ (1 - code).T)

    handles = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, nn.ReLU6)]
    try:
        with torch.no_grad():
            net(x)
    finally:
        for h in handles:
            h.remove()
    _, logdet = np.linalg.slogdet(kernel.numpy())
    return float(logdet)


# proxies read from one backward pass of the training loss, computed once per call and shared
_FROM_LOSS_GRADIENTS: dict[str, Callable[[list], float]] = {"snip": _snip, "grad_norm": _grad_norm}
# proxies that each need a network of their own (synflow changes the weights)
_FROM_NETWORK: dict[str, Callable[[MultiTaskNet, torch.Tensor, dict, Sequence[TaskSpec]], float]] = {
    "synflow": _synflow,
    "jacob_cov": _jacob_cov,
    "naswot": _naswot,
}
PROXIES = ("synflow", "snip", "grad_norm", "jacob_cov", "naswot")  # the names, in column order


def proxy_columns(names: Sequence[str] = PROXIES) -> list[str]:
    """Table column of each proxy: ``proxy_<name>``."""
    return [f"proxy_{n}" for n in names]


def compute_proxies(
    arch: Arch,
    tasks: Sequence[TaskSpec],
    x: torch.Tensor,
    y: dict[str, torch.Tensor],
    names: Sequence[str] = PROXIES,
    seed: int = 0,
) -> dict[str, float]:
    """Every proxy in ``names`` for ``arch`` on the batch ``(x, y)``, each on a fresh network initialised
    with ``seed`` (so one proxy's changes to the weights never reach another)."""
    unknown = [n for n in names if n not in PROXIES]
    if unknown:
        raise ValueError(f"invalid proxies: {unknown}; allowed: {list(PROXIES)}")
    if len(x) < 2:
        raise ValueError(
            f"invalid batch: {len(x)} scenes; allowed: at least 2 (jacob_cov and naswot compare them)"
        )
    out = {}

    def fresh() -> MultiTaskNet:
        torch.manual_seed(seed)
        return build_model(arch, tasks)

    if any(n in _FROM_LOSS_GRADIENTS for n in names):
        grads = _loss_grads(fresh(), x, y, tasks)
        out.update({n: _FROM_LOSS_GRADIENTS[n](grads) for n in names if n in _FROM_LOSS_GRADIENTS})
    out.update({n: _FROM_NETWORK[n](fresh(), x, y, tasks) for n in names if n in _FROM_NETWORK})
    return {f"proxy_{n}": out[n] for n in names}
