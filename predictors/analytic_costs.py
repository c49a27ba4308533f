"""Exact parameters and MACs of an :class:`~nasbench_mt.space.arch.Arch` without building its network.

Re-exported from :mod:`nasbench_mt.space.costs`, where it lives next to ``measure_costs`` (kept for old
imports).
"""

from nasbench_mt.space.costs import analytic_costs

__all__ = ["analytic_costs"]
