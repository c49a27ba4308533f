"""The architectures a search may propose (:class:`Candidates`), and the moves between them.

**Pool mode** searches the measured table: a space move (mutation, crossover, neighbour) is *projected* onto
the nearest not-yet-proposed table arch (Hamming distance of the one-hot decisions); local search's
neighbourhood is the ``k`` nearest table archs.  **Full-space mode** proposes any arch of the space.
Constraints on exact costs are checked before proposing, so a strategy never proposes an excluded arch.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import numpy as np

from nasbench_mt.search.objectives import Constraint
from nasbench_mt.space.arch import Arch, SearchSpace
from nasbench_mt.space.encoding import onehot

__all__ = ["Candidates"]

_MAX_TRIES = 10_000


class Candidates:
    """The architectures a strategy may propose, and moves between them (never an excluded one).

    ``pool`` (pool mode) lists the table's archs; ``None`` means the whole ``space``.  ``static`` holds the
    constraints on exact costs, checked before proposing.
    """

    def __init__(
        self,
        space: SearchSpace,
        tasks: Sequence[Any],
        static: Sequence[Constraint] = (),
        pool: Sequence[Arch] | None = None,
        pool_costs: dict[str, np.ndarray] | None = None,
        neighbours: int = 16,
    ) -> None:
        self.space, self.tasks, self.static, self.neighbours = space, tuple(tasks), tuple(static), neighbours
        self.pool = None if pool is None else list(pool)
        self._inputs: dict[str, dict[Arch, Any]] = {}  # input kind -> arch -> its encoding
        self._costs: dict[Arch, dict[str, float]] = {}
        if self.pool is not None:
            self._row = {a: i for i, a in enumerate(self.pool)}
            ok = np.ones(len(self.pool), dtype=bool)
            for c in self.static:
                ok &= c.mask(pool_costs[c.metric])
            self._ok = ok
            self._onehot = onehot(self.pool, space)
            if not ok.any():
                raise ValueError(
                    f"no architecture of the table satisfies {[str(c) for c in self.static]}: "
                    "nothing to search"
                )

    @property
    def pool_mode(self) -> bool:
        return self.pool is not None

    @property
    def size(self) -> int | None:
        """Number of admissible pool archs (pool mode), None for the whole space."""
        return None if self.pool is None else int(self._ok.sum())

    @property
    def listable(self) -> bool:
        """Can :meth:`unevaluated` list every candidate (pool mode)?"""
        return self.pool is not None

    def check(self, proposal: Any, who: object) -> Arch:
        """``proposal`` as an admissible candidate; a ValueError naming ``who`` proposed it otherwise."""
        if not isinstance(proposal, Arch):
            raise ValueError(f"strategy {who!r} proposed {proposal!r}; allowed: an Arch")
        arch = self.space.validate(proposal)
        if self.pool is not None and not self.admissible(arch):
            raise ValueError(f"strategy {who!r} proposed {arch}, which is not an admissible arch of the pool")
        return arch

    # ------------------------------------------------------------------ membership
    def admissible(self, arch: Arch) -> bool:
        """In the pool (pool mode) and within every exact-cost constraint."""
        if self.pool is not None:
            row = self._row.get(arch)
            return row is not None and bool(self._ok[row])
        if not self.static:
            return True
        costs = self.exact_costs(arch)
        return all(c.satisfied(costs[c.metric]) for c in self.static)

    def exact_costs(self, arch: Arch) -> dict[str, float]:
        """Parameters, MACs (whole, per exit, per segment) and FLOPs of ``arch``, without building it."""
        if arch not in self._costs:
            from nasbench_mt.space.costs import analytic_costs

            self._costs[arch] = {k: float(v) for k, v in analytic_costs(arch, self.tasks).as_row().items()}
        return self._costs[arch]

    def _free(self, exclude: set[Arch]) -> np.ndarray:
        mask = self._ok.copy()
        for a in exclude:
            row = self._row.get(a)
            if row is not None:
                mask[row] = False
        return mask

    def _exhausted(self) -> ValueError:
        return ValueError("no admissible architecture left to propose (the pool is exhausted)")

    # ------------------------------------------------------------------ proposals
    def random(self, rng: random.Random, exclude: set[Arch] = frozenset()) -> Arch:
        """A uniformly drawn admissible arch not in ``exclude`` (full space: OFA per-choice sampling)."""
        if self.pool is not None:
            free = np.flatnonzero(self._free(exclude))
            if not len(free):
                raise self._exhausted()
            return self.pool[int(free[rng.randrange(len(free))])]
        for _ in range(_MAX_TRIES):
            arch = self.space.random_arch(rng)
            if arch not in exclude and self.admissible(arch):
                return arch
        raise ValueError(
            f"no admissible architecture found in {_MAX_TRIES} random draws; loosen the constraints"
        )

    def sample(self, n: int, rng: random.Random, exclude: set[Arch] = frozenset()) -> list[Arch]:
        """Up to ``n`` distinct admissible archs not in ``exclude`` (pool mode: all, if fewer remain)."""
        if self.pool is not None:
            free = np.flatnonzero(self._free(exclude)).tolist()
            picked = free if n >= len(free) else rng.sample(free, n)
            return [self.pool[i] for i in picked]
        out: list[Arch] = []
        taken = set(exclude)
        for _ in range(n):
            arch = self.random(rng, taken)
            taken.add(arch)
            out.append(arch)
        return out

    def nearest(
        self, arch: Arch, rng: random.Random, exclude: set[Arch] = frozenset(), k: int = 1
    ) -> list[Arch]:
        """The ``k`` admissible pool archs nearest to ``arch`` (any space arch); ``rng`` breaks ties."""
        free = self._free(exclude)
        if not free.any():
            raise self._exhausted()
        dist = np.abs(self._onehot - onehot([arch], self.space)[0]).sum(axis=1, dtype=np.int64)
        idx = np.flatnonzero(free)
        tie = np.array([rng.random() for _ in range(len(idx))])
        order = np.lexsort((tie, dist[idx]))[:k]
        return [self.pool[int(i)] for i in idx[order]]

    def neighbors(self, arch: Arch, rng: random.Random, exclude: set[Arch] = frozenset()) -> list[Arch]:
        """Admissible archs one decision away (pool mode: the ``neighbours`` nearest pool archs), not in
        ``exclude``."""
        if self.pool is not None:
            return self.nearest(arch, rng, exclude | {arch}, self.neighbours)
        return [a for a in self.space.neighbors(arch) if a not in exclude and self.admissible(a)]

    def mutate(self, arch: Arch, rng: random.Random, exclude: set[Arch] = frozenset()) -> Arch:
        """``space.mutate`` (one decision changed), kept admissible and new."""
        if self.pool is not None:
            return self.nearest(self.space.mutate(arch, rng), rng, exclude | {arch})[0]
        options = self.neighbors(arch, rng, exclude)
        return rng.choice(options) if options else self.random(rng, exclude)

    def crossover(self, a: Arch, b: Arch, rng: random.Random, exclude: set[Arch] = frozenset()) -> Arch:
        """Uniform crossover: each stage, branch point and exit bit from either parent (then kept new)."""
        stages = [sa if rng.random() < 0.5 else sb for sa, sb in zip(a.stages, b.stages)]
        branches = [x if rng.random() < 0.5 else y for x, y in zip(a.branches, b.branches)]
        exits = [x for x in self.space.exit_choices if (x in a.exits if rng.random() < 0.5 else x in b.exits)]
        child = Arch(stages, branches, exits, space=self.space)
        if self.pool is not None:
            return self.nearest(child, rng, exclude)[0]
        if child in exclude or not self.admissible(child):
            return self.mutate(child, rng, exclude)
        return child

    def unevaluated(self, exclude: set[Arch]) -> list[Arch]:
        """Pool mode: every admissible pool arch not in ``exclude``."""
        if self.pool is None:
            raise ValueError("unevaluated() lists the pool; in full-space mode use sample()")
        return [self.pool[int(i)] for i in np.flatnonzero(self._free(exclude))]

    def encode(self, archs: Sequence[Arch], kind: str = "features") -> Any:
        """Predictor input of ``archs`` for a predictor's ``input_kind``, cached per arch: ``"features"`` a
        2-D array (:func:`predictors.encode_archs`, with exact costs), ``"graphs"`` a list of graphs
        (:func:`predictors.encode_graphs`), ``"sequences"`` a list of per-layer arrays
        (:func:`predictors.encode_sequences`)."""
        from predictors.inputs import check_input_kind, encode_inputs

        cache = self._inputs.setdefault(check_input_kind(kind), {})
        missing = [a for a in dict.fromkeys(archs) if a not in cache]
        if missing:
            cache.update(zip(missing, encode_inputs(missing, kind, self.tasks, self.space)))
        if kind != "features":
            return [cache[a] for a in archs]
        return np.stack([cache[a] for a in archs]) if archs else np.zeros((0, 0))
