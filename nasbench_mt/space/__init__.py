"""The search space: tasks, what an architecture is, the network it builds and its exact costs.

The bottom layer: it imports nothing else from nasbench_mt.
"""
