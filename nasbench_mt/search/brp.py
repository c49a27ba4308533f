"""Predictor-guided search after BRP-NAS (Dudziak et al., 2020): fit a predictor on the evaluated archs, rank
the unevaluated candidates with it, evaluate the top of the ranking, repeat."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import numpy as np

from nasbench_mt.params import check_param
from nasbench_mt.query.pareto import non_dominated_sort
from nasbench_mt.search.base import Candidate, Strategy, rank_targets, register_strategy
from nasbench_mt.search.exits import ArchPolicy
from nasbench_mt.search.objectives import crowding_distance

__all__ = ["FREE_TARGETS", "PredictorGuidedSearch", "predicted_front_order"]

FREE_TARGETS = ("params", "flops")  # the exact costs the unevaluated candidates are labelled with


def predicted_front_order(pred: np.ndarray) -> np.ndarray:
    """Candidates ordered for a Pareto search from their predicted objectives ``pred`` (n, m), every column
    maximised: front by front of the non-dominated sort, and within a front by NSGA-II crowding distance
    (largest first; ties keep the candidates' order)."""
    order = []
    for front in non_dominated_sort(pred):
        crowd = crowding_distance(pred[front])
        order += [int(front[i]) for i in np.argsort(-crowd, kind="stable")]
    return np.array(order, dtype=int)


@register_strategy("brp")
class PredictorGuidedSearch(Strategy):
    """Iterative predictor-guided search.

    The first ``initial`` proposals are random.  Then, whenever its queue is empty, it fits ``predictor`` (any
    name of :func:`predictors.list_predictors`; default the binary-relation ranker ``brp``, with
    ``predictor_params``; flat-feature, graph and sequence predictors alike, each gets its own
    ``input_kind``) on every evaluation so far - target: feasible archs by the primary objective, above
    infeasible ones by least violation (:func:`~nasbench_mt.search.base.rank_targets`) - ranks the candidates
    with ``predictor.rank`` and queues the ``batch`` best.  With several objectives (a Pareto search) it
    fits one such target per objective and queues the candidates of the best predicted fronts
    (:func:`predicted_front_order`).  Candidates: every unevaluated table arch (pool
    mode), or ``pool_size`` random candidates plus the neighbours of the ``batch`` best so far (full space;
    joint exit mode, where the predictor also sees each candidate's thresholds).

    Free auxiliary targets (``aux_archs``, default 64): a predictor that masks missing labels
    (``accepts_missing_targets``: ``brp``, ``xgb_stack``, ...) is fitted on the evaluations plus
    ``aux_archs`` unevaluated candidates, every one of them labelled with its exact parameters and FLOPs
    (:data:`FREE_TARGETS`) and the candidates with no search target (NaN, left out of the loss); it ranks by
    the search target.  Two free targets, not every per-task and per-exit cost: a pairwise ranker's fit costs
    about its number of targets times its number of rows (``brp`` on 100 evaluations: 1.2 s; with 64
    candidates and 2 free targets 3.2x that, with all 8 free targets 9x).  The
    candidates are drawn from their own stream (``seed``, fit number), so the rest of the search draws the
    same numbers with or without them; 0 turns them off, and a predictor that needs every label never gets
    them.

    Exploration (``ensemble``, default 1): with ``ensemble=k >= 2`` each refit fits ``k`` predictors, each on
    a resample with replacement of the evaluations (Thompson sampling by bootstrap), and the batch takes the
    best candidate of each model in turn, skipping one already taken.  A greedy fit of a deterministic model
    can keep proposing the same region; the resamples spread the batch over what the evaluations leave
    uncertain.  It costs ``k`` fits per refit.
    """

    def __init__(
        self,
        predictor: str = "brp",
        initial: int = 10,
        batch: int = 10,
        pool_size: int = 1000,
        predictor_params: Mapping[str, Any] | None = None,
        aux_archs: int = 64,
        ensemble: int = 1,
    ) -> None:
        self.predictor = predictor
        self.initial = initial
        self.batch = batch
        self.pool_size = pool_size
        self.predictor_params = predictor_params
        self.aux_archs = aux_archs
        self.ensemble = ensemble

    def _setup(self) -> None:
        from predictors import list_predictors

        check_param("initial", self.initial, "int", 2)
        check_param("batch", self.batch, "int", 1)
        check_param("pool_size", self.pool_size, "int", 1)
        check_param("aux_archs", self.aux_archs, "int", 0)
        check_param("ensemble", self.ensemble, "int", 1)
        if self.predictor not in list_predictors():
            raise ValueError(f"unknown predictor: {self.predictor!r}; allowed: {list_predictors()}")
        self.queue: list[Candidate] = []
        self.fits = 0

    def ask(self) -> Candidate:
        while self.queue and self.queue[0] in self.seen:
            self.queue.pop(0)
        if len(self.history) < self.initial:
            return self._propose(self.candidates.random(self.rng, self.seen))
        if not self.queue:
            self.queue = self._ranked()
        return self._propose(self.queue.pop(0))

    def _candidates(self) -> list[Candidate]:
        cands = self.candidates
        if cands.listable:
            return cands.unevaluated(self.seen)
        pool = cands.sample(self.pool_size, self.rng, self.seen)
        best = sorted(self.history, key=lambda e: e.key, reverse=True)[: self.batch]
        taken = set(pool) | self.seen
        for e in best:
            near = [a for a in cands.neighbors(e.candidate, self.rng, taken)]
            taken.update(near)
            pool += near
        return pool

    def _ranked(self) -> list[Candidate]:
        pool = self._candidates()
        if not pool:
            return [self.candidates.random(self.rng, self.seen)]
        told = [e.candidate for e in self.history]
        m = len(self.history[0].scores)
        y = np.column_stack([rank_targets(self.history, j) for j in range(m)])
        if self.ensemble == 1:
            return [pool[int(i)] for i in self._fit_order(told, y, pool)[: self.batch]]
        # Thompson sampling by bootstrap: each model is fitted on a resample (with replacement) of the
        # evaluations, and the batch takes each model's best candidate not yet taken, model by model
        rng = np.random.default_rng([self.seed, self.fits, 7])
        orders: list[np.ndarray] = []
        picks: list[int] = []
        for k in range(min(self.batch, len(pool))):
            if len(orders) < self.ensemble:
                rows = rng.integers(0, len(told), len(told))
                orders.append(self._fit_order([told[i] for i in rows], y[rows], pool))
            picks.append(next(int(i) for i in orders[k % self.ensemble] if int(i) not in picks))
        return [pool[i] for i in picks]

    def _fit_order(self, told: list[Candidate], y: np.ndarray, pool: list[Candidate]) -> np.ndarray:
        """Fit a new predictor on ``told`` with targets ``y`` (plus the free targets) and order ``pool``."""
        from predictors import create_predictor

        params = dict(self.predictor_params or {})
        model = create_predictor(self.predictor, **params)
        if "random_state" in model.get_params() and "random_state" not in params:
            model.set_params(random_state=self.seed + self.fits)
        self.fits += 1
        m = y.shape[1]
        if self.aux_archs and model.accepts_missing_targets:
            told, y = self._with_free_targets(told, y)
        kind = model.input_kind
        model.fit(self.candidates.encode(told, kind), y if y.shape[1] > 1 else y[:, 0])
        X = self.candidates.encode(pool, kind)
        if m == 1:
            return model.rank(X, target=0)
        return predicted_front_order(model.predict(X).reshape(len(pool), -1)[:, :m])

    def _with_free_targets(self, told: list[Candidate], y: np.ndarray) -> tuple[list[Candidate], np.ndarray]:
        """The evaluated candidates plus ``aux_archs`` unevaluated ones, and their targets: the search
        objectives (NaN for the unevaluated), then the exact free costs of every one."""
        from predictors.auxiliary import free_targets

        cands = self.candidates
        rng = random.Random(f"nasbench-mt-search-aux:{self.seed}:{self.fits}")
        aux = cands.sample(self.aux_archs, rng, self.seen)
        both = told + aux
        archs = [c.arch if isinstance(c, ArchPolicy) else c for c in both]
        free = free_targets(archs, FREE_TARGETS, tasks=cands.tasks, space=cands.space)
        search = np.full((len(both), y.shape[1]), np.nan)
        search[: len(told)] = y
        return both, np.column_stack([search, free])
