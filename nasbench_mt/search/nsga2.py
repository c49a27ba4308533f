"""NSGA-II (Deb et al., 2002) with constraint domination: multi-objective search over the space's decisions.

Generations of ``population`` archs; offspring by binary tournament (Pareto rank, then crowding distance),
uniform crossover of the decisions (stages, branch points, exit bits) and one-decision mutation; survivors by
non-dominated sorting of parents plus offspring.  Feasible archs always beat infeasible ones, and infeasible
ones are ordered by their constraint violation.  With one objective it is a plain genetic algorithm.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasbench_mt.params import check_param
from nasbench_mt.query.pareto import non_dominated_sort
from nasbench_mt.search.base import Candidate, Evaluation, Strategy, register_strategy
from nasbench_mt.search.objectives import crowding_distance

__all__ = ["NSGA2", "constrained_ranks"]


def constrained_ranks(evals: Sequence[Evaluation]) -> tuple[np.ndarray, np.ndarray]:
    """Pareto rank (0 = best) and crowding distance of each evaluation under constraint domination."""
    n = len(evals)
    rank, crowd = np.zeros(n, dtype=np.int64), np.zeros(n)
    ok = [i for i, e in enumerate(evals) if e.feasible and np.isfinite(e.scores).all()]
    fronts = non_dominated_sort(np.array([evals[i].scores for i in ok])) if ok else []
    for r, front in enumerate(fronts):
        idx = np.asarray(ok)[front]
        rank[idx] = r
        crowd[idx] = crowding_distance(np.array([evals[i].scores for i in idx]))
    bad = sorted(set(range(n)) - set(ok), key=lambda i: evals[i].violation)
    for j, i in enumerate(bad):
        rank[i] = len(fronts) + j
    return rank, crowd


@register_strategy("nsga2")
class NSGA2(Strategy):
    """NSGA-II over the candidates (pool mode: children projected onto the nearest unevaluated table arch)."""

    def __init__(self, population: int = 20, crossover_prob: float = 0.9) -> None:
        self.population = population
        self.crossover_prob = crossover_prob

    def _setup(self) -> None:
        check_param("population", self.population, "int", 2)
        p = self.crossover_prob
        if not isinstance(p, (int, float)) or isinstance(p, bool) or not 0.0 <= p <= 1.0:
            raise ValueError(f"invalid crossover_prob: {p!r}; allowed: a number in [0, 1]")
        self.parents: list[Evaluation] = []
        self.offspring: list[Evaluation] = []
        self.queue: list[Candidate] = []

    def ask(self) -> Candidate:
        if not self.parents:
            return self._propose(self.candidates.random(self.rng, self.seen))
        if not self.queue:
            self.queue = self._breed()
        return self._propose(self.queue.pop(0))

    def tell(self, candidate: Candidate, result: Evaluation) -> None:
        super().tell(candidate, result)
        self.offspring.append(result)
        if len(self.offspring) >= self.population:
            self._select()

    def _select(self) -> None:
        merged = self.parents + self.offspring
        rank, crowd = constrained_ranks(merged)
        order = np.lexsort((np.arange(len(merged)), -crowd, rank))[: self.population]
        self.parents = [merged[int(i)] for i in order]
        self.offspring = []

    def _breed(self) -> list[Candidate]:
        rank, crowd = constrained_ranks(self.parents)
        cands, rng = self.candidates, self.rng

        def tournament() -> Candidate:
            i, j = rng.randrange(len(self.parents)), rng.randrange(len(self.parents))
            better = i if (rank[i], -crowd[i]) <= (rank[j], -crowd[j]) else j
            return self.parents[better].candidate

        children: list[Candidate] = []
        taken = set(self.seen)
        count = self.population if cands.size is None else min(self.population, cands.size - len(taken))
        for _ in range(count):
            a, b = tournament(), tournament()
            if rng.random() < self.crossover_prob and a != b:
                child = cands.crossover(a, b, rng, taken)
                if rng.random() < 0.5:  # mutate half of the crossover children too
                    child = cands.mutate(child, rng, taken)
            else:
                child = cands.mutate(a, rng, taken)
            taken.add(child)
            children.append(child)
        return children
