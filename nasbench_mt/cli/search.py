"""``nasbench-mt search | search-leaderboard | exit-leaderboard | export-onnx``: offline search, its two
leaderboards, ONNX export."""

from __future__ import annotations

import argparse
import json
import math
import shlex
from pathlib import Path

from nasbench_mt.cli.options import (
    clean_errors,
    command,
    fmt,
    key_values,
    leaderboard_out,
    load_release,
    quiet_arg,
    release_args,
    workers_arg,
)

__all__: list[str] = []


def _search_args(p: argparse.ArgumentParser) -> None:
    from nasbench_mt.search import list_strategies
    from nasbench_mt.search.problem import EXIT_MODES

    p.add_argument(
        "--strategy",
        default="brp",
        choices=list_strategies(),
        help="search strategy (default: %(default)s)",
    )
    p.add_argument(
        "--budget",
        type=int,
        default=100,
        help="number of table queries the search may make (default: %(default)s)",
    )
    p.add_argument(
        "--objective",
        action="append",
        default=None,
        metavar="METRIC",
        help="column to maximise, e.g. mean_acc or test_TASK; min:COLUMN minimises, e.g. min:latency_norm; "
        "delta_p is the multi-task gain over --reference, in %%; with --exits grid or joint the expected "
        "metrics under the exit policy instead: policy_mean_acc, policy_acc_TASK (percent; dense tasks by "
        "pixel accuracy, not the table's mIoU), policy_macs, policy_flops, policy_latency_ms, "
        "policy_latency_norm; repeat for a Pareto search "
        "(default: mean_acc, or policy_mean_acc with --exits)",
    )
    p.add_argument(
        "--constraint",
        action="append",
        default=[],
        metavar="EXPR",
        help='"COLUMN OP NUMBER" in the column\'s unit, e.g. "latency_norm<=2.3" or "params<200k"; '
        "repeatable (default: none)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the strategy and the surrogate (default: %(default)s)"
    )
    p.add_argument(
        "--reference",
        default=None,
        metavar="ARCH",
        help="reference architecture of delta_p (default: the table row of median mean_acc)",
    )
    p.add_argument(
        "--full-space",
        action="store_true",
        help="search the whole space, answering archs outside the table with a surrogate fitted on the table",
    )
    p.add_argument(
        "--surrogate",
        default="xgb",
        metavar="PREDICTOR",
        help="registered predictor used as the surrogate of --full-space; xgb needs the [xgboost] extra "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--exits",
        choices=EXIT_MODES,
        default=None,
        help="early-exit search (pool mode): 'grid' scores each arch under its best setting of --exit-grid "
        "(one objective); 'joint' makes the per-task thresholds decision variables next to the arch's, "
        "scored by the policy_* metrics (default: no early exit)",
    )
    _exit_grid_arg(p, "per-task confidence thresholds to choose from")
    p.add_argument(
        "--exit-thresholds",
        type=_threshold,
        nargs="+",
        default=None,
        metavar="THR",
        help="short for --exits grid --exit-grid THR ...: confidence thresholds in [0, 1]; each queried arch "
        "is scored by the policy_* metrics under its best per-task setting on this grid (default: no exit "
        "policy)",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="strategy hyper-parameter, e.g. population=20; repeatable (default: the strategy's own)",
    )
    p.add_argument(
        "--plot",
        default=None,
        metavar="OUT.png",
        help="also write the trajectory plot (and the Pareto front of a multi-objective search) to this PNG",
    )
    quiet_arg(p)
    release_args(p)


def _exit_grid_arg(p: argparse.ArgumentParser, what: str) -> None:
    from nasbench_mt.search.exits import DEFAULT_EXIT_GRID, format_threshold

    p.add_argument(
        "--exit-grid",
        type=_threshold,
        nargs="+",
        default=None,
        metavar="THR",
        help=f"{what}, each in [0, 1] or 'off' (never leave early) "
        f"(default {' '.join(map(format_threshold, DEFAULT_EXIT_GRID))})",
    )


def _threshold(text: str) -> float:
    """A threshold on the command line: a number, or 'off' / 'inf' (never leave early)."""
    if text.lower() in ("off", "inf"):
        return math.inf
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"invalid threshold {text!r}; allowed: a number in [0, 1] or off"
        ) from None


def _shown(thresholds: dict[str, float]) -> str:
    from nasbench_mt.search.exits import format_threshold

    return ", ".join(f"{t} {format_threshold(v)}" for t, v in thresholds.items())


