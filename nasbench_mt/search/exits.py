"""Joint architecture + exit-policy search: per-task exit thresholds as decision variables.

A candidate is an :class:`ArchPolicy`: a table architecture plus one confidence threshold per task, each a
value of the exit grid (``inf``: the task never leaves early, it always answers at the final exit).
Strategies propose, mutate and cross candidates through :class:`JointCandidates`, exactly as they do archs
in the other modes, so every registered strategy searches both at once.

A candidate is scored with :meth:`~nasbench_mt.query.benchmark.Benchmark.exit_metrics` under its own
thresholds.  Those expected values get their own names
(:func:`~nasbench_mt.query.exit_policy.policy_metric_names`); the table's columns keep their meaning (the
whole network, read at its final exits) and can still be objectives or constraints:

- ``policy_mean_acc``: mean over the higher-is-better tasks of ``policy_acc_{task}``, the expected score in
  percent at the exit each stored test sample leaves from (classification: accuracy; dense tasks: pixel
  accuracy, not the table's mIoU), over the release's ``n_samples`` stored test scenes;
- ``policy_macs``: expected MACs per sample, MSDNet/EDANAS counting (a sample that leaves at exit e pays every
  layer up to e and every exit head it evaluated on the way, e's included);
- ``policy_latency_ms``, ``policy_latency_norm``: expected latency (the measured forward up to the deepest
  exit any task needed on that sample) and the same over the row's reference latency.
"""

from __future__ import annotations

import itertools
import math
import numbers
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nasbench_mt.query.exit_policy import not_thresholds
from nasbench_mt.search.candidates import Candidates
from nasbench_mt.space.arch import Arch

__all__ = [
    "DEFAULT_EXIT_GRID",
    "ArchPolicy",
    "JointCandidates",
    "parse_exit_grid",
    "policy_metrics",
]

DEFAULT_EXIT_GRID = (0.6, 0.7, 0.8, 0.9, 0.95, 0.99, math.inf)
_DRAWS = 100


def format_threshold(value: float) -> str:
    """``0.9`` -> ``"0.9"``, ``inf`` -> ``"off"`` (never leaves early)."""
    return "off" if math.isinf(value) else f"{value:g}"


@dataclass(frozen=True)
class ArchPolicy:
    """An architecture with its exit policy: ``thresholds`` holds one threshold per task (release order)."""

    arch: Arch
    thresholds: tuple[float, ...]

    def __str__(self) -> str:
        return f"{self.arch} @ " + ",".join(map(format_threshold, self.thresholds))


def parse_exit_grid(values: Iterable[float]) -> tuple[float, ...]:
    """The sorted distinct thresholds of a grid; each in [0, 1], or ``inf`` (never leave early)."""
    values = (
        list(values) if isinstance(values, Iterable) and not isinstance(values, (str, bytes)) else [values]
    )
    if any(isinstance(v, bool) or not isinstance(v, numbers.Real) for v in values):
        raise ValueError(f"invalid exit thresholds {values}; allowed: a list of numbers in [0, 1] or inf")
    grid = sorted({float(v) for v in values})
    if not grid or not_thresholds(grid).any():
        raise ValueError(
            f"invalid exit thresholds {values}; allowed: numbers in [0, 1], or inf (never leave early)"
        )
    return tuple(grid)


def policy_metrics(em: Any) -> dict[str, np.ndarray]:
    """Policy metrics of an :class:`~nasbench_mt.query.exit_policy.ExitMetrics`, one array per name of
    :func:`~nasbench_mt.query.exit_policy.policy_metric_names`."""
    out = {"policy_mean_acc": np.asarray(em.policy_mean_acc, dtype=float)}
    out.update({f"policy_acc_{t}": em.policy_acc[:, i] for i, t in enumerate(em.tasks)})
    out.update(
        policy_macs=em.policy_macs,
        policy_flops=2 * np.asarray(em.policy_macs, dtype=float),
        policy_latency_ms=em.policy_latency_ms,
        policy_latency_norm=em.policy_latency_norm,
    )
    return out


