"""``nasbench-mt search | search-leaderboard | export-onnx``: offline search, its leaderboard, ONNX export."""

from __future__ import annotations

import argparse
import json
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
)

__all__: list[str] = []


def _search_args(p: argparse.ArgumentParser) -> None:
    from nasbench_mt.search import list_strategies

    p.add_argument(
        "--strategy", default="brp", choices=list_strategies(), help="search strategy (default brp)"
    )
    p.add_argument("--budget", type=int, default=100, help="number of queries (default 100)")
    p.add_argument(
        "--objective",
        action="append",
        default=None,
        help="metric to optimise: mean_acc (default), test_digit, min:latency_ms, delta_p (repeat: "
        "multi-objective); with --exit-thresholds a policy metric: policy_mean_acc (default), "
        "policy_acc_TASK, policy_latency_ms, policy_latency_norm, policy_macs, policy_flops",
    )
    p.add_argument("--constraint", action="append", default=[], help='e.g. "latency_norm<=2.3" (repeatable)')
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--reference", default=None, help="reference arch of delta_p (default: median mean_acc row)"
    )
    p.add_argument(
        "--full-space", action="store_true", help="search the whole space through a fitted surrogate"
    )
    p.add_argument("--surrogate", default="xgb", help="surrogate predictor of --full-space (default xgb)")
    p.add_argument(
        "--exit-thresholds",
        type=float,
        nargs="+",
        default=None,
        metavar="THR",
        help="early-exit threshold grid: each arch is scored under its best per-task thresholds on it, "
        "by policy_* metrics (dense tasks by pixel accuracy, not the table's mIoU)",
    )
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="strategy parameter")
    p.add_argument("--plot", default=None, metavar="OUT.png", help="write the trajectory (and Pareto) plot")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    release_args(p)


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
    if best["thresholds"]:
        print(
            f"  exit thresholds {best['thresholds']}: "
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
        print(f"pareto  {len(out['pareto'])} archs; hypervolume regret {fmt(float(hv))}")
        for e in out["pareto"]:
            print(f"  {e['arch']}  " + "  ".join(f"{k} {fmt(v)}" for k, v in e["values"].items()))
    print(f"time    {result.sim_time_s:,.0f} s simulated, {result.wall_s:.1f} s wall")
    return 0


def _leaderboard_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--budgets", type=int, nargs="+", default=[25, 50, 100, 200])
    p.add_argument("--strategies", nargs="+", default=None, help="default: every registered strategy")
    p.add_argument("--constraint", action="append", default=None, help="default: the standard constraint set")
    p.add_argument("--out", default="leaderboards", help="output directory (default leaderboards/)")
    p.add_argument(
        "--fast", action="store_true", help="CI smoke mode: 2 seeds, budgets 5 10, light predictor"
    )
    release_args(p)
    quiet_arg(p)


@command("search-leaderboard", _leaderboard_args)
@clean_errors
def _leaderboard(args: argparse.Namespace) -> int:
    """Run every strategy x budgets x seeds and write search.md, search.csv, search.png."""
    from nasbench_mt.search.leaderboard import run_leaderboard, write_leaderboard

    bench = load_release(args)
    out = leaderboard_out(args.out, bench.manifest, args.fast)
    seeds, budgets, params = args.seeds, args.budgets, {}
    if args.fast:
        seeds, budgets = 2, [5, 10]
        params = {"brp": {"initial": 4, "batch": 3, "predictor_params": {"epochs": 10}}}
    from tqdm.auto import tqdm

    from nasbench_mt.search import list_strategies

    names = args.strategies
    bar = tqdm(
        total=len(names or list_strategies()) * seeds,
        desc="search leaderboard",
        unit="run",
        disable=args.json or args.quiet,
    )
    board = run_leaderboard(
        bench,
        names,
        seeds,
        budgets,
        constraints=args.constraint,
        strategy_params=params,
        progress=lambda name, seed: bar.update(1),
    )
    bar.close()
    flags = [f"--path {shlex.quote(args.path)}" if args.path else f"--release {args.release}"]
    flags += ["--fast"] if args.fast else [f"--seeds {seeds}", "--budgets " + " ".join(map(str, budgets))]
    flags += ["--strategies " + " ".join(names)] if names else []
    flags += [f"--constraint {shlex.quote(c)}" for c in args.constraint or []]
    cmd = " ".join(["nasbench-mt search-leaderboard", *flags, f"--out {shlex.quote(args.out)}"])
    paths = write_leaderboard(board, out, bench, cmd)
    if args.json:
        print(
            json.dumps(
                {
                    "files": [str(p) for p in paths],
                    "info": board["info"],
                    "hits": board["hits"].to_dict(orient="records"),
                },
                indent=2,
                default=str,
            )
        )
        return 0
    print((out / "search.md").read_text())
    print("wrote " + ", ".join(str(p) for p in paths))
    return 0


def _onnx_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("arch", metavar="ARCH", help="canonical architecture string (e.g. the one a search found)")
    p.add_argument("--out", required=True, help="output .onnx file")
    p.add_argument("--upto", type=int, default=None, help="stop after this exit (default: the whole network)")


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
    from nasbench_mt.space.arch import V1
    from nasbench_mt.space.model import build_model, flat_outputs

    out = Path(args.out)
    if not args.out or out.is_dir() or any(p.exists() and not p.is_dir() for p in out.parents):
        raise ValueError(f"invalid --out {args.out!r}; allowed: a file path such as net.onnx")
    arch = V1.validate(args.arch)
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
