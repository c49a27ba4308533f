"""``nasbench-mt train-supernet`` and ``nasbench-mt generate``: the measurement pipeline's commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nasbench_mt.cli.options import command, count_arg, deprecated_alias, key_values, release_dir_args
from nasbench_mt.release.schema import RELEASE_MINIMUMS


def _suite_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--suite", default="mnist-scenes", help="dataset suite (default: mnist-scenes)")
    p.add_argument(
        "--suite-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="suite keyword argument, e.g. n_train=2000 (repeatable; values parsed as JSON when possible)",
    )


def _device_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="cpu",
        help=f"{what} device (default cpu; auto = cuda when available). Seeded runs are bit-identical on "
        "the CPU only",
    )


def _train_supernet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out", required=True, help="checkpoint path (.pt); a .json side file is written beside it"
    )
    p.add_argument("--epochs", type=float, default=10.0)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-random", type=int, default=2, help="random subnets per sandwich step (default 2)")
    p.add_argument(
        "--separate-smallest",
        action="store_true",
        help="add the smallest blocks with one backbone per task to every sandwich step",
    )
    p.add_argument(
        "--solo-branch",
        action="store_true",
        help="route a trunk stage that only one task still uses through that task's branch copy",
    )
    p.add_argument(
        "--branch-delta",
        action="store_true",
        help="store each task branch as the trunk block plus a per-task difference (initialised at zero)",
    )
    p.add_argument(
        "--independent-kernels",
        action="store_true",
        help="give each kernel size its own depthwise weights instead of the largest kernel's centre crop",
    )
    p.add_argument(
        "--distill",
        type=float,
        default=0.0,
        help="in-place distillation weight in [0, 1] (the largest subnet teaches the others; default 0: off)",
    )
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: all cores)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue a killed run from the training state beside --out (OUT.state.pt, written every "
        "--state-every steps); bit-identical on the CPU to an uninterrupted run",
    )
    p.add_argument("--state-every", type=int, default=25, help="steps between training states (default 25)")
    _device_arg(p, "training")
    _suite_args(p)


def train_state_path(out: str) -> Path:
    """Where ``train-supernet --out OUT`` keeps its resumable training state."""
    out_path = Path(out)
    return out_path.with_name(out_path.stem + ".state.pt")


@command("train-supernet", _train_supernet_args)
def _train_supernet(args: argparse.Namespace) -> int:
    """Train the weight-sharing supernet (sandwich rule) and save it for `generate --protocol supernet`."""
    import torch

    from nasbench_mt.measure.datasets import load_suite
    from nasbench_mt.measure.measurer import save_supernet
    from nasbench_mt.measure.supernet import Supernet
    from nasbench_mt.measure.train import TrainConfig, load_train_state, resolve_device, train_supernet
    from nasbench_mt.release.provenance import cpu_model

    state_path = train_state_path(args.out)
    if state_path.is_file() and not args.resume:
        raise SystemExit(
            f"nasbench-mt train-supernet: a training state {state_path} exists (a run was stopped); pass "
            "--resume to continue it, or delete it to start afresh"
        )
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cfg = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, seed=args.seed)
    kwargs = key_values(args.suite_arg, "--suite-arg", "n_train=1000")
    suite = load_suite(args.suite, **kwargs)
    torch.manual_seed(args.seed)
    try:
        net = Supernet(
            suite.tasks,
            solo_branch=args.solo_branch,
            branch_delta=args.branch_delta,
            independent_kernels=args.independent_kernels,
        )
    except ValueError as err:
        raise SystemExit(f"nasbench-mt train-supernet: {err}") from None
    losses: list[float] = []
    try:
        train_supernet(
            net,
            suite.train,
            cfg,
            n_random=args.n_random,
            distill=args.distill,
            separate_smallest=args.separate_smallest,
            progress=True,
            on_step=lambda s, v: losses.append(v),
            device=device,
            state_path=state_path,
            state_every=args.state_every,
        )
    except ValueError as err:
        raise SystemExit(f"nasbench-mt train-supernet: {err}") from None
    net = net.cpu()
    # the state written after the last step holds the training seconds of every run that resumed it
    seconds = float(load_train_state(state_path)["seconds"])
    meta = {
        "command": " ".join(["nasbench-mt", *sys.argv[1:]]),
        "seed": args.seed,
        "train_config": cfg.__dict__,
        "n_random": args.n_random,
        "distill": args.distill,
        "separate_smallest": args.separate_smallest,
        "structure": net.structure,
        "suite": args.suite,
        "suite_kwargs": kwargs,
        "suite_fingerprint": suite.fingerprint,
        "train_seconds": round(seconds, 1),
        "threads": torch.get_num_threads(),
        "device": str(device),
        "torch": torch.__version__,
        "cpu": cpu_model(),
        "final_loss": sum(losses[-20:]) / max(1, len(losses[-20:])),
    }
    save_supernet(net, args.out, meta)
    state_path.unlink(missing_ok=True)
    print(
        f"supernet saved to {args.out} after {seconds:.0f} s (final sandwich loss {meta['final_loss']:.3f})"
    )
    return 0


def _generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", required=True, help="release directory (e.g. data/v1)")
    p.add_argument("--n", type=int, required=True, help="number of architectures (V1.sample(n, seed))")
    p.add_argument("--seed", type=int, default=0, help="architecture sampling seed")
    p.add_argument("--offset", type=int, default=0, help="skip the first OFFSET sampled architectures")
    p.add_argument(
        "--protocol",
        choices=["supernet", "standalone", "latency", "latency-onnx"],
        default="supernet",
        help="how to measure (latency: PyTorch eager; latency-onnx: ONNX Runtime, needs the [onnx] extra)",
    )
    p.add_argument("--supernet", help="supernet checkpoint (supernet protocol)")
    p.add_argument(
        "--prefix",
        default=None,
        help="output file prefix: archs (default for supernet), latency, ort-latency, calibration (default "
        "for standalone), or noise-<name>",
    )
    p.add_argument("--shard-size", type=int, default=250)
    p.add_argument("--workers", type=int, default=1, help="local process pool size (one torch thread each)")
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local: this machine (--workers); ray: one Ray task per architecture (needs the [ray] extra)",
    )
    p.add_argument(
        "--address", default=None, help="ray: cluster address, e.g. auto or ray://head:10001 (default: local)"
    )
    p.add_argument("--max-retries", type=int, default=3, help="ray: retries of a failed task (default 3)")
    p.add_argument("--n-per-sample", type=int, default=1000, help="test scenes kept for per-sample exit data")
    p.add_argument("--epochs", type=float, default=6.0, help="standalone protocol: training epochs")
    p.add_argument("--train-seed", type=int, default=0, help="standalone protocol: training seed")
    p.add_argument(
        "--supervise-exits",
        choices=["all", "arch"],
        default="all",
        help="standalone protocol: train a head at every exit position and keep the arch's (all, as the "
        "supernet does), or supervise only the arch's own exits (arch)",
    )
    p.add_argument("--latency-rounds", type=int, default=30)
    p.add_argument("--resume", action="store_true", help="continue a killed or partial run in --out")
    p.add_argument("--release", default="v1", metavar="NAME", help="the release's version name (default v1)")
    deprecated_alias(p, "--version", "release", "--release NAME")
    _device_arg(p, "standalone training and evaluation (latency is always timed on the CPU)")
    _suite_args(p)


@command("generate", _generate_args)
def _generate(args: argparse.Namespace) -> int:
    """Measure sampled architectures into resumable Parquet shards plus a manifest."""
    from nasbench_mt.measure.generate import GenerateConfig, generate
    from nasbench_mt.measure.measurer import MeasureSpec

    prefix = (
        args.prefix
        or {
            "supernet": "archs",
            "standalone": "calibration",
            "latency": "latency",
            "latency-onnx": "ort-latency",
        }[args.protocol]
    )
    spec = MeasureSpec(
        protocol=args.protocol,
        supernet=args.supernet,
        suite=args.suite,
        suite_kwargs=key_values(args.suite_arg, "--suite-arg", "n_train=1000"),
        n_per_sample=args.n_per_sample,
        train=(
            {"epochs": args.epochs, "seed": args.train_seed, "supervise_exits": args.supervise_exits}
            if args.protocol == "standalone"
            else {}
        ),
        latency_rounds=args.latency_rounds,
        device=args.device,
    )
    cfg = GenerateConfig(
        out=args.out,
        n=args.n,
        seed=args.seed,
        shard_size=args.shard_size,
        spec=spec,
        prefix=prefix,
        workers=args.workers,
        version=args.release,
        offset=args.offset,
        executor=args.executor,
        address=args.address,
        max_retries=args.max_retries,
    )
    manifest = generate(cfg, resume=args.resume)
    n_files = len(manifest.get("files", []))
    print(f"{args.out}: {n_files} files in the manifest")
    return 0


def _summarize_args(p: argparse.ArgumentParser) -> None:
    release_dir_args(p)
    p.add_argument(
        "--plot", metavar="PNG", help="also draw the card: calibration and noise scatter, Pareto front"
    )
    p.add_argument("--json", action="store_true")


@command("summarize", _summarize_args)
def _summarize(args: argparse.Namespace) -> int:
    """Compute a release's spread, calibration and noise figures and store them in its manifest."""
    from nasbench_mt.publish.summarize import summarize_release

    manifest = summarize_release(args.path, plot=args.plot)
    if args.plot:
        print(f"wrote {args.plot}", file=sys.stderr)
    card = {k: manifest.get(k, {}) for k in ("calibration", "noise")}
    if args.json:
        print(json.dumps(card, indent=2))
        return 0
    spread = card["calibration"].get("spread", {})
    print(f"{'target':<16}{'n':>6}{'p10':>8}{'median':>8}{'p90':>8}{'10-90':>8}{'90% CI':>16}{'max':>8}")
    for col, s in spread.items():
        ci = "[{:.2f}, {:.2f}]".format(*s.get("spread_ci90", (float("nan"),) * 2))
        print(
            f"{col:<16}{s['n']:>6}{s['p10']:>8.2f}{s['median']:>8.2f}{s['p90']:>8.2f}"
            f"{s['spread_10_90']:>8.2f}{ci:>16}{s['max']:>8.2f}"
        )
    for title, section in (
        ("val vs test (same weights: evaluation-sample noise)", card["calibration"].get("val_vs_test", {})),
        ("supernet vs standalone", card["calibration"].get("supernet_vs_standalone", {})),
        *((f"noise: {kind}", v) for kind, v in card["noise"].items()),
    ):
        if section:
            print(f"\n{title}")
            for col, s in section.items():
                if "kendall_tau" in s:
                    line = f"  {col:<16} n={s['n']:<5} tau={s['kendall_tau']:.3f}"
                    line += f"  spearman={s['spearman']:.3f}"
                    if "kendall_tau_ci90" in s:
                        line += "  tau 90% CI [{:.3f}, {:.3f}]".format(*s["kendall_tau_ci90"])
                    print(line)
    gain = card["calibration"].get("standalone_gain", {})
    if gain:
        print("\nstandalone minus supernet (per arch)")
        for col, g in gain.items():
            print(f"  {col:<16} n={g['n']:<5} above={g['n_above']:<5} median gain={g['median_gain']:+.2f}")
    return 0


