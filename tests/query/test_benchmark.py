import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from nasbench_mt import V1, Arch, build_model, measure_costs
from nasbench_mt.query.benchmark import ArchNotInBenchmarkError, Benchmark, QueryResult, load_benchmark
from nasbench_mt.release.manifest import ReleaseError, read_manifest, write_manifest
from nasbench_mt.release.schema import table_columns


def _absent_arch(bench):
    return next(a for a in V1.sample(200, seed=123) if a not in bench)


# ---------------------------------------------------------------- loading and the sequence protocol
def test_sequence_protocol(bench):
    n = len(bench)
    assert n == len(bench.table) > 0
    rows = list(bench)
    assert len(rows) == n and all(isinstance(r, QueryResult) for r in rows)
    assert bench[0] == rows[0] and bench[-1] == rows[-1] and bench[1:3] == rows[1:3]
    with pytest.raises(IndexError):
        bench[n]
    with pytest.raises(TypeError):
        bench["0"]  # strings go through query(), not indexing
    text = repr(bench)
    assert f"rows={n}" in text and bench.version in text and all(t.name in text for t in bench.tasks)


def test_table_columns_and_ids(bench):
    assert list(bench.table.columns[: len(table_columns(bench.tasks))]) == table_columns(bench.tasks)
    assert bench.table["arch_id"].is_unique
    for arch_id, text in zip(bench.table["arch_id"], bench.table["arch"]):
        arch = Arch.from_string(text)  # rows are stored as sampled: the spelling as written names them
        assert arch.written_id == arch_id and arch.written_string == text


# ---------------------------------------------------------------- query
def test_query_accepts_arch_string_and_id(bench):
    for r in bench.sample(5, seed=1):
        arch = Arch.from_string(r.arch)
        assert bench.query(arch) == bench.query(r.arch) == bench.query(r.arch_id) == r
        assert bench.query("  " + r.arch + " ") == r  # a non-canonical spelling of a stored arch
        assert arch in bench and r.arch_id in bench and r.arch in bench


def test_every_spelling_and_id_of_a_network_finds_its_row(bench):
    # the fixture, like the v1 release, stores rows under the spec as sampled (b=1,2,0 for b=1,1,0)
    renamed = 0
    for i, r in enumerate(bench):
        arch = Arch.from_string(r.arch)
        canonical = Arch(arch.stages, arch.branches, arch.exits)  # a fresh Arch, written canonically
        names = [arch, canonical, r.arch, r.arch_id, canonical.to_string(), canonical.id, arch.written_string]
        for name in names:
            assert bench.query(name).arch_id == r.arch_id and name in bench
        assert bench.where(mean_acc_ge=r.mean_acc).query(canonical.id).arch_id == r.arch_id
        assert bench.query_many([canonical, canonical.id])["arch_id"].tolist() == [r.arch_id] * 2
        renamed += canonical.id != r.arch_id
        if i == 0:
            other = arch.written_branches[:2] + (4 if arch.written_branches[2] == max(arch.branches) else 0,)
            spelling = Arch(arch.stages, other, arch.exits)
            if spelling == arch:  # another spelling of the same network, never stored
                assert bench.query(spelling.written_string).arch_id == r.arch_id
    assert renamed > 0  # the fixture holds rows stored under a non-canonical spelling


def test_two_rows_of_one_network_are_refused(tiny_copy):
    from nasbench_mt.query.benchmark import load_benchmark

    bench = load_benchmark(path=tiny_copy)
    arch = next(a for a in map(Arch.from_string, bench.table["arch"]) if a.written_string != a.to_string())
    table = bench.table.iloc[:2].copy()
    table["arch"] = [arch.written_string, arch.to_string()]
    table["arch_id"] = [arch.written_id, arch.id]
    copy = Benchmark(table, bench.manifest, bench.root, bench.tasks)
    assert copy.query(arch.id).arch_id == arch.id  # stored names are found directly
    with pytest.raises(ReleaseError, match="same network"):  # a name only an alias could resolve
        copy.query(_absent_arch(bench))


