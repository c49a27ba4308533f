"""The ``nasbench-mt`` command line: one module per command group, shared options in ``options``."""

from nasbench_mt.cli.main import main

__all__ = ["main"]
