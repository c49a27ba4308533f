"""Property-based fuzz: any input to the arch parser, the constraint grammar, the query API and the command
line gives a result or a clear error (a ``ValueError`` or ``KeyError`` with a message; the CLI: exit code 2
and one line on stderr), never a traceback, and nothing malformed is accepted silently.

The default run is small and derandomized (a few seconds on one core).  The full run (over 1,000 inputs) is
``NASBENCH_MT_FUZZ=full python -m pytest -n 0 tests/test_fuzz.py --hypothesis-show-statistics``.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import random
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nasbench_mt.cli import main
from nasbench_mt.query.constraints import parse_constraints
from nasbench_mt.query.results import ArchNotInBenchmarkError
from nasbench_mt.space.arch import V1, Arch

FULL = os.environ.get("NASBENCH_MT_FUZZ") == "full"
TINY = Path(__file__).resolve().parent / "fixtures" / "tiny"


def fuzz(ci: int, full: int):
    """Settings: ``ci`` examples (derandomized) by default, ``full`` under NASBENCH_MT_FUZZ=full."""
    return settings(
        max_examples=full if FULL else ci,
        derandomize=not FULL,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )


def clear(err: BaseException) -> None:
    """A clear error: a documented type with a one-line, user-facing message."""
    assert isinstance(err, (ValueError, KeyError)), f"{type(err).__name__}: {err}"
    msg = err.message if isinstance(err, ArchNotInBenchmarkError) else str(err)
    assert msg.strip() and "Traceback" not in msg, msg
    assert "\n" not in msg.strip(), msg


def answer(fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, or None after checking that the error it raised is a clear one."""
    try:
        return fn(*args, **kwargs)
    except (ValueError, KeyError) as err:
        clear(err)
        return None


# ------------------------------------------------------------------------------------ inputs
VALID = [a.written_string for a in V1.sample(12, seed=5)] + [a.to_string() for a in V1.sample(4, seed=6)]
ODD = "k3579e46|,b=x0 12-+._E\t\n\u096b\u0663\u00a0"


@st.composite
def edited(draw, texts=VALID, alphabet=ODD):
    """A valid string with a few characters inserted, deleted or replaced."""
    text = list(draw(st.sampled_from(texts)))
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        char = draw(st.sampled_from(alphabet))
        if op == "insert":
            text.insert(i, char)
        elif text:
            i = min(i, len(text) - 1)
            if op == "delete":
                del text[i]
            else:
                text[i] = char
    return "".join(text)


ARCH_TEXT = st.one_of(edited(), st.text(max_size=40), st.sampled_from(VALID))
JUNK = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 9) | st.floats() | st.text(max_size=4),
    lambda inner: (
        st.lists(inner, max_size=5) | st.tuples(inner, inner) | st.dictionaries(st.text(max_size=3), inner)
    ),
    max_leaves=12,
)


# ------------------------------------------------------------------------------------ arch strings
@fuzz(120, 600)
@given(ARCH_TEXT)
def test_any_arch_string_parses_or_is_refused_clearly(text):
    arch = answer(Arch.from_string, text)
    if arch is None:
        return
    assert text.strip().isascii()  # nothing outside the ASCII grammar is taken
    assert Arch.from_string(arch.to_string()) == arch == Arch.from_string(arch.written_string)
    assert arch.id == Arch.from_string(arch.to_string()).id
    assert V1.validate(text) == arch


@fuzz(60, 300)
@given(JUNK, JUNK, JUNK)
def test_any_arch_parts_build_an_arch_or_are_refused_clearly(stages, branches, exits):
    arch = answer(Arch, stages, branches, exits)
    if arch is not None:
        assert Arch.from_string(arch.to_string()) == arch
    answer(Arch.from_dict, {"stages": stages, "branches": branches, "exits": exits})
    answer(Arch.from_json, stages if isinstance(stages, str) else repr(stages))


