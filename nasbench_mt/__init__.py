"""nasbench-mt: a tabular NAS benchmark of multi-task, early-exit MobileNet-style networks.

The names below are imported lazily (PEP 562): ``import nasbench_mt`` and querying the table do not
import torch, which only the model-building names (``build_model``, ``measure_costs``, ...) need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "ArchNotInBenchmarkError": "nasbench_mt.benchmark",
    "Benchmark": "nasbench_mt.benchmark",
    "QueryResult": "nasbench_mt.benchmark",
    "load_benchmark": "nasbench_mt.benchmark",
    "Costs": "nasbench_mt.costs",
    "measure_costs": "nasbench_mt.costs",
    "MultiTaskNet": "nasbench_mt.model",
    "build_model": "nasbench_mt.model",
    "V1": "nasbench_mt.space",
    "Arch": "nasbench_mt.space",
    "Block": "nasbench_mt.space",
    "SearchSpace": "nasbench_mt.space",
    "TaskSpec": "nasbench_mt.tasks",
}

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

if TYPE_CHECKING:
    from nasbench_mt.benchmark import ArchNotInBenchmarkError, Benchmark, QueryResult, load_benchmark
    from nasbench_mt.costs import Costs, measure_costs
    from nasbench_mt.model import MultiTaskNet, build_model
    from nasbench_mt.space import V1, Arch, Block, SearchSpace
    from nasbench_mt.tasks import TaskSpec


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'nasbench_mt' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
