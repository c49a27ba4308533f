"""Predictor-guided search after BRP-NAS (Dudziak et al., 2020): fit a predictor on the evaluated archs, rank
the unevaluated candidates with it, evaluate the top of the ranking, repeat."""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from nasbench_mt.params import check_param
from nasbench_mt.query.pareto import non_dominated_sort
from nasbench_mt.search.base import Candidate, Evaluation, Strategy, rank_targets, register_strategy
from nasbench_mt.search.exits import ArchPolicy
from nasbench_mt.search.objectives import crowding_distance

__all__ = ["FREE_TARGETS", "TARGETS", "PredictorGuidedSearch", "metric_parts", "predicted_front_order"]

FREE_TARGETS = ("params", "flops")  # the exact costs the unevaluated candidates are labelled with
TARGETS = ("rank", "metrics")  # what the predictor is fitted on (see PredictorGuidedSearch)
_TASK_MEANS = {"mean_acc": "accuracy", "val_mean_acc": "val_accuracy"}  # a mean over tasks: its result field


def metric_parts(evaluations: Sequence[Evaluation], metric: str) -> list[str]:
    """What a search fits for ``metric``: the per-task scores (``task:<field>:<name>``) when ``metric`` is the
    mean of the tasks' scores on every one of ``evaluations`` (``mean_acc``: the tasks' test scores), else
    ``[metric]`` itself (exit-policy metrics, costs, Delta-p's columns)."""
    field_name = _TASK_MEANS.get(metric)
    if field_name is None or not evaluations:
        return [metric]
    tasks = list(getattr(evaluations[0].result, field_name))
    parts = [f"task:{field_name}:{t}" for t in tasks]
    for e in evaluations:
        if metric not in e.metrics or set(getattr(e.result, field_name)) != set(tasks):
            return [metric]
        mean = np.mean([_metric_value(e, p) for p in parts])
        if not np.isclose(mean, e.metrics[metric], rtol=1e-9, atol=1e-9):
            return [metric]
    return parts


def _metric_value(e: Evaluation, name: str) -> float:
    """An evaluation's value of a metric or of a per-task part of :func:`metric_parts`."""
    if name.startswith("task:"):
        _, field_name, task = name.split(":", 2)
        return float(getattr(e.result, field_name)[task])
    return float(e.metrics[name])


def predicted_front_order(pred: np.ndarray) -> np.ndarray:
    """Candidates ordered for a Pareto search from their predicted objectives ``pred`` (n, m), every column
    maximised: front by front of the non-dominated sort, and within a front by NSGA-II crowding distance
    (largest first; ties keep the candidates' order)."""
    order = []
    for front in non_dominated_sort(pred):
        crowd = crowding_distance(pred[front])
        order += [int(front[i]) for i in np.argsort(-crowd, kind="stable")]
    return np.array(order, dtype=int)


def _best_first(scores: np.ndarray) -> np.ndarray:
    """Candidates ordered by predicted scores ``(n, m)``, larger is better: by the one column, or with several
    objectives front by front (:func:`predicted_front_order`)."""
    if scores.shape[1] == 1:
        return np.argsort(-scores[:, 0], kind="stable")
    return predicted_front_order(scores)


