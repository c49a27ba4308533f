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
  own part of the path (split at ``shared_depth_t{task}``, the feature that explains most of the variance).

``mean_acc`` is scored as the mean of the task predictions (the leaderboard's derived mean).

    OMP_NUM_THREADS=1 python benchmarks/predictor_ablations.py --path data/v1 --sizes 100 300 --seeds 5

appends a table to ``benchmarks/results/predictor_ablations.md``.
"""

from __future__ import annotations

import argparse
import platform
import sys
from pathlib import Path

import numpy as np
from sklearn.linear_model import RidgeCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_report

from nasbench_mt import load_benchmark
from nasbench_mt.costs import analytic_costs
from predictors import encode_archs
from predictors.evaluation import _fit_predict, _training_order, noise_ceiling, split_rows
from predictors.features import _shared_depths
from predictors.metrics import kendall_tau

VARIANTS = ("lgb", "xgb", "lgb bag10", "lgb+xgb", "ridge", "lgb val+test", "lgb +path")


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
    X_path = np.hstack([X, np.array([path_features(a, bench.tasks) for a in archs], dtype=float)])
    test_cols = [f"test_{t.name}" for t in tasks]
    Y_test = table[test_cols].to_numpy(dtype=float)
    Y_val = table[[f"val_{t.name}" for t in tasks]].to_numpy(dtype=float)
    test, pool = split_rows(len(table), 1000 if len(table) >= 2000 else None, 0)
    truth = np.column_stack([Y_test[test], Y_test[test].mean(axis=1)])

    scores: dict[tuple[int, str], list[list[float]]] = {}
    bar = tqdm(total=len(args.sizes) * args.seeds, desc="ablations")
    for n in args.sizes:
        for seed in range(args.seeds):
            tr = _training_order(pool, seed)[:n]

            def fit(name: str, X_all: np.ndarray, Y: np.ndarray, s: int = seed, rows=tr) -> np.ndarray:
                """The leaderboard's fit: one model per target, standardised on the sample, mapped back."""
                return _fit_predict(name, {}, s, X_all[rows], Y, X_all[test], joint=False)

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
        for name in VARIANTS:
            v = np.asarray(scores[(n, name)])
            cells = [f"{m:.3f} +- {s:.3f}" for m, s in zip(v.mean(axis=0), v.std(axis=0))]
            lines.append(f"| {n} | {name} | " + " | ".join(cells) + " |")
    append_report(args.out, [*lines, ""])


if __name__ == "__main__":
    main()
