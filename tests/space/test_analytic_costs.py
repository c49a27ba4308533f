import dataclasses

import pytest

from nasbench_mt import V1, build_model, measure_costs
from nasbench_mt.space.costs import analytic_costs
from nasbench_mt.space.tasks import TaskSpec
from predictors import analytic_costs as reexported


@pytest.fixture(scope="module")
def measured():
    archs = V1.sample(30, seed=2024)
    return archs, [measure_costs(build_model(a)) for a in archs]


def test_equal_to_measured_costs(measured):
    for arch, costs in zip(*measured):
        assert analytic_costs(arch) == dataclasses.replace(costs, peak_activation_bytes=0)


def test_peak_memory_equal_to_measured(measured):
    for arch, costs in zip(*measured):
        assert analytic_costs(arch, peak_memory=True) == costs


def test_extremes_and_custom_tasks():
    tasks = (TaskSpec("a", "regression", 1), TaskSpec("b", "classification", 3), TaskSpec("c", "dense", 5, 8))
    for arch in (V1.smallest(), V1.largest()):
        measured = measure_costs(build_model(arch, tasks))
        assert analytic_costs(arch, tasks) == dataclasses.replace(measured, peak_activation_bytes=0)
        assert analytic_costs(arch, tasks, peak_memory=True) == measured


def test_rejects_non_arch():
    with pytest.raises(ValueError, match="invalid arch"):
        analytic_costs("k3e3|k3e3|k3e3|k3e3|b=4,4,4|x=")


def test_predictors_reexport():
    assert reexported is analytic_costs