@fuzz(40, 200)
@given(st.one_of(ARCH_TEXT, JUNK), JUNK, st.one_of(st.integers(-2, 6), JUNK), JUNK)
def test_space_methods_take_any_input(arch, rng, n, distribution):
    answer(V1.validate, arch)
    answer(V1.neighbors, arch)
    answer(V1.mutate, arch, random.Random(0))
    answer(V1.mutate, VALID[0], rng)
    answer(V1.sample, n, 0, distribution)
    answer(V1.sample, n)


# ------------------------------------------------------------------------------------ constraints
METRICS = ["mean_acc", "latency_ms", "params", "test_seg", "latency_norm"]
NAME_TOKENS = [*METRICS, "nope", "mean-acc", "MEAN_ACC", "1abc", "", "mean_acc2", "\u00e9"]
OP_TOKENS = ["<=", "<", ">=", ">", "==", "=", "!=", "<<=", "=>", "~", "", "=<"]
NUMBER_TOKENS = ["3", "2e5", "200k", "1.5M", "-1", "+.5", "nan", "inf", "1e999", "1e306G", "0x10", "\u096b"]
NUMBER_TOKENS += ["1_000", "k", "5G", "", "3.", ".", "2e", "1e-3", "7m", "\u0663\u0664"]
SPACE = st.sampled_from(["", " ", "  ", "\t", "\u00a0"])
CLAUSE = st.tuples(
    st.sampled_from(NAME_TOKENS), SPACE, st.sampled_from(OP_TOKENS), SPACE, st.sampled_from(NUMBER_TOKENS)
).map("".join)
JOINER = st.sampled_from([" and ", " AND ", " or ", ",", ", ", " ", "and", " and  and "])
CONSTRAINT_TEXT = st.one_of(
    st.tuples(
        CLAUSE, st.lists(st.tuples(JOINER, CLAUSE), max_size=2), st.sampled_from(["", ",", " and "])
    ).map(lambda t: t[0] + "".join(j + c for j, c in t[1]) + t[2]),
    edited(["latency_ms <= 3 and params < 200k", "mean_acc>=50, test_seg > 1.5M"], ODD + "<>=!kMG,and"),
    st.text(max_size=30),
)


@fuzz(150, 600)
@given(st.one_of(CONSTRAINT_TEXT, st.lists(CONSTRAINT_TEXT, max_size=3), JUNK))
def test_any_constraint_string_parses_or_is_refused_clearly(text):
    parsed = answer(parse_constraints, text, METRICS)
    if parsed is None:
        return
    for c in parsed:  # what is accepted is exactly a constraint of the grammar, readable back
        assert c.metric in METRICS and math.isfinite(c.bound)
        assert parse_constraints(str(c), METRICS) == (c,) or c.bound != float(f"{c.bound:g}")
    texts = [] if text is None else [text] if isinstance(text, str) else text
    assert all(isinstance(t, str) and t.isascii() for t in texts)


# ------------------------------------------------------------------------------------ query API
@pytest.fixture(scope="module")
def tiny():
    from nasbench_mt.query.benchmark import load_benchmark

    return load_benchmark(path=TINY)


NAMES = st.sampled_from(
    ["mean_acc", "latency_ms", "params", "test_seg", "arch", "arch_id", "nope", "", "delta_p"]
)
VALUES = st.one_of(st.floats(allow_nan=True), st.integers(), st.text(max_size=4), st.none(), st.booleans())


@fuzz(50, 250)
@given(
    query=st.one_of(CONSTRAINT_TEXT, st.lists(CONSTRAINT_TEXT, max_size=2), JUNK),
    key=st.tuples(NAMES, st.sampled_from(["lt", "le", "gt", "ge", "eq", "ne", "lte", "", "le_x"])),
    value=VALUES,
)
def test_where_best_pareto_take_any_constraint(tiny, query, key, value):
    view = answer(tiny.where, query)
    if view is not None:  # every row kept satisfies every constraint
        for c in parse_constraints(query, tiny.metrics):
            assert c.mask(view.table[c.metric].to_numpy(dtype=float)).all()
    kw = {"_".join(key): value}
    view = answer(tiny.where, **kw)
    if view is not None:  # numeric columns take numbers, text columns strings (eq, ne)
        numeric = pd.api.types.is_numeric_dtype(tiny.table[key[0]])
        assert isinstance(value, str) != numeric and not isinstance(value, bool) and value == value
    best = answer(tiny.best, "mean_acc", query)
    if best is not None and not isinstance(query, dict):  # (a dict holds where() keywords)
        for c in parse_constraints(query, tiny.metrics):
            assert c.satisfied(float(tiny.table.set_index("arch_id").loc[best.arch_id, c.metric]))
    answer(tiny.pareto, ["mean_acc", "latency_ms"], query)


