"""Local search (first improvement with random restarts, as in White et al., "Local search is state of
the art for NAS benchmarks"): evaluate the current arch's neighbours in random order, move to the first
better one, restart from a random arch at a local optimum."""

from __future__ import annotations

from nasbench_mt.search.base import Candidate, Evaluation, Strategy, register_strategy

__all__ = ["LocalSearch"]


@register_strategy("local")
class LocalSearch(Strategy):
    """First-improvement hill climbing over ``Candidates.neighbors`` (one decision away; pool mode: the
    nearest table archs), restarting from a random arch when no neighbour improves."""

    def _setup(self) -> None:
        self.current: Evaluation | None = None
        self.queue: list[Candidate] = []

    def ask(self) -> Candidate:
        while self.current is not None and self.queue and self.queue[-1] in self.seen:
            self.queue.pop()
        if self.current is None or not self.queue:
            self.current = None  # (re)start: a random arch, evaluated first
            return self._propose(self.candidates.random(self.rng, self.seen))
        return self._propose(self.queue.pop())

    def tell(self, candidate: Candidate, result: Evaluation) -> None:
        super().tell(candidate, result)
        if self.current is None or result.key > self.current.key:
            self.current = result
            self.queue = self.candidates.neighbors(candidate, self.rng, self.seen)
            self.rng.shuffle(self.queue)
