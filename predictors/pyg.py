"""torch-geometric, imported on first use.

Importing it takes seconds (it loads ``torch._dynamo``), which only the graph predictors and the graph
encoders need; the tree, baseline and sequence predictors (``mtlp_jr`` included) never pay for it.  Its import
decorates helpers with ``torch.jit.script``, which recent torch deprecates: one warning per import
that users can do nothing about, silenced here for that import only.
"""

from __future__ import annotations

import sys
import warnings
from types import ModuleType

__all__ = ["pyg"]


def pyg() -> ModuleType:
    """The ``torch_geometric`` package with its ``data``, ``loader`` and ``nn`` subpackages loaded."""
    if "torch_geometric.nn" not in sys.modules:
        with warnings.catch_warnings():
            # torch warns as FutureWarning or DeprecationWarning, depending on the version
            warnings.filterwarnings("ignore", message=r"`torch\.jit\.script` is deprecated")
            import torch_geometric.data
            import torch_geometric.loader
            import torch_geometric.nn  # noqa: F401
    return sys.modules["torch_geometric"]
