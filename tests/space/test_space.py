import itertools
import json
import random
import subprocess
import sys
from collections import Counter

import pytest

from nasbench_mt.space.arch import V1, Arch, Block, SearchSpace

SAMPLES = V1.sample(200, seed=0)


def _sharing(branches):
    """Which tasks share each trunk stage (only a group of two or more shares anything): the network's
    structure, defined without canonical_branches."""
    n = max(branches, default=0)
    return tuple(
        frozenset(t for t, b in enumerate(branches) if b > s)
        if sum(b > s for b in branches) >= 2
        else frozenset()
        for s in range(max(n, 4))
    )


def test_canonical_branches_identify_exactly_the_equal_networks():
    from nasbench_mt.space.arch import canonical_branches

    spellings = list(itertools.product(range(5), repeat=3))
    for a in spellings:
        assert canonical_branches(canonical_branches(a)) == canonical_branches(a)
        assert _sharing(canonical_branches(a)) == _sharing(a)
        for b in spellings:
            assert (canonical_branches(a) == canonical_branches(b)) == (_sharing(a) == _sharing(b))
    assert len({canonical_branches(a) for a in spellings}) == len(V1.branch_settings) == 35


def test_size_is_exact_count():
    # per stage: 9 + 81 + 729 block combinations; 35 distinct sharing structures of 3 tasks over branch
    # points 0..4 (of the 5^3 spellings); 2^3 exit sets
    assert V1.size == 819**4 * 35 * 8 == 125_977_689_353_880
    tiny = SearchSpace(depths=(1,), kernels=(3,), expands=(3, 6))
    every = {
        Arch([[blk] for blk in blocks], branches, exits, space=tiny)
        for blocks in itertools.product(tiny.block_choices, repeat=4)
        for branches in itertools.product(tiny.branch_choices, repeat=3)
        for exits in ((), (1,), (1, 2, 3))
    }
    assert len(every) == 2**4 * 35 * 3  # every spelling enumerated: one Arch per network
    assert tiny.size == 2**4 * 35 * 8


def test_equivalent_specs_share_string_and_id():
    a, b = (Arch.from_string(f"k3e3|k3e3|k3e3|k3e3|b={x}|x=2") for x in ("2,0,4", "2,0,2"))
    assert a == b and hash(a) == hash(b) and a.branches == (2, 0, 2)
    assert a.to_string() == b.to_string() == "k3e3|k3e3|k3e3|k3e3|b=2,0,2|x=2" and a.id == b.id
    # the spelling as written (the v1 release's row names) stays readable
    assert a.written_string == "k3e3|k3e3|k3e3|k3e3|b=2,0,4|x=2" and a.written_branches == (2, 0, 4)
    assert a.written_id == __import__("hashlib").sha1(f"v1:{a.written_string}".encode()).hexdigest()[:12]
    assert b.written_string == b.to_string() and b.written_id == b.id
    assert len(set(V1.sample(500, seed=0))) == 500


def test_sample_network_distribution_is_uniform_over_sharing_structures():
    rng = random.Random(0)
    counts = Counter(V1.random_arch(rng, "network").branches for _ in range(7000))
    assert set(counts) == set(V1.branch_settings)
    assert all(140 <= c <= 260 for c in counts.values()), counts  # 200 expected each (35 settings)


def test_branch_moves_reach_every_sharing_structure():
    # a move changes one task's branch point in any spelling: b=2,0,2 (= b=2,0,4) reaches b=3,0,3
    start = V1.smallest()
    seen, todo = {start.branches}, [start]
    while todo:
        for n in V1.neighbors(todo.pop()):
            if n.stages == start.stages and n.exits == start.exits and n.branches not in seen:
                seen.add(n.branches)
                todo.append(n)
    assert seen == set(V1.branch_settings)
    nbrs = V1.neighbors(Arch.from_string("k3e3|k3e3|k3e3|k3e3|b=2,0,2|x="))
    assert Arch.from_string("k3e3|k3e3|k3e3|k3e3|b=3,0,3|x=") in nbrs


@pytest.mark.parametrize("arch", SAMPLES[:50], ids=lambda a: a.id)
def test_string_and_json_round_trip(arch):
    assert Arch.from_string(arch.to_string()) == arch
    assert Arch.from_json(arch.to_json()) == arch
    assert hash(Arch.from_string(arch.to_string())) == hash(arch)
    assert Arch.from_string(arch.to_string()).id == arch.id


def test_round_trip_all_samples():
    for a in SAMPLES:
        assert Arch.from_string(str(a)) == a
        assert len(a.id) == 12


