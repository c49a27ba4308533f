"""nasbench-mt: a tabular NAS benchmark of multi-task, early-exit MobileNet-style networks.

The names below are imported lazily (PEP 562): ``import nasbench_mt`` and querying the table do not
import torch, which only the model-building names (``build_model``, ``measure_costs``, ...) need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "ArchNotInBenchmarkError": "nasbench_mt.query.benchmark",
    "Benchmark": "nasbench_mt.query.benchmark",
    "QueryResult": "nasbench_mt.query.benchmark",
    "load_benchmark": "nasbench_mt.query.benchmark",
    "Costs": "nasbench_mt.space.costs",
    "measure_costs": "nasbench_mt.space.costs",
    "MultiTaskNet": "nasbench_mt.space.model",
    "build_model": "nasbench_mt.space.model",
    "V1": "nasbench_mt.space.arch",
    "Arch": "nasbench_mt.space.arch",
    "Block": "nasbench_mt.space.arch",
    "SearchSpace": "nasbench_mt.space.arch",
    "TaskSpec": "nasbench_mt.space.tasks",
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
    from nasbench_mt.query.benchmark import ArchNotInBenchmarkError, Benchmark, QueryResult, load_benchmark
    from nasbench_mt.space.arch import V1, Arch, Block, SearchSpace
    from nasbench_mt.space.costs import Costs, measure_costs
    from nasbench_mt.space.model import MultiTaskNet, build_model
    from nasbench_mt.space.tasks import TaskSpec


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'nasbench_mt' has no attribute {name!r}")
    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])
