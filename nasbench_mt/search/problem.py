"""A search problem: what may be proposed (``Candidates``), how a proposal is scored (``SearchProblem``).

**Pool mode** (default) searches the measured table: strategies only ever see and propose archs that are in
it.  The table is a sparse sample of a 1.3e14-network space, so a space move (mutation, crossover, neighbour)
is *projected* onto the nearest not-yet-proposed table arch (:mod:`~nasbench_mt.search.candidates`).
**Full-space mode** searches the whole space;
queries of archs absent from the table are answered by a surrogate fitted on the table
(:meth:`~nasbench_mt.query.benchmark.Benchmark.with_surrogate`, results marked ``predicted``).

Constraints on exact costs (params, MACs, FLOPs; peak memory in pool mode) are known without training, so
archs violating them are never proposed; constraints on measured metrics (latency, accuracy) are only known
after a query.  **Early-exit mode** (``exit_thresholds=[...]``, pool mode, one objective): every queried arch
is scored under its best per-task confidence-threshold setting on that grid (searched exhaustively with
:meth:`~nasbench_mt.query.benchmark.Benchmark.exit_metrics`, free; EDANAS).  **Joint exit mode**
(``exits="joint"``, pool mode, any number of objectives): the per-task thresholds are decision variables
next to the architecture's (:mod:`~nasbench_mt.search.exits`); a candidate is an ``ArchPolicy``.  In both
exit modes objectives and constraints name the policy's metrics, ``policy_mean_acc``, ``policy_acc_{task}``,
``policy_latency_ms``, ``policy_latency_norm``, ``policy_macs``, ``policy_flops`` (default objective
``policy_mean_acc``): under a policy dense tasks are scored by pixel accuracy, so the table's ``mean_acc``
(dense tasks by mIoU) never names it.  Grid mode refuses the table columns the policy changes
(``test_{task}``, latency, MACs, FLOPs); joint mode reads them with their table meaning (the whole network).
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nasbench_mt.query.exit_policy import policy_metric_names
from nasbench_mt.query.results import QueryResult
from nasbench_mt.search.candidates import Candidates
from nasbench_mt.search.exits import (
    DEFAULT_EXIT_GRID,
    ArchPolicy,
    JointCandidates,
    format_threshold,
    parse_exit_grid,
    policy_metrics,
)
from nasbench_mt.search.objectives import Constraint, Objective, parse_constraints, parse_objectives
from nasbench_mt.space.arch import Arch

__all__ = ["Candidates", "Evaluation", "SearchProblem"]

EXIT_MODES = ("grid", "joint")


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
    ``thresholds``; joint exit mode: plus every policy metric).  ``candidate`` is what the strategy proposed:
    ``arch`` itself, or in joint exit mode the :class:`~nasbench_mt.search.exits.ArchPolicy`.
    """

    arch: Arch
    result: QueryResult
    values: tuple[float, ...]
    scores: tuple[float, ...]
    feasible: bool
    violation: float
    metrics: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] | None = None
    candidate: Arch | ArchPolicy | None = None

    def __post_init__(self) -> None:
        if self.candidate is None:
            object.__setattr__(self, "candidate", self.arch)

    @property
    def key(self) -> tuple[bool, float]:
        """Sort key (larger is better): feasible first by the primary score, infeasible by least violation."""
        return (self.feasible, self.scores[0] if self.feasible else -self.violation)


