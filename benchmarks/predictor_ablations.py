"""What moves a predictor's Kendall tau on the v1 accuracy targets with few training architectures?

Issue 6 asks the best predictor at 100 training archs to come within 0.05 of the seed-to-seed tau on each
task.  This script measures the candidate levers on the release's own rows under the leaderboard's split
(:func:`predictors.evaluation.split_rows`, 1,000 held-out rows; training samples are the first N rows of
each seed's pool permutation, as in :func:`predictors.evaluate_predictors`):

- ``lgb`` / ``xgb``: the registered predictors with default parameters (one model per target, targets
  standardised on the training sample), the reference rows;
- ``lgb bag10``: the mean of 10 ``lgb`` fits with different seeds (variance reduction);
- ``lgb+xgb``: the mean of the two (a two-model ensemble);
- ``ridge``: RidgeCV on the standardised flat features (a strong-bias linear model);
- ``lgb val+test``: trained on the mean of each training arch's validation and test score (the two splits
  are independent samples of the same weights' accuracy, so their mean halves the sampling noise of the
  training labels); scored, like every row, against the held-out rows' test scores;
- ``lgb +path``: the flat features plus, per task, the blocks, MACs and early exits on its shared and on its
  own part of the path (split at ``shared_depth_t{task}``, the feature that explains most of the variance);
- ``xgb tuned``: ``xgb`` with the best of :data:`XGB_GRID` (24 settings), chosen per seed by the Kendall tau
  of the derived mean_acc on 1,000 validation rows (the last 1,000 of the seed's pool permutation, never in
  a training sample of up to ``len(pool) - 1000`` rows);
- ``lgb +proxies`` / ``xgb +proxies``: the flat features plus the release's zero-cost proxies
  (:func:`predictors.features.proxy_features`, the leaderboard's ``--features onehot+proxies``); only when
  every row has them;
- ``xgb d3`` / ``xgb d3 ordinal``: ``xgb`` with the setting the tuning picks most often (:data:`XGB_D3`),
  on the one-hot and on the ordinal features (kernel and expand as numbers: one cut where one-hot needs two);
- ``xgb d3 task-stacked``: one :data:`XGB_D3` model for all tasks, on one row per (arch, task): the task as a
  one-hot, that task's own branch columns (branch point one-hot and number, shared depth, path parameters)
  and the columns every task shares (blocks, depths, exits, costs); targets standardised per task on the
  training sample and mapped back.  Tasks can share what a branch point or a block does to accuracy;
- ``gp``: a Gaussian process (constant x RBF + constant x linear + white noise, hyper-parameters by marginal
  likelihood) per target on the standardised flat features.

``mean_acc`` is scored as the mean of the task predictions (the leaderboard's derived mean).

    OMP_NUM_THREADS=1 python benchmarks/predictor_ablations.py --path data/v1 --sizes 100 200 --seeds 5

appends a table to ``benchmarks/results/predictor_ablations.md``.
"""

from __future__ import annotations

import argparse
import platform
import sys
from collections import Counter
from itertools import product
from pathlib import Path

import numpy as np
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, DotProduct, WhiteKernel
from sklearn.gaussian_process.kernels import ConstantKernel as C
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_report

from nasbench_mt import load_benchmark
from nasbench_mt.space.costs import analytic_costs
from predictors import encode_archs
from predictors.evaluation import noise_ceiling, split_rows
from predictors.features import _shared_depths, feature_names, proxy_features
from predictors.fitting import fit_predict, training_order
from predictors.metrics import kendall_tau

VARIANTS = (
    "lgb", "xgb", "lgb bag10", "lgb+xgb", "ridge", "gp", "lgb val+test", "lgb +path", "lgb +proxies",
    "xgb +proxies", "xgb tuned", "xgb d3", "xgb d3 ordinal", "xgb d3 task-stacked",
)  # fmt: skip
XGB_D3 = {"max_depth": 3, "n_estimators": 1000, "learning_rate": 0.02, "colsample_bytree": 0.8}
XGB_GRID = [
    {"max_depth": d, "n_estimators": n, "learning_rate": lr, "colsample_bytree": c}
    for d, n, lr, c in product((2, 3, 6), (300, 1000), (0.02, 0.05), (0.3, 0.8))
]
N_VALIDATION = 1000


def gaussian_process(X_train: np.ndarray, Y: np.ndarray, X_test: np.ndarray, seed: int) -> np.ndarray:
    """One GP per target column on standardised features: (len(X_test), Y.shape[1])."""
    kernel = C() * RBF(length_scale=10.0) + C() * DotProduct() + WhiteKernel()
    cols = []
    for j in range(Y.shape[1]):
        gp = GaussianProcessRegressor(kernel, normalize_y=True, random_state=seed)
        cols.append(make_pipeline(StandardScaler(), gp).fit(X_train, Y[:, j]).predict(X_test))
    return np.column_stack(cols)


