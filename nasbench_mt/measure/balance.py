"""Loss balancing across tasks and exits: how the (task, exit) losses of a batch add up to the training loss.

Every exit of every task is supervised (as in MSDNet).  The schemes (``TrainConfig.loss_balance``):

- ``fixed`` (the default): ``sum over tasks t and exits k of w_t * v_k * L_tk`` with fixed per-task weights
  ``w_t`` (``task_weights``) and per-exit weights ``v_k`` (``exit_weights``, by exit position); every weight
  defaults to 1, which is the plain unweighted sum the v1 release was trained with, computed by the very same
  expression (bit for bit);
- ``uncertainty``: homoscedastic uncertainty weighting (Kendall, Gal and Cipolla, CVPR 2018) with one learned
  log variance ``s_t`` per task, trained with the network: ``sum over t of 0.5 * exp(-s_t) * L_t + 0.5 * s_t``
  where ``L_t`` is the task's fixed-weighted sum over its exits; ``s_t`` starts at 0.

The weights are validated against the suite's task names and the space's exit positions before training.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import torch
from torch import nn

from nasbench_mt.measure.evaluate import task_loss
from nasbench_mt.space.tasks import TaskSpec

__all__ = ["BALANCES", "LossBalancer", "parse_weights", "unweighted_loss"]

BALANCES = ("fixed", "uncertainty")
_EXAMPLE = {"task": "digit=2,seg=0.5", "exit": "1=0.5,4=2"}
Outputs = dict[str, dict[int, torch.Tensor]]  # {task: {exit position: output}}


def unweighted_loss(
    out: Outputs, targets: dict[str, torch.Tensor], tasks: Sequence[TaskSpec]
) -> torch.Tensor:
    """The plain sum over tasks and exits of each exit's loss (the v1 training loss)."""
    return sum(task_loss(t, y, targets[t.name]) for t in tasks for y in out[t.name].values())


def parse_weights(value: object, what: str) -> dict | None:
    """``task`` or ``exit`` weights from a mapping or a ``KEY=WEIGHT,...`` string, checked (finite, >= 0, not
    all 0; exit keys are positions >= 1); ``None`` or empty means none."""
    if value is None or value == "" or value == {}:
        return None
    if isinstance(value, str):
        pairs = {}
        for part in value.split(","):
            key, sep, weight = part.strip().partition("=")
            if not sep or not key.strip():
                raise ValueError(
                    f"invalid loss weights: {value!r}; allowed: KEY=WEIGHT pairs separated by commas, "
                    f"e.g. {_EXAMPLE[what]}"
                )
            pairs[key.strip()] = weight.strip()
        value = pairs
    if not isinstance(value, Mapping):
        raise ValueError(
            f"invalid loss weights: {value!r}; allowed: a mapping of {what} to weight, e.g. {_EXAMPLE[what]}"
        )
    out: dict = {}
    for key, weight in value.items():
        try:
            w = float(weight)
        except (TypeError, ValueError):
            w = math.nan
        if not (math.isfinite(w) and w >= 0):
            raise ValueError(
                f"invalid loss weights: {what} {key!r} has weight {weight!r}; allowed: a finite number >= 0"
            )
        if what == "exit":
            text = str(key).strip()
            if not (text.isdigit() and int(text) >= 1):
                raise ValueError(
                    f"invalid loss weights: exit {key!r}; allowed: exit positions 1, 2, ... (e.g. 1=0.5)"
                )
            key = int(text)
        out[key] = w
    if not any(out.values()):
        raise ValueError(f"invalid loss weights: every {what} weight is 0 ({out}); allowed: at least one > 0")
    return dict(sorted(out.items(), key=lambda kv: str(kv[0]).zfill(8)))


class LossBalancer(nn.Module):
    """The training loss of one batch from every exit's output (see the module docstring).

    ``exits`` are the space's exit positions; unknown task names or positions in the weights are an error.
    The module holds the learned log variances of the ``uncertainty`` scheme (none under ``fixed``), which
    the training loop optimises with the network's weights.
    """

    def __init__(
        self,
        tasks: Sequence[TaskSpec],
        scheme: str = "fixed",
        task_weights: Mapping | str | None = None,
        exit_weights: Mapping | str | None = None,
        exits: Sequence[int] = (),
    ) -> None:
        super().__init__()
        if scheme not in BALANCES:
            raise ValueError(f"invalid loss balance: {scheme!r}; allowed: {list(BALANCES)}")
        self.tasks = tuple(tasks)
        self.scheme = scheme
        self.task_weights = parse_weights(task_weights, "task") or {}
        self.exit_weights = parse_weights(exit_weights, "exit") or {}
        names = [t.name for t in self.tasks]
        unknown = [k for k in self.task_weights if k not in names]
        if unknown:
            raise ValueError(
                f"invalid loss weights: unknown tasks {unknown}; allowed: the suite's tasks {names}"
            )
        bad = [k for k in self.exit_weights if exits and k not in exits]
        if bad:
            raise ValueError(
                f"invalid loss weights: unknown exit positions {bad}; "
                f"allowed: the space's exits {list(exits)}"
            )
        if scheme == "uncertainty":
            self.log_vars = nn.Parameter(torch.zeros(len(self.tasks)))

    @property
    def plain(self) -> bool:
        """The default: the unweighted sum over every task and exit."""
        return self.scheme == "fixed" and not any(
            w != 1.0 for w in (*self.task_weights.values(), *self.exit_weights.values())
        )

    def forward(
        self, out: dict[str, dict[int, torch.Tensor]], targets: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        if self.plain:  # exactly the v1 loss (no multiplications by 1: the same graph, the same bits)
            return sum(task_loss(t, y, targets[t.name]) for t in self.tasks for y in out[t.name].values())
        total = 0.0
        for i, t in enumerate(self.tasks):
            w = self.task_weights.get(t.name, 1.0)
            loss = sum(
                w * self.exit_weights.get(k, 1.0) * task_loss(t, y, targets[t.name])
                for k, y in out[t.name].items()
            )
            if self.scheme == "uncertainty":
                s = self.log_vars[i]
                loss = 0.5 * torch.exp(-s) * loss + 0.5 * s
            total = total + loss
        return total

    def record(self) -> dict:
        """What the manifest and checkpoint record: the scheme, the fixed weights and any learned values."""
        out: dict = {
            "scheme": self.scheme,
            "task_weights": dict(self.task_weights),
            "exit_weights": {str(k): w for k, w in self.exit_weights.items()},
        }
        if self.scheme == "uncertainty":
            s = self.log_vars.detach().cpu().tolist()
            out["log_variances"] = {t.name: round(v, 6) for t, v in zip(self.tasks, s)}
            out["task_scales"] = {t.name: round(0.5 * math.exp(-v), 6) for t, v in zip(self.tasks, s)}
        return out
