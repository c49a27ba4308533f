"""Task declarations: what each task head predicts and how it is scored."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["KINDS", "METRIC_OF_KIND", "SCENE_TASKS", "TaskSpec", "check_tasks"]

KINDS = ("classification", "regression", "dense")
METRIC_OF_KIND = {"classification": "acc", "regression": "mae", "dense": "miou"}
POINTS_METRIC = "nme"  # regression of 2-D points (landmarks)


@dataclass(frozen=True)
class TaskSpec:
    """One task of a multi-task suite.

    ``num_outputs`` is the number of classes (classification, dense) or of regressed values (regression).
    Dense tasks predict a ``out_size`` x ``out_size`` label map.

    Regression targets are stored in their original units; heads are trained on the standardised target
    ``(y - target_mean) / target_std`` and scored (MAE) back in the original units.  A test sample counts as
    correct in the per-sample records when its absolute error is at most ``tolerance`` (original units).

    A regression task with ``points > 0`` predicts ``points`` 2-D points (landmarks), its ``num_outputs =
    2 * points`` values ordered ``x1, y1, x2, y2, ...``.  It is scored by the normalised mean error (NME, a
    fraction): the mean point-to-point distance divided by the distance between the two ground-truth points
    ``norm_points`` (e.g. the eye centres: inter-ocular normalisation) or, when ``norm_points`` is empty, by
    the ground-truth points' bounding-box size ``sqrt(width * height)``.  A sample counts as correct when its
    NME is at most ``tolerance`` (0.1 is the usual failure threshold).
    """

    name: str
    kind: str
    num_outputs: int
    out_size: int = 16
    target_mean: float = 0.0
    target_std: float = 1.0
    tolerance: float = 0.0
    points: int = 0
    norm_points: tuple[int, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.isidentifier():
            raise ValueError(
                f"invalid task name: {self.name!r}; allowed: a Python identifier such as 'digit'"
            )
        if self.kind not in KINDS:
            raise ValueError(f"invalid task kind for {self.name!r}: {self.kind!r}; allowed: {list(KINDS)}")
        if not isinstance(self.num_outputs, int) or self.num_outputs < 1:
            raise ValueError(
                f"invalid num_outputs for {self.name!r}: {self.num_outputs!r}; allowed: int >= 1"
            )
        if self.kind != "regression" and self.num_outputs < 2:
            raise ValueError(
                f"invalid num_outputs for {self.name!r}: {self.num_outputs}; allowed: >= 2 classes"
            )
        if not isinstance(self.out_size, int) or self.out_size < 1:
            raise ValueError(f"invalid out_size for {self.name!r}: {self.out_size!r}; allowed: int >= 1")
        if not (isinstance(self.target_mean, (int, float)) and math.isfinite(self.target_mean)):
            raise ValueError(f"invalid target_mean for {self.name!r}: {self.target_mean!r}; allowed: finite")
        if not (
            isinstance(self.target_std, (int, float))
            and math.isfinite(self.target_std)
            and self.target_std > 0
        ):
            raise ValueError(f"invalid target_std for {self.name!r}: {self.target_std!r}; allowed: > 0")
        if not (isinstance(self.tolerance, (int, float)) and self.tolerance >= 0):
            raise ValueError(f"invalid tolerance for {self.name!r}: {self.tolerance!r}; allowed: >= 0")
        self._check_points()

    def _check_points(self) -> None:
        object.__setattr__(self, "norm_points", tuple(self.norm_points))
        if not isinstance(self.points, int) or self.points < 0:
            raise ValueError(f"invalid points for {self.name!r}: {self.points!r}; allowed: an int >= 0")
        if self.points and (self.kind != "regression" or self.num_outputs != 2 * self.points):
            raise ValueError(
                f"invalid points for {self.name!r}: {self.points} points of a {self.kind} task with "
                f"{self.num_outputs} outputs; allowed: a regression task with num_outputs = 2 * points"
            )
        if self.points == 1 and not self.norm_points:
            raise ValueError(
                f"invalid points for {self.name!r}: 1 point has no bounding box to normalise by; "
                "allowed: >= 2 points"
            )
        norm = self.norm_points
        if norm and not (
            self.points
            and len(norm) == 2
            and all(isinstance(i, int) and 0 <= i < self.points for i in norm)
            and norm[0] != norm[1]
        ):
            raise ValueError(
                f"invalid norm_points for {self.name!r}: {list(norm)}; allowed: two distinct point indices "
                f"in 0..{max(self.points - 1, 0)} of a task with points, or none (bounding-box size)"
            )

    @property
    def metric(self) -> str:
        """Name of the score: ``acc`` (higher is better), ``miou`` (higher), ``mae`` or ``nme`` (lower)."""
        return POINTS_METRIC if self.points else METRIC_OF_KIND[self.kind]

    @property
    def higher_is_better(self) -> bool:
        return self.kind != "regression"


def check_tasks(tasks: Sequence[TaskSpec], num_tasks: int) -> tuple[TaskSpec, ...]:
    """Validate a task list against the number of tasks an architecture has."""
    tasks = tuple(tasks)
    if not all(isinstance(t, TaskSpec) for t in tasks):
        raise ValueError(f"invalid task_heads: {tasks!r}; allowed: a sequence of TaskSpec")
    if len(tasks) != num_tasks:
        raise ValueError(
            f"invalid task_heads: {len(tasks)} tasks given; allowed: exactly {num_tasks} (one per branch)"
        )
    names = [t.name for t in tasks]
    if len(set(names)) != len(names):
        raise ValueError(f"invalid task_heads: duplicate task names {names}; allowed: distinct names")
    return tasks


# the tasks of the built-in MNIST-scene suite (v1 release); the suite itself is measure.datasets
SCENE_TASKS = (
    TaskSpec("digit", "classification", 10),
    TaskSpec("count", "classification", 4),
    TaskSpec("seg", "dense", 11, out_size=8),
)
