import numpy as np
import pytest

from nasbench_mt import Arch
from nasbench_mt.query.exit_policy import ExitData, evaluate_policies, threshold_grid


def _with_exits(bench, n_exits):
    return [r for r in bench if len(r.macs_per_exit) == n_exits]


def _brute_force(bench, r, thr):
    """Per-sample simulation of one setting (MSDNet counting), the reference for the vectorised code."""
    arch = Arch.from_string(r.arch)
    names = [t.name for t in bench.tasks]
    exits = list(arch.all_exits)
    data = bench._exits.get(r.arch_id, names, exits)
    row = bench.table.set_index("arch_id").loc[r.arch_id]
    seg = {c[len("macs_seg_") :]: row[c] for c in row.index if c.startswith("macs_seg_")}
    n = data.conf.shape[2]
    acc, macs, lat = np.zeros(len(names)), 0.0, 0.0
    for i in range(n):
        leave = []
        for t in range(len(names)):
            j = next((j for j in range(len(exits) - 1) if data.conf[t, j, i] / 255 >= thr[t]), len(exits) - 1)
            leave.append(exits[j])
            acc[t] += data.score[t, j, i] / 255 * 100 / n
        ran = {"stem"}
        for t, name in enumerate(names):
            bp = arch.written_branches[t]  # the layout the row was measured (and its segments named) in
            ran |= {f"trunk_s{s}" for s in range(1, min(bp, leave[t]) + 1)}
            ran |= {f"{name}_s{s}" for s in range(bp + 1, leave[t] + 1)}
            ran |= {f"{name}_e{k}" for k in exits if k <= leave[t]}
        macs += sum(seg[s] for s in ran) / n
        lat += r.exit_latency_ms[max(leave)] / n
    return acc, macs, lat


def test_matches_per_sample_simulation(bench):
    rng = np.random.default_rng(0)
    archs = _with_exits(bench, 4)[:2] + _with_exits(bench, 3)[:2] + _with_exits(bench, 2)[:1]
    assert archs
    for r in archs:
        grid = rng.random((5, len(bench.tasks)))
        grid[0] = [0.5, 100 / 255, 1.0]  # exact level boundaries
        grid[1] = [np.inf, 0.3, np.inf]  # inf: never leave early
        m = bench.exit_metrics(r.arch, grid)
        for s, thr in enumerate(grid):
            acc, macs, lat = _brute_force(bench, r, thr)
            assert np.allclose(m.policy_acc[s], acc) and m.policy_macs[s] == pytest.approx(macs)
            assert m.policy_latency_ms[s] == pytest.approx(lat)


def test_invariants(bench):
    tasks = [t.name for t in bench.tasks]
    grid = threshold_grid(tasks, np.linspace(0, 1, 6))
    for r in bench:
        exits = sorted(r.macs_per_exit)
        m = bench.exit_metrics(r.arch_id, grid)
        assert m.thresholds.shape == (len(grid), len(tasks)) and len(m) == len(grid)
        assert np.allclose(m.exit_rate.sum(axis=2), 1.0)
        assert (m.policy_macs >= r.macs_per_exit[exits[0]] - 1e-6).all() and (
            m.policy_macs <= r.macs + 1e-6
        ).all()
        lat = [r.exit_latency_ms[k] for k in exits]
        assert (m.policy_latency_ms >= min(lat) - 1e-9).all() and (
            m.policy_latency_ms <= max(lat) + 1e-9
        ).all()
        assert ((m.policy_acc >= 0) & (m.policy_acc <= 100)).all()
        zero = bench.exit_metrics(r.arch_id, 0.0)  # every task leaves at its first exit
        assert zero.policy_macs[0] == pytest.approx(r.macs_per_exit[exits[0]])
        assert zero.policy_latency_ms[0] == pytest.approx(r.exit_latency_ms[exits[0]])
        assert np.allclose(zero.exit_rate[0, :, 0], 1.0)
        if len(exits) == 1:  # no early exit: the full network, always
            assert (m.policy_macs == r.macs).all() and np.allclose(m.policy_latency_ms, r.latency_ms)
        # raising a threshold never makes a sample leave earlier
        two = bench.exit_metrics(r.arch_id, [[0.3] * len(tasks), [0.3, 0.9, 0.3]])
        assert (
            two.policy_macs[1] >= two.policy_macs[0] - 1e-6
            and two.policy_latency_ms[1] >= two.policy_latency_ms[0] - 1e-9
        )