def test_result_is_frozen_and_consistent(bench):
    for i, r in enumerate(bench):
        row = bench.table.iloc[i]
        arch = Arch.from_string(r.arch)
        with pytest.raises(dataclasses.FrozenInstanceError):
            r.mean_acc = 0.0
        assert (
            r.mean_acc == row["mean_acc"] and r.params == row["params"] and r.latency_ms == row["latency_ms"]
        )
        assert r.flops == 2 * r.macs and not r.predicted
        assert set(r.accuracy) == {t.name for t in bench.tasks}
        for t in bench.tasks:
            assert set(r.exit_accuracy[t.name]) == set(arch.all_exits)
            assert r.exit_accuracy[t.name][4] == r.accuracy[t.name]
        assert sorted(r.macs_per_exit) == list(arch.all_exits) == sorted(r.exit_latency_ms)
        macs = [r.macs_per_exit[k] for k in arch.all_exits]
        assert macs == sorted(macs) and macs[-1] == r.macs
        assert all(v <= r.params for v in r.params_per_task.values())
        json.dumps(r.to_dict())


def test_absent_arch_raises_keyerror_pointing_at_surrogate(bench):
    absent = _absent_arch(bench)
    for key in (absent, absent.to_string(), absent.id, "0123456789ab"):
        with pytest.raises(ArchNotInBenchmarkError) as err:
            bench.query(key)
        assert isinstance(err.value, KeyError)
        assert "not in the benchmark" in str(err.value) and "with_surrogate" in str(err.value)
    assert absent not in bench


@pytest.mark.parametrize("bad", ["foo", "k3e3|k3e3|b=4,4,4|x=", "k9e3|k3e3|k3e3|k3e3|b=4,4,4|x=", 42, None])
def test_malformed_arch_is_a_value_error(bench, bad):
    with pytest.raises(ValueError, match="invalid"):
        bench.query(bad)
    assert bad not in bench


def test_query_many_matches_single_queries(bench):
    picks = bench.sample(8, seed=3)
    keys = [Arch.from_string(picks[0].arch), picks[1].arch] + [r.arch_id for r in picks[2:]]
    out = bench.query_many(keys, columns=["arch_id", "mean_acc", "latency_ms"])
    assert list(out.columns) == ["arch_id", "mean_acc", "latency_ms"]
    assert out["arch_id"].tolist() == [r.arch_id for r in picks]
    assert np.allclose(out["mean_acc"], [r.mean_acc for r in picks])
    assert len(bench.query_many([r.arch_id for r in picks] * 3)) == 24
    with pytest.raises(ArchNotInBenchmarkError):
        bench.query_many([picks[0].arch_id, _absent_arch(bench)])
    with pytest.raises(ValueError, match="unknown column 'nope'"):
        bench.query_many([picks[0].arch_id], columns=["nope"])


# ---------------------------------------------------------------- sample, filters, oracles
def test_sample(bench):
    a, b = bench.sample(10, seed=0), bench.sample(10, seed=0)
    assert a == b and len({r.arch_id for r in a}) == 10
    assert [r.arch_id for r in bench.sample(10, seed=1)] != [r.arch_id for r in a]
    assert len(bench.sample(len(bench))) == len(bench)
    for bad in (-1, len(bench) + 1, 2.5, "3"):
        with pytest.raises(ValueError, match="invalid n"):
            bench.sample(bad)


def test_where_keywords_and_query_strings(bench):
    cut = float(bench.table["latency_ms"].median())
    fast = bench.where(latency_ms_lt=cut)
    assert isinstance(fast, Benchmark) and 0 < len(fast) < len(bench)
    assert (fast.table["latency_ms"] < cut).all()
    same = bench.where(f"latency_ms < {cut}")
    assert same.table["arch_id"].tolist() == fast.table["arch_id"].tolist()
    both = bench.where(f"mean_acc > {bench.table['mean_acc'].min()}", latency_ms_lt=cut, params_ge=0)
    assert set(both.table["arch_id"]) <= set(fast.table["arch_id"])
    assert len(bench.where(protocol_eq="supernet")) == (bench.table["protocol"] == "supernet").sum()
    chained = fast.where(params_le=float(fast.table["params"].median()))
    assert set(chained.table["arch_id"]) <= set(fast.table["arch_id"])
    r = fast[0]
    assert fast.query(r.arch_id) == r


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"latency_lt": 3}, "unknown column 'latency'.*valid:.*latency_ms"),
        ({"latency_ms_below": 3}, "invalid filter"),
        ({"query": "latency_sec < 3"}, "unknown constraint metric 'latency_sec'.*valid:.*latency_ms"),
        ({"query": "latency_ms <"}, "invalid constraint"),
        ({"query": "latency_ms + 1"}, "invalid constraint"),
        ({"query": "latency_norm <<= 2"}, "invalid constraint operator '<<='"),
        ({"query": 3}, "invalid constraints"),
        ({"latency_norm_le": "abc"}, "invalid filter.*a number"),
    ],
)
def test_where_rejects_bad_filters(bench, kwargs, match):
    with pytest.raises(ValueError, match=match):
        bench.where(**kwargs)