@command("search", _search_args)
@clean_errors
def _search(args: argparse.Namespace) -> int:
    """Search the benchmark offline (zero training) and print the found arch, its metrics and its regret."""
    from nasbench_mt.search import SearchProblem, create_strategy, run

    if args.plot is not None:  # checked before the search runs, so a bad path never costs its result
        plot_dir = Path(args.plot).resolve().parent
        if not args.plot or Path(args.plot).is_dir():
            raise ValueError(f"invalid --plot: {args.plot!r} is not a file path; allowed: a PNG path")
        if not plot_dir.is_dir():
            raise ValueError(
                f"invalid --plot: {args.plot}: folder {plot_dir} does not exist; allowed: a PNG path "
                "in an existing folder"
            )
        from matplotlib.backend_bases import FigureCanvasBase

        kinds = FigureCanvasBase.get_supported_filetypes()
        suffix = Path(args.plot).suffix.lstrip(".").lower()
        if suffix and suffix not in kinds:
            raise ValueError(f"invalid --plot: {args.plot}: unknown image type; allowed: {sorted(kinds)}")
    bench = load_release(args)
    problem = SearchProblem(
        bench,
        args.objective,
        args.constraint,
        reference=args.reference,
        full_space=args.full_space,
        surrogate=args.surrogate,
        exit_thresholds=args.exit_thresholds,
        seed=args.seed,
        exits=args.exits,
        exit_grid=args.exit_grid,
    )
    strategy = create_strategy(args.strategy, **key_values(args.param, "--param", "population=20"))
    result = run(problem, strategy, args.budget, seed=args.seed, progress=not args.quiet)
    if args.plot:
        from nasbench_mt.search.plot import plot_result

        plot_result(result, args.plot, problem)
    out = result.to_dict()
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    best = out["best"]
    res = best["result"]
    print(f"search {result.strategy}: {result.budget} queries, seed {result.seed}, release {bench.version}")
    print(f"  {result.problem}")
    print(f"found   {best['arch']}  (id {best['arch_id']}{', predicted' if best['predicted'] else ''})")
    if not best["feasible"]:
        print("  no feasible architecture found: showing the least-violating one")
    print("  " + "  ".join(f"{k} {fmt(v)}" for k, v in best["values"].items()))
    shown = {"mean_acc": res["mean_acc"], **{f"test_{t}": v for t, v in res["accuracy"].items()}}
    shown.update(latency_ms=res["latency_ms"], latency_norm=res.get("latency_norm"))
    shown.update(params=res["params"], macs=res["macs"])
    shown["peak_mem_bytes"] = res["peak_mem_bytes"]
    label = "predicted" if best["predicted"] else "measured"
    print(f"  {label}: " + "  ".join(f"{k} {fmt(v) if v is not None else 'nan'}" for k, v in shown.items()))
    if result.best.thresholds:
        print(
            f"  exit thresholds {_shown(result.best.thresholds)}: "
            + "  ".join(f"{k} {fmt(v)}" for k, v in best["metrics"].items())
        )
    if "surrogate_values" in best:
        print(f"  surrogate value: {fmt(best['surrogate_values'])}")
    if best.get("measured_values"):
        print(f"  measured value (in the table): {fmt(best['measured_values'])}")
    oracle = out["oracle"]
    q = out["queries_to_top1"]
    reached = (
        f"top 1% reached at query {q}" if q is not None else f"top 1% not reached in {result.budget} queries"
    )
    grid = " under the same exit-threshold grid" if best["thresholds"] else ""
    print(
        f"regret  {fmt(out['regret'])} vs the table's best {out['objectives'][0]} {fmt(oracle['value'])}"
        f"{grid} ({oracle['arch']}); " + reached
    )
    if len(result.objectives) > 1:
        hv = result.trajectory["hv_regret"].iloc[-1]
        kind = "candidates" if problem.joint else "archs"
        print(f"pareto  {len(out['pareto'])} {kind}; hypervolume regret {fmt(float(hv))}")
        for e in result.pareto:
            policy = f" @ {_shown(e.thresholds)}" if e.thresholds else ""
            values = dict(zip(result.objectives, e.values))
            print(f"  {e.arch}{policy}  " + "  ".join(f"{k} {fmt(v)}" for k, v in values.items()))
    print(f"time    {result.sim_time_s:,.0f} s simulated, {result.wall_s:.1f} s wall")
    return 0