def test_threshold_forms_agree(bench):
    r = _with_exits(bench, 4)[0] if _with_exits(bench, 4) else bench[0]
    tasks = [t.name for t in bench.tasks]
    as_dict = bench.exit_metrics(r.arch, dict(zip(tasks, [0.6, 0.7, 0.8])))
    as_row = bench.exit_metrics(r.arch, [0.6, 0.7, 0.8])
    as_grid = bench.exit_metrics(r.arch, np.array([[0.1, 0.1, 0.1], [0.6, 0.7, 0.8]]))
    assert np.allclose(as_dict.policy_macs, as_row.policy_macs) and as_grid.policy_macs[1] == pytest.approx(
        as_row.policy_macs[0]
    )
    assert np.allclose(
        bench.exit_metrics(r.arch, 0.7).policy_acc, bench.exit_metrics(r.arch, [0.7] * 3).policy_acc
    )
    frame = as_grid.to_frame()
    assert len(frame) == 2 and {
        "policy_mean_acc",
        "policy_macs",
        "policy_latency_ms",
        f"thr_{tasks[0]}",
    } <= set(frame.columns)


def test_inf_is_the_network_at_its_final_exits(bench):
    tasks = [t.name for t in bench.tasks]
    for r in bench:
        off = bench.exit_metrics(r.arch_id, np.inf)
        assert np.allclose(off.exit_rate[0, :, -1], 1.0)  # every sample of every task at the final exit
        assert off.policy_macs[0] == pytest.approx(r.macs) and off.policy_latency_ms[0] == pytest.approx(
            r.latency_ms
        )
        data = bench._exits.get(r.arch_id, tasks, sorted(r.macs_per_exit))
        final = data.score[:, -1].mean(axis=1) / 255 * 100
        assert np.allclose(off.policy_acc[0], final)


@pytest.mark.parametrize(
    "thresholds, match",
    [
        (1.5, r"outside \[0, 1\]; allowed: .* or inf"),
        (-np.inf, r"outside \[0, 1\]"),
        (-0.1, r"outside \[0, 1\]"),
        ([0.5, float("nan"), 0.5], r"outside \[0, 1\]"),
        ([[0.5, 0.5, 2.0]], r"outside \[0, 1\]"),
        ([0.5, 0.5], "shape"),
        ({"digit": 0.5}, "one threshold per task"),
        ({"digit": 0.5, "count": 0.5, "seg": 0.5, "colour": 0.5}, "one threshold per task"),
        ("high", "invalid thresholds"),
    ],
)
def test_bad_thresholds(bench, thresholds, match):
    with pytest.raises(ValueError, match=match):
        bench.exit_metrics(bench[0].arch, thresholds)


def test_unknown_arch_and_bad_arch(bench):
    with pytest.raises(KeyError):
        bench.exit_metrics("0123456789ab", 0.5)
    with pytest.raises(ValueError, match="invalid"):
        bench.exit_metrics("k3e3|nope", 0.5)


def test_level_semantics_on_hand_made_records():
    # one task, exits 2 and 4, three samples; conf at exit 2 = 128, 200, 255; scores chosen per exit
    conf = np.array([[[128, 200, 255], [0, 0, 0]]], dtype=np.uint8)
    score = np.array([[[0, 255, 255], [255, 255, 0]]], dtype=np.uint8)
    data = ExitData(("a",), (2, 4), conf, score)
    seg = {
        "stem": 1,
        "trunk_s1": 10,
        "trunk_s2": 100,
        "trunk_s3": 1000,
        "trunk_s4": 10000,
        "a_e2": 3,
        "a_e4": 5,
    }
    lat = {2: 1.0, 4: 3.0}

    def run(t):
        return evaluate_policies(data, t, [4], seg, lat, [True])

    m = run(128 / 255)  # conf >= thr: all three leave at exit 2
    assert m.exit_rate[0, 0].tolist() == [1.0, 0.0] and m.policy_macs[0] == 1 + 10 + 100 + 3
    assert m.policy_acc[0, 0] == pytest.approx(200 / 3) and m.policy_latency_ms[0] == 1.0
    m = run(129 / 255)  # the first sample goes on to the final exit
    assert m.exit_rate[0, 0].tolist() == pytest.approx([2 / 3, 1 / 3])
    assert m.policy_macs[0] == pytest.approx(114 + (1000 + 10000 + 5) / 3)
    assert m.policy_acc[0, 0] == pytest.approx(100.0) and m.policy_latency_ms[0] == pytest.approx(1 + 2 / 3)
    assert run(1.0).exit_rate[0, 0].tolist() == pytest.approx([1 / 3, 2 / 3])  # conf 255 still leaves
    never = run(np.inf)  # inf: nobody leaves early, the whole network and both heads are paid
    assert never.exit_rate[0, 0].tolist() == [0.0, 1.0] and never.policy_macs[0] == sum(seg.values())
    assert never.policy_acc[0, 0] == pytest.approx(200 / 3) and never.policy_latency_ms[0] == 3.0
    assert np.isnan(m.policy_latency_norm).all()  # no reference latency given
    ref = evaluate_policies(data, 129 / 255, [4], seg, lat, [True], ref_latency_ms=2.0)
    assert ref.policy_latency_norm[0] == pytest.approx((1 + 2 / 3) / 2.0)
    assert ref.to_frame()["policy_latency_norm"].iloc[0] == pytest.approx(ref.policy_latency_norm[0])
    with pytest.raises(ValueError, match="ref_latency_ms"):
        evaluate_policies(data, 0.5, [4], seg, lat, [True], ref_latency_ms=0.0)