@fuzz(50, 250)
@given(metric=st.one_of(NAMES, JUNK), objectives=st.one_of(st.lists(NAMES, max_size=3), JUNK), maximize=JUNK)
def test_metric_arguments_take_any_value(tiny, metric, objectives, maximize):
    answer(tiny.best, metric)
    answer(tiny.best, "mean_acc", None, maximize)
    answer(tiny.pareto, objectives)
    answer(tiny.higher_is_better, metric)
    valid = isinstance(objectives, list) and all(isinstance(o, str) and o in tiny.metrics for o in objectives)
    if objectives is not None and not valid:
        assert answer(tiny.noise_floor, objectives) is None  # (valid lists: computing floors takes seconds)
    answer(tiny.query_many, [tiny[0].arch_id], objectives)


LOOKUPS = st.one_of(
    ARCH_TEXT, st.sampled_from([*VALID, "0123456789ab", "ABCDEF012345", "zzzzzzzzzzzz"]), JUNK
)


@fuzz(60, 250)
@given(arch=LOOKUPS, thresholds=st.one_of(JUNK, st.floats(), st.lists(st.floats(), min_size=3, max_size=3)))
def test_lookups_take_any_arch_or_id(tiny, arch, thresholds):
    result = answer(tiny.query, arch)
    if result is not None:
        assert Arch.from_string(result.arch) == V1.validate(arch) if not _is_id(arch) else True
    answer(tiny.query_many, [arch])
    answer(tiny.exit_metrics, arch, 0.9)
    em = answer(tiny.exit_metrics, tiny[0].arch, thresholds)
    if em is not None:  # only numbers in [0, 1] are thresholds
        flat = np.asarray(thresholds, dtype=float).ravel()
        assert np.isfinite(flat).all() and ((flat >= 0) & (flat <= 1)).all()
    answer(tiny.simulate_train_eval, arch)
    assert (arch in tiny) in (True, False)


def _is_id(text) -> bool:
    return isinstance(text, str) and len(text) == 12 and all(c in "0123456789abcdef" for c in text)


@fuzz(40, 150)
@given(n=st.one_of(st.integers(-3, 40), JUNK), seed=st.one_of(st.integers(0, 3), JUNK), index=JUNK)
def test_sample_index_and_loading_take_any_value(tiny, n, seed, index):
    from nasbench_mt.query.benchmark import load_benchmark

    answer(tiny.sample, n, seed)
    try:
        tiny[index]
    except (IndexError, TypeError) as err:  # the sequence protocol's own errors
        assert str(err)
    if not isinstance(n, str):  # (a str version would load the shipped release: slow, and valid)
        answer(load_benchmark, n)
    if seed is not None:
        answer(load_benchmark, "v1", path=seed if not isinstance(seed, int) else str(OUT / "missing"))


