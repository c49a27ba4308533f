"""nasbench-mt: a tabular NAS benchmark of multi-task, early-exit MobileNet-style networks."""

from nasbench_mt.benchmark import ArchNotInBenchmarkError, Benchmark, QueryResult, load_benchmark
from nasbench_mt.costs import Costs, measure_costs
from nasbench_mt.model import MultiTaskNet, build_model
from nasbench_mt.space import V1, Arch, Block, SearchSpace
from nasbench_mt.tasks import TaskSpec

__version__ = "0.1.0"

__all__ = [
    "V1",
    "Arch",
    "ArchNotInBenchmarkError",
    "Benchmark",
    "Block",
    "Costs",
    "MultiTaskNet",
    "QueryResult",
    "SearchSpace",
    "TaskSpec",
    "__version__",
    "build_model",
    "load_benchmark",
    "measure_costs",
]