class SearchProblem:
    """A benchmark plus objectives and constraints: scores queries and knows the table's oracle.

    Build it once and pass it to :func:`~nasbench_mt.search.run` to reuse its caches over many runs.

    ``objective``: a metric name, ``"min:"``/``"max:"``-prefixed name or ``"delta_p"`` (a list for
    multi-objective search); ``constraints``: strings such as ``"latency_ms <= 14"``; ``reference``: the arch
    Delta-p is relative to (default: the table row of median ``mean_acc``); ``full_space`` with ``surrogate``
    (a predictor name, fitted on the whole table).  ``exits="grid"`` scores every arch under its best
    setting of the per-task threshold grid ``exit_grid`` (``exit_thresholds=G`` is short for
    ``exits="grid", exit_grid=G``); ``exits="joint"`` searches the thresholds on that grid as decision
    variables (default grid :data:`~nasbench_mt.search.exits.DEFAULT_EXIT_GRID`; ``inf``: never leave early).
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
        exits: str | None = None,
        exit_grid: Sequence[float] | None = None,
    ) -> None:
        self.bench = bench
        self.tasks = [t.name for t in bench.tasks]
        self.full_space = bool(full_space)
        exits, exit_grid = _exit_options(exits, exit_grid, exit_thresholds)
        self.exit_mode = exits == "grid"
        self.joint = exits == "joint"
        if self.joint and self.full_space:
            raise ValueError("joint exit search needs the stored per-sample confidences: pool mode only")
        table = bench.table
        if objective is None:
            objective = "policy_mean_acc" if exits else "mean_acc"
        policy = policy_metric_names(self.tasks)

        def higher_is_better(m: str) -> bool:  # the policy's accuracies are maximised, its costs minimised
            return m.startswith(("policy_mean_acc", "policy_acc_")) or (
                m not in policy and bench.higher_is_better(m)
            )

        metrics = [*bench.metrics, *policy]
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
        _refuse_policy_names(objective, constraints, exits is not None)
        self.objectives: tuple[Objective, ...] = parse_objectives(
            objective, metrics, higher_is_better, tasks, ref_row
        )
        self.constraints: tuple[Constraint, ...] = parse_constraints(constraints, metrics)
        if self.exit_mode:
            self._setup_exits(exit_grid)
        self.exit_grid_values = exit_grid
        self.columns = list(
            dict.fromkeys([c for o in self.objectives for c in o.columns] + self.metric_names)
        )
        self._arrays = {c: table[c].to_numpy(dtype=float) for c in self.columns if c not in policy}
        self._row = {a: i for i, a in enumerate(table["arch_id"].tolist())}
        static = [c for c in self.constraints if _static(c.metric, self.full_space)]
        pool = None if self.full_space else [Arch.from_string(s, space=bench.space) for s in table["arch"]]
        costs = {c.metric: table[c.metric].to_numpy(dtype=float) for c in static}
        args = (bench.space, bench.tasks, static, pool, costs)
        self.candidates = JointCandidates(exit_grid, *args) if self.joint else Candidates(*args)
        self.answers = bench
        self.predictor = None
        if self.full_space:
            self._fit_surrogate(surrogate, seed)
        self._oracle: dict[str, Any] | None = None
        self._points: tuple[dict[str, np.ndarray], np.ndarray, np.ndarray] | None = None

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
        grid = "[" + ", ".join(map(format_threshold, self.exit_grid_values or ())) + "]"
        extra = f", exit thresholds {grid}" if self.exit_mode else ""
        extra += f", joint exit thresholds {grid}" if self.joint else ""
        return f"objective: {objs}; constraints: {cons}; mode: {mode}{extra}"

    # ------------------------------------------------------------------ setup helpers
    def _setup_exits(self, values: Sequence[float]) -> None:
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
        model = create_predictor(name, **kwargs)
        kind = model.input_kind
        self.predictor = model.fit(self.candidates.encode(archs, kind), y[keep])
        encoder = functools.partial(self.candidates.encode, kind=kind)
        self.answers = self.bench.with_surrogate(self.predictor, encoder, targets)

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
        X = self.candidates.encode([arch], self.predictor.input_kind)
        y = np.asarray(self.predictor.predict(X), dtype=float).reshape(-1)
        return y.tolist()

    def score(self, metrics: Mapping[str, Any]) -> tuple[list[Any], list[Any], Any, Any]:
        """``(values, scores, feasible, violation)`` from metric values: one per objective (in metric units,
        and oriented so that larger is better), whether every constraint holds, and the summed relative
        violation (0 when feasible).  ``metrics`` maps every name of :attr:`columns` to a number or an array
        (then every result is an array over its entries); a strategy scores its predicted metrics with it."""
        values = [o.value(metrics) for o in self.objectives]
        scores = [o.score(v) for o, v in zip(self.objectives, values)]
        violation = sum(np.vectorize(c.violation)(metrics[c.metric]) for c in self.constraints)
        return values, scores, np.asarray(violation) == 0, violation

    def evaluate(self, candidate: Arch | ArchPolicy, charge: bool = True) -> Evaluation:
        """Query ``candidate`` (an arch; joint exit mode: an arch with its thresholds) and score it.

        ``charge``: add the arch's simulated training time to the clock (False when this run already trained
        it: another exit policy of a trained arch costs no training)."""
        arch = candidate.arch if isinstance(candidate, ArchPolicy) else candidate
        result = self.answers.simulate_train_eval(arch) if charge else self.answers.query(arch)
        metrics: dict[str, Any] = self._metrics(arch, result)
        thresholds = None
        if self.exit_mode:
            metrics, thresholds = self._best_exit_setting(arch, metrics)
        elif self.joint:
            if not isinstance(candidate, ArchPolicy):
                raise ValueError(
                    f"invalid candidate {candidate!r}; allowed: an ArchPolicy in joint exit mode"
                )
            policy = policy_metrics(self.bench.exit_metrics(arch, candidate.thresholds))
            metrics.update({c: float(v[0]) for c, v in policy.items()})
            thresholds = dict(zip(self.tasks, candidate.thresholds))
        values, scores, feasible, violation = self.score(metrics)
        return Evaluation(
            arch=arch,
            result=result,
            values=tuple(map(float, values)),
            scores=tuple(map(float, scores)),
            feasible=bool(feasible),
            violation=float(violation),
            metrics=metrics,
            thresholds=thresholds,
            candidate=candidate,
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
        ok = self.candidates._ok if not self.full_space else np.ones(n, dtype=bool)
        if self.joint:  # every (admissible arch, grid setting) pair is a point
            metrics, arch_rows, settings = self.joint_points()
            n = len(arch_rows)
            ok = np.ones(n, dtype=bool)
        elif self.exit_mode:
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
        values, scores, feasible, _ = self.score(metrics)
        feasible = np.broadcast_to(np.asarray(feasible), (n,)).copy() & ok
        scores = np.column_stack([np.asarray(s, dtype=float) for s in scores])
        feasible &= np.isfinite(scores).all(axis=1)
        rows = np.flatnonzero(feasible)
        if not len(rows):
            raise ValueError(f"no architecture of the table satisfies the constraints ({self.describe()})")
        fs = scores[rows]
        out: dict[str, Any] = {"rows": rows, "scores": fs, "n_feasible": len(rows)}
        # objectives that are table columns: the benchmark answers (its best and its front); derived ones
        # (Delta-p, expected metrics under an exit policy) are scored here with the same Pareto front
        asked = not (self.exit_mode or self.joint) and all(o.metric != "delta_p" for o in self.objectives)
        cons = list(self.constraints) or None
        if asked:
            o = self.objectives[0]
            best = self._row[self.bench.best(o.metric, cons, maximize=o.maximize).arch_id]
        else:
            best = int(rows[np.argmax(fs[:, 0])])
        out["value"] = float(np.asarray(values[0], dtype=float)[best])
        out["best_row"] = best
        if self.joint:  # best_row: the table row of the best point's arch
            out["best_row"] = int(arch_rows[best])
            out["thresholds"] = dict(zip(self.tasks, map(float, settings[best % len(settings)])))
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
            if asked:
                view = self.bench.pareto(
                    [o.metric for o in self.objectives], cons, maximize=[o.maximize for o in self.objectives]
                )
                front = np.searchsorted(rows, sorted(self._row[a] for a in view.table["arch_id"]))
            elif self.joint and fs.shape[1] > 2:  # prefilter each arch's settings, then the union
                groups = np.split(np.arange(len(rows)), np.flatnonzero(np.diff(arch_rows[rows])) + 1)
                cand = np.concatenate([g[pareto_front(fs[g])] for g in groups])
                front = cand[pareto_front(fs[cand])]
            else:
                front = pareto_front(fs)
            out["front_rows"] = rows[front]
            out["hv"] = hypervolume((fs[front] - lo) / span, out["hv_reference"])
        return out

    def joint_points(self, extra: Sequence[str] = ()) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
        """Joint exit mode: the objective and constraint metrics (plus ``extra`` ones) of every (admissible
        arch, grid setting) point, arch-major; the table row of each point's arch; the settings (S, T).

        Every pool arch is evaluated under every setting (on the 5,000-row release and the default grid,
        1.7 million points, one to two minutes); the answer is cached."""
        from nasbench_mt.query.exit_policy import threshold_grid

        if not self.joint:
            raise ValueError("joint_points() lists the candidates of joint exit mode (exits='joint')")
        columns = list(dict.fromkeys([*self.columns, *extra]))
        cached = self._points
        if cached is not None and set(columns) <= set(cached[0]):
            return cached
        policy_names = policy_metric_names(self.tasks)
        table = {c: self.bench.table[c].to_numpy(dtype=float) for c in columns if c not in policy_names}
        keep = np.flatnonzero(self.candidates._ok)
        settings = threshold_grid(self.tasks, self.exit_grid_values)
        size = len(settings)
        parts: dict[str, list[np.ndarray]] = {c: [] for c in columns}
        for i in keep:
            policy = policy_metrics(self.bench.exit_metrics(self.candidates.pool[i], settings))
            for c in columns:
                parts[c].append(policy[c] if c in policy else np.full(size, table[c][i]))
        self._points = ({c: np.concatenate(v) for c, v in parts.items()}, np.repeat(keep, size), settings)
        return self._points

    def _best_exit_setting(
        self, arch: Arch, base: dict[str, float]
    ) -> tuple[dict[str, float], dict[str, float]]:
        """Metrics and thresholds of ``arch``'s best setting on the grid (feasible first, least violation)."""
        policy = policy_metrics(self.bench.exit_metrics(arch, self.exit_grid))
        size = len(self.exit_grid)
        grid = {c: policy[c] if c in policy else np.full(size, base[c]) for c in self.columns}
        _, scores, feasible, violation = self.score(grid)
        feasible = np.broadcast_to(feasible, (size,))
        if feasible.any():
            best = int(np.argmax(np.where(feasible, scores[0], -np.inf)))
        else:
            best = int(np.argmin(np.broadcast_to(violation, (size,))))
        return {c: float(v[best]) for c, v in grid.items()}, dict(
            zip(self.tasks, map(float, self.exit_grid[best]))
        )


