"""``nasbench-mt evaluate-predictors``: the predictor evaluation protocol and its leaderboard."""

from __future__ import annotations

import argparse
import json
import shlex
import time

from nasbench_mt.cli.options import (
    clean_errors,
    command,
    leaderboard_out,
    load_release,
    quiet_arg,
    release_args,
    workers_arg,
)

__all__: list[str] = []

FAST_SIZES = (10, 20)
FAST_SEEDS = 2
_FAST_NEURAL = {"epochs": 10}
_FAST_TREES = {"n_estimators": 50}
_FAST_GRID = {"grid": [{"n_estimators": 20, "max_depth": 3}, {"n_estimators": 50, "max_depth": 2}]}


def fast_params(names: list[str]) -> dict[str, dict]:
    """Light hyper-parameters of ``--fast`` (a smoke run, not a result): fewer epochs and trees, and a
    two-setting grid for the predictors that select their own setting."""
    from predictors import create_predictor

    out = {}
    for name in names:
        keys = create_predictor(name).get_params()
        out[name] = {
            **(_FAST_NEURAL if "epochs" in keys else {}),
            **(_FAST_TREES if "n_estimators" in keys else {}),
            **(_FAST_GRID if "grid" in keys else {}),
        }
    return out


def _evaluate_args(p: argparse.ArgumentParser) -> None:
    # building the parser must not import predictors (torch-geometric): every sub-command pays for it
    p.add_argument(
        "--predictors",
        nargs="+",
        default=None,
        metavar="NAME",
        help="registered predictors to score, e.g. xgb lgb gin (default: every registered one, "
        "predictors.list_predictors())",
    )
    p.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=None,
        metavar="N",
        help="training sample sizes, in architectures (default: 25 50 100 200 500 1000)",
    )
    p.add_argument(
        "--seeds", type=int, default=5, help="training samples per size, seeds 0..N-1 (default: %(default)s)"
    )
    p.add_argument(
        "--targets",
        nargs="+",
        default=None,
        metavar="COLUMN",
        help="table columns to predict (default: latency_norm, each task's test score, mean_acc, params, "
        "flops)",
    )
    p.add_argument(
        "--test-size",
        type=float,
        default=None,
        help="held-out test split: a number of rows (>= 1) or a fraction of the table (< 1) (default: 1000 "
        "rows, or 20%% of a table under 5,000 rows)",
    )
    p.add_argument(
        "--fit-means",
        action="store_true",
        help="fit mean_acc as a target of its own (default: the mean of the task predictions)",
    )
    p.add_argument(
        "--fit",
        choices=("joint", "separate", "both"),
        default="joint",
        help="multi-target predictors: one model for every target (joint), one model per target "
        "(separate), or both, compared in the leaderboard (default: %(default)s)",
    )
    p.add_argument(
        "--separate-sizes",
        type=int,
        nargs="+",
        default=None,
        metavar="ARCHS",
        help="with --fit both: train sizes that also get the separate fit (default: every size; a neural "
        "predictor's separate fit costs one fit per target)",
    )
    p.add_argument(
        "--aux-archs",
        type=int,
        default=0,
        metavar="M",
        help="also fit each predictor that masks missing labels on M unlabelled archs carrying only free "
        "targets (exact costs), compared with the plain fit; 0 is off (default: %(default)s)",
    )
    p.add_argument(
        "--aux-source",
        choices=("space", "pool"),
        default="space",
        help="where the unlabelled archs come from: sampled from the search space or the training pool "
        "without its labels (default: %(default)s)",
    )
    p.add_argument(
        "--aux-sizes",
        type=int,
        nargs="+",
        default=None,
        metavar="ARCHS",
        help="train sizes that get the --aux-archs fit (default: the sizes up to 200)",
    )
    p.add_argument(
        "--features",
        default="onehot",
        help="flat encoding and extras: onehot, ordinal, onehot+proxies, ordinal+proxies; +proxies appends "
        "the release's zero-cost proxy columns (default: %(default)s)",
    )
    p.add_argument(
        "--out", default="leaderboards", metavar="DIR", help="output directory (default: %(default)s)"
    )
    p.add_argument(
        "--work",
        default=None,
        metavar="DIR",
        help="keep each finished fit in DIR, so that a killed or repeated run with the same settings fits "
        "only what is missing; the scores do not depend on it. Fits are matched by settings, table and "
        "predictor parameters, not by code: after changing a predictor's code, use a new DIR (default: keep "
        "nothing)",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help=f"smoke mode: sizes {' '.join(map(str, FAST_SIZES))}, {FAST_SEEDS} seeds, light predictors; "
        "must write outside leaderboards/",
    )
    workers_arg(
        p,
        "processes fitting side by side; the scores are the same with any number, only the recorded fit "
        "seconds include their contention (default: %(default)s)",
    )
    quiet_arg(p)
    release_args(p)


