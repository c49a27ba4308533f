"""nasbench_mt.workers: jobs in this process or in spawned workers, results in job order."""

import operator

import pytest

from nasbench_mt.workers import map_jobs


@pytest.mark.parametrize("workers", [1, 2])
def test_results_come_back_in_job_order(workers):
    # fn(context, job) = context ** job; a builtin pickles by reference into the spawned workers
    assert list(map_jobs(operator.pow, 2, range(7), workers=workers)) == [2**k for k in range(7)]


def test_no_jobs_and_bad_worker_counts():
    assert list(map_jobs(operator.pow, 2, [], workers=2)) == []
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match=r"invalid workers: .*; allowed: an int >= 1"):
            map_jobs(operator.pow, 2, [1], workers=bad)


def test_a_failing_job_raises_its_own_error_in_the_caller():
    with pytest.raises(ZeroDivisionError):
        list(map_jobs(operator.truediv, 1, [1, 0, 2], workers=2))