def _exit_options(
    exits: str | None, grid: Sequence[float] | None, thresholds: Sequence[float] | None
) -> tuple[str | None, tuple[float, ...] | None]:
    """The exit mode and its grid from ``exits``, ``exit_grid`` and the grid mode's ``exit_thresholds``."""
    if thresholds is not None:
        if exits not in (None, "grid") or grid is not None:
            raise ValueError("invalid exit options: exit_thresholds=G is short for exits='grid', exit_grid=G")
        exits, grid = "grid", thresholds
    if exits is None:
        if grid is not None:
            raise ValueError(
                f"invalid exit options: an exit grid needs an exit mode; allowed: exits in {EXIT_MODES}"
            )
        return None, None
    if exits not in EXIT_MODES:
        raise ValueError(f"invalid exit mode: {exits!r}; allowed: {list(EXIT_MODES)} or None")
    return exits, parse_exit_grid(DEFAULT_EXIT_GRID if grid is None else grid)


def _refuse_policy_names(objective: Any, constraints: Any, exit_mode: bool) -> None:
    """Policy metrics exist in an exit mode only: say so instead of 'unknown metric'."""
    names = re.findall(r"\bpolicy_\w+", f"{objective} {constraints}")
    if names and not exit_mode:
        raise ValueError(
            f"invalid metric {names[0]!r}: policy_* metrics are expected values under an exit policy; "
            "allowed: with exits='grid' or exits='joint' (command line: --exits grid or --exits joint), "
            "or the table's column"
        )
