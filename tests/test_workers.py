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


def test_a_context_of_more_tensors_than_open_files_reaches_the_workers():
    """Thousands of tensors (a table's encoded graphs) travel by value, not as one shared-memory file
    descriptor each, which ran past the open-file limit."""
    import resource

    import torch

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    n = min(soft, 100_000) + 1000
    context = [torch.full((2,), float(i)) for i in range(n)]
    got = list(map_jobs(operator.getitem, context, [0, n - 1], workers=2))
    assert torch.equal(got[0], context[0]) and torch.equal(got[1], context[-1])
