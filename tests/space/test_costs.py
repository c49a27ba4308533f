import torch

from nasbench_mt import V1, Arch, build_model, measure_costs
from nasbench_mt.space.costs import peak_activation_bytes


def test_hand_checked_smallest_arch():
    # k3e3 everywhere, depth 1, fully shared, no early exit; tasks digit(10), count(4), seg(11 cls, 16x16).
    # params: stem 3*16*9 + 2*16 = 464
    #   MBConv(cin, cout, k=3, e=3), h = 3*cin: cin*h + 2h + 9h + 2h + h*cout + 2*cout
    #   stage1 16->24: 2592; stage2 24->40: 5624; stage3 40->64: 14168; stage4 64->96: 33408
    #   heads at 96 ch: digit 96*64 + 128 + 64*10 + 10 = 6922; count 6532; seg 96*32 + 64 + 32*11 + 11 = 3499
    c = measure_costs(build_model(V1.smallest()))
    assert c.params == 464 + 2592 + 5624 + 14168 + 33408 + 6922 + 6532 + 3499 == 73209
    # MACs: stem 27*16*256 = 110592; stages (16x16, 16x16->8x8, 8x8->4x4, 4x4):
    #   602112, 668160, 447360, 519168; heads at 4x4: 98944 + 98560 + 54784
    assert c.segment_macs["stem"] == 110592
    assert [c.segment_macs[f"trunk_s{s}"] for s in (1, 2, 3, 4)] == [602112, 668160, 447360, 519168]
    assert (c.segment_macs["digit_e4"], c.segment_macs["count_e4"], c.segment_macs["seg_e4"]) == (
        98944,
        98560,
        54784,
    )
    assert c.macs == 2599680 and c.macs_per_exit == {4: 2599680}
    assert c.params_per_task["digit"] == 464 + 55792 + 6922


def test_cumulative_macs_and_segments_consistent():
    for arch in V1.sample(20, seed=2):
        net = build_model(arch)
        c = measure_costs(net)
        assert c.params == sum(p.numel() for p in net.parameters()) == sum(c.segment_params.values())
        assert c.macs == sum(c.segment_macs.values())
        exits = sorted(c.macs_per_exit)
        assert exits == list(arch.all_exits)
        assert all(c.macs_per_exit[a] < c.macs_per_exit[b] for a, b in zip(exits, exits[1:]))
        assert c.macs_per_exit[4] == c.macs
        assert all(v > 0 for v in c.segment_macs.values())
        # a task path holds the stem, its shared stages, its own stages and its own heads
        assert all(v < c.params for v in c.params_per_task.values()) or max(arch.branches) == 0
        row = c.as_row()
        assert row["flops"] == 2 * row["macs"]


def test_sharing_reduces_cost():
    stages = [[(5, 4), (5, 4)]] * 4
    shared = measure_costs(build_model(Arch(stages, [4, 4, 4])))
    separate = measure_costs(build_model(Arch(stages, [0, 0, 0])))
    assert separate.params > 2.5 * shared.params - 3 * 20000
    assert separate.macs > 2.5 * (shared.macs - shared.segment_macs["stem"])


def test_peak_activation_memory_bounds():
    net = build_model(V1.largest()).eval()
    x = torch.zeros(1, 3, 32, 32)
    peak = peak_activation_bytes(net, x)
    # at least the largest single activation: stage-1 expand output 16*6 channels at 16x16, float32
    assert peak >= 96 * 16 * 16 * 4 + x.numel() * 4
    # at most every activation of the forward held at once
    assert peak < 50 * 2**20
    assert peak == peak_activation_bytes(net, x)
    small = measure_costs(build_model(V1.smallest())).peak_activation_bytes
    assert small < peak
