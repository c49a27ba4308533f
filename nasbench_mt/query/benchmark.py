"""Query the tabular benchmark: ``load_benchmark()`` -> :class:`Benchmark`.

Example::

    >>> from nasbench_mt import load_benchmark
    >>> bench = load_benchmark()                      # the shipped v1 release, verified, no network
    >>> r = bench.query(bench[0].arch)                # an Arch, its canonical string or its 12-hex id
    >>> r.accuracy, r.latency_ms, r.params            # per-task test score, ms, parameters
    >>> fast = bench.where(latency_ms_lt=14)          # or bench.where("latency_ms < 14 and params < 2e5")
    >>> fast.best("mean_acc")                         # the oracle a search's regret is measured against
    >>> bench.pareto(["mean_acc", "latency_norm"]).table
    >>> bench.exit_metrics(r.arch, {t.name: 0.9 for t in bench.tasks}).policy_macs  # per-task thresholds

The table (``bench.table``, a pandas DataFrame) has one row per architecture and the columns documented in
:mod:`nasbench_mt.release.schema`.  Filtering returns a new :class:`Benchmark` over the selected rows.
"""

from __future__ import annotations

import difflib
import operator
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nasbench_mt.query.constraints import Constraint, parse_constraints
from nasbench_mt.query.exit_policy import ExitData, ExitMetrics, evaluate_policies
from nasbench_mt.query.pareto import pareto_front
from nasbench_mt.query.results import ArchNotInBenchmarkError, QueryResult, ResultBuilder
from nasbench_mt.release.manifest import (
    ReleaseError,
    read_manifest,
    role_paths,
    space_from_manifest,
    tasks_from_manifest,
    verify,
)
from nasbench_mt.release.schema import latency_columns, ort_latency_columns, table_columns
from nasbench_mt.space.arch import Arch, canonical_branches, string_id
from nasbench_mt.space.tasks import TaskSpec

__all__ = ["ArchNotInBenchmarkError", "Benchmark", "QueryResult", "available_versions", "load_benchmark"]

_ID = re.compile(r"[0-9a-f]{12}")
_OPS = {"lt": operator.lt, "le": operator.le, "gt": operator.gt, "ge": operator.ge, "eq": operator.eq}
_OPS["ne"] = operator.ne
_NOT_METRICS = {"arch_id", "arch", "protocol", "seed"}


def _shipped_roots() -> list[Path]:
    here = Path(__file__).resolve().parent.parent  # the nasbench_mt package
    # installed: package data nasbench_mt/data/; source checkout: the nasbench_mt/data -> ../data link,
    # or data/ itself where the link is not checked out (e.g. Windows without symlinks)
    roots = [here / "data"]
    if (here.parent / "pyproject.toml").is_file():  # a source checkout, not site-packages
        roots.append(here.parent / "data")
    return [p for p in roots if p.is_dir()]


def _lists_table(manifest: Mapping[str, Any]) -> bool:
    """Whether a manifest lists an architecture table (a release still being generated may list only, say,
    its calibration tier)."""
    return any(e.get("role") == "archs" for e in manifest["files"])


def _has_table(directory: Path) -> bool:
    try:
        return _lists_table(read_manifest(directory))
    except ReleaseError:
        return False


def available_versions() -> list[str]:
    """Versions of the releases shipped with this installation (directories whose table exists)."""
    return sorted({p.name for root in _shipped_roots() for p in root.iterdir() if _has_table(p)})