class JointCandidates(Candidates):
    """Pool archs x per-task thresholds on ``grid``: every candidate is an :class:`ArchPolicy`.

    Moves (never onto a candidate in ``exclude``): ``random`` draws a pool arch and each task's threshold
    uniformly; ``mutate`` changes, with probability 1/2 each, one task's threshold by one grid step up or
    down, or the arch (the pool-projected one-decision mutation, thresholds kept); ``crossover`` takes each
    task's threshold from either parent and crosses the archs; ``neighbors`` are every one-step threshold
    change plus the arch's pool neighbours with the same thresholds.
    """

    def __init__(self, grid: Sequence[float], *args: Any, **kwargs: Any) -> None:
        """``grid``: the thresholds each task may take; then :class:`Candidates`' arguments (pool mode)."""
        super().__init__(*args, **kwargs)
        if self.pool is None:
            raise ValueError("joint exit search needs the stored per-sample confidences: pool mode only")
        self.grid = parse_exit_grid(grid)
        self.n_tasks = len(self.tasks)
        self.settings = len(self.grid) ** self.n_tasks

    @property
    def size(self) -> int:
        """Number of admissible (arch, thresholds) candidates."""
        return self.arch_count * self.settings

    @property
    def arch_count(self) -> int:
        return int(self._ok.sum())

    @property
    def listable(self) -> bool:
        return False  # pool x grid is too many to rank one by one

    # ------------------------------------------------------------------ membership
    def admissible(self, candidate: Any) -> bool:
        """An :class:`ArchPolicy` with an admissible arch and thresholds on the grid (an arch: admissible)."""
        if isinstance(candidate, Arch):
            return super().admissible(candidate)
        return (
            isinstance(candidate, ArchPolicy)
            and len(candidate.thresholds) == self.n_tasks
            and all(t in self.grid for t in candidate.thresholds)
            and super().admissible(candidate.arch)
        )

    def check(self, proposal: Any, who: object) -> ArchPolicy:
        if not isinstance(proposal, ArchPolicy):
            raise ValueError(
                f"strategy {who!r} proposed {proposal!r}; allowed: an ArchPolicy (an arch and one exit "
                "threshold per task)"
            )
        arch = super().check(proposal.arch, who)
        candidate = ArchPolicy(arch, tuple(proposal.thresholds))
        if not self.admissible(candidate):
            raise ValueError(
                f"strategy {who!r} proposed thresholds {list(proposal.thresholds)}; allowed: one value of "
                f"the exit grid {list(self.grid)} per task ({self.n_tasks})"
            )
        return candidate

    def unevaluated(self, exclude: set[Any]) -> list[Any]:
        raise ValueError("joint exit search has too many candidates to list; use sample()")

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _taken(exclude: Iterable[Any]) -> dict[Arch, set[tuple[float, ...]]]:
        taken: dict[Arch, set[tuple[float, ...]]] = {}
        for c in exclude:
            if isinstance(c, ArchPolicy):
                taken.setdefault(c.arch, set()).add(c.thresholds)
        return taken

    def _blocked(
        self, taken: Mapping[Arch, set[tuple[float, ...]]], thresholds: tuple[float, ...]
    ) -> set[Arch]:
        """Archs already taken with ``thresholds``."""
        return {a for a, used in taken.items() if thresholds in used}

    def _open(self, taken: Mapping[Arch, set[tuple[float, ...]]]) -> np.ndarray:
        """Mask over the pool: admissible archs with a setting not yet taken."""
        return self._free({a for a, used in taken.items() if len(used) >= self.settings})

    def _draw(
        self,
        rng: random.Random,
        taken: Mapping[Arch, set[tuple[float, ...]]],
        open_archs: np.ndarray | None = None,
    ) -> ArchPolicy:
        """A uniform open arch (as :meth:`Candidates.random` draws one), then a uniform free setting."""
        free = np.flatnonzero(self._open(taken) if open_archs is None else open_archs)
        if not len(free):
            raise self._exhausted()
        arch = self.pool[int(free[rng.randrange(len(free))])]
        used = taken.get(arch, set())
        for _ in range(_DRAWS):
            thr = tuple(rng.choice(self.grid) for _ in range(self.n_tasks))
            if thr not in used:
                return ArchPolicy(arch, thr)
        left = [t for t in itertools.product(self.grid, repeat=self.n_tasks) if t not in used]
        return ArchPolicy(arch, left[rng.randrange(len(left))])

    def _steps(self, thresholds: tuple[float, ...]) -> list[tuple[float, ...]]:
        """Every setting one grid step away in one task."""
        out = []
        for i, t in enumerate(thresholds):
            j = self.grid.index(t)
            for k in (j - 1, j + 1):
                if 0 <= k < len(self.grid):
                    out.append(thresholds[:i] + (self.grid[k],) + thresholds[i + 1 :])
        return out

    def _move_arch(
        self, c: ArchPolicy, rng: random.Random, taken: Mapping[Arch, set[tuple[float, ...]]]
    ) -> ArchPolicy | None:
        blocked = self._blocked(taken, c.thresholds) | {c.arch}
        if not self._free(blocked).any():
            return None
        return ArchPolicy(super().mutate(c.arch, rng, blocked), c.thresholds)

    # ------------------------------------------------------------------ proposals
    def random(self, rng: random.Random, exclude: set[Any] = frozenset()) -> ArchPolicy:
        return self._draw(rng, self._taken(exclude))

    def sample(self, n: int, rng: random.Random, exclude: set[Any] = frozenset()) -> list[ArchPolicy]:
        taken = self._taken(exclude)
        open_archs = self._open(taken)
        out: list[ArchPolicy] = []
        while len(out) < n and open_archs.any():
            c = self._draw(rng, taken, open_archs)
            used = taken.setdefault(c.arch, set())
            used.add(c.thresholds)
            if len(used) >= self.settings:
                open_archs[self._row[c.arch]] = False
            out.append(c)
        return out

    def mutate(self, c: ArchPolicy, rng: random.Random, exclude: set[Any] = frozenset()) -> ArchPolicy:
        taken = self._taken([*exclude, c])
        if rng.random() < 0.5:
            used = taken.get(c.arch, set())
            steps = [t for t in self._steps(c.thresholds) if t not in used]
            if steps:
                return ArchPolicy(c.arch, steps[rng.randrange(len(steps))])
        moved = self._move_arch(c, rng, taken)
        return moved if moved is not None else self._draw(rng, taken)

    def crossover(
        self, a: ArchPolicy, b: ArchPolicy, rng: random.Random, exclude: set[Any] = frozenset()
    ) -> ArchPolicy:
        thr = tuple(x if rng.random() < 0.5 else y for x, y in zip(a.thresholds, b.thresholds))
        taken = self._taken(exclude)
        blocked = self._blocked(taken, thr)
        if not self._free(blocked).any():
            return self._draw(rng, taken)
        return ArchPolicy(super().crossover(a.arch, b.arch, rng, blocked), thr)

    def neighbors(
        self, c: ArchPolicy, rng: random.Random, exclude: set[Any] = frozenset()
    ) -> list[ArchPolicy]:
        taken = self._taken([*exclude, c])
        used = taken.get(c.arch, set())
        out = [ArchPolicy(c.arch, t) for t in self._steps(c.thresholds) if t not in used]
        blocked = self._blocked(taken, c.thresholds) | {c.arch}
        if self._free(blocked).any():
            out += [ArchPolicy(a, c.thresholds) for a in super().neighbors(c.arch, rng, blocked)]
        return out

    def encode(self, candidates: Sequence[ArchPolicy], kind: str = "features") -> Any:
        """The arch's predictor input (see :meth:`Candidates.encode`) and per task its threshold (``inf``
        as 1) and an ``inf`` flag: appended to the flat features, or carried by each graph's global node
        or each sequence's global token."""
        if not candidates:
            return np.zeros((0, 0)) if kind == "features" else []
        thr = np.array([c.thresholds for c in candidates], dtype=float)
        off = np.isinf(thr)
        policy = np.hstack([np.where(off, 1.0, thr), off.astype(float)])
        archs = [c.arch for c in candidates]
        if kind == "graphs":
            from predictors.graph import add_global_features

            return add_global_features(super().encode(archs, kind), policy)
        if kind == "sequences":  # a sequence's global token is built with its values: encoded afresh
            from predictors.inputs import encode_inputs

            return encode_inputs(archs, kind, self.tasks, self.space, extra=policy)
        return np.hstack([super().encode(archs, kind), policy])