def _checkrelease_args(p: argparse.ArgumentParser) -> None:
    release_dir_args(p)
    for key, value in RELEASE_MINIMUMS.items():
        flag = "--min-" + key.replace("_", "-")
        p.add_argument(flag, type=int, default=value, help=f"(default {value})")
    p.add_argument("--no-rebuild", action="store_true", help="only round-trip the ids, build no network")
    p.add_argument("--json", action="store_true")


@command("check-release", _checkrelease_args)
def _check_release(args: argparse.Namespace) -> int:
    """Check a release is complete (sha256, row/calibration/noise counts, ids rebuild); exit 1 if not."""
    from nasbench_mt.publish.check import check_release

    minimums = {key: getattr(args, "min_" + key) for key in RELEASE_MINIMUMS}
    res = check_release(args.path, minimums, rebuild=not args.no_rebuild, progress=not args.json)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for r in res:
            print(f"{'ok  ' if r['ok'] else 'FAIL'}  {r['check']:<28} {r['detail']}")
    return 0 if all(r["ok"] for r in res) else 1


def _reproduce_args(p: argparse.ArgumentParser) -> None:
    release_dir_args(p)
    count_arg(p, "rows to measure again", default=5)
    p.add_argument("--seed", type=int, default=0, help="which rows: a seeded sample of the pass's rows")
    p.add_argument(
        "--prefix", default="archs", help="generation pass: archs (default), latency, calibration, ..."
    )
    p.add_argument("--supernet", help="checkpoint path (default: the file recorded in the manifest)")
    p.add_argument("--json", action="store_true")


