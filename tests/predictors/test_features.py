import numpy as np
import pytest

from nasbench_mt import V1
from predictors import encode_archs, feature_names


def test_shape_and_names(fixture):
    names = feature_names()
    assert fixture.X.shape == (30, len(names)) and len(set(names)) == len(names)
    assert encode_archs(fixture.archs, costs=False).shape == (30, len(feature_names(costs=False)))
    assert encode_archs(fixture.archs, encoding="ordinal").shape == (
        30,
        len(feature_names(encoding="ordinal")),
    )


def test_one_hot_slots_and_inactive_slots_zero(fixture):
    names = feature_names()
    for arch, row in zip(fixture.archs, fixture.X):
        for s in range(4):
            for b in range(3):
                cols = [i for i, n in enumerate(names) if n.startswith(f"s{s + 1}_b{b + 1}_")]
                active = b < arch.depths[s]
                assert row[cols].sum() == (2 if active else 0)
                if active:
                    blk = arch.stages[s][b]
                    assert row[names.index(f"s{s + 1}_b{b + 1}_k{blk.kernel}")] == 1
                    assert row[names.index(f"s{s + 1}_b{b + 1}_e{blk.expand}")] == 1
        assert [row[names.index(f"depth_s{s}")] for s in (1, 2, 3, 4)] == list(arch.depths)
        for t, bp in enumerate(arch.branches):
            onehot = [row[names.index(f"branch_t{t}_b{b}")] for b in range(5)]
            assert onehot == [float(b == bp) for b in range(5)]
        assert [row[names.index(f"exit_{x}")] for x in (1, 2, 3)] == [
            float(x in arch.exits) for x in (1, 2, 3)
        ]


def test_branch_points_and_shared_stages(fixture):
    for encoding in ("onehot", "ordinal"):
        names = feature_names(encoding=encoding)
        for arch, row in zip(fixture.archs, encode_archs(fixture.archs, encoding=encoding)):
            b = arch.branches
            assert [row[names.index(f"branch_t{t}")] for t in range(3)] == list(b)
            shared = {(t, u): row[names.index(f"shared_t{t}_t{u}")] for t, u in ((0, 1), (0, 2), (1, 2))}
            assert shared == {(t, u): min(b[t], b[u]) for t, u in shared}
            depth = [row[names.index(f"shared_depth_t{t}")] for t in range(3)]
            assert depth == [max(v for pair, v in shared.items() if t in pair) for t in range(3)]


def test_shared_depth_counts_stages_shared_with_any_other_task():
    names = feature_names(costs=False)
    # digit and count share stage 1; count stays on the trunk to stage 4 but alone; seg leaves at the stem
    arch = V1.validate("k3e3|k3e3|k3e3|k3e3|b=1,4,0|x=")
    row = encode_archs([arch], costs=False)[0]
    assert [row[names.index(f"shared_depth_t{t}")] for t in range(3)] == [1.0, 1.0, 0.0]


def test_cost_columns_are_the_measured_costs(fixture):
    names = feature_names()
    for c, row in zip(fixture.costs, fixture.X):
        assert row[names.index("params")] == c.params and row[names.index("macs")] == c.macs
        assert row[names.index("params_digit")] == c.params_per_task["digit"]
        for x in (1, 2, 3):
            assert row[names.index(f"macs_e{x}")] == c.macs_per_exit.get(x, 0)


def test_ordinal_and_strings():
    arch = V1.sample(1, seed=3)[0]
    names = feature_names(costs=False, encoding="ordinal")
    row = encode_archs([arch.to_string()], costs=False, encoding="ordinal")[0]
    assert row[names.index("s1_b1_kernel")] == arch.stages[0][0].kernel
    assert row[names.index("s1_b3_expand")] == (arch.stages[0][2].expand if arch.depths[0] == 3 else 0)
    np.testing.assert_array_equal(row, encode_archs([arch], costs=False, encoding="ordinal")[0])


def test_bad_input():
    with pytest.raises(ValueError, match="invalid encoding"):
        encode_archs(V1.sample(2), encoding="binary")
    with pytest.raises(ValueError, match="invalid archs"):
        encode_archs(V1.smallest())
