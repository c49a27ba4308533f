"""nasbench-mt predictor library: encoders, surrogate and ranking predictors, metrics.

Example::

    >>> from nasbench_mt import V1
    >>> from predictors import create_predictor, encode_archs, feature_names
    >>> from predictors.metrics import kendall_tau
    >>> archs = V1.sample(60, seed=0)
    >>> X = encode_archs(archs)
    >>> y = X[:, feature_names().index("macs")]
    >>> model = create_predictor("xgb", random_state=0).fit(X[:40], y[:40])
    >>> kendall_tau(y[40:], model.predict(X[40:])) > 0.5
    True
"""

from predictors import baselines, boosted_trees, brp, gnn, selection, tree_rankers  # noqa: F401  (register)
from predictors.analytic_costs import analytic_costs
from predictors.auxiliary import with_free_targets
from predictors.base import Predictor
from predictors.encoding import GraphList, LayerTable
from predictors.evaluation import evaluate_predictors
from predictors.features import encode_archs, feature_names
from predictors.graph import encode_graphs, node_feature_names
from predictors.registry import (
    create_predictor,
    list_predictors,
    load_predictor,
    predictor_class,
    register_predictor,
)
from predictors.sequence import encode_sequences, layer_table

__all__ = [
    "GraphList",
    "LayerTable",
    "Predictor",
    "analytic_costs",
    "create_predictor",
    "encode_archs",
    "encode_graphs",
    "encode_sequences",
    "evaluate_predictors",
    "feature_names",
    "layer_table",
    "list_predictors",
    "load_predictor",
    "node_feature_names",
    "predictor_class",
    "register_predictor",
    "with_free_targets",
]