@command("reproduce", _reproduce_args)
def _reproduce(args: argparse.Namespace) -> int:
    """Measure rows of a release again with its recorded spec; exit 1 when a stored value differs."""
    import pandas as pd

    from nasbench_mt.publish.reproduce import latency_noise, reproduce_rows

    res = reproduce_rows(args.path, n=args.n, seed=args.seed, prefix=args.prefix, supernet=args.supernet)
    if args.json:
        print(res.to_json(orient="records", indent=2))
    else:
        noise = latency_noise(args.path) if res["latency_norm_rel_diff"].notna().any() else {}
        for r in res.itertuples():
            verdict = "identical" if r.identical else "DIFFERS"
            lat = ""
            if r.latency_rel_diff == r.latency_rel_diff:
                lat = f", latency off by {r.latency_rel_diff:.1%} (raw ms: moves with the machine's speed)"
            if r.latency_norm_rel_diff == r.latency_norm_rel_diff:
                lat += f", latency_norm off by {r.latency_norm_rel_diff:.1%}"
            what = (
                f" ({', '.join(r.mismatched[:5])}{' ...' if len(r.mismatched) > 5 else ''})"
                if r.mismatched
                else ""
            )
            exits = "identical" if r.exits_equal else "DIFFER"
            if pd.isna(r.exits_equal):
                exits = "not stored for this pass"
            print(f"{r.arch_id}: {r.compared} columns {verdict}{what}{lat}, per-sample exits {exits}")
        if noise:
            print(
                f"run-to-run noise of latency_norm ({noise['n']} archs timed twice): median "
                f"{noise['median']:.1%}, 90th percentile {noise['p90']:.1%}, max {noise['max']:.1%}"
            )
    return 0 if res["identical"].all() else 1
