"""Shared fixture: 30 architectures of V1 with their exact costs as targets."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from nasbench_mt import V1, Arch, Costs
from nasbench_mt.space.costs import analytic_costs
from predictors import encode_archs, encode_graphs, encode_sequences

FIXTURE_SEED = 2024
TARGET_NAMES = ("params", "macs", "nonlinear")


@dataclass(frozen=True)
class Fixture:
    archs: list[Arch]
    costs: list[Costs]
    X: np.ndarray  # flat features with costs
    graphs: list  # PyG graphs with costs
    sequences: list  # per-layer token arrays with costs
    y: np.ndarray  # (30, 3): params, macs, nonlinear

    def inputs(self, model) -> np.ndarray | list:
        """The input a predictor takes: features, graphs or sequences."""
        return {"features": self.X, "graphs": self.graphs, "sequences": self.sequences}[model.input_kind]


def nonlinear_target(params: np.ndarray, macs: np.ndarray) -> np.ndarray:
    """log(MACs) minus a penalty peaked at the typical size: not monotone in either cost."""
    lp = np.log(params)
    return np.log(macs) - (lp - lp.mean()) ** 2


@pytest.fixture(scope="session")
def fixture() -> Fixture:
    archs = V1.sample(30, seed=FIXTURE_SEED)
    # equal to measure_costs(build_model(a)) field for field (tests/space/test_analytic_costs.py), ~10x faster
    costs = [analytic_costs(a, peak_memory=True) for a in archs]
    params = np.array([c.params for c in costs], dtype=np.float64)
    macs = np.array([c.macs for c in costs], dtype=np.float64)
    y = np.column_stack([params, macs, nonlinear_target(params, macs)])
    return Fixture(archs, costs, encode_archs(archs), encode_graphs(archs), encode_sequences(archs), y)
