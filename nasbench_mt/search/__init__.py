"""Zero-training NAS offline: ask/tell strategies, objectives and constraints, the search loop.

Example::

    >>> from nasbench_mt import load_benchmark
    >>> from nasbench_mt.search import create_strategy, list_strategies, run
    >>> list_strategies()
    ['brp', 'evolution', 'local', 'nsga2', 'random']
    >>> bench = load_benchmark()
    >>> res = run(bench, "brp", budget=100, objective="mean_acc", constraints="latency_norm <= 2.3", seed=0)
    >>> res.best.arch, res.best.values, res.regret, res.queries_to_top1
    >>> run(bench, "nsga2", 100, objective=["mean_acc", "latency_norm"]).pareto  # multi-objective
    >>> run(bench, "evolution", 100, exit_thresholds=[0.6, 0.8, 0.9, 1.0])  # best thresholds on the grid
    >>> run(bench, "nsga2", 100, objective=["policy_mean_acc", "policy_latency_norm"], exits="joint")

Driving a strategy yourself (ask/tell)::

    >>> from nasbench_mt.search import SearchProblem
    >>> problem = SearchProblem(bench, "mean_acc", ["latency_norm <= 2.3"])
    >>> strategy = create_strategy("brp")
    >>> strategy.setup(problem.candidates, seed=0, problem=problem)
    >>> for _ in range(50):
    ...     arch = strategy.ask()
    ...     strategy.tell(arch, problem.evaluate(arch))
"""

from nasbench_mt.query.exit_policy import policy_metric_names
from nasbench_mt.search import brp, evolution, local, nsga2, random_search  # noqa: F401  (register strategies)
from nasbench_mt.search.base import (
    Candidate,
    Evaluation,
    Strategy,
    create_strategy,
    list_strategies,
    register_strategy,
)
from nasbench_mt.search.candidates import Candidates
from nasbench_mt.search.exits import DEFAULT_EXIT_GRID, ArchPolicy, JointCandidates
from nasbench_mt.search.loop import SearchResult, run
from nasbench_mt.search.objectives import Constraint, Objective, parse_constraints
from nasbench_mt.search.problem import SearchProblem

__all__ = [
    "DEFAULT_EXIT_GRID",
    "ArchPolicy",
    "Candidate",
    "Candidates",
    "Constraint",
    "Evaluation",
    "JointCandidates",
    "Objective",
    "SearchProblem",
    "SearchResult",
    "Strategy",
    "create_strategy",
    "list_strategies",
    "parse_constraints",
    "policy_metric_names",
    "register_strategy",
    "run",
]
