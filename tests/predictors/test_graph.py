import torch
from torch_geometric.loader import DataLoader

from predictors import encode_graphs, node_feature_names
from predictors.graph import NODE_TYPES


def expected_nodes(arch) -> dict[str, int]:
    trunk = sum(arch.depths[: max(arch.branches)])
    own = sum(sum(arch.depths[bp:]) for bp in arch.branches)
    return {
        "global": 1,
        "stem": 1,
        "block": trunk + own,
        "head": arch.num_tasks * len(arch.all_exits),
        "output": arch.num_tasks,
    }


def test_nodes_are_the_operations_of_the_network(fixture):
    names = node_feature_names()
    for arch, g in zip(fixture.archs, fixture.graphs):
        assert g.x.shape[1] == len(names) and g.x.dtype == torch.float32
        counts = {t: int(g.x[:, names.index(f"type_{t}")].sum()) for t in NODE_TYPES}
        assert counts == expected_nodes(arch)
        assert g.num_nodes == sum(counts.values())


def test_edges_follow_data_flow_and_global_node(fixture):
    for g in fixture.graphs:
        n = g.num_nodes
        ei = g.edge_index
        assert ei.min() >= 0 and ei.max() < n
        pairs = set(map(tuple, ei.t().tolist()))
        assert all((i, j) in pairs for i, j in pairs)  # reverse edges present
        assert all((0, i) in pairs for i in range(1, n))  # the global node reaches every node
    g = encode_graphs(fixture.archs[:1], reverse_edges=False)[0]
    assert g.edge_index.shape[1] * 2 == fixture.graphs[0].edge_index.shape[1]


def test_costs_off_drops_two_columns_and_loader_batches(fixture):
    graphs = encode_graphs(fixture.archs, costs=False)
    assert graphs[0].x.shape[1] == len(node_feature_names(costs=False)) == len(node_feature_names()) - 2
    batch = next(iter(DataLoader(fixture.graphs, batch_size=30)))
    assert batch.num_graphs == 30 and batch.x.shape[0] == sum(g.num_nodes for g in fixture.graphs)


def test_users_is_the_share_of_tasks_running_through_a_node():
    from nasbench_mt import V1

    names = node_feature_names(costs=False)
    # one block per stage; all three tasks share stage 1, count and seg stages 1-4
    g = encode_graphs([V1.validate("k3e3|k3e3|k3e3|k3e3|b=1,4,4|x=")], costs=False)[0]
    x = g.x
    shared_blocks = (x[:, names.index("type_block")] == 1) & (x[:, names.index("owner_shared")] == 1)
    stage = x[shared_blocks][:, [names.index(f"stage_{s}") for s in (1, 2, 3, 4)]].argmax(1)
    assert stage.tolist() == [0, 1, 2, 3]
    assert torch.allclose(x[shared_blocks][:, names.index("users")], torch.tensor([3, 2, 2, 2]) / 3)
    # a trunk stage only one task would use is that task's own: b=1,4,0 is the network b=1,1,0
    solo = encode_graphs([V1.validate("k3e3|k3e3|k3e3|k3e3|b=1,4,0|x=")], costs=False)[0]
    same = encode_graphs([V1.validate("k3e3|k3e3|k3e3|k3e3|b=1,1,0|x=")], costs=False)[0]
    assert torch.equal(solo.x, same.x) and torch.equal(solo.edge_index, same.edge_index)
    own = (x[:, names.index("owner_shared")] == 0) & (x[:, names.index("type_global")] == 0)
    assert torch.allclose(x[own][:, names.index("users")], torch.tensor(1 / 3))
    assert x[x[:, names.index("type_stem")] == 1][0, names.index("users")] == 1.0