@command("evaluate-predictors", _evaluate_args)
@clean_errors
def _evaluate(args: argparse.Namespace) -> int:
    """Score predictors by the fixed protocol; write predictors.md, predictors.csv and two plots."""
    from tqdm.auto import tqdm

    from predictors import list_predictors
    from predictors.evaluation import TRAIN_SIZES, evaluate_predictors
    from predictors.leaderboard import write_predictor_leaderboard

    start = time.perf_counter()
    unknown = sorted(set(args.predictors or ()) - set(list_predictors()))
    if unknown:
        raise ValueError(f"unknown predictors {unknown}; allowed: {list_predictors()}")
    bench = load_release(args)
    out = leaderboard_out(args.out, bench.manifest, args.fast)
    names = args.predictors or list_predictors()
    sizes, seeds, params = args.sizes or list(TRAIN_SIZES), args.seeds, {}
    if args.fast:
        sizes, seeds, params = list(FAST_SIZES), FAST_SEEDS, fast_params(names)
    test_size = args.test_size
    if test_size is not None and test_size >= 1:
        if test_size != int(test_size):
            raise ValueError(
                f"invalid --test-size {test_size}; allowed: a whole number of rows or a fraction < 1"
            )
        test_size = int(test_size)
    bar = tqdm(
        total=len(names) * len(set(sizes)) * seeds,
        desc="evaluate predictors",
        unit="fit",
        disable=args.quiet or args.json,
    )

    def progress(name: str, size: int, seed: int) -> None:
        bar.set_postfix_str(f"{name} n={size} seed={seed}", refresh=False)
        bar.update(1)

    ev = evaluate_predictors(
        bench,
        names,
        sizes,
        seeds,
        targets=args.targets,
        test_size=test_size,
        predictor_params=params,
        progress=progress,
        derive_means=not args.fit_means,
        fit=args.fit,
        aux_archs=args.aux_archs,
        aux_source=args.aux_source,
        aux_sizes=args.aux_sizes,
        features=args.features,
        workers=args.workers,
        work=args.work,
        separate_sizes=args.separate_sizes,
    )
    bar.close()
    flags = [f"--path {shlex.quote(args.path)}" if args.path else f"--release {args.release}"]
    flags += [f"--predictors {' '.join(args.predictors)}"] if args.predictors else []
    if args.fast:
        flags.append("--fast")
    else:
        flags += ["--sizes " + " ".join(map(str, sizes)), f"--seeds {seeds}"]
    flags += [f"--targets {' '.join(args.targets)}"] if args.targets else []
    flags += [f"--test-size {test_size}"] if test_size is not None else []
    flags += ["--fit-means"] if args.fit_means else []
    flags += [f"--fit {args.fit}"] if args.fit != "joint" else []
    flags += ["--separate-sizes " + " ".join(map(str, args.separate_sizes))] if args.separate_sizes else []
    if args.aux_archs:
        flags += [f"--aux-archs {args.aux_archs}", f"--aux-source {args.aux_source}"]
        flags += ["--aux-sizes " + " ".join(map(str, args.aux_sizes))] if args.aux_sizes else []
    flags += [f"--features {args.features}"] if args.features != "onehot" else []
    flags += [f"--workers {args.workers}"] if args.workers != 1 else []
    cmd = " ".join(["nasbench-mt evaluate-predictors", *flags, f"--out {shlex.quote(args.out)}"])
    paths = write_predictor_leaderboard(ev, out, bench, cmd, time.perf_counter() - start)
    if args.json:
        print(json.dumps({"files": [str(p) for p in paths], "info": ev.info}, indent=2, default=str))
        return 0
    text = (out / "predictors.md").read_text()
    print(text.split("\n## Kendall tau by train size")[0].rstrip())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0
