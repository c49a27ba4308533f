"""Every predictor on a second search space built here, through the generic encodings only.

The space: an OFA-like chain of 3 units of 1-2 layers each (6 layer slots), every layer with a kernel
(3, 5, 7) and an expand ratio (3, 4, 6); its synthetic targets are computed from the layers (a FLOPs-like
cost, and an "accuracy" that saturates in capacity and prefers large kernels late), so a predictor that reads
the encoding ranks them well above chance.  And a cell space: 5-node DAGs with one of 3 operations per node.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from predictors import GraphList, LayerTable, create_predictor, list_predictors, load_predictor
from predictors.metrics import kendall_tau

KERNELS, EXPANDS, UNITS, MAX_DEPTH = (3, 5, 7), (3, 4, 6), 3, 2
FAST = {"epochs": 40, "n_estimators": 80}


def ofa_space(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """``n`` random archs as a per-layer frame, their FLOPs-like cost and a synthetic accuracy."""
    rng = np.random.default_rng(seed)
    rows, flops, acc = [], np.zeros(n), np.zeros(n)
    for i in range(n):
        for u in range(UNITS):
            for d in range(int(rng.integers(1, MAX_DEPTH + 1))):
                k, e = int(rng.choice(KERNELS)), int(rng.choice(EXPANDS))
                rows.append({"arch": f"a{i}", "layer": u * MAX_DEPTH + d, "kernel": k, "expand": e})
                flops[i] += k * k * e * (u + 1)
                acc[i] += np.log(e) * (1 + u) + (k / 7) * u
    return pd.DataFrame(rows), flops, np.tanh(acc / 12)


def make(name: str, **kw):
    params = create_predictor(name).get_params()
    fast = {k: v for k, v in FAST.items() if k in params}
    return create_predictor(name, **{**fast, "random_state": 0, **kw})


@pytest.fixture(scope="module")
def ofa():
    frame, flops, acc = ofa_space(120, seed=0)
    table = LayerTable(frame, {"kernel": KERNELS, "expand": EXPANDS}, columns={"flops": flops})
    return table, np.column_stack([acc, np.log(flops)])


@pytest.mark.parametrize("name", [n for n in list_predictors() if n != "random"])
def test_every_predictor_fits_a_layer_table(name, ofa):
    table, y = ofa
    kw = {"cost": "flops"} if name in ("flops", "params") else {}
    model = make(name, **kw).fit(table[:80], y[:80])
    pred = model.predict(table[80:])
    assert pred.shape == (40, 2) and np.isfinite(pred).all()
    assert kendall_tau(y[80:, 0], pred[:, 0]) > 0.35  # the accuracy (a flops line reads its share of it)
    assert kendall_tau(y[80:, 1], pred[:, 1]) > 0.6  # the cost
    assert sorted(model.rank(table[80:], target=1).tolist()) == list(range(40))


def cells(n: int, seed: int, nodes: int = 5) -> tuple[GraphList, np.ndarray]:
    """``n`` random DAG cells (input -> ... -> output in topological order) and a synthetic score."""
    rng = np.random.default_rng(seed)
    xs, es, score = [], [], np.zeros(n)
    for i in range(n):
        ops = rng.integers(0, 3, nodes)
        x = np.eye(3)[ops]
        edges = [(a, a + 1) for a in range(nodes - 1)]
        edges += [(a, b) for a in range(nodes) for b in range(a + 2, nodes) if rng.random() < 0.3]
        xs.append(x)
        es.append(np.array(edges))
        score[i] = 2.0 * (ops == 0).sum() + 0.5 * len(edges) - (ops == 2).sum()
    return GraphList(xs, es, node_features=["conv3", "conv1", "pool"]), score


@pytest.mark.parametrize("name", ["xgb", "gin", "brp_gin", "mtlp_jr", "brp", "gcn"])
def test_predictors_fit_a_graph_list(name):
    graphs, y = cells(100, seed=1)
    model = make(name).fit(graphs[:70], y[:70])
    assert kendall_tau(y[70:], model.predict(graphs[70:])) > 0.4


def test_views_have_the_documented_layout(ofa):
    table, _ = ofa
    names = table.feature_names()
    X = table.features()
    assert X.shape == (120, len(names)) and names[-1] == "flops"
    np.testing.assert_array_equal(X[:, -1], table.column("flops"))
    assert names[:4] == ["l0_kernel_3", "l0_kernel_5", "l0_kernel_7", "l0_expand_3"]
    n_layers = X[:, names.index("n_layers")]
    seqs, graphs = table.sequences(), table.graphs()
    assert [len(s) for s in seqs] == (n_layers + 1).tolist()  # the global token, then the layers
    assert all(g.num_nodes == len(s) for g, s in zip(graphs, seqs))
    chain_and_global = 2 * ((n_layers - 1) + n_layers)  # both ways
    assert [g.edge_index.shape[1] for g in graphs] == chain_and_global.astype(int).tolist()
    assert table.node_feature_names()[0] == "global" and seqs[0][0, 0] == 1 and seqs[0][1:, 0].sum() == 0
    # a slice has the same layout; apart-encoded tables line up when max_layers is given
    np.testing.assert_array_equal(table[[3, 5]].features(), X[[3, 5]])
    frame, flops, _ = ofa_space(10, seed=5)
    lone = LayerTable(frame, {"kernel": KERNELS, "expand": EXPANDS}, columns={"flops": flops}, max_layers=6)
    assert lone.feature_names() == names


def test_layout_mismatch_and_bad_tables_are_refused(ofa):
    table, y = ofa
    model = make("xgb").fit(table, y)
    frame, flops, _ = ofa_space(10, seed=5)
    other = LayerTable(frame, {"kernel": KERNELS, "expand": EXPANDS}, columns={"macs": flops}, max_layers=6)
    with pytest.raises(ValueError, match=r"invalid X: its features \(column .*'macs', in fit 'flops'\)"):
        model.predict(other)
    with pytest.raises(ValueError, match=r"invalid layer field 'kernel': 9; allowed: \[3, 5, 7\]"):
        LayerTable(frame.assign(kernel=9), {"kernel": KERNELS})
    with pytest.raises(ValueError, match=r"invalid layers: no column \['width'\]"):
        LayerTable(frame, {"kernel": KERNELS}, numeric=["width"])
    with pytest.raises(ValueError, match="appears twice"):
        LayerTable(pd.concat([frame, frame]), {"kernel": KERNELS})
    with pytest.raises(ValueError, match=r"invalid max_layers: 3; allowed: >= 6"):
        LayerTable(frame, {"kernel": KERNELS}, max_layers=3)
    with pytest.raises(ValueError, match=r"invalid column 'flops': shape \(3,\)"):
        LayerTable(frame, {"kernel": KERNELS}, columns={"flops": [1, 2, 3]})
    with pytest.raises(ValueError, match=r"invalid cost: 'latency' is not a column of X"):
        make("flops", cost="latency").fit(table, y)
    with pytest.raises(ValueError, match=r"invalid edges\[0\]: a node index outside 0..1"):
        GraphList([np.eye(2)], [[(0, 2)]])


def test_cost_baseline_reads_a_named_column_and_survives_save(ofa, tmp_path):
    table, y = ofa
    model = make("flops", cost="flops").fit(table[:80], y[:80, 1])
    assert kendall_tau(y[80:, 1], model.predict(table[80:])) == pytest.approx(1.0)
    loaded = load_predictor(model.save(tmp_path / "flops"))
    assert loaded.feature_names_in_ == table.feature_names()
    np.testing.assert_allclose(loaded.predict(table[80:]), model.predict(table[80:]))


def test_mtlp_jr_masks_missing_labels_and_learns_from_free_targets(ofa):
    """The seed's model: accuracy on a few archs, the free cost on all of them, one joint fit."""
    table, y = ofa
    partial = y[:80].copy()
    partial[20:, 0] = np.nan  # accuracy measured on 20 archs only
    model = make("mtlp_jr").fit(table[:80], partial)
    pred = model.predict(table[80:])
    assert np.isfinite(pred).all() and kendall_tau(y[80:, 0], pred[:, 0]) > 0.3
