"""Regularized evolution (Real et al., 2019): tournament selection, mutation, the oldest member dies."""

from __future__ import annotations

from collections import deque

from nasbench_mt.params import check_param
from nasbench_mt.search.base import Candidate, Evaluation, Strategy, register_strategy

__all__ = ["RegularizedEvolution"]


@register_strategy("evolution")
class RegularizedEvolution(Strategy):
    """Aging evolution: the first ``population`` proposals are random; then each proposal mutates the best of
    ``sample_size`` members drawn from the population (feasible first, then by the primary objective), and
    every told child replaces the oldest member."""

    def __init__(self, population: int = 20, sample_size: int = 5) -> None:
        self.population = population
        self.sample_size = sample_size

    def _setup(self) -> None:
        check_param("population", self.population, "int", 1)
        check_param("sample_size", self.sample_size, "int", 1)
        self.members: deque[Evaluation] = deque()

    def ask(self) -> Candidate:
        if len(self.members) < self.population:
            return self._propose(self.candidates.random(self.rng, self.seen))
        contenders = self.rng.sample(list(self.members), min(self.sample_size, len(self.members)))
        parent = max(contenders, key=lambda e: e.key)
        return self._propose(self.candidates.mutate(parent.candidate, self.rng, self.seen))

    def tell(self, candidate: Candidate, result: Evaluation) -> None:
        super().tell(candidate, result)
        self.members.append(result)
        if len(self.members) > self.population:
            self.members.popleft()
