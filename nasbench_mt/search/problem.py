"""A search problem: what may be proposed (:class:`Candidates`), how a proposal is scored (``SearchProblem``).

**Pool mode** (default) searches the measured table: strategies only ever see and propose archs that are in
it.  The table is a sparse sample of a 1.3e14-arch space, so a space move (mutation, crossover, neighbour)
is *projected* onto the nearest not-yet-proposed table arch (Hamming distance of the one-hot decisions);
local search's neighbourhood is the ``k`` nearest table archs.  **Full-space mode** searches the whole space;
queries of archs absent from the table are answered by a surrogate fitted on the table
(:meth:`~nasbench_mt.query.benchmark.Benchmark.with_surrogate`, results marked ``predicted``).

Constraints on exact costs (params, MACs, FLOPs; peak memory in pool mode) are known without training, so
archs violating them are never proposed; constraints on measured metrics (latency, accuracy) are only known
after a query.  **Early-exit mode** (``exit_thresholds=[...]``, pool mode, one objective): every queried arch
is scored under its best per-task confidence-threshold setting on that grid (searched exhaustively with
:meth:`~nasbench_mt.query.benchmark.Benchmark.exit_metrics`, free; EDANAS).  Objectives and constraints
then name the policy's metrics, ``policy_mean_acc``, ``policy_acc_{task}``, ``policy_latency_ms``,
``policy_latency_norm``, ``policy_macs``, ``policy_flops`` (default objective ``policy_mean_acc``): under a
policy dense tasks are scored by pixel accuracy, so the table's ``mean_acc`` (seg by mIoU) and the columns
the policy changes (``test_{task}``, latency, MACs, FLOPs) are refused there, and the regret compares with
the best table arch under the same threshold grid.
"""

from __future__ import annotations

import math
import numbers
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasbench_mt.query.exit_policy import policy_metric_names
from nasbench_mt.query.results import QueryResult
from nasbench_mt.search.objectives import Constraint, Objective, parse_constraints, parse_objectives
from nasbench_mt.space.arch import Arch, SearchSpace
from nasbench_mt.space.encoding import onehot

__all__ = ["Candidates", "Evaluation", "SearchProblem"]

_MAX_TRIES = 10_000


def _static(metric: str, full_space: bool) -> bool:
    """Is ``metric`` an exact cost, known from the arch alone (before any query)?"""
    if metric in ("params", "macs", "flops") or metric.startswith(("params_", "macs_seg_")):
        return True
    return bool(re.fullmatch(r"macs_e\d", metric)) or (metric == "peak_mem_bytes" and not full_space)


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    """The answer to one query: the benchmark's result plus objective values and feasibility.

    ``values`` are the objectives in metric units, ``scores`` the same oriented so that larger is better;
    ``metrics`` holds every objective and constraint metric (early-exit mode: under the chosen
    ``thresholds``).
    """

    arch: Arch
    result: QueryResult
    values: tuple[float, ...]
    scores: tuple[float, ...]
    feasible: bool
    violation: float
    metrics: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] | None = None

    @property
    def key(self) -> tuple[bool, float]:
        """Sort key (larger is better): feasible first by the primary score, infeasible by least violation."""
        return (self.feasible, self.scores[0] if self.feasible else -self.violation)


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
        self._features: dict[Arch, np.ndarray] = {}
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

    def encode(self, archs: Sequence[Arch]) -> np.ndarray:
        """Predictor features (:func:`predictors.encode_archs`, with exact costs), cached per arch."""
        missing = [a for a in dict.fromkeys(archs) if a not in self._features]
        if missing:
            from predictors.features import encode_archs

            for a, row in zip(missing, encode_archs(missing, tasks=self.tasks, space=self.space)):
                self._features[a] = row
        return np.stack([self._features[a] for a in archs]) if archs else np.zeros((0, 0))