def tuned_xgb(X: np.ndarray, Y: np.ndarray, train, val, test, seed: int) -> tuple[np.ndarray, dict]:
    """``xgb`` with the :data:`XGB_GRID` setting whose derived mean ranks ``val`` best; predicts ``test``."""
    rows = np.concatenate([val, test])
    best, best_tau, best_pred = None, -np.inf, None
    for params in XGB_GRID:
        pred = fit_predict("xgb", params, seed, X[train], Y[train], X[rows], joint=False)
        tau = kendall_tau(Y[val].mean(axis=1), pred[: len(val)].mean(axis=1))
        if tau > best_tau:
            best, best_tau, best_pred = params, tau, pred[len(val) :]
    return best_pred, best


def task_stacked(X: np.ndarray, names: list[str], Y: np.ndarray, train, test, seed: int) -> np.ndarray:
    """One :data:`XGB_D3` model over (arch, task) rows (see the module docstring): (len(test), n_tasks)."""
    n_tasks = Y.shape[1]
    own = [
        [i for i, n in enumerate(names) if n.startswith(f"branch_t{t}") or n == f"shared_depth_t{t}"]
        for t in range(n_tasks)
    ]
    task_cols = {i for cols in own for i in cols}
    params_cols = [i for i, n in enumerate(names) if n.startswith("params_")]
    common = [i for i in range(len(names)) if i not in task_cols and i not in params_cols]

    def rows(idx: np.ndarray) -> np.ndarray:
        blocks, x = [], X[idx]
        for t in range(n_tasks):
            onehot = np.zeros((len(idx), n_tasks))
            onehot[:, t] = 1.0
            blocks.append(np.hstack([onehot, x[:, own[t]], x[:, [params_cols[t]]], x[:, common]]))
        return np.vstack(blocks)

    mu, sd = Y[train].mean(axis=0), Y[train].std(axis=0)
    z = ((Y[train] - mu) / sd).T.reshape(-1, 1)
    pred = fit_predict("xgb", XGB_D3, seed, rows(train), z, rows(test), joint=False)
    return pred.reshape(n_tasks, len(test)).T * sd + mu