def test_best_is_the_constrained_optimum(bench):
    cut = float(bench.table["latency_ms"].median())
    best = bench.best("mean_acc", f"latency_ms <= {cut}")
    ok = bench.table[bench.table["latency_ms"] <= cut]
    assert best.mean_acc == ok["mean_acc"].max() and best.latency_ms <= cut
    assert (
        bench.best("mean_acc", {"latency_ms_le": cut})
        == best
        == bench.best("mean_acc", [f"latency_ms <= {cut}"])
    )
    assert bench.best().mean_acc == bench.table["mean_acc"].max()
    assert bench.best("latency_ms").latency_ms == bench.table["latency_ms"].min()  # minimised
    assert bench.best("latency_ms", maximize=True).latency_ms == bench.table["latency_ms"].max()
    assert bench.higher_is_better("test_digit_e2") and not bench.higher_is_better("params")
    with pytest.raises(ValueError, match=r"unknown metric 'mean_accuracy'.*did you mean 'mean_acc'"):
        bench.best("mean_accuracy")
    with pytest.raises(ValueError, match="unknown metric 'arch'"):
        bench.best("arch")
    with pytest.raises(ValueError, match="no architecture"):
        bench.best("mean_acc", "latency_ms < 0")
    with pytest.raises(ValueError, match="invalid constraints"):
        bench.best("mean_acc", 3)
    # one grammar: what a search accepts, the benchmark accepts (suffixes included)
    small = bench.best("mean_acc", "params <= 400k")
    assert small.params <= 400e3 and small == bench.best("mean_acc", "params <= 400000")


def test_pareto_front_is_exactly_the_non_dominated_set(bench):
    objectives = ["mean_acc", "latency_ms"]
    front = bench.pareto(objectives)
    f = np.column_stack([-bench.table["mean_acc"], bench.table["latency_ms"]])
    dominated = [((f <= f[i]).all(axis=1) & (f < f[i]).any(axis=1)).any() for i in range(len(f))]
    expected = set(bench.table["arch_id"][~np.array(dominated)])
    assert set(front.table["arch_id"]) == expected
    assert front.table["mean_acc"].is_monotonic_decreasing
    assert len(bench.pareto(["mean_acc", "latency_ms", "params"])) >= len(front)
    cut = float(bench.table["latency_ms"].median())
    assert (bench.pareto(objectives, {"latency_ms_lt": cut}).table["latency_ms"] < cut).all()
    for bad in (["mean_acc", "speed"], "mean_acc", []):
        with pytest.raises(ValueError):
            bench.pareto(bad)


# ---------------------------------------------------------------- simulated time
def test_simulate_train_eval_charges_measure_s(bench):
    view = bench.where()  # own clock
    assert view.clock_s == 0.0
    picks = view.sample(4, seed=2)
    for r in picks:
        assert view.simulate_train_eval(r.arch) == r
    assert view.clock_s == pytest.approx(sum(r.measure_s for r in picks))
    view.reset_clock()
    assert view.clock_s == 0.0
    with pytest.raises(ArchNotInBenchmarkError):
        view.simulate_train_eval(_absent_arch(view))
    assert view.clock_s == 0.0


# ---------------------------------------------------------------- surrogate mode
class StandIn:
    """A tiny fitted 'predictor': linear in the encoded features (stands in for predictors/)."""

    targets = ("mean_acc", "latency_ms")

    def __init__(self):
        self.calls = 0

    @staticmethod
    def encoder(archs):
        return np.array([[sum(a.depths), len(a.exits)] for a in archs], dtype=float)

    def predict(self, X):
        self.calls += 1
        X = np.asarray(X)
        return np.column_stack([50 + X[:, 0], 1 + 0.1 * X[:, 0] + X[:, 1]])


