"""Value domains of the release columns: what each column may hold, checked on every load and by
``check-release``.

Every column of :func:`~nasbench_mt.release.schema.table_columns` (and the latency, noise and calibration
files, which hold subsets of them) has a declared :class:`Domain`: its type, unit and range.  Rows also obey
cross-column rules (:data:`RULES`): cumulative MACs never decrease over the exits and end at ``macs``,
``flops`` is twice ``macs``, ``latency_norm`` is ``latency_ms / ref_latency_ms``, ``mean_acc`` is the mean of
the final-exit test scores of the higher-is-better tasks, and a final-exit score equals its ``_e4`` twin.
:func:`check_values` returns every violation as one line naming the file, column, row id and the rule.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from nasbench_mt.release.schema import EXIT_POSITIONS, MEAN_COLUMNS, SPLITS, mean_parts, score_column
from nasbench_mt.space.tasks import TaskSpec

__all__ = ["RULES", "Domain", "check_values", "column_domains"]


@dataclass(frozen=True)
class Domain:
    """What one column may hold: ``kind`` (``float``, ``int``, ``str``), unit, closed range, NaN allowed."""

    kind: str
    unit: str
    low: float | None = None
    high: float | None = None
    nullable: bool = False
    choices: tuple[str, ...] = ()
    pattern: str | None = None

    def describe(self) -> str:
        if self.choices:
            return f"one of {list(self.choices)}"
        if self.pattern:
            return f"a string matching {self.pattern}"
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        what = f"{self.kind} in [{lo}, {hi}] {self.unit}".rstrip()
        return what + (" or missing" if self.nullable else "")


PERCENT = Domain("float", "%", 0.0, 100.0, nullable=True)
MS = Domain("float", "ms", 0.0, None, nullable=True)
COUNT = Domain("int", "", 0, None)


def column_domains(tasks: Sequence[TaskSpec]) -> dict[str, Domain]:
    """The declared domain of every column a release file of ``tasks`` may hold."""
    out = {
        "arch_id": Domain("str", "", pattern=r"[0-9a-f]{12}"),
        "arch": Domain("str", ""),
        "protocol": Domain("str", "", choices=("supernet", "standalone")),
        "kind": Domain("str", ""),
        "seed": Domain("int", "", 0, None),
    }
    for split in SPLITS:
        for t in tasks:
            score = PERCENT if t.higher_is_better else Domain("float", t.metric, 0.0, None, nullable=True)
            for k in (*EXIT_POSITIONS, None):
                out[score_column(t.name, split, k)] = score
        out[MEAN_COLUMNS[split]] = PERCENT
    for prefix in ("", "ort_"):
        for col in ("latency_ms", "latency_iqr_ms", "ref_latency_ms", "latency_norm"):
            unit = "" if col == "latency_norm" else "ms"
            out[prefix + col] = Domain("float", unit, 0.0, None, nullable=True)
        for k in EXIT_POSITIONS:
            out[f"{prefix}latency_e{k}_ms"] = MS
    out["params"] = Domain("int", "parameters", 1, None)
    for t in tasks:
        out[f"params_{t.name}"] = Domain("int", "parameters", 1, None)
    out["macs"] = Domain("int", "MACs", 1, None)
    out["flops"] = Domain("int", "FLOPs", 2, None)
    for k in EXIT_POSITIONS:
        out[f"macs_e{k}"] = Domain("float", "MACs", 0.0, None, nullable=True)
    out["peak_mem_bytes"] = Domain("int", "bytes", 1, None)
    out["measure_s"] = Domain("float", "s", 0.0, None, nullable=True)
    return out


def _segment_domain(col: str) -> Domain | None:
    """Columns named by pattern: per-segment MACs, zero-cost proxy scores."""
    if col.startswith("macs_seg_"):
        return Domain("int", "MACs", 0, None)
    if col.startswith("proxy_"):
        return Domain("float", "", None, None, nullable=True)
    return None


# ------------------------------------------------------------------------------------------- rules
def _close(a: pd.Series, b: pd.Series, rel: float = 1e-6, abs_: float = 1e-6) -> pd.Series:
    """Element-wise a == b within tolerance; True where either side is missing (nothing to compare)."""
    ok = np.isclose(a.to_numpy(float), b.to_numpy(float), rtol=rel, atol=abs_)
    return pd.Series(ok | a.isna().to_numpy() | b.isna().to_numpy(), index=a.index)


def _macs_cumulative(df: pd.DataFrame, tasks: Sequence[TaskSpec]) -> pd.Series | None:
    cols = [f"macs_e{k}" for k in EXIT_POSITIONS]
    if not set(cols + ["macs"]) <= set(df.columns):
        return None
    values = df[cols].to_numpy(float)
    present = ~np.isnan(values)
    # the largest MACs of any earlier exit, per row (missing exits do not count)
    running = np.maximum.accumulate(np.where(present, values, -np.inf), axis=1)
    earlier = np.concatenate([np.full((len(df), 1), -np.inf), running[:, :-1]], axis=1)
    ok = np.all(~present | (values >= earlier), axis=1)
    ok &= _close(df["macs_e4"], df["macs"]).to_numpy()
    return pd.Series(ok, index=df.index)


def _flops_twice_macs(df: pd.DataFrame, tasks: Sequence[TaskSpec]) -> pd.Series | None:
    if not {"flops", "macs"} <= set(df.columns):
        return None
    return _close(df["flops"], 2 * df["macs"], rel=0, abs_=0.5)


def _latency_norm(df: pd.DataFrame, tasks: Sequence[TaskSpec]) -> pd.Series | None:
    checks = []
    for p in ("", "ort_"):
        if {f"{p}latency_norm", f"{p}latency_ms", f"{p}ref_latency_ms"} <= set(df.columns):
            checks.append(_close(df[f"{p}latency_norm"], df[f"{p}latency_ms"] / df[f"{p}ref_latency_ms"]))
    return None if not checks else pd.concat(checks, axis=1).all(axis=1)


def _mean_of_tasks(df: pd.DataFrame, tasks: Sequence[TaskSpec]) -> pd.Series | None:
    checks = []
    for split, mean in MEAN_COLUMNS.items():
        parts = mean_parts(tasks, split)
        if parts and set(parts + [mean]) <= set(df.columns):
            checks.append(_close(df[mean], df[parts].mean(axis=1, skipna=False), rel=0, abs_=1e-6))
    return None if not checks else pd.concat(checks, axis=1).all(axis=1)


def _final_exit(df: pd.DataFrame, tasks: Sequence[TaskSpec]) -> pd.Series | None:
    last = EXIT_POSITIONS[-1]
    pairs = [
        (score_column(t.name, s), score_column(t.name, s, last))
        for s in SPLITS
        for t in tasks
        if {score_column(t.name, s), score_column(t.name, s, last)} <= set(df.columns)
    ]
    if not pairs:
        return None
    return pd.concat([_close(df[a], df[b], rel=0, abs_=0) for a, b in pairs], axis=1).all(axis=1)


RULES: dict[str, Callable[[pd.DataFrame, Sequence[TaskSpec]], pd.Series | None]] = {
    "cumulative MACs never decrease over exits and end at macs": _macs_cumulative,
    "flops = 2 x macs": _flops_twice_macs,
    "latency_norm = latency_ms / ref_latency_ms": _latency_norm,
    "mean_acc (val_mean_acc) = mean of the final-exit test (val) scores of the higher-is-better tasks": (
        _mean_of_tasks
    ),
    "a final-exit score equals its _e4 column": _final_exit,
}


def _row_id(df: pd.DataFrame, i) -> str:
    return str(df.at[i, "arch_id"]) if "arch_id" in df.columns else f"#{i}"


def check_values(df: pd.DataFrame, tasks: Sequence[TaskSpec], source: str, limit: int = 5) -> list[str]:
    """Every value of ``df`` (one release file, named ``source`` in the messages) outside its column's
    domain, and every row that breaks a cross-column rule; at most ``limit`` messages per column or rule.
    A column with no declared domain is an error too: a release holds only the columns it declares."""
    domains = column_domains(tasks)
    errors: list[str] = []
    for col in df.columns:
        dom = domains.get(col) or _segment_domain(col)
        if dom is None:
            errors.append(f"{source}: column {col!r} is not a release column; allowed: the schema's columns")
            continue
        s = df[col]
        bad = _out_of_domain(s, dom)
        for i in list(s.index[bad])[:limit]:
            errors.append(
                f"{source}: column {col}, row {_row_id(df, i)}: {s[i]!r} is outside its domain; "
                f"allowed: {dom.describe()}"
            )
    for rule, fn in RULES.items():
        ok = fn(df, tasks)
        if ok is None:
            continue
        for i in list(ok.index[~ok.to_numpy(bool)])[:limit]:
            errors.append(f"{source}: row {_row_id(df, i)} breaks the rule {rule}")
    return errors


def _out_of_domain(s: pd.Series, dom: Domain) -> np.ndarray:
    if dom.kind == "str":
        text = s.astype(object)
        isstr = text.map(lambda v: isinstance(v, str)).to_numpy(bool)
        bad = ~isstr
        if dom.choices:
            bad |= ~text.isin(dom.choices).to_numpy(bool)
        if dom.pattern:
            rx = re.compile(dom.pattern)
            bad |= ~text.map(lambda v: isinstance(v, str) and rx.fullmatch(v) is not None).to_numpy(bool)
        return bad
    if not (pd.api.types.is_numeric_dtype(s) or s.isna().all()) or pd.api.types.is_bool_dtype(s):
        return np.ones(len(s), bool)
    v = s.to_numpy(float)
    missing = np.isnan(v)
    bad = missing & (not dom.nullable)
    bad |= np.isinf(v)
    present = ~missing & ~np.isinf(v)
    if dom.kind == "int":
        bad |= present & (np.floor(v) != v)
    if dom.low is not None:
        bad |= present & (v < dom.low)
    if dom.high is not None:
        bad |= present & (v > dom.high)
    return bad
