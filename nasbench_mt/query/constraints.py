"""One constraint grammar for the whole package: ``<metric> <op> <number>``, joined by ``and`` (or given
as a list), e.g. ``"latency_norm <= 2.3 and params < 200k"``.

Operators: ``<=``, ``>=``, ``==``, ``<``, ``>``; a number may carry a ``k``, ``M`` or ``G`` suffix.  A row
with a missing value never satisfies a constraint.  ``Benchmark.where``, ``best``, ``pareto`` and every search
read constraints with :func:`parse_constraints`.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Constraint", "check_metric", "parse_constraints"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "<": operator.lt,
    ">": operator.gt,
}
_SUFFIX = {"k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*([<>=!]+)\s*(\S+?)\s*$", re.ASCII)
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?([kKMG]?)$", re.ASCII)  # no other digits


def check_metric(name: str, valid: Sequence[str], what: str) -> str:
    if name not in valid:
        close = difflib.get_close_matches(name, list(valid), n=3)
        hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
        raise ValueError(f"unknown {what} metric {name!r}{hint}; valid: {list(valid)}")
    return name


@dataclass(frozen=True)
class Constraint:
    """``metric op bound``, e.g. ``latency_ms <= 14``; :meth:`parse` reads the string form."""

    metric: str
    op: str
    bound: float

    @classmethod
    def parse(cls, text: str, metrics: Sequence[str] | None = None) -> Constraint:
        """Parse ``"latency_ms<=14"``; with ``metrics``, an unknown metric raises listing the valid ones."""
        if isinstance(text, Constraint):
            if metrics is not None:
                check_metric(text.metric, metrics, "constraint")
            return text
        if not isinstance(text, str):
            raise ValueError(f"invalid constraint: {text!r}; allowed: a string such as 'latency_ms <= 14'")
        m = _CONSTRAINT.match(text)
        if m is None:
            raise ValueError(
                f"invalid constraint {text!r}; allowed: '<metric> <op> <number>' with op in {list(_OPS)}, "
                "e.g. 'latency_ms <= 14' or 'params <= 200e3'"
            )
        metric, op, number = m.groups()
        if op not in _OPS:
            raise ValueError(f"invalid constraint operator {op!r} in {text!r}; allowed: {list(_OPS)}")
        num = _NUMBER.match(number)
        if num is None:
            raise ValueError(
                f"invalid constraint bound {number!r} in {text!r}; allowed: a number such as 3, 200e3, 200k"
            )
        bound = float(number[:-1] if num.group(3) else number) * _SUFFIX.get(num.group(3), 1.0)
        if not np.isfinite(bound):
            raise ValueError(
                f"invalid constraint bound {number!r} in {text!r}; allowed: a finite number such as 3, 200e3"
            )
        if metrics is not None:
            check_metric(metric, metrics, "constraint")
        return cls(metric, op, bound)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.bound:g}"

    def satisfied(self, value: float) -> bool:
        return bool(np.isfinite(value)) and _OPS[self.op](value, self.bound)

    def violation(self, value: float) -> float:
        """0 when satisfied, else the relative distance to the bound (NaN values count as 1e6)."""
        if not np.isfinite(value):
            return 1e6
        if self.satisfied(value):
            return 0.0
        return abs(value - self.bound) / max(abs(self.bound), 1e-12) + 1e-9

    def mask(self, values: np.ndarray) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        with np.errstate(invalid="ignore"):
            return np.isfinite(values) & _OPS[self.op](values, self.bound)


def parse_constraints(
    constraints: str | Sequence[str | Constraint] | None, metrics: Sequence[str] | None = None
) -> tuple[Constraint, ...]:
    """A tuple of :class:`Constraint` from one string (``and``-separated), a list of strings, or None."""
    if constraints is None:
        return ()
    if isinstance(constraints, (str, Constraint)):
        constraints = [constraints]
    if not isinstance(constraints, Sequence) or not all(
        isinstance(c, (str, Constraint)) for c in constraints
    ):
        raise ValueError(
            f"invalid constraints: {constraints!r}; allowed: a string such as 'latency_ms <= 14 and params "
            "< 200k', or a list of such strings"
        )
    out: list[Constraint] = []
    for c in constraints:
        if isinstance(c, str) and not c.isascii():  # the grammar is ASCII: no look-alike digits or spaces
            bad = next(ch for ch in c if not ch.isascii())
            raise ValueError(
                f"invalid constraints {c!r}: the character {bad!r} (U+{ord(bad):04X}); allowed: ASCII, e.g. "
                "'latency_ms <= 14 and params < 200k'"
            )
        parts = re.split(r"\s+and\s+|,", c) if isinstance(c, str) else [c]
        if len(parts) > 1 and not all(p.strip() for p in parts):  # "a <= 1," or "a <= 1 and , b > 2"
            raise ValueError(
                f"invalid constraints {c!r}: an empty clause; allowed: '<metric> <op> <number>' clauses "
                "joined by 'and' or ','"
            )
        out += [Constraint.parse(p, metrics) for p in parts if not isinstance(p, str) or p.strip()]
    return tuple(out)