def test_surrogate_answers_absent_archs_marked_predicted(bench):
    sur = bench.with_surrogate(StandIn())
    assert "surrogate" in repr(sur)
    inside = bench[0]
    assert sur.query(inside.arch_id) == inside  # measured rows stay measured
    absent = _absent_arch(bench)
    r = sur.query(absent)
    assert r.predicted and set(r.predicted_fields) == {"mean_acc", "latency_ms"}
    assert r.mean_acc == 50 + sum(absent.depths) and r.latency_ms == pytest.approx(
        1 + 0.1 * sum(absent.depths) + len(absent.exits)
    )
    exact = measure_costs(build_model(absent, bench.tasks))
    assert (r.params, r.macs, r.peak_mem_bytes) == (exact.params, exact.macs, exact.peak_activation_bytes)
    assert np.isnan(r.accuracy["digit"])  # not predicted, not measured
    assert sur.query(absent.to_string()) == r
    json.dumps(r.to_dict())
    sur.simulate_train_eval(absent)
    assert sur.clock_s == pytest.approx(bench.table["measure_s"].median())
    out = sur.query_many([inside.arch_id, absent], columns=["arch_id", "mean_acc"])
    assert out["predicted"].tolist() == [False, True] and out["mean_acc"].iloc[1] == r.mean_acc
    with pytest.raises(ArchNotInBenchmarkError):
        sur.query("0123456789ab")  # an unknown id cannot be predicted: the id does not say which arch
    with pytest.raises(ArchNotInBenchmarkError):
        sur.exit_metrics(absent, 0.5)  # per-sample records exist only for measured archs


def test_surrogate_rejects_bad_predictors(bench):
    with pytest.raises(ValueError, match="predict"):
        bench.with_surrogate(object(), encoder=StandIn.encoder, targets=["mean_acc"])
    with pytest.raises(ValueError, match="encoder"):
        bench.with_surrogate(StandIn(), encoder=42)
    with pytest.raises(ValueError, match=r"unknown target columns.*valid"):
        bench.with_surrogate(StandIn(), targets=["accuracy"])
    wrong = bench.with_surrogate(StandIn(), targets=["mean_acc"])  # predictor gives 2 columns
    with pytest.raises(ValueError, match="shape"):
        wrong.query(_absent_arch(bench))


# ---------------------------------------------------------------- companion tables
def test_calibration_and_noise_tables(bench):
    calib = bench.calibration
    assert calib is None or set(calib["arch_id"]) <= set(bench.table["arch_id"])
    noise = bench.noise
    if noise is not None:
        assert set(noise["kind"]) <= {"seed", "latency"}
        for taus in bench.noise_floor().values():
            assert all(-1 <= v <= 1 for v in taus.values())


def test_release_schema_problems_are_clear(tiny_copy):
    m = read_manifest(tiny_copy)
    files = [(f["path"], f["role"]) for f in m["files"]]
    meta = {k: m[k] for k in ("version", "space", "tasks", "n_samples", "generation", "noise", "calibration")}
    shard = next(tiny_copy / p for p, role in files if role == "archs")
    df = pd.read_parquet(shard)
    df.drop(columns=["mean_acc"]).to_parquet(shard, index=False)
    write_manifest(tiny_copy, files, meta)
    with pytest.raises(ReleaseError, match=r"lacks table columns.*mean_acc"):
        load_benchmark(path=tiny_copy)
    pd.concat([df, df.iloc[:1]]).to_parquet(shard, index=False)
    write_manifest(tiny_copy, files, meta)
    with pytest.raises(ReleaseError, match="more than once"):
        load_benchmark(path=tiny_copy)


def test_release_without_latency_shards_has_nan_latency(tiny_copy):
    m = read_manifest(tiny_copy)
    files = [(f["path"], f["role"]) for f in m["files"] if f["role"] != "latency"]
    meta = {k: m[k] for k in ("version", "space", "tasks", "n_samples")}
    write_manifest(tiny_copy, files, meta)
    b = load_benchmark(path=tiny_copy)
    assert b.table["latency_ms"].isna().all() and len(b) > 0


def test_noise_floor_names_an_unknown_column(bench):
    with pytest.raises(ValueError, match="unknown metric 'nope'"):
        bench.noise_floor(["nope"])
    with pytest.raises(ValueError, match="invalid columns"):
        bench.noise_floor("mean_acc")


@pytest.mark.parametrize(("args", "kwargs"), [((None,), {}), ((3,), {}), ((), {"path": 5})])
def test_load_benchmark_names_a_bad_argument(args, kwargs):
    from nasbench_mt.query.benchmark import load_benchmark

    with pytest.raises(ValueError, match=r"invalid (version|path)"):
        load_benchmark(*args, **kwargs)