def _board_args(p: argparse.ArgumentParser, strategies: str) -> None:
    """The options both search leaderboards share (``strategies``: the help of --strategies)."""
    p.add_argument(
        "--seeds", type=int, default=20, help="runs per strategy, seeds 0..N-1 (default: %(default)s)"
    )
    p.add_argument(
        "--budgets",
        type=int,
        nargs="+",
        default=[25, 50, 100, 200],
        metavar="QUERIES",
        help="query counts at which regret is read (default: 25 50 100 200)",
    )
    p.add_argument(
        "--strategies",
        nargs="+",
        default=None,
        metavar="NAME",
        help=f"strategies to compare ({strategies})",
    )
    p.add_argument(
        "--out", default="leaderboards", metavar="DIR", help="output directory (default: %(default)s)"
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="smoke mode: 2 seeds, budgets 5 10, a light predictor; must write outside leaderboards/",
    )
    p.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="STRATEGY.NAME=VALUE",
        help="one strategy's hyper-parameter, e.g. brp.initial=8 or evolution.population=20; repeatable; "
        "written into the leaderboard's command line (default: each strategy's own)",
    )
    workers_arg(p, "processes running searches side by side, one thread each; the results are the same "
                "with any number (default: %(default)s)")  # fmt: skip
    release_args(p)
    quiet_arg(p)


def board_params(pairs: list[str], strategies: list[str]) -> dict[str, dict]:
    """``--param STRATEGY.NAME=VALUE`` options as ``{strategy: {name: value}}`` (values read as JSON where
    they parse); ``strategies`` are the names the leaderboard runs."""
    out: dict[str, dict] = {}
    for pair in pairs:
        strategy, dot, rest = pair.partition(".")
        if not dot or strategy not in strategies:
            raise ValueError(
                f"invalid --param {pair!r}; allowed: STRATEGY.NAME=VALUE with STRATEGY one of {strategies}, "
                "e.g. brp.initial=8"
            )
        out.setdefault(strategy, {}).update(key_values([rest], "--param", "brp.initial=8"))
    return out


def _board_run(
    args: argparse.Namespace, strategies: list[str], runs: int, desc: str
) -> tuple[int, list[int], dict, object]:
    """Seeds, budgets, strategy parameters (``--fast`` shrinks them, ``--param`` sets them) and a progress
    bar over ``runs`` runs per seed; ``strategies`` are the names the leaderboard runs."""
    from tqdm.auto import tqdm

    from nasbench_mt.search import create_strategy

    seeds, budgets, params = args.seeds, args.budgets, {}
    if args.fast:
        seeds, budgets = 2, [5, 10]
        params = {"brp": {"initial": 4, "batch": 3, "ensemble": 2, "predictor_params": {"n_estimators": 20}}}
    for name, given in board_params(args.param, strategies).items():
        params[name] = {**params.get(name, {}), **given}
        create_strategy(name, **params[name])  # an unknown setting fails here, before any run
    bar = tqdm(total=runs * seeds, desc=desc, unit="run", disable=args.json or args.quiet)
    return seeds, budgets, params, bar


def _board_command(
    args: argparse.Namespace, name: str, seeds: int, budgets: list[int], extra: list[str]
) -> str:
    """The command line that reproduces a leaderboard, for its header."""
    flags = [f"--path {shlex.quote(args.path)}" if args.path else f"--release {args.release}"]
    flags += ["--fast"] if args.fast else [f"--seeds {seeds}", "--budgets " + " ".join(map(str, budgets))]
    flags += ["--strategies " + " ".join(args.strategies)] if args.strategies else []
    flags += [f"--param {shlex.quote(p)}" for p in args.param]
    flags += [f"--workers {args.workers}"] if args.workers != 1 else []
    return " ".join([f"nasbench-mt {name}", *flags, *extra, f"--out {shlex.quote(args.out)}"])


