"""Missing labels masked out of the losses, and free auxiliary targets (exact costs) for unlabelled archs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nasbench_mt import V1
from nasbench_mt.space.costs import analytic_costs
from predictors import create_predictor, encode_archs, encode_graphs
from predictors.auxiliary import free_target_names, free_targets, with_free_targets
from predictors.neural import masked_mse, pairwise_ranking_loss, relation_loss


def _batch(seed: int = 0, n: int = 12, t: int = 3) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Scores, complete targets and the same targets with a third of each column missing (NaN)."""
    g = torch.Generator().manual_seed(seed)
    scores = torch.randn(n, t, generator=g, dtype=torch.float64)
    y = torch.randn(n, t, generator=g, dtype=torch.float64)
    missing = torch.rand(n, t, generator=g) < 0.35
    missing[:2] = False  # every column keeps labels
    return scores, y, torch.where(missing, torch.nan, y)


def _per_column(loss_fn, scores: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The loss computed on each column's labelled rows alone, averaged over columns."""
    cols = []
    for j in range(y.shape[1]):
        rows = torch.isfinite(y[:, j])
        cols.append(loss_fn(scores[rows, j : j + 1], y[rows, j : j + 1]))
    return torch.stack(cols).mean()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_masked_regression_loss_equals_the_loss_on_the_labelled_rows(seed):
    scores, y, y_nan = _batch(seed)
    expected = _per_column(lambda p, t: torch.nn.functional.mse_loss(p, t), scores, y_nan)
    assert torch.allclose(masked_mse(scores, y_nan), expected, rtol=1e-12, atol=0)
    # complete labels: the plain mean over every entry
    assert torch.allclose(masked_mse(scores, y), torch.nn.functional.mse_loss(scores, y), rtol=1e-12, atol=0)


@pytest.mark.parametrize("kind", ["logistic", "hinge"])
@pytest.mark.parametrize("seed", [0, 1])
def test_masked_pairwise_loss_equals_the_loss_on_the_labelled_rows(kind, seed):
    scores, _, y_nan = _batch(seed)
    expected = _per_column(lambda p, t: pairwise_ranking_loss(p, t, kind), scores, y_nan)
    assert torch.allclose(pairwise_ranking_loss(scores, y_nan, kind), expected, rtol=1e-12, atol=0)


def test_masked_relation_loss_equals_the_loss_on_the_labelled_pairs():
    _, _, y_nan = _batch(3)
    i, j = torch.triu_indices(len(y_nan), len(y_nan), offset=1)
    logits = torch.randn(
        len(i), y_nan.shape[1], generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    diff = y_nan[i] - y_nan[j]
    cols = []
    for c in range(diff.shape[1]):
        keep = torch.isfinite(diff[:, c]) & (diff[:, c] != 0)
        target = (diff[keep, c] > 0).double()
        cols.append(torch.nn.functional.binary_cross_entropy_with_logits(logits[keep, c], target))
    assert torch.allclose(relation_loss(logits, diff), torch.stack(cols).mean(), rtol=1e-12, atol=0)


def test_a_missing_label_gets_no_gradient():
    scores, _, y_nan = _batch(4)
    scores.requires_grad_(True)
    (masked_mse(scores, y_nan) + pairwise_ranking_loss(scores, y_nan)).backward()
    missing = torch.isnan(y_nan)
    assert missing.any() and (scores.grad[missing] == 0).all() and (scores.grad[~missing] != 0).any()


def test_free_targets_are_the_exact_costs():
    archs = V1.sample(6, seed=3)
    names = [*free_target_names(), "macs"]
    values = free_targets(archs, names)
    for arch, row in zip(archs, values):
        c = analytic_costs(arch)
        assert row[names.index("params")] == c.params and row[names.index("macs")] == c.macs
        assert row[names.index("flops")] == 2 * c.macs
        assert row[names.index("params_seg")] == c.params_per_task["seg"]
        for k in V1.exit_choices:
            v = row[names.index(f"macs_e{k}")]
            assert v == c.macs_per_exit[k] if k in arch.exits else np.isnan(v)
    with pytest.raises(ValueError, match=r"invalid free targets: \['latency_ms'\]; allowed"):
        free_targets(archs, ["latency_ms"])


def test_with_free_targets_builds_the_masked_training_set():
    labelled, aux = V1.sample(5, seed=0), V1.sample(7, seed=1)
    y = np.arange(10.0).reshape(5, 2)
    archs, Y, names = with_free_targets(labelled, y, ["acc", "params"], aux)
    assert archs == labelled + aux and Y.shape == (12, len(names))
    assert names[:2] == ["acc", "params"] and names.count("params") == 1 and "flops" in names
    np.testing.assert_array_equal(Y[:5, :2], y)  # labels kept as given, even a free one
    assert np.isnan(Y[5:, 0]).all()  # accuracy: missing on the unlabelled archs, never imputed
    exact = free_targets(aux, names[1:])
    np.testing.assert_array_equal(Y[5:, 1:], exact)
    np.testing.assert_array_equal(Y[:5, 2:], free_targets(labelled, names[2:]))
    with pytest.raises(ValueError, match="invalid targets: 1 names for 2 columns"):
        with_free_targets(labelled, y, ["acc"], aux)


def test_masked_fit_is_deterministic_and_uses_the_unlabelled_archs():
    labelled, aux, held_out = V1.sample(16, seed=5), V1.sample(24, seed=6), V1.sample(10, seed=7)
    acc = np.log(free_targets(labelled, ["flops"])[:, 0])  # stands for a measured target
    archs, Y, _ = with_free_targets(labelled, acc, ["acc"], aux)
    for name, params in (
        ("gin", {"epochs": 4}),
        ("brp_gin", {"epochs": 4}),
        ("xgb_stack", {"n_estimators": 20}),
    ):
        model = create_predictor(name, random_state=3, **params)
        encode = encode_graphs if model.input_kind == "graphs" else encode_archs
        X, X_test = encode(archs), encode(held_out)
        pred = model.fit(X, Y).predict(X_test)
        again = create_predictor(name, random_state=3, **params).fit(X, Y).predict(X_test)
        np.testing.assert_array_equal(pred, again)
        assert pred.shape == (10, Y.shape[1]) and np.isfinite(pred).all()
        alone = create_predictor(name, random_state=3, **params).fit(X[:16], Y[:16]).predict(X_test)
        if name == "xgb_stack":  # the accuracy model sees only the labelled rows
            np.testing.assert_array_equal(alone[:, 0], pred[:, 0])
        else:  # the unlabelled archs change what the shared encoder learns
            assert not np.allclose(alone[:, 0], pred[:, 0])