def load_benchmark(
    version: str = "v1", path: str | Path | None = None, verify_files: bool = True
) -> Benchmark:
    """Load a release: the shipped ``version`` (``path=None``) or the release directory ``path``.

    Every data file's sha256 is checked against ``manifest.json`` first (``verify_files=False`` skips the
    hashing); a missing or altered file raises :class:`~nasbench_mt.release.manifest.ReleaseError` naming it.
    """
    if not isinstance(version, str) or not version:
        raise ValueError(f"invalid version: {version!r}; allowed: a shipped release name such as 'v1'")
    if path is not None and not isinstance(path, (str, Path)):
        raise ValueError(f"invalid path: {path!r}; allowed: a release directory (str or pathlib.Path)")
    if path is None:
        root = next(
            (r / version for r in _shipped_roots() if (r / version / "manifest.json").is_file()), None
        )
        if root is None:
            raise ReleaseError(
                f"no shipped benchmark release {version!r}; available: {available_versions()} "
                "(pass path= to load a release directory)"
            )
    else:
        root = Path(path)
    manifest = verify(root) if verify_files else read_manifest(root)
    if not _lists_table(manifest):
        roles = sorted({e["role"] for e in manifest["files"]})
        raise ReleaseError(
            f"release {root} holds no architecture table yet (only {roles or 'no files'}); it is still being "
            "generated: run `nasbench-mt generate --out DIR ...` (see data/README.md) or pass another path="
        )
    if path is None and manifest["version"] != version:
        raise ReleaseError(
            f"shipped release {root} says version {manifest['version']!r}, expected {version!r}"
        )
    tasks = tasks_from_manifest(manifest)
    lat = set(latency_columns())
    table = _read_role(root, manifest, "archs", required=[c for c in table_columns(tasks) if c not in lat])
    table = _merge_latency(table, _read_role(root, manifest, "latency", required=["arch_id"]), root)
    table = _merge_proxies(table, _read_role(root, manifest, "proxies", required=["arch_id"]), root)
    extra = [c for c in table.columns if c not in set(table_columns(tasks))]
    table = table[table_columns(tasks) + extra]
    dup = table["arch_id"][table["arch_id"].duplicated()]
    if len(dup):
        raise ReleaseError(f"release {root} holds arch_id {dup.iloc[0]!r} more than once")
    return Benchmark(table, manifest, root, tasks)


