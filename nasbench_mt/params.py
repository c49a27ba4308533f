"""The one checker of hyper-parameters (predictors, search strategies), in the house error format."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["check_param"]


def check_param(name: str, value: Any, kind: str, low: float | None = None, choices: Sequence | None = None):
    """``value``, or a ``ValueError`` in the house format unless it is a valid ``kind``: int, float, bool,
    choice (one of ``choices``) or seed (None or an int >= 0); ``low`` bounds an int or float from below."""
    if kind == "choice":
        if value not in choices:
            raise ValueError(f"invalid {name}: {value!r}; allowed: one of {list(choices)}")
        return value
    if kind == "bool":
        ok = isinstance(value, (bool, np.bool_))
        allowed = "True or False"
    elif kind == "seed":
        ok = value is None or (
            isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0
        )
        allowed = "None or an int >= 0"
    else:
        numeric = numbers.Integral if kind == "int" else numbers.Real
        ok = isinstance(value, numeric) and not isinstance(value, bool) and np.isfinite(value)
        ok = ok and (low is None or value >= low)
        allowed = f"{'an int' if kind == 'int' else 'a number'}" + ("" if low is None else f" >= {low}")
    if not ok:
        raise ValueError(f"invalid {name}: {value!r}; allowed: {allowed}")
    return int(value) if kind == "int" else value
