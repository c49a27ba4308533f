"""The ask/tell strategy base class, the strategy registry and what a strategy is told (:class:`Evaluation`).

A strategy implements one method, :meth:`Strategy.ask`; :meth:`Strategy.tell` records the answer (override it
to learn from it, calling ``super().tell``).  Before the first ask, :meth:`Strategy.setup` hands it the
:class:`~nasbench_mt.search.candidates.Candidates` (the candidates it may propose, and moves between them)
and a seed.  A candidate is an :class:`~nasbench_mt.space.arch.Arch`, or in joint exit mode an
:class:`~nasbench_mt.search.exits.ArchPolicy` (an arch and its exit thresholds); a strategy that only uses
the ``Candidates`` moves and :attr:`Evaluation.candidate` works in every mode.  A strategy never sees the
budget, so a run of ``b`` queries is exactly the first ``b`` queries of any longer run with the same seed.

Adding a strategy = one module with a subclass decorated ``@register_strategy("name")`` plus one import line
in ``nasbench_mt/search/__init__.py``; the contract tests pick it up from :func:`list_strategies`.
"""

from __future__ import annotations

import abc
import inspect
import random
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from nasbench_mt.search.candidates import Candidates
from nasbench_mt.search.exits import ArchPolicy
from nasbench_mt.search.problem import Evaluation
from nasbench_mt.space.arch import Arch

Candidate = Arch | ArchPolicy

__all__ = [
    "Candidate",
    "Evaluation",
    "Strategy",
    "create_strategy",
    "list_strategies",
    "rank_targets",
    "register_strategy",
]


def rank_targets(evaluations: Sequence[Evaluation], objective: int = 0) -> np.ndarray:
    """One number per evaluation for objective ``objective`` (a regression/ranking target; for the primary
    objective ordered like :attr:`Evaluation.key`).

    Feasible: the objective's score; infeasible: below every feasible one, lower the larger the violation.
    """
    scores = np.array([e.scores[objective] for e in evaluations], dtype=float)
    ok = np.array([e.feasible and np.isfinite(s) for e, s in zip(evaluations, scores)], dtype=bool)
    lo, hi = (scores[ok].min(), scores[ok].max()) if ok.any() else (0.0, 1.0)
    spread = hi - lo if hi > lo else 1.0
    viol = np.array([min(e.violation, 10.0) for e in evaluations])
    return np.where(ok, scores, lo - spread * (0.1 + viol))


class Strategy(abc.ABC):
    """Base class of every search strategy (ask/tell).

    ``__init__`` only stores keyword arguments; :meth:`setup` starts a fresh search.  After setup,
    ``self.candidates`` is the :class:`~nasbench_mt.search.problem.Candidates`, ``self.rng`` a
    ``random.Random`` seeded from ``seed``, ``self.history`` the evaluations told so far and ``self.seen``
    the set of candidates proposed so far (strategies never propose one twice).
    """

    registry_name = ""

    def setup(self, candidates: Candidates, seed: int = 0, problem: Any = None) -> None:
        """Start a new search over ``candidates`` with ``seed`` (discards any previous state).  ``problem``
        (the :class:`~nasbench_mt.search.problem.SearchProblem`; :func:`~nasbench_mt.search.run` passes
        it) lets a strategy score metrics it predicts itself; strategies that only compare evaluations
        ignore it."""
        self.candidates = candidates
        self.problem = problem
        self.seed = seed
        # its own stream: random.Random(seed) would replay space.sample(n, seed), which drew the table's archs
        self.rng = random.Random(f"nasbench-mt-search:{seed}")
        self.history: list[Evaluation] = []
        self.seen: set[Candidate] = set()
        self._setup()

    def _setup(self) -> None:  # noqa: B027  (an optional hook, not abstract)
        """Hook: validate parameters and initialise state (called by :meth:`setup`)."""

    @abc.abstractmethod
    def ask(self) -> Candidate:
        """The next candidate to evaluate."""

    def tell(self, candidate: Candidate, result: Evaluation) -> None:
        """Record the evaluation of ``candidate`` (subclasses extend this to learn from it)."""
        self.history.append(result)

    def _propose(self, candidate: Candidate) -> Candidate:
        self.seen.add(candidate)
        return candidate

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in _param_names(type(self))}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"


_REGISTRY: dict[str, tuple[type[Strategy], dict[str, Any]]] = {}


def _param_names(cls: type) -> list[str]:
    params = inspect.signature(cls.__init__).parameters.values()
    return [p.name for p in params if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]


def register_strategy(name: str, **defaults: Any) -> Callable[[type[Strategy]], type[Strategy]]:
    """Class decorator registering a strategy under ``name`` (``defaults`` override constructor defaults)."""

    def decorate(cls: type[Strategy]) -> type[Strategy]:
        if not (isinstance(cls, type) and issubclass(cls, Strategy)):
            raise ValueError(f"invalid strategy class for {name!r}: {cls!r}; allowed: a Strategy subclass")
        if name in _REGISTRY:
            raise ValueError(f"invalid strategy name: {name!r} is already registered")
        _REGISTRY[name] = (cls, dict(defaults))
        if not cls.registry_name:
            cls.registry_name = name
        return cls

    return decorate


def list_strategies() -> list[str]:
    """Names of every registered strategy, sorted."""
    return sorted(_REGISTRY)


def create_strategy(name: str, **kwargs: Any) -> Strategy:
    """A new strategy ``name`` with keyword arguments ``kwargs``.

    Example::

        >>> from nasbench_mt.search import create_strategy
        >>> create_strategy("evolution", population=20, sample_size=5)
        RegularizedEvolution(population=20, sample_size=5)
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown strategy: {name!r}; allowed: {list_strategies()}")
    cls, defaults = _REGISTRY[name]
    allowed = _param_names(cls)
    unknown = sorted(set(kwargs) - set(allowed))
    if unknown:
        raise ValueError(f"invalid keyword arguments for strategy {name!r}: {unknown}; allowed: {allowed}")
    return cls(**{**defaults, **kwargs})