def _read_role(
    root: Path, manifest: Mapping[str, Any], role: str, required: Sequence[str] = ()
) -> pd.DataFrame | None:
    """The files of ``role`` as one frame; each file's row count is checked against the manifest and every
    value against its column's domain (:mod:`nasbench_mt.release.domains`) before anything is returned."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from nasbench_mt.release.domains import check_values

    paths = role_paths(root, manifest, role)
    if not paths:
        return None
    rows = {e["path"]: e.get("rows") for e in manifest["files"]}
    tasks = tasks_from_manifest(manifest)
    tables = []
    for path in paths:
        try:
            t = pq.read_table(path)
        except (OSError, pa.ArrowException) as err:
            raise ReleaseError(f"{role} file {path} cannot be read as Parquet: {err}") from None
        missing = [c for c in required if c not in t.column_names]
        if missing:
            raise ReleaseError(f"{role} file {path} lacks table columns {missing}")
        expected = rows.get(path.relative_to(root).as_posix())
        if expected is not None and expected != t.num_rows:
            raise ReleaseError(
                f"{role} file {path} holds {t.num_rows} rows where the manifest says {expected}; allowed: "
                "the manifest's count (a truncated or replaced file)"
            )
        tables.append(t)
    # "permissive" lets int64 meet double (e.g. macs_e2 is whole in one shard and NaN-holding in another)
    try:
        frame = pa.concat_tables(tables, promote_options="permissive").to_pandas()
    except pa.ArrowException:
        frame = None  # files whose columns cannot be joined: the per-file check below says which
    # files with the same columns are checked in one pass over the joined frame; only when it finds
    # something (or the files differ in columns) is each file checked on its own, so an error names its file
    same_columns = len({tuple(t.column_names) for t in tables}) == 1
    if frame is None or not same_columns or check_values(frame, tasks, role):
        for path, t in zip(paths, tables):
            errors = check_values(t.to_pandas(), tasks, str(path))
            if errors:
                more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
                raise ReleaseError("invalid values: " + "; ".join(errors[:3]) + more)
        if frame is None:
            raise ReleaseError(f"{role} files of {root} hold columns of types that cannot be joined")
    return frame


def _merge_latency(table: pd.DataFrame, latency: pd.DataFrame | None, root: Path) -> pd.DataFrame:
    lat = latency_columns()
    if latency is not None:
        if "arch_id" not in latency.columns:
            raise ReleaseError(f"latency shards of {root} need a unique arch_id column")
        keep = ["arch_id"] + [c for c in lat + ort_latency_columns() if c in latency.columns]
        # PyTorch-eager and ONNX Runtime shards (``latency-*``, ``ort-latency-*``) hold one row per arch each
        for family in (lat, ort_latency_columns()):
            cols = [c for c in family if c in latency.columns]
            if cols and latency["arch_id"][latency[cols].notna().any(axis=1)].duplicated().any():
                raise ReleaseError(f"latency shards of {root} hold an arch_id twice ({family[0]})")
        latency = latency[keep].groupby("arch_id", sort=False).first().reset_index()
        table = table.drop(columns=[c for c in keep[1:] if c in table.columns])
        table = table.merge(latency, on="arch_id", how="left")
    for c in lat:  # a release without latency measurements keeps NaN latency columns
        if c not in table.columns:
            table[c] = np.nan
    return table


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _merge_proxies(table: pd.DataFrame, proxies: pd.DataFrame | None, root: Path) -> pd.DataFrame:
    """The zero-cost proxy columns (``proxy_*``) joined to their rows; NaN where an arch has none."""
    if proxies is None:
        return table
    if proxies["arch_id"].duplicated().any():
        raise ReleaseError(f"proxies shards of {root} hold an arch_id twice")
    cols = ["arch_id"] + [c for c in proxies.columns if c.startswith("proxy_")]
    return table.merge(proxies[cols], on="arch_id", how="left")


class _ExitStore:
    """Per-sample companion rows, read lazily on first use and shared by every view of a release."""

    def __init__(self, root: Path, manifest: Mapping[str, Any]) -> None:
        self.paths = role_paths(root, manifest, "exits")
        self.n_samples = int(manifest["n_samples"])
        self.index: dict[str, dict[tuple[str, int], int]] | None = None

    def _load(self) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if not self.paths:
            raise ReleaseError("this release has no per-sample exit records (no 'exits' files)")
        table = pa.concat_tables([pq.read_table(p) for p in self.paths]).combine_chunks()
        self.conf = self._matrix(table.column("conf"), "conf")
        self.score = self._matrix(table.column("score"), "score")
        index: dict[str, dict[tuple[str, int], int]] = {}
        ids, tasks = table.column("arch_id").to_pylist(), table.column("task").to_pylist()
        for i, (a, t, k) in enumerate(zip(ids, tasks, table.column("exit").to_numpy().tolist())):
            index.setdefault(a, {})[(t, k)] = i
        self.index = index

    def _matrix(self, column: Any, name: str) -> np.ndarray:
        import pyarrow as pa

        arr = column.chunk(0) if column.num_chunks else pa.array([], pa.binary())
        if pa.types.is_fixed_size_binary(arr.type):
            width = arr.type.byte_width
            data = np.frombuffer(arr.buffers()[1], dtype=np.uint8)
            start = arr.offset * width
            out = data[start : start + len(arr) * width].reshape(len(arr), width)
        else:
            arr = arr.cast(pa.large_binary())
            offsets = np.frombuffer(arr.buffers()[1], dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
            lengths = np.diff(offsets)
            if len(arr) and (lengths != self.n_samples).any():
                bad = int(lengths[lengths != self.n_samples][0])
                raise ReleaseError(
                    f"exits column {name!r} holds byte strings of length {bad}; n_samples = {self.n_samples}"
                )
            data = np.frombuffer(arr.buffers()[2], dtype=np.uint8) if len(arr) else np.zeros(0, np.uint8)
            out = data[offsets[0] : offsets[-1]].reshape(len(arr), self.n_samples)
        if out.shape[1] != self.n_samples:
            raise ReleaseError(
                f"exits column {name!r} has width {out.shape[1]}; n_samples = {self.n_samples}"
            )
        return out

    def get(self, arch_id: str, tasks: Sequence[str], exits: Sequence[int]) -> ExitData:
        if self.index is None:
            self._load()
        assert self.index is not None
        rows = self.index.get(arch_id)
        if rows is None:
            raise ReleaseError(f"no per-sample exit records for architecture {arch_id}")
        try:
            pos = np.array([[rows[(t, k)] for k in exits] for t in tasks])
        except KeyError as err:
            raise ReleaseError(
                f"per-sample exit records of {arch_id} lack (task, exit) {err.args[0]}"
            ) from None
        return ExitData(tuple(tasks), tuple(exits), self.conf[pos], self.score[pos])


class _Aliases:
    """The canonical names of a release's rows that differ from the stored ones, read on first use and shared
    by every view of the release.

    A row is stored under the spec its sampler drew: the v1 release holds ``...|b=2,0,4|x=3`` under that
    string's id.  The same network's canonical string (``...|b=2,0,2|x=3``) and id resolve to that row.
    """

    def __init__(self, ids: Sequence[str], strings: Sequence[str], space_name: str) -> None:
        self.ids, self.strings, self.space_name = list(ids), list(strings), space_name
        self.names: dict[str, str] | None = None

    def get(self, name: str) -> str | None:
        """The stored string or id that the canonical string or id ``name`` stands for (None: no alias)."""
        if self.names is None:
            self.names = self._build()
        return self.names.get(name)

    def _build(self) -> dict[str, str]:
        names: dict[str, str] = {}
        stored = set(self.strings)
        for arch_id, text in zip(self.ids, self.strings):
            canonical = _canonical_spelling(text)
            if canonical is None or canonical == text:
                continue  # malformed (check-release names it) or already canonical
            if canonical in stored or canonical in names:
                other = names.get(canonical, canonical)
                raise ReleaseError(
                    f"invalid release: rows {text!r} and {other!r} are the same network "
                    f"(canonical {canonical!r}); allowed: one row per network"
                )
            names[canonical] = text
            names[string_id(canonical, self.space_name)] = arch_id
        return names


def _canonical_spelling(text: str) -> str | None:
    """``Arch.from_string(text).to_string()`` for a well-formed stored string, without building the Arch
    (parsing 5,000 strings costs a second, this a few ms); None when ``b=`` does not hold integers."""
    head, sep, tail = text.rpartition("|b=")
    branch_text, sep_x, exit_text = tail.partition("|x=")
    parts = branch_text.split(",")
    if not (sep and sep_x and all(p.isascii() and p.isdigit() for p in parts)):
        return None
    written = tuple(int(p) for p in parts)
    canonical = canonical_branches(written)
    if canonical == written:
        return text
    return f"{head}|b={','.join(map(str, canonical))}|x={exit_text}"


class Benchmark:
    """A benchmark release (or a filtered view of one): a sequence of :class:`QueryResult` rows.

    ``len(bench)``, ``bench[i]``, iteration and ``arch in bench`` work as for a sequence; ``bench.table`` is
    the underlying DataFrame.  ``clock_s`` is the simulated time charged by :meth:`simulate_train_eval`.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        manifest: Mapping[str, Any],
        root: Path,
        tasks: Sequence[TaskSpec],
        _exits: _ExitStore | None = None,
        _surrogate: Any = None,
        _aliases: _Aliases | None = None,
    ) -> None:
        self.table = table.reset_index(drop=True)
        self.manifest = manifest
        self.root = root
        self.tasks = tuple(tasks)
        self.version = str(manifest.get("version", "?"))
        self.space = space_from_manifest(manifest).with_tasks(self.tasks)
        self.clock_s = 0.0
        self._exits = _exits if _exits is not None else _ExitStore(root, manifest)
        self._surrogate = _surrogate
        ids, strings = self.table["arch_id"].tolist(), self.table["arch"].tolist()
        self._row_of = {**dict(zip(strings, range(len(strings)))), **dict(zip(ids, range(len(ids))))}
        self._aliases = _aliases if _aliases is not None else _Aliases(ids, strings, self.space.name)
        self._builder = ResultBuilder(self.table, self.tasks)

    # ------------------------------------------------------------------ sequence protocol
    def __len__(self) -> int:
        return len(self.table)

    def __getitem__(self, i: int | slice) -> QueryResult | list[QueryResult]:
        if isinstance(i, slice):
            return [self._builder.build(j) for j in range(len(self))[i]]
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"benchmark indices must be integers or slices, not {type(i).__name__}")
        if not -len(self) <= i < len(self):
            raise IndexError(f"row {i} out of range for a benchmark of {len(self)} rows")
        return self._builder.build(int(i) % len(self))

    def __iter__(self) -> Iterator[QueryResult]:
        return (self._builder.build(i) for i in range(len(self)))

    def __contains__(self, arch: object) -> bool:
        try:
            return self._find(arch) is not None
        except ValueError:
            return False

    def __repr__(self) -> str:
        tasks = ", ".join(f"{t.name}({t.metric})" for t in self.tasks)
        mode = ", surrogate" if self._surrogate is not None else ""
        size = f"rows={len(self)}, tasks=[{tasks}]{mode}"
        return f"Benchmark(version={self.version!r}, {size}, path='{self.root}')"

    # ------------------------------------------------------------------ lookup
    def _row(self, name: str) -> int | None:
        """Row stored under ``name`` (a stored string or id, or the canonical string or id of its network)."""
        row = self._row_of.get(name)
        if row is None:
            stored = self._aliases.get(name)
            row = None if stored is None else self._row_of.get(stored)
        return row

    def _find(self, arch: object) -> int | None:
        """Row of ``arch`` (Arch, any spelling of its string, its id or a stored id); None if absent;
        ValueError if malformed."""
        if isinstance(arch, Arch):
            if (arch.space.name, arch.num_tasks) != (self.space.name, self.space.num_tasks):
                raise ValueError(
                    f"invalid arch: it belongs to space {arch.space.name!r} with {arch.num_tasks} tasks; "
                    f"allowed: {self.space.name!r} with the tasks {list(self.space.task_names)}"
                )
            return self._row(arch.to_string())
        if not isinstance(arch, str):
            raise ValueError(
                f"invalid arch: {arch!r}; allowed: an Arch, its canonical string or its 12-hex id"
            )
        row = self._row(arch)
        if row is not None or _ID.fullmatch(arch):
            return row
        try:
            parsed = Arch.from_string(arch, space=self.space)
        except ValueError as err:
            raise ValueError(f"{err} (or give a 12-hex architecture id)") from None
        return self._row(parsed.to_string())

    def _missing(self, arch: object) -> ArchNotInBenchmarkError:
        return ArchNotInBenchmarkError(arch, self.version, len(self))

    def query(self, arch: Arch | str) -> QueryResult:
        """Measured metrics of ``arch`` (an :class:`Arch`, its string in any spelling, its canonical id or the
        id its row is stored under).  The result's ``arch`` and ``arch_id`` are the row's as stored: the v1
        release keeps the spec its sampler drew (``b=2,0,4``), whose canonical form (``b=2,0,2``) is
        ``Arch.from_string(result.arch)``.

        An architecture absent from the table raises :class:`ArchNotInBenchmarkError` (a ``KeyError``), unless
        this benchmark has a surrogate (:meth:`with_surrogate`), whose answers are marked ``predicted``.
        """
        row = self._find(arch)
        if row is not None:
            return self._builder.build(row)
        if self._surrogate is None or _ID.fullmatch(str(arch)):
            raise self._missing(arch)
        return self._surrogate.query(self.space.validate(arch))

    def query_many(self, archs: Iterable[Arch | str], columns: Sequence[str] | None = None) -> pd.DataFrame:
        """Vectorised lookup: the rows of ``archs`` (in order) as a DataFrame, optionally only ``columns``.

        In surrogate mode, absent archs get the predictor's targets and a ``predicted`` column is added.
        """
        items = list(archs)
        space = self.space
        keys = [
            a.to_string()
            if isinstance(a, Arch) and (a.space is space or a.space == space)
            else a
            if isinstance(a, str)
            else None
            for a in items
        ]
        if columns is not None and (
            isinstance(columns, str)
            or not isinstance(columns, Sequence)
            or not all(isinstance(c, str) for c in columns)
        ):
            raise ValueError(
                f"invalid columns: {columns!r}; allowed: a list of column names, or None for all"
            )
        cols = list(self.table.columns) if columns is None else [self._check_column(c) for c in columns]
        rows = np.fromiter((self._row_of.get(k, -1) for k in keys), dtype=np.int64, count=len(keys))
        for i in np.flatnonzero(rows < 0):  # slow path: non-canonical strings, bad input, absent archs
            found = self._find(items[i])
            if found is None and self._surrogate is None:
                raise self._missing(items[i])
            rows[i] = -1 if found is None else found
        out = self.table.take(np.maximum(rows, 0))[cols].reset_index(drop=True)
        if self._surrogate is not None:
            absent = rows < 0
            if absent.any():
                out.loc[absent, :] = np.nan
                absent_archs = [self.space.validate(items[i]) for i in np.flatnonzero(absent)]
                pred = self._surrogate.predict(absent_archs)
                for c in pred.columns:
                    if c in out.columns:
                        out.loc[absent, c] = pred[c].to_numpy()
            out["predicted"] = absent
        return out

    def sample(self, n: int, seed: int = 0) -> list[QueryResult]:
        """``n`` distinct rows drawn uniformly with ``numpy.random.default_rng(seed)``."""
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 0 <= n <= len(self):
            raise ValueError(f"invalid n: {n!r}; allowed: an int in [0, {len(self)}] (the number of rows)")
        if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
            raise ValueError(f"invalid seed: {seed!r}; allowed: an int >= 0")
        rows = np.random.default_rng(seed).choice(len(self), size=n, replace=False)
        return [self._builder.build(int(i)) for i in rows]

    # ------------------------------------------------------------------ filters and oracles
    @property
    def metrics(self) -> list[str]:
        """Numeric columns usable as metrics, objectives and constraints."""
        return [
            c
            for c in self.table.columns
            if c not in _NOT_METRICS and pd.api.types.is_numeric_dtype(self.table[c])
        ]

    def _check_column(self, name: str, numeric: bool = False) -> str:
        valid = self.metrics if numeric else list(self.table.columns)
        if name not in valid:
            close = difflib.get_close_matches(str(name), valid, n=3)
            hint = f" (did you mean {', '.join(map(repr, close))}?)" if close else ""
            raise ValueError(f"unknown {'metric' if numeric else 'column'} {name!r}{hint}; valid: {valid}")
        return name

    def higher_is_better(self, metric: str) -> bool:
        """Direction of ``metric``: scores of higher-is-better tasks and mean accuracies are maximised."""
        self._check_column(metric, numeric=True)
        for t in self.tasks:
            for split in ("test", "val"):
                if metric == f"{split}_{t.name}" or metric.startswith(f"{split}_{t.name}_e"):
                    return t.higher_is_better
        return metric in ("mean_acc", "val_mean_acc")

    def _mask(self, query: Any, conditions: Mapping[str, Any]) -> np.ndarray:
        mask = np.ones(len(self), dtype=bool)
        for key, value in conditions.items():
            col, _, op = key.rpartition("_")
            if op not in _OPS or not col:
                raise ValueError(f"invalid filter {key!r}; allowed: <column>_<op> with op in {list(_OPS)}")
            column = self.table[self._check_column(col)]
            if pd.api.types.is_numeric_dtype(column) and not (_is_number(value) and not np.isnan(value)):
                raise ValueError(
                    f"invalid filter {key}={value!r}; allowed: a number for the numeric column {col}"
                )
            if not pd.api.types.is_numeric_dtype(column) and (
                op not in ("eq", "ne") or not isinstance(value, str)
            ):
                raise ValueError(
                    f"invalid filter {key}={value!r}; allowed: {col}_eq or {col}_ne with a string "
                    "(a text column)"
                )
            mask &= np.asarray(_OPS[op](column, value), dtype=bool)
        for c in parse_constraints(query, self.metrics):
            mask &= c.mask(self.table[c.metric].to_numpy(dtype=float))
        return mask

    def _view(self, rows: np.ndarray) -> Benchmark:
        return Benchmark(
            self.table.take(rows),
            self.manifest,
            self.root,
            self.tasks,
            self._exits,
            self._surrogate,
            self._aliases,
        )

    def where(self, query: str | Sequence[str] | None = None, **conditions: Any) -> Benchmark:
        """Rows meeting the constraints ``query`` and ``<column>_<op>=value`` keywords (op: lt, le, gt, ge,
        eq, ne), e.g. ``bench.where("latency_ms < 14 and params <= 200k")`` or
        ``bench.where(latency_ms_lt=14, params_le=2e5)``.  ``query`` uses the package's one constraint
        grammar (:mod:`nasbench_mt.query.constraints`: ``<metric> <op> <number>`` joined by ``and``, or a
        list of them), the same the searches and :meth:`best` and :meth:`pareto` read.

        Returns a new :class:`Benchmark` over those rows (with its own simulated clock).
        """
        return self._view(np.flatnonzero(self._mask(query, conditions)))

    def _constrained(
        self, constraints: str | Mapping[str, Any] | Sequence[str | Constraint] | None
    ) -> Benchmark:
        if constraints is None:
            return self
        if isinstance(constraints, Mapping):
            return self.where(**constraints)
        return self.where(constraints)

    def best(
        self,
        metric: str = "mean_acc",
        constraints: str | Mapping[str, Any] | Sequence[str | Constraint] | None = None,
        maximize: bool | None = None,
    ) -> QueryResult:
        """The best row by ``metric`` among those meeting ``constraints`` (the oracle for regret).

        The direction defaults to :meth:`higher_is_better`; ties go to the first row in table order.
        """
        self._check_column(metric, numeric=True)
        if maximize is not None and not isinstance(maximize, (bool, np.bool_)):
            raise ValueError(
                f"invalid maximize: {maximize!r}; allowed: True, False or None (the metric's own)"
            )
        view = self._constrained(constraints)
        values = view.table[metric].to_numpy(dtype=float)
        if not np.isfinite(values).any():
            raise ValueError(
                f"no architecture with a {metric} value satisfies the constraints {constraints!r}"
            )
        up = self.higher_is_better(metric) if maximize is None else bool(maximize)
        return view._builder.build(int(np.nanargmax(values) if up else np.nanargmin(values)))

    def pareto(
        self,
        objectives: Sequence[str] = ("mean_acc", "latency_norm"),
        constraints: str | Mapping[str, Any] | Sequence[str | Constraint] | None = None,
        maximize: Sequence[bool] | None = None,
    ) -> Benchmark:
        """The non-dominated rows under ``objectives``, best first by the first objective.  Rows with a
        missing objective value are left out.

        ``maximize`` gives each objective's direction (default :meth:`higher_is_better`)."""
        if (
            isinstance(objectives, str)
            or not isinstance(objectives, Sequence)
            or not objectives
            or not all(isinstance(m, str) for m in objectives)
        ):
            raise ValueError(f"invalid objectives: {objectives!r}; allowed: a list of metric names")
        for m in objectives:
            self._check_column(m, numeric=True)
        if maximize is None:
            maximize = [self.higher_is_better(m) for m in objectives]
        elif isinstance(maximize, (str, bool)) or len(maximize) != len(objectives):
            raise ValueError(
                f"invalid maximize: {maximize!r}; allowed: one True/False per objective ({len(objectives)})"
            )
        view = self._constrained(constraints)
        cost = np.column_stack(
            [
                view.table[m].to_numpy(dtype=float) * (-1.0 if up else 1.0)
                for m, up in zip(objectives, maximize)
            ]
        )
        ok = np.flatnonzero(np.isfinite(cost).all(axis=1))
        front = ok[pareto_front(-cost[ok])]
        return view._view(front[np.lexsort(cost[front].T[::-1])])

    # ------------------------------------------------------------------ early exits, clock, surrogate
    def exit_metrics(self, arch: Arch | str, thresholds: object) -> ExitMetrics:
        """Expected per-task accuracy, MACs and latency of ``arch`` under confidence-threshold exit policies.

        ``thresholds``: one number for every task, a ``{task: thr}`` dict, a (T,) array, or an (S, T) grid of
        S settings; each in [0, 1].  See :mod:`nasbench_mt.query.exit_policy` for the exact semantics.  Its
        metrics are named ``policy_*``: dense tasks are scored by pixel accuracy there, not the table's mIoU.
        """
        row = self._find(arch)
        if row is None:
            raise self._missing(arch)
        r = self._builder.build(row)
        exits = tuple(sorted(r.macs_per_exit))
        data = self._exits.get(r.arch_id, [t.name for t in self.tasks], exits)
        record = self.table.iloc[row]
        seg = {c[len("macs_seg_") :]: v for c, v in record.items() if c.startswith("macs_seg_")}
        branches = Arch.from_string(
            r.arch, space=self.space
        ).written_branches  # the layout measured: names its segments
        ref = float(record["ref_latency_ms"]) if "ref_latency_ms" in record.index else None
        hib = [t.higher_is_better for t in self.tasks]
        return evaluate_policies(data, thresholds, branches, seg, r.exit_latency_ms, hib, ref_latency_ms=ref)

    def simulate_train_eval(self, arch: Arch | str) -> QueryResult:
        """Query ``arch`` and charge its recorded measurement cost (``measure_s``) to ``clock_s``.

        A surrogate answer is charged the table's median ``measure_s`` (what measuring it would have cost).
        """
        result = self.query(arch)
        cost = result.measure_s
        if result.predicted or not np.isfinite(cost):
            cost = float(np.nanmedian(self.table["measure_s"].to_numpy(dtype=float)))
        self.clock_s += cost
        return result

    def reset_clock(self) -> None:
        self.clock_s = 0.0

    def with_surrogate(
        self, predictor: Any, encoder: Any = None, targets: Sequence[str] | None = None
    ) -> Benchmark:
        """A copy of this benchmark that answers archs absent from the table with ``predictor``.

        ``predictor`` has ``predict(X)``; ``encoder`` maps a list of :class:`Arch` to the feature matrix X (a
        callable or an object with ``transform``; default ``predictor.encoder``); ``targets`` names the table
        columns the predictor outputs, in order (default ``predictor.targets``).  Surrogate results have
        ``predicted=True``; their exact costs (params, MACs, memory) are computed from the built model.
        """
        from nasbench_mt.query.surrogate import Surrogate

        surrogate = Surrogate(predictor, encoder, targets, self.tasks, self.metrics)
        return Benchmark(
            self.table, self.manifest, self.root, self.tasks, self._exits, surrogate, self._aliases
        )

    # ------------------------------------------------------------------ release card
    @property
    def calibration(self) -> pd.DataFrame | None:
        """Rows measured with the standalone protocol (None when the release has none)."""
        return _read_role(self.root, self.manifest, "calibration")

    @property
    def noise(self) -> pd.DataFrame | None:
        """Re-measurements (``kind`` = ``seed`` or ``latency``); None when the release has none."""
        return _read_role(self.root, self.manifest, "noise")

    def standalone_noise(self) -> dict[str, dict]:
        """Standalone seed-to-seed agreement per target (Kendall tau and Spearman with 90% intervals, and the
        perfect-proxy ceiling; :func:`~nasbench_mt.release.stats.noise_stats`): the figures ``summarize``
        stored in the manifest, else computed from the ``standalone`` noise tier; empty without one."""
        from nasbench_mt.release.stats import STANDALONE_KIND, noise_stats

        stored = self.manifest.get("noise", {}).get(STANDALONE_KIND)
        if stored is not None:
            return stored
        noise, calibration = self.noise, self.calibration
        if noise is None or calibration is None:
            return {}
        part = noise[noise["kind"] == STANDALONE_KIND]
        if not len(part):
            return {}
        return noise_stats(self.table, part, self.tasks, calibration=calibration).get(STANDALONE_KIND, {})

    def noise_floor(self, columns: Sequence[str] | None = None) -> dict[str, dict[str, float]]:
        """Kendall tau between each re-measurement kind and the rows it repeats, per column: ``seed`` (a
        second supernet) and ``latency`` (a second timing) against the table, ``standalone`` (a second
        training seed) against the calibration tier.  These are the ceilings of any predictor of the
        respective column."""
        from nasbench_mt.release.stats import noise_stats

        if columns is not None:
            if (
                isinstance(columns, str)
                or not isinstance(columns, Sequence)
                or not columns
                or not all(isinstance(c, str) for c in columns)
            ):
                raise ValueError(
                    f"invalid columns: {columns!r}; allowed: a non-empty list of metric names (None: all)"
                )
            for c in columns:
                self._check_column(c, numeric=True)
        noise = self.noise
        if noise is None:
            return {}
        cols = columns or [c for c in noise.columns if c in self.metrics and noise[c].notna().any()]
        stats = noise_stats(self.table, noise, self.tasks, cols, calibration=self.calibration)
        return {kind: {c: s["kendall_tau"] for c, s in per.items()} for kind, per in stats.items()}
