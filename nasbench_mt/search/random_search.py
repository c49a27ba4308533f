"""Random search: every proposal drawn uniformly from the admissible, not-yet-proposed archs."""

from __future__ import annotations

from nasbench_mt.search.base import Candidate, Strategy, register_strategy

__all__ = ["RandomSearch"]


@register_strategy("random")
class RandomSearch(Strategy):
    """Uniform sampling without repetition (pool mode: uniform over the table rows)."""

    def ask(self) -> Candidate:
        return self._propose(self.candidates.random(self.rng, self.seen))