def _board_report(args: argparse.Namespace, paths: list[Path], answer: dict) -> int:
    """Print the written Markdown (or, with --json, ``answer`` and the files)."""
    if args.json:
        print(json.dumps({"files": [str(p) for p in paths], **answer}, indent=2, default=str))
        return 0
    print(paths[0].read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _leaderboard_args(p: argparse.ArgumentParser) -> None:
    _board_args(p, "default: every registered strategy")
    p.add_argument(
        "--constraint",
        action="append",
        default=None,
        metavar="EXPR",
        help='"COLUMN OP NUMBER", repeatable (default: the standard set, latency_norm <= the '
        "release's median)",
    )


@command("search-leaderboard", _leaderboard_args)
@clean_errors
def _leaderboard(args: argparse.Namespace) -> int:
    """Run every strategy x budgets x seeds and write search.md, search.csv, search.png."""
    from nasbench_mt.search import list_strategies
    from nasbench_mt.search.leaderboard import run_leaderboard, write_leaderboard

    bench = load_release(args)
    out = leaderboard_out(args.out, bench.manifest, args.fast)
    names = args.strategies
    strategies = list(names or list_strategies())
    seeds, budgets, params, bar = _board_run(args, strategies, len(strategies), "search leaderboard")
    board = run_leaderboard(
        bench,
        names,
        seeds,
        budgets,
        constraints=args.constraint,
        strategy_params=params,
        progress=lambda name, seed: bar.update(1),
        workers=args.workers,
    )
    bar.close()
    extra = [f"--constraint {shlex.quote(c)}" for c in args.constraint or []]
    cmd = _board_command(args, "search-leaderboard", seeds, budgets, extra)
    paths = write_leaderboard(board, out, bench, cmd)
    return _board_report(
        args, paths, {"info": board["info"], "hits": board["hits"].to_dict(orient="records")}
    )


def _exit_leaderboard_args(p: argparse.ArgumentParser) -> None:
    from nasbench_mt.search.exit_leaderboard import EXIT_STRATEGIES

    _board_args(p, f"default: {' '.join(EXIT_STRATEGIES)}")
    _exit_grid_arg(p, "per-task confidence thresholds of the exit-aware search")
    p.add_argument(
        "--latency",
        choices=["latency_norm", "latency_ms"],
        default="latency_norm",
        help="expected latency objective: latency_norm (ratio to the reference network) or "
        "latency_ms (milliseconds) (default: %(default)s)",
    )


@command("exit-leaderboard", _exit_leaderboard_args)
@clean_errors
def _exit_leaderboard(args: argparse.Namespace) -> int:
    """Exit-aware search against the same search without exits: write exits.md, exits.csv, exits.png."""
    from nasbench_mt.search.exit_leaderboard import (
        EXIT_STRATEGIES,
        run_exit_leaderboard,
        write_exit_leaderboard,
    )
    from nasbench_mt.search.exits import DEFAULT_EXIT_GRID, format_threshold

    bench = load_release(args)
    out = leaderboard_out(args.out, bench.manifest, args.fast)
    names = args.strategies
    strategies = list(names or EXIT_STRATEGIES)
    seeds, budgets, params, bar = _board_run(args, strategies, 2 * len(strategies), "exit leaderboard")
    board = run_exit_leaderboard(
        bench,
        names,
        seeds,
        budgets,
        exit_grid=DEFAULT_EXIT_GRID if args.exit_grid is None else args.exit_grid,
        latency=args.latency,
        strategy_params=params,
        progress=lambda name, mode, seed: bar.update(1),
        workers=args.workers,
    )
    bar.close()
    extra = ["--exit-grid " + " ".join(map(format_threshold, args.exit_grid))] if args.exit_grid else []
    extra += [f"--latency {args.latency}"] if args.latency != "latency_norm" else []
    paths = write_exit_leaderboard(
        board, out, bench, _board_command(args, "exit-leaderboard", seeds, budgets, extra)
    )
    return _board_report(
        args, paths, {"info": board["info"], "paired": board["paired"].to_dict(orient="records")}
    )


def _onnx_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "arch",
        metavar="ARCH",
        help="architecture string, e.g. the one a search found (needs the [onnx] extra)",
    )
    p.add_argument("--out", required=True, metavar="FILE.onnx", help="ONNX file to write (required)")
    p.add_argument(
        "--upto",
        type=int,
        default=None,
        metavar="EXIT",
        help="export the network only up to this exit position, 1-4 (default: the whole network)",
    )
    p.add_argument(
        "--path",
        default=None,
        metavar="DIR",
        help="release whose search space and tasks the arch belongs to (default: the shipped v1 space)",
    )


@command("export-onnx", _onnx_args)
def _export_onnx(args: argparse.Namespace) -> int:
    """Build an arch's network (untrained weights) and export it to ONNX (one output per task and exit)."""
    import importlib.util

    import torch

    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(
            f"export-onnx needs {missing}, which are not installed; allowed: pip install 'nasbench-mt[onnx]'"
        )
    from nasbench_mt.release.manifest import read_manifest, space_from_manifest
    from nasbench_mt.space.arch import V1
    from nasbench_mt.space.model import build_model, flat_outputs

    out = Path(args.out)
    if not args.out or out.is_dir() or any(p.exists() and not p.is_dir() for p in out.parents):
        raise ValueError(f"invalid --out {args.out!r}; allowed: a file path such as net.onnx")
    space = V1 if args.path is None else space_from_manifest(read_manifest(args.path))
    arch = space.validate(args.arch)
    if args.upto is not None and args.upto not in arch.all_exits:
        raise ValueError(
            f"invalid --upto {args.upto}; allowed: one of the arch's exits {list(arch.all_exits)}"
        )
    net = build_model(arch).eval()
    model, names = flat_outputs(net, args.upto)
    x = torch.zeros(1, arch.space.input_channels, arch.space.input_size, arch.space.input_size)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.onnx.export(model, (x,), str(args.out), input_names=["image"], output_names=names)
    print(f"wrote {args.out}: {arch} -> outputs {names}")
    return 0