@register_strategy("brp")
class PredictorGuidedSearch(Strategy):
    """Iterative predictor-guided search.

    The first ``initial`` proposals are random.  Then, whenever its queue is empty, it fits ``predictor`` (any
    name of :func:`predictors.list_predictors`, with ``predictor_params``; flat-feature, graph and sequence
    predictors alike, each gets its own ``input_kind``) on every evaluation so far, orders the candidates by
    its predictions and queues the ``batch`` best.  What it is fitted on (``targets``):

    - ``"rank"``: one ranking target per objective - feasible archs by their score, above infeasible ones by
      least violation (:func:`~nasbench_mt.search.base.rank_targets`); the candidates are ordered by the
      predicted primary target, or with several objectives (a Pareto search) front by front
      (:func:`predicted_front_order`).  Any predictor, rankers included (the binary-relation ranker ``brp``
      after BRP-NAS).
    - ``"metrics"``: one target per metric the problem scores, in its units: each objective's columns and
      each constrained metric (latency, ...), and a mean over tasks (``mean_acc``) as the tasks' own scores
      (:func:`metric_parts`: each task's accuracy follows its own branch point and blocks, simpler to learn
      than their mean).  The problem scores the predicted metrics
      (:meth:`~nasbench_mt.search.problem.SearchProblem.score`): the candidates predicted feasible come
      first, by predicted score (or front by front), then the others by least predicted violation.  Needs a
      predictor that predicts units (``predicts_units``: ``xgb``, ``lgb``, the graph networks, ...) and
      the problem (:func:`~nasbench_mt.search.run` passes it to :meth:`setup`).

    Candidates: every unevaluated table arch (pool mode), or ``pool_size`` random candidates plus the
    neighbours of the ``batch`` best so far (full space; joint exit mode, where the predictor also sees each
    candidate's thresholds).

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

    Exploration (``ensemble``, default 10): with ``ensemble=k >= 2`` each refit fits ``k`` predictors, each on
    a resample with replacement of the evaluations (Thompson sampling by bootstrap), and the batch takes the
    best candidate of each model in turn, skipping one already taken.  A greedy fit of a deterministic model
    can keep proposing the same region; the resamples spread the batch over what the evaluations leave
    uncertain.  It costs ``k`` fits per refit.
    """

    def __init__(
        self,
        predictor: str = "xgb",
        initial: int = 10,
        batch: int = 10,
        pool_size: int = 1000,
        predictor_params: Mapping[str, Any] | None = None,
        aux_archs: int = 64,
        ensemble: int = 10,
        targets: str = "metrics",
    ) -> None:
        self.predictor = predictor
        self.initial = initial
        self.batch = batch
        self.pool_size = pool_size
        self.predictor_params = predictor_params
        self.aux_archs = aux_archs
        self.ensemble = ensemble
        self.targets = targets

    def _setup(self) -> None:
        from predictors import list_predictors

        check_param("initial", self.initial, "int", 2)
        check_param("batch", self.batch, "int", 1)
        check_param("pool_size", self.pool_size, "int", 1)
        check_param("aux_archs", self.aux_archs, "int", 0)
        check_param("ensemble", self.ensemble, "int", 1)
        if self.predictor not in list_predictors():
            raise ValueError(f"unknown predictor: {self.predictor!r}; allowed: {list_predictors()}")
        if self.targets not in TARGETS:
            raise ValueError(f"invalid targets: {self.targets!r}; allowed: {list(TARGETS)}")
        if self.targets == "metrics":
            self._check_metric_targets()
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

    def _check_metric_targets(self) -> None:
        from predictors import predictor_class

        if not predictor_class(self.predictor).predicts_units:
            raise ValueError(
                f"invalid targets: 'metrics' with predictor {self.predictor!r}, which predicts ranking "
                "scores, not the metrics' units the constraints are checked in; allowed: targets='rank', "
                "or a predictor that predicts units (e.g. 'xgb', 'lgb', 'gcn')"
            )
        if self.problem is None:
            raise ValueError(
                "invalid setup: targets='metrics' scores predicted metrics with the search problem; allowed: "
                "strategy.setup(problem.candidates, seed, problem=problem) (run() passes it)"
            )

    def _ranked(self) -> list[Candidate]:
        pool = self._candidates()
        if not pool:
            return [self.candidates.random(self.rng, self.seen)]
        y, order = self._metric_targets() if self.targets == "metrics" else self._rank_targets()
        keep = np.isfinite(y).all(axis=1)  # an evaluation missing a metric (NaN) teaches nothing about it
        if not keep.any():
            return [self.candidates.random(self.rng, self.seen)]
        told, y = [e.candidate for e, k in zip(self.history, keep) if k], y[keep]
        if self.ensemble == 1:
            return [pool[int(i)] for i in order(self._fit_predict(told, y, pool))[: self.batch]]
        # Thompson sampling by bootstrap: each model is fitted on a resample (with replacement) of the
        # evaluations, and the batch takes each model's best candidate not yet taken, model by model
        rng = np.random.default_rng([self.seed, self.fits, 7])
        orders: list[np.ndarray] = []
        picks: list[int] = []
        for k in range(min(self.batch, len(pool))):
            if len(orders) < self.ensemble:
                rows = rng.integers(0, len(told), len(told))
                orders.append(order(self._fit_predict([told[i] for i in rows], y[rows], pool)))
            picks.append(next(int(i) for i in orders[k % self.ensemble] if int(i) not in picks))
        return [pool[i] for i in picks]

    def _rank_targets(self) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """One ranking target per objective (feasible by score, infeasible below by least violation), and
        the order of predicted targets: by the primary, or front by front with several objectives."""
        m = len(self.history[0].scores)
        return np.column_stack([rank_targets(self.history, j) for j in range(m)]), _best_first

    def _metric_targets(self) -> tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]:
        """One target per metric the problem scores (objectives' columns, constrained metrics), each in its
        units and each mean accuracy as its per-task accuracies; the order of predicted metrics: the
        candidates the problem scores feasible, by their scores, then the others by least violation."""
        parts = {c: metric_parts(self.history, c) for c in self.problem.columns}
        names = [n for c in self.problem.columns for n in parts[c]]
        y = np.array([[_metric_value(e, n) for n in names] for e in self.history], dtype=float)
        problem = self.problem

        def order(pred: np.ndarray) -> np.ndarray:
            cols = dict(zip(names, pred.T))
            metrics = {c: np.mean([cols[n] for n in parts[c]], axis=0) for c in problem.columns}
            _, scores, _, violation = problem.score(metrics)
            violation = np.broadcast_to(np.asarray(violation, dtype=float), (len(pred),))
            scores = np.column_stack(scores)
            ok = np.flatnonzero(violation == 0)
            rest = np.flatnonzero(violation != 0)
            return np.concatenate(
                [ok[_best_first(scores[ok])], rest[np.argsort(violation[rest], kind="stable")]]
            )

        return y, order

    def _fit_predict(self, told: list[Candidate], y: np.ndarray, pool: list[Candidate]) -> np.ndarray:
        """Fit a new predictor on ``told`` with targets ``y`` (plus the free targets) and predict ``pool``'s
        targets: ``(len(pool), y.shape[1])``."""
        from predictors import create_predictor

        params = dict(self.predictor_params or {})
        model = create_predictor(self.predictor, **params)
        if "random_state" in model.get_params() and "random_state" not in params:
            model.set_params(random_state=self.seed + self.fits)
        self.fits += 1
        t = y.shape[1]
        # metrics in units: each standardised on the rows fitted, predictions mapped back
        mu, sd = (y.mean(axis=0), y.std(axis=0)) if self.targets == "metrics" else (0.0, 1.0)
        sd = np.where(sd > 0, sd, 1.0)
        y = (y - mu) / sd
        if self.aux_archs and model.accepts_missing_targets:
            told, y = self._with_free_targets(told, y)
        kind = model.input_kind
        model.fit(self.candidates.encode(told, kind), y if y.shape[1] > 1 else y[:, 0])
        return model.predict(self.candidates.encode(pool, kind)).reshape(len(pool), -1)[:, :t] * sd + mu

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