def test_latency_norm_uses_the_rows_reference(bench):
    tasks = [t.name for t in bench.tasks]
    grid = threshold_grid(tasks, [0.0, 0.7, 1.0])
    for r in list(bench)[:10]:
        m = bench.exit_metrics(r.arch_id, grid)
        assert np.allclose(
            m.policy_latency_norm, m.policy_latency_ms * r.latency_norm / r.latency_ms
        )  # / ref_latency_ms
    single = _with_exits(bench, 1)
    assert single
    for r in single:  # no early exit: the full network, so the table's own latency_norm
        assert np.allclose(bench.exit_metrics(r.arch_id, grid).policy_latency_norm, r.latency_norm)


@pytest.mark.parametrize("bad", ["0.9", ["0.9", 0.5, 0.5], {"digit": "0.9", "count": 0.5, "seg": 0.5}])
def test_thresholds_given_as_text_are_refused(bad):
    from nasbench_mt.query.exit_policy import as_thresholds

    with pytest.raises(ValueError, match="not text"):
        as_thresholds(bad, ["digit", "count", "seg"])


def test_policy_metrics_never_take_a_table_columns_name(bench):
    # seg under a policy is scored by pixel accuracy, the table's test_seg and mean_acc by mIoU
    from nasbench_mt.query.exit_policy import policy_metric_names

    r = bench[0]
    em = bench.exit_metrics(r.arch, [[0.5] * 3, [0.9] * 3])
    names = policy_metric_names([t.name for t in bench.tasks])
    assert not set(names) & set(bench.table.columns) and set(names.values()) <= set(bench.table.columns)
    frame = em.to_frame()
    assert not set(frame.columns) & set(bench.table.columns)
    assert set(names) - {"policy_flops"} <= set(frame.columns)
    for old in ("mean_acc", "accuracy", "macs", "latency_ms", "latency_norm"):
        with pytest.raises(AttributeError, match="policy_"):
            getattr(em, old)


def test_rows_stored_under_another_spelling_cost_their_own_segments(bench):
    # a v1-style row stored as b=2,0,4 names trunk_s3..s4 where its canonical network (b=2,0,2) names
    # seg_s3..s4: the policy MACs are the same either way
    from nasbench_mt.query.exit_policy import evaluate_policies
    from nasbench_mt.space.arch import Arch
    from nasbench_mt.space.costs import analytic_costs

    grid = [[a, b, c] for a in (0.3, 0.9) for b in (0.5, 1.0) for c in (0.0, 0.7)]
    checked = 0
    for r in bench:
        arch = Arch.from_string(r.arch)
        if arch.written_branches == arch.branches:
            continue
        canonical = Arch(arch.stages, arch.branches, arch.exits)
        segments = analytic_costs(canonical, bench.tasks).segment_macs
        m = bench.exit_metrics(r.arch_id, grid)
        data = bench._exits.get(r.arch_id, [t.name for t in bench.tasks], m.exits)
        hib = [t.higher_is_better for t in bench.tasks]
        ref = evaluate_policies(data, grid, canonical.branches, segments, r.exit_latency_ms, hib)
        assert np.allclose(m.policy_macs, ref.policy_macs, rtol=1e-12)
        checked += 1
    assert checked > 0