# ------------------------------------------------------------------------------------ command line
OUT = Path(tempfile.mkdtemp(prefix="nasbench-mt-fuzz-"))
MISSING = str(OUT / "missing")
BAD_PATHS = [MISSING, "", str(TINY / "manifest.json"), str(OUT)]
VALUE = {
    "--path": [str(TINY), *BAD_PATHS],
    "--release": ["v0", "", "../x", "v1/../v1"],
    "--n": ["-1", "0", "2", "31", "x", "1e3"],
    "--seed": ["0", "-1", "x", "1.5"],
    "--budget": ["-1", "0", "2", "31", "x"],
    "--strategy": ["random", "nope", ""],
    "--objective": ["mean_acc", "min:latency_ms", "policy_mean_acc", "max:nope", "delta_p", ":"],
    "--constraint": ["latency_ms<=3", "params <= 200k", "latency_ms <<= 2", "x", "policy_macs<=1e9", ""],
    "--exit-thresholds": ["0.6", "1", "1.5", "x", "nan", "-0"],
    "--param": ["population=5", "population=x", "=", "nope=1", "x"],
    "--reference": [VALID[0], "nope", ""],
    "--surrogate": ["nope", ""],
    "--plot": [str(OUT / "p.png"), str(OUT / "missing" / "p.png"), str(OUT / "p.txt"), str(OUT)],
    "--out": ["", str(OUT), str(TINY / "manifest.json" / "net.onnx")],  # (exporting takes seconds)
    "--upto": ["0", "2", "4", "x"],
    "--sample": ["0", "2", "-1", "x"],
}
# every command that answers in well under a second when its inputs are bad; the costly ones (training,
# generation, leaderboards) are left out, and so are the costly successes: `info`, `export-onnx` and a
# rebuilding `check-release` only ever see a bad release or output path here


@pytest.fixture(scope="module", autouse=True)
def _remove_outputs():
    yield
    shutil.rmtree(OUT, ignore_errors=True)


COMMANDS = {
    "query": ["--path", "--release", "--json"],
    "info": ["--release", "--json"],
    "sample": ["--n", "--seed", "--path", "--release", "--json"],
    "search": [
        "--strategy",
        "--budget",
        "--objective",
        "--constraint",
        "--exit-thresholds",
        "--seed",
        "--param",
        "--reference",
        "--full-space",
        "--surrogate",
        "--plot",
        "--path",
        "--json",
    ],
    "space": ["--sample", "--seed", "--json"],
    "check-release": ["--path", "--quiet"],
    "export-onnx": ["--out", "--upto"],
}
POSITIONAL = {"query": [*VALID[:2], "nope", "0123456789ab"], "export-onnx": [VALID[0], "nope"]}
PREFIX = {
    "query": ["--path", str(TINY)],
    "sample": ["--path", str(TINY)],
    "search": ["--path", str(TINY), "--strategy", "random", "--budget", "2", "--quiet"],
    "check-release": ["--no-rebuild"],
}


@st.composite
def command_lines(draw):
    cmd = draw(st.sampled_from([*COMMANDS, "nope", "--version"]))
    argv = [cmd]
    if cmd in POSITIONAL and draw(st.integers(0, 3)):
        argv.append(draw(st.sampled_from(POSITIONAL[cmd])))
    argv += PREFIX.get(cmd, [])  # later options override these (argparse keeps the last)
    if cmd == "info":
        argv += ["--path", draw(st.sampled_from(BAD_PATHS))]
    if cmd == "export-onnx":
        argv += ["--out", draw(st.sampled_from(VALUE["--out"]))]
    for opt in draw(st.lists(st.sampled_from([*COMMANDS.get(cmd, []), "--nope", "-x"]), max_size=4)):
        argv.append(opt)
        if opt in VALUE:
            argv.append(draw(st.sampled_from(VALUE[opt])))
        elif opt == "--nope":
            argv.append(draw(st.sampled_from(["1", ""])))
    if cmd == "check-release" and "--path" not in argv:
        argv += ["--path", str(TINY)]
    return argv


@fuzz(25, 250)
@given(command_lines())
def test_any_command_line_runs_or_fails_with_one_clear_line(argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except SystemExit as stop:  # argparse: --version, or a usage error (exit 2)
            rc = stop.code
    text = err.getvalue()
    assert "Traceback" not in text, text
    assert rc in (0, 1, 2), (argv, rc, text)
    if rc == 2:
        last = text.strip().splitlines()[-1]
        assert last.startswith(("nasbench-mt", "usage:")) and "error" in last, (argv, text)