def path_features(arch, tasks) -> list[float]:
    """Per task: blocks, MACs and early exits on the shared part of its path and on its own part."""
    seg = analytic_costs(arch, tasks).segment_macs
    names = [t.name for t in tasks]
    stage_macs = [
        seg.get(f"trunk_s{s}") or next((seg[f"{n}_s{s}"] for n in names if f"{n}_s{s}" in seg), 0)
        for s in range(1, len(arch.stages) + 1)
    ]
    depth = [len(stage) for stage in arch.stages]
    out: list[float] = []
    for shared in _shared_depths(arch.branches):
        out += [sum(depth[:shared]), sum(depth[shared:]), sum(stage_macs[:shared]), sum(stage_macs[shared:])]
        out += [sum(x <= shared for x in arch.exits), sum(x > shared for x in arch.exits)]
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--path", default="data/v1", help="release directory")
    ap.add_argument("--sizes", type=int, nargs="+", default=[100, 300])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "predictor_ablations.md"))
    args = ap.parse_args(argv)

    bench = load_benchmark(path=args.path)
    table = bench.table.sort_values("arch_id").reset_index(drop=True)
    tasks = [t for t in bench.tasks if t.higher_is_better]
    archs = [bench.space.validate(a) for a in table["arch"]]
    X = encode_archs(archs, tasks=bench.tasks)
    X_ordinal = encode_archs(archs, tasks=bench.tasks, encoding="ordinal")
    names = feature_names(bench.space, tasks=bench.tasks)
    X_path = np.hstack([X, np.array([path_features(a, bench.tasks) for a in archs], dtype=float)])
    try:
        X_proxies = np.hstack([X, proxy_features(table)[1]])
    except ValueError:  # no proxies side table, or rows without one: the +proxies variants are left out
        X_proxies = None
    test_cols = [f"test_{t.name}" for t in tasks]
    Y_test = table[test_cols].to_numpy(dtype=float)
    Y_val = table[[f"val_{t.name}" for t in tasks]].to_numpy(dtype=float)
    test, pool = split_rows(len(table), 1000 if len(table) >= 2000 else None, 0)
    truth = np.column_stack([Y_test[test], Y_test[test].mean(axis=1)])

    if max(args.sizes) > len(pool) - N_VALIDATION:
        ap.error(
            f"--sizes up to {len(pool) - N_VALIDATION} ({len(pool)} pool rows, {N_VALIDATION} for validation)"
        )
    scores: dict[tuple[int, str], list[list[float]]] = {}
    chosen: dict[int, Counter] = {n: Counter() for n in args.sizes}
    bar = tqdm(total=len(args.sizes) * args.seeds, desc="ablations")
    for n in args.sizes:
        for seed in range(args.seeds):
            order = training_order(pool, seed)
            tr, val = order[:n], order[-N_VALIDATION:]

            def fit(name: str, X_all: np.ndarray, Y: np.ndarray, s: int = seed, rows=tr) -> np.ndarray:
                """The leaderboard's fit: one model per target, standardised on the sample, mapped back."""
                return fit_predict(name, {}, s, X_all[rows], Y, X_all[test], joint=False)

            # GCV picks each target's alpha independently of that target's scale: no standardising needed
            alphas = np.logspace(-1, 4, 30)
            ridge = make_pipeline(StandardScaler(), RidgeCV(alphas=alphas, alpha_per_target=True))
            preds = {
                "lgb": fit("lgb", X, Y_test[tr]),
                "xgb": fit("xgb", X, Y_test[tr]),
                "ridge": ridge.fit(X[tr], Y_test[tr]).predict(X[test]),
                "lgb val+test": fit("lgb", X, (Y_test[tr] + Y_val[tr]) / 2),
                "lgb +path": fit("lgb", X_path, Y_test[tr]),
            }
            if X_proxies is not None:
                preds["lgb +proxies"] = fit("lgb", X_proxies, Y_test[tr])
                preds["xgb +proxies"] = fit("xgb", X_proxies, Y_test[tr])
            preds["xgb d3"] = fit_predict("xgb", XGB_D3, seed, X[tr], Y_test[tr], X[test], joint=False)
            preds["xgb d3 ordinal"] = fit_predict(
                "xgb", XGB_D3, seed, X_ordinal[tr], Y_test[tr], X_ordinal[test], joint=False
            )
            preds["xgb d3 task-stacked"] = task_stacked(X, names, Y_test, tr, test, seed)
            preds["gp"] = gaussian_process(X[tr], Y_test[tr], X[test], seed)
            preds["xgb tuned"], params = tuned_xgb(X, Y_test, tr, val, test, seed)
            chosen[n][tuple(sorted(params.items()))] += 1
            bags = [fit("lgb", X, Y_test[tr], 1000 * seed + r) for r in range(10)]
            preds["lgb bag10"] = np.mean(bags, axis=0)
            preds["lgb+xgb"] = (preds["lgb"] + preds["xgb"]) / 2
            for name, p in preds.items():
                p = np.column_stack([p, p.mean(axis=1)])
                scores.setdefault((n, name), []).append(
                    [kendall_tau(truth[:, j], p[:, j]) for j in range(truth.shape[1])]
                )
            bar.update()
    bar.close()

    targets = [*test_cols, "mean_acc"]
    ceiling = noise_ceiling(bench, targets).set_index("target")["ceiling_tau"]
    lines = [
        f"## `python benchmarks/predictor_ablations.py --path {args.path} --sizes "
        f"{' '.join(map(str, args.sizes))} --seeds {args.seeds}`",
        "",
        f"{len(table):,} rows ({len(test):,} held out); Kendall tau on the held-out test scores, "
        f"mean +- sd over {args.seeds} seeds; machine: {platform.machine()}, "
        f"Python {platform.python_version()}.",
        "",
        "| train archs | variant | " + " | ".join(targets) + " |",
        "|---|---|" + "---|" * len(targets),
        "| | seed-to-seed ceiling | " + " | ".join(f"{ceiling.get(t, np.nan):.3f}" for t in targets) + " |",
    ]
    for n in args.sizes:
        for name in [v for v in VARIANTS if (n, v) in scores]:
            v = np.asarray(scores[(n, name)])
            cells = [f"{m:.3f} +- {s:.3f}" for m, s in zip(v.mean(axis=0), v.std(axis=0))]
            lines.append(f"| {n} | {name} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"`xgb tuned`: settings chosen on the {N_VALIDATION:,} validation rows "
        f"(times out of {args.seeds} seeds):",
    ]
    for n in args.sizes:
        picks = "; ".join(f"{dict(k)} x{c}" for k, c in chosen[n].most_common())
        lines.append(f"- {n} archs: {picks}")
    append_report(args.out, [*lines, ""])


if __name__ == "__main__":
    main()