def test_cached_string_and_id_change_neither_equality_nor_copies():
    import copy
    import dataclasses
    import pickle

    fresh, used = SAMPLES[3], Arch.from_string(SAMPLES[3].to_string())
    assert used.to_string() == used.to_string() and used.id == fresh.id  # cached on `used` now
    assert used == fresh and hash(used) == hash(fresh) and repr(used) == repr(fresh)
    for other in (pickle.loads(pickle.dumps(used)), copy.deepcopy(used)):
        assert other == used and other.to_string() == used.to_string() and other.id == used.id
    changed = dataclasses.replace(used, exits=(1,) if used.exits != (1,) else (2,))
    assert changed.to_string() != used.to_string() and changed.id != used.id  # no stale cache
    assert Arch.from_string(changed.to_string()) == changed


def test_ids_stable_across_processes():
    code = (
        "from nasbench_mt.space.arch import V1\n"
        "print('\\n'.join(a.id + ' ' + str(a) for a in V1.sample(20, seed=7)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    here = "\n".join(a.id + " " + str(a) for a in V1.sample(20, seed=7))
    assert out.strip() == here


def test_pinned_id():
    # the id is a public identifier in the released table: it must never change
    a = Arch.from_string("k3e3|k3e3|k3e3|k3e3|b=4,4,4|x=")
    assert a == V1.smallest()
    assert a.id == __import__("hashlib").sha1(b"v1:k3e3|k3e3|k3e3|k3e3|b=4,4,4|x=").hexdigest()[:12]


def test_unused_slots_do_not_change_identity():
    k = [[3, 5, 7], [5, 3, 3], [7, 7, 7], [3, 3, 3]]
    e = [[4, 6, 3], [3, 4, 6], [6, 6, 6], [3, 3, 3]]
    a = Arch.from_spec([1, 2, 3, 1], k, e, [4, 2, 0], [1])
    k2 = [[3, 7, 3], [5, 3, 7], [7, 7, 7], [3, 5, 5]]
    e2 = [[4, 3, 3], [3, 4, 3], [6, 6, 6], [3, 6, 4]]
    b = Arch.from_spec([1, 2, 3, 1], k2, e2, [4, 2, 0], (1,))
    assert a == b and a.id == b.id and a.to_string() == b.to_string()
    assert a.depths == (1, 2, 3, 1)


def test_exit_order_is_canonical():
    a = Arch([[(3, 3)]] * 4, [4, 4, 4], [3, 1])
    assert a.exits == (1, 3)
    assert a == Arch([[(3, 3)]] * 4, [4, 4, 4], [1, 3])


def test_sample_deterministic_distinct_and_valid():
    a = V1.sample(100, seed=3)
    assert a == V1.sample(100, seed=3)
    assert a != V1.sample(100, seed=4)
    assert len(set(a)) == 100
    for arch in a:
        assert V1.validate(arch) is arch


def test_sample_per_choice_depth_is_uniform():
    depths = [d for a in V1.sample(3000, seed=1) for d in a.depths]
    for d in (1, 2, 3):
        assert abs(depths.count(d) / len(depths) - 1 / 3) < 0.03


def test_sample_network_distribution_weights_depth_by_count():
    depths = [d for a in V1.sample(2000, seed=1, distribution="network") for d in a.depths]
    assert abs(depths.count(3) / len(depths) - 729 / 819) < 0.03


def test_neighbors_differ_by_one_decision():
    from nasbench_mt.space.arch import canonical_branches

    for a in SAMPLES[:20]:
        nbrs = V1.neighbors(a)
        assert len(nbrs) == len(set(nbrs))
        assert a not in nbrs
        spellings = [b for b in itertools.product(range(5), repeat=3) if canonical_branches(b) == a.branches]
        one_task_away = {
            canonical_branches(s[:t] + (c,) + s[t + 1 :])
            for s in spellings
            for t in range(3)
            for c in range(5)
        } - {a.branches}
        assert len(nbrs) == 4 * sum(a.depths) + 2 * 4 + len(one_task_away) + 3
        for n in nbrs:
            diffs = sum(x != y for x, y in zip(n.stages, a.stages))
            diffs += n.branches != a.branches
            diffs += n.exits != a.exits
            assert diffs == 1
            assert n.branches == a.branches or n.branches in one_task_away


def test_mutate_deterministic_and_valid():
    rng1, rng2 = random.Random(0), random.Random(0)
    a = SAMPLES[1]
    for _ in range(50):
        b1, b2 = V1.mutate(a, rng1), V1.mutate(a, rng2)
        assert b1 == b2 and b1 != a
        a = b1


def test_largest_smallest():
    assert V1.largest().depths == (3, 3, 3, 3) and V1.largest().branches == (0, 0, 0)
    assert V1.smallest().depths == (1, 1, 1, 1) and V1.smallest().exits == ()


BAD_STRINGS = [
    ("k3e3|k3e3|k3e3|b=4,4,4|x=", "arch string"),  # 3 stages
    ("k3e3|k3e3|k3e3|k3e3|b=4,4|x=", "branches"),  # 2 tasks
    ("k4e3|k3e3|k3e3|k3e3|b=4,4,4|x=", "kernel"),
    ("k3e5|k3e3|k3e3|k3e3|b=4,4,4|x=", "expand"),
    ("k3e3|k3e3|k3e3|k3e3|b=5,4,4|x=", "branches[0]"),
    ("k3e3|k3e3|k3e3|k3e3|b=4,4,4|x=4", "exits"),
    ("k3e3|k3e3|k3e3|k3e3|b=4,4,4|x=1,1", "exits"),
    ("k3e3,k3e3,k3e3,k3e3|k3e3|k3e3|k3e3|b=4,4,4|x=", "depth"),
    ("|k3e3|k3e3|k3e3|b=4,4,4|x=", "depth"),
    ("k3x3|k3e3|k3e3|k3e3|b=4,4,4|x=", "block"),
    ("k3e3|k3e3|k3e3|k3e3|b=a|x=", "branches"),
    ("k3e3|k3e3|k3e3|k3e3|4,4,4|x=", "arch string"),
    ("", "arch string"),
]


@pytest.mark.parametrize("text,field", BAD_STRINGS)
def test_bad_strings_name_the_field(text, field):
    with pytest.raises(ValueError, match="allowed") as err:
        Arch.from_string(text)
    assert field in str(err.value)


@pytest.mark.parametrize(
    "kwargs,field",
    [
        (dict(stages=[[(3, 3)]] * 4, branches=[4, 4, True]), "branches[2]"),
        (dict(stages=[[(3, 3)]] * 4, branches=[4, 4, 4], exits=[0]), "exits"),
        (dict(stages=[[(3, 3)]] * 4, branches=[4, 4, 4], exits="13"), "exits"),
        (dict(stages=[[(3, 3)]] * 4, branches=[4.0, 4, 4]), "branches[0]"),
        (dict(stages=[[(3, "3")]] * 4, branches=[4, 4, 4]), "stages[0][0]"),
        (dict(stages=None, branches=[4, 4, 4]), "stages"),
        (dict(stages=[[(3, 3)]] * 4, branches=None), "branches"),
    ],
)
def test_bad_constructor_args(kwargs, field):
    with pytest.raises(ValueError, match="allowed") as err:
        Arch(**kwargs)
    assert field in str(err.value)


@pytest.mark.parametrize(
    "text",
    [
        "{",
        "[]",
        json.dumps({"stages": [], "branches": [4, 4, 4], "exits": []}),
        json.dumps({"stages": 1}),
        "null",
    ],
)
def test_bad_json(text):
    with pytest.raises(ValueError, match="allowed"):
        Arch.from_json(text)


def test_bad_sample_args():
    with pytest.raises(ValueError, match="n"):
        V1.sample(-1)
    with pytest.raises(ValueError, match="distribution"):
        V1.sample(2, distribution="gaussian")
    with pytest.raises(ValueError, match="arch"):
        V1.validate(42)


def test_block_str():
    assert str(Block(5, 6)) == "k5e6"


def test_mutate_names_a_bad_rng_or_arch():
    import random

    import pytest

    from nasbench_mt.space.arch import V1

    arch = V1.sample(1, seed=0)[0]
    with pytest.raises(ValueError, match="invalid rng"):
        V1.mutate(arch, 0)
    with pytest.raises(ValueError, match="invalid arch"):
        V1.mutate(3, random.Random(0))
    assert V1.mutate(arch.to_string(), random.Random(0)) in V1.neighbors(arch)


def test_one_spelling_per_network_string():
    import pytest

    from nasbench_mt.space.arch import V1, Arch

    text = V1.sample(1, seed=0)[0].to_string()
    for bad in (text.replace("k5", "k\u096b", 1), text.replace("b=", "b=0", 1), text.replace("e3", "e03", 1)):
        with pytest.raises(ValueError, match="ASCII digits"):
            Arch.from_string(bad)