class SearchProblem:
    """A benchmark plus objectives and constraints: scores queries and knows the table's oracle.

    Build it once and pass it to :func:`~nasbench_mt.search.run` to reuse its caches over many runs.

    ``objective``: a metric name, ``"min:"``/``"max:"``-prefixed name or ``"delta_p"`` (a list for
    multi-objective search; default ``mean_acc``, in early-exit mode ``policy_mean_acc``); ``constraints``:
    strings such as ``"latency_ms <= 14"``; ``reference``: the arch Delta-p is relative to (default: the
    table row of median ``mean_acc``); ``full_space`` with ``surrogate`` (a predictor name, fitted on the
    whole table); ``exit_thresholds``: the per-task threshold grid of early-exit mode.
    """

    def __init__(
        self,
        bench: Any,
        objective: str | Sequence[str] | None = None,
        constraints: str | Sequence[str] | None = None,
        reference: Arch | str | None = None,
        full_space: bool = False,
        surrogate: str = "xgb",
        exit_thresholds: Sequence[float] | None = None,
        seed: int = 0,
    ) -> None:
        self.bench = bench
        self.tasks = [t.name for t in bench.tasks]
        self.full_space = bool(full_space)
        self.exit_mode = exit_thresholds is not None
        table = bench.table
        metrics = bench.metrics
        if objective is None:
            objective = "policy_mean_acc" if self.exit_mode else "mean_acc"
        policy = policy_metric_names(self.tasks)

        def higher_is_better(m: str) -> bool:  # the policy's accuracies are maximised, its costs minimised
            return m.startswith(("policy_mean_acc", "policy_acc_")) or (
                m not in policy and bench.higher_is_better(m)
            )

        metrics = [*metrics, *policy]
        ref_row = None
        self.reference = None
        if "delta_p" in str(objective):
            if reference is None:
                order = np.argsort(table["mean_acc"].to_numpy(dtype=float), kind="stable")
                reference = table["arch"].iloc[int(order[len(order) // 2])]
            ref_result = bench.query(reference)
            self.reference = ref_result.arch
            ref_row = table.iloc[int(np.flatnonzero(table["arch_id"].to_numpy() == ref_result.arch_id)[0])]
        tasks = [(t.name, t.higher_is_better) for t in bench.tasks]
        self.objectives: tuple[Objective, ...] = parse_objectives(
            objective, metrics, higher_is_better, tasks, ref_row
        )
        self.constraints: tuple[Constraint, ...] = parse_constraints(constraints, metrics)
        if self.exit_mode:
            self._setup_exits(exit_thresholds)
        else:
            named = [("objective", o.metric) for o in self.objectives]
            for what, metric in [*named, *(("constraint", c.metric) for c in self.constraints)]:
                if metric in policy:
                    raise ValueError(
                        f"invalid {what} {metric!r}: a policy metric needs an exit policy; allowed: give "
                        f"exit thresholds (--exit-thresholds), or the table's {policy[metric]!r}"
                    )
        self.columns = list(
            dict.fromkeys([c for o in self.objectives for c in o.columns] + self.metric_names)
        )
        self._arrays = {c: table[c].to_numpy(dtype=float) for c in self.columns if c not in policy}
        self._row = {a: i for i, a in enumerate(table["arch_id"].tolist())}
        static = [c for c in self.constraints if _static(c.metric, self.full_space)]
        pool = None if self.full_space else [Arch.from_string(s, space=bench.space) for s in table["arch"]]
        costs = {c.metric: table[c.metric].to_numpy(dtype=float) for c in static}
        self.candidates = Candidates(bench.space, bench.tasks, static, pool, costs)
        self.answers = bench
        self.predictor = None
        if self.full_space:
            self._fit_surrogate(surrogate, seed)
        self._oracle: dict[str, Any] | None = None

    @property
    def multi_objective(self) -> bool:
        return len(self.objectives) > 1

    @property
    def metric_names(self) -> list[str]:
        return [c.metric for c in self.constraints]

    def describe(self) -> str:
        objs = ", ".join(("max " if o.maximize else "min ") + o.metric for o in self.objectives)
        cons = " and ".join(map(str, self.constraints)) or "none"
        mode = "full space (surrogate)" if self.full_space else "pool (measured table)"
        extra = f", exit thresholds {list(self.exit_grid_values)}" if self.exit_mode else ""
        return f"objective: {objs}; constraints: {cons}; mode: {mode}{extra}"

    # ------------------------------------------------------------------ setup helpers
    def _setup_exits(self, thresholds: Sequence[float]) -> None:
        from nasbench_mt.query.exit_policy import threshold_grid

        if self.full_space:
            raise ValueError("early-exit mode needs the stored per-sample confidences: pool mode only")
        if self.multi_objective:
            raise ValueError("early-exit mode searches one objective; give one --objective")
        policy = policy_metric_names(self.tasks)
        shadowed = {column: name for name, column in policy.items()}
        named = [("objective", o.metric) for o in self.objectives]
        if self.objectives[0].metric == "delta_p":
            raise ValueError(
                "invalid objective 'delta_p' in early-exit mode; allowed: " + str(sorted(policy))
            )
        for what, metric in [*named, *(("constraint", c.metric) for c in self.constraints)]:
            if metric in shadowed:
                instead = shadowed[metric]
                raise ValueError(
                    f"invalid {what} {metric!r} in early-exit mode: the table's {metric} is not scored under "
                    f"the exit policy (which scores dense tasks by pixel accuracy, not mIoU); allowed: "
                    f"{instead!r} or another policy metric {sorted(policy)}"
                )
        given = (
            []
            if isinstance(thresholds, (str, bytes))
            else list(np.ravel(np.asarray(thresholds, dtype=object)))
        )
        real = [v for v in given if isinstance(v, numbers.Real) and not isinstance(v, bool)]
        if not given or len(real) < len(given) or any(not (0.0 <= v <= 1.0) for v in real):
            raise ValueError(
                f"invalid exit thresholds {thresholds!r}; allowed: a non-empty list of numbers in [0, 1]"
            )
        values = sorted({float(v) for v in real})
        self.exit_grid_values = tuple(values)
        self.exit_grid = threshold_grid(self.tasks, values)

    def _fit_surrogate(self, name: str, seed: int) -> None:
        from predictors import create_predictor

        static = [c for c in self.columns if _static(c, True)]
        targets = [c for c in self.columns if c not in static]
        if "peak_mem_bytes" in targets:
            raise ValueError("full-space mode cannot constrain peak_mem_bytes (measured, not predicted)")
        self.surrogate_targets = targets
        if not targets:
            return
        table = self.bench.table
        y = table[targets].to_numpy(dtype=float)
        keep = np.isfinite(y).all(axis=1)
        if keep.sum() < 2:
            raise ValueError(f"cannot fit a surrogate: fewer than 2 table rows with {targets}")
        archs = [Arch.from_string(s, space=self.bench.space) for s in table["arch"][keep]]
        kwargs = {"random_state": seed} if "random_state" in create_predictor(name).get_params() else {}
        self.predictor = create_predictor(name, **kwargs).fit(self.candidates.encode(archs), y[keep])
        self.answers = self.bench.with_surrogate(self.predictor, self.candidates.encode, targets)

    # ------------------------------------------------------------------ scoring
    def _metrics(self, arch: Arch, result: Any) -> dict[str, float]:
        row = self._row.get(result.arch_id)
        if row is not None and not result.predicted:
            return {c: float(v[row]) for c, v in self._arrays.items()}
        pred = dict(zip(self.surrogate_targets, self.surrogate_values(arch)))
        costs = self.candidates.exact_costs(arch)
        return {c: pred[c] if c in pred else costs.get(c, math.nan) for c in self.columns}

    def surrogate_values(self, arch: Arch) -> list[float]:
        """The surrogate's predictions of its targets for ``arch`` (full-space mode)."""
        if self.predictor is None or not self.surrogate_targets:
            return []
        y = np.asarray(self.predictor.predict(self.candidates.encode([arch])), dtype=float).reshape(-1)
        return y.tolist()

    def _score(self, metrics: dict[str, Any]) -> tuple[list[Any], list[Any], Any, Any]:
        values = [o.value(metrics) for o in self.objectives]
        scores = [o.score(v) for o, v in zip(self.objectives, values)]
        violation = sum(np.vectorize(c.violation)(metrics[c.metric]) for c in self.constraints)
        return values, scores, np.asarray(violation) == 0, violation

    def evaluate(self, arch: Arch) -> Evaluation:
        """Query ``arch`` (charging its simulated time) and score it."""
        result = self.answers.simulate_train_eval(arch)
        metrics: dict[str, Any] = self._metrics(arch, result)
        thresholds = None
        if self.exit_mode:
            metrics, thresholds = self._best_exit_setting(arch, metrics)
        values, scores, feasible, violation = self._score(metrics)
        return Evaluation(
            arch=arch,
            result=result,
            values=tuple(map(float, values)),
            scores=tuple(map(float, scores)),
            feasible=bool(feasible),
            violation=float(violation),
            metrics=metrics,
            thresholds=thresholds,
        )

    # ------------------------------------------------------------------ oracle
    def oracle(self) -> dict[str, Any]:
        """The table's best under the same constraints (and mode): ``rows`` and ``scores`` (n, m) of every
        feasible row, the best ``value``, the top-1% threshold ``top1_score``, the Pareto front."""
        if self._oracle is None:
            self._oracle = self._compute_oracle()
        return self._oracle

    def _compute_oracle(self) -> dict[str, Any]:
        table = self.bench.table
        n = len(table)
        metrics = dict(self._arrays)
        if self.exit_mode:
            keep = np.flatnonzero(self.candidates._ok)
            evals = [
                self._best_exit_setting(self.candidates.pool[i], {c: v[i] for c, v in self._arrays.items()})[
                    0
                ]
                for i in keep
            ]
            for c in self.columns:
                metrics[c] = np.full(n, np.nan)
                metrics[c][keep] = [e[c] for e in evals]
        values, scores, feasible, _ = self._score(metrics)
        feasible = np.broadcast_to(np.asarray(feasible), (n,)).copy()
        if not self.full_space:
            feasible &= self.candidates._ok
        scores = np.column_stack([np.asarray(s, dtype=float) for s in scores])
        feasible &= np.isfinite(scores).all(axis=1)
        rows = np.flatnonzero(feasible)
        if not len(rows):
            raise ValueError(f"no architecture of the table satisfies the constraints ({self.describe()})")
        fs = scores[rows]
        out: dict[str, Any] = {"rows": rows, "scores": fs, "n_feasible": len(rows)}
        best = int(rows[np.argmax(fs[:, 0])])
        out["best_row"] = best
        out["value"] = float(np.asarray(values[0], dtype=float)[best])
        out["best_score"] = float(fs[:, 0].max())
        k = max(1, math.ceil(0.01 * len(rows)))
        out["top1_score"] = float(np.sort(fs[:, 0])[::-1][k - 1])
        out["top1_k"] = k
        if self.multi_objective:
            from nasbench_mt.query.pareto import hypervolume, pareto_front

            lo, hi = fs.min(axis=0), fs.max(axis=0)
            span = np.where(hi > lo, hi - lo, 1.0)
            out["norm"] = (lo, span)
            out["hv_reference"] = np.full(fs.shape[1], -0.1)
            front = pareto_front(fs)
            out["front_rows"] = rows[front]
            out["hv"] = hypervolume((fs[front] - lo) / span, out["hv_reference"])
        return out

    def _best_exit_setting(
        self, arch: Arch, base: dict[str, float]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Metrics and thresholds of ``arch``'s best setting on the grid (feasible first, least violation)."""
        em = self.bench.exit_metrics(arch, self.exit_grid)
        policy = {
            "policy_mean_acc": em.policy_mean_acc,
            "policy_latency_ms": em.policy_latency_ms,
            "policy_latency_norm": em.policy_latency_norm,
            "policy_macs": em.policy_macs,
            "policy_flops": 2 * em.policy_macs,
        }
        policy.update({f"policy_acc_{t}": em.policy_acc[:, i] for i, t in enumerate(self.tasks)})
        size = len(self.exit_grid)
        grid = {c: policy[c] if c in policy else np.full(size, base[c]) for c in self.columns}
        _, scores, feasible, violation = self._score(grid)
        feasible = np.broadcast_to(feasible, (size,))
        if feasible.any():
            best = int(np.argmax(np.where(feasible, scores[0], -np.inf)))
        else:
            best = int(np.argmin(np.broadcast_to(violation, (size,))))
        return {c: float(v[best]) for c, v in grid.items()}, dict(
            zip(self.tasks, map(float, self.exit_grid[best]))
        )
