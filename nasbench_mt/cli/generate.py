"""``nasbench-mt train-supernet`` and ``nasbench-mt generate``: the measurement pipeline's commands."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nasbench_mt.cli.options import (
    command,
    count_arg,
    deprecated_alias,
    key_values,
    quiet_arg,
    release_dir_args,
    workers_arg,
)
from nasbench_mt.release.schema import RELEASE_MINIMUMS
from nasbench_mt.space.arch import FEW_SHOT_SPLITS


def _suite_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--suite",
        default="mnist-scenes",
        metavar="NAME",
        help="dataset suite: mnist-scenes, utkface, celeba, mtfl or image-folder (default: %(default)s)",
    )
    p.add_argument(
        "--suite-arg",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="suite keyword argument, e.g. root=/data/UTKFace or n_train=2000; repeatable, values read as "
        "JSON where they parse (default: none)",
    )


def _device_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "--device",
        choices=["auto", "cpu", "cuda"],
        default="cpu",
        help=f"device for {what}: cpu, cuda, or auto (cuda when torch sees a GPU); seeded runs are "
        "bit-identical on the CPU only (default: %(default)s)",
    )


def _loss_balance_args(p: argparse.ArgumentParser, prefix: str = "") -> None:
    p.add_argument(
        "--loss-balance",
        choices=["fixed", "uncertainty"],
        default="fixed",
        help=f"{prefix}how the losses of every task and exit add up: fixed weights (all 1 by default: the "
        "plain sum), or uncertainty weighting with a learned log variance per task on top of the fixed "
        "weights (default: %(default)s)",
    )
    p.add_argument(
        "--task-weights",
        metavar="TASK=W,...",
        help=f"{prefix}fixed loss weight per task, e.g. age=0.1,smile=1; unlisted tasks weigh 1 "
        "(default: none)",
    )
    p.add_argument(
        "--exit-weights",
        metavar="K=W,...",
        help=f"{prefix}fixed loss weight per exit position, e.g. 1=0.5,4=2; unlisted exits weigh 1 "
        "(default: none)",
    )


def loss_balance_fields(args: argparse.Namespace) -> dict:
    """The loss-balancing options given on the command line, as TrainConfig fields (the defaults left out)."""
    out = {"loss_balance": args.loss_balance} if args.loss_balance != "fixed" else {}
    for key in ("task_weights", "exit_weights"):
        if getattr(args, key):
            out[key] = getattr(args, key)
    return out


def _finetune_args(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """The per-subnet fine-tune before measuring (supernet protocol), shared by ``generate`` and
    ``calibrate``; :func:`finetune_fields` reads it back."""
    p.add_argument(
        "--finetune-epochs",
        metavar="EPOCHS",
        type=float,
        default=0.0,
        help=f"{prefix}fine-tune each subnet alone for this many epochs of the training split before "
        "measuring it; 0 is none (default: %(default)s)",
    )
    p.add_argument(
        "--finetune-lr",
        metavar="LR",
        type=float,
        default=1e-3,
        help=f"{prefix}fine-tune peak learning rate (default: %(default)s)",
    )
    p.add_argument(
        "--finetune-seed",
        metavar="SEED",
        type=int,
        default=0,
        help=f"{prefix}fine-tune batch-order seed (default: %(default)s)",
    )
    p.add_argument(
        "--finetune-batch-size",
        metavar="N",
        type=int,
        default=128,
        help=f"{prefix}fine-tune images per step (default: %(default)s)",
    )


def finetune_fields(args: argparse.Namespace) -> dict:
    """The fine-tune options as TrainConfig fields of ``MeasureSpec.finetune``; empty without
    ``--finetune-epochs``."""
    if not args.finetune_epochs:
        return {}
    return {
        "epochs": args.finetune_epochs,
        "lr": args.finetune_lr,
        "seed": args.finetune_seed,
        "batch_size": args.finetune_batch_size,
    }


def _train_supernet_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        required=True,
        metavar="FILE.pt",
        help="checkpoint to write; a .json card is written beside it (required)",
    )
    p.add_argument(
        "--epochs", type=float, default=10.0, help="passes over the training split (default: %(default)s)"
    )
    p.add_argument("--batch-size", type=int, default=128, help="images per step (default: %(default)s)")
    p.add_argument(
        "--lr",
        type=float,
        default=3e-3,
        help="peak AdamW learning rate, warm-up + cosine (default: %(default)s)",
    )
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the weights, batches and subnets (default: %(default)s)"
    )
    p.add_argument(
        "--n-random", type=int, default=2, help="random subnets per sandwich step (default: %(default)s)"
    )
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
        help="in-place distillation weight in [0, 1]: the largest subnet teaches the others; 0 is off "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--separate-random",
        action="store_true",
        help="add random blocks with one backbone per task to every sandwich step (trains every task "
        "branch copy at a random size each step)",
    )
    _loss_balance_args(p)
    p.add_argument(
        "--init-from",
        metavar="CKPT",
        help="start from this supernet's weights (same structure options) (default: a fresh init)",
    )
    p.add_argument(
        "--few-shot",
        choices=list(FEW_SHOT_SPLITS),
        help="train one supernet per part of this split of the space, each only on its own part "
        "(stem-branch: which tasks branch off at the stem; 2^tasks parts, usually with --init-from); "
        "--epochs is per part (default: one supernet)",
    )
    p.add_argument(
        "--threads", type=int, default=0, help="torch threads; 0 = all cores (default: %(default)s)"
    )
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue a killed run from the training state beside --out (OUT.state.pt, written every "
        "--state-every steps); bit-identical on the CPU to an uninterrupted run",
    )
    p.add_argument(
        "--state-every", type=int, default=25, help="steps between training states (default: %(default)s)"
    )
    quiet_arg(p)
    _device_arg(p, "training")
    _suite_args(p)


def train_state_path(out: str, part: str | None = None) -> Path:
    """Where ``train-supernet --out OUT`` keeps its resumable training state (per part of a few-shot run)."""
    out_path = Path(out)
    return out_path.with_name(out_path.stem + (f".part-{part}" if part else "") + ".state.pt")


def _part_path(out: str, part: str) -> Path:
    """Where a few-shot run keeps a finished part until every part is done."""
    out_path = Path(out)
    return out_path.with_name(f"{out_path.stem}.part-{part}.pt")


def _parent(path: str, suite, structure: dict):
    """The supernet ``--init-from`` names, and its side file's metadata; it must have ``structure``."""
    from nasbench_mt.measure.measurer import load_supernet, read_supernet

    checkpoint = read_supernet(path)
    meta = checkpoint["meta"]
    parent = load_supernet(checkpoint["state"], suite, meta.get("structure"))
    if parent.structure != structure:
        raise SystemExit(
            f"nasbench-mt train-supernet: invalid --init-from: {path} has the structure {parent.structure}; "
            f"allowed: a single supernet with the structure asked for here, {structure}"
        )
    return parent, meta


@command("train-supernet", _train_supernet_args)
def _train_supernet(args: argparse.Namespace) -> int:
    """Train the weight-sharing supernet (sandwich rule) and save it for `generate --protocol supernet`."""
    import torch

    from nasbench_mt.measure.datasets import load_suite
    from nasbench_mt.measure.measurer import save_supernet
    from nasbench_mt.measure.supernet import FewShotSupernet, Supernet
    from nasbench_mt.measure.train import (
        TrainConfig,
        config_record,
        load_train_state,
        make_balancer,
        resolve_device,
        save_atomic,
        train_supernet,
    )
    from nasbench_mt.release.manifest import sha256_file
    from nasbench_mt.release.provenance import cpu_model, training_core_hours

    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    cfg = TrainConfig(
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        seed=args.seed,
        **loss_balance_fields(args),
    )
    kwargs = key_values(args.suite_arg, "--suite-arg", "n_train=1000")
    suite = load_suite(args.suite, **kwargs)
    torch.manual_seed(args.seed)
    structure = {
        "solo_branch": args.solo_branch,
        "branch_delta": args.branch_delta,
        "independent_kernels": args.independent_kernels,
    }
    try:
        net = (
            FewShotSupernet(suite.tasks, few_shot=args.few_shot, **structure)
            if args.few_shot
            else Supernet(suite.tasks, **structure)
        )
    except ValueError as err:
        raise SystemExit(f"nasbench-mt train-supernet: {err}") from None
    make_balancer(cfg, suite.tasks, net.space)  # bad loss weights fail here, before anything trains
    parent, parent_meta = (None, {}) if not args.init_from else _parent(args.init_from, suite, structure)
    parts = list(net.regions) if args.few_shot else [None]
    leftovers = [train_state_path(args.out, p) for p in parts]
    leftovers += [_part_path(args.out, p) for p in parts if p is not None]
    if any(f.is_file() for f in leftovers) and not args.resume:
        raise SystemExit(
            f"nasbench-mt train-supernet: a training state beside {args.out} exists (a run was stopped); "
            "pass --resume to continue it, or delete it to start afresh"
        )
    losses: list[float] = []
    seconds = 0.0
    balance: dict = {}  # per part: the loss balancing and its learned values
    for part in parts:
        target = net.parts[part] if part is not None else net
        done = _part_path(args.out, part) if part is not None else None
        if done is not None and done.is_file():  # a finished part of a resumed few-shot run
            saved = torch.load(done, map_location="cpu", weights_only=True)
            target.load_state_dict(saved["weights"])
            seconds += float(saved["seconds"])
            balance[part] = saved.get("balance_record")
            continue
        state_path = train_state_path(args.out, part)
        if parent is not None and not state_path.is_file():
            target.load_state_dict(parent.state_dict())
        try:
            train_supernet(
                target,
                suite.train,
                cfg,
                n_random=args.n_random,
                distill=args.distill,
                separate_smallest=args.separate_smallest,
                separate_random=args.separate_random,
                region=net.regions[part] if part is not None else None,
                progress=not args.quiet,
                on_step=lambda s, v: losses.append(v),
                device=device,
                state_path=state_path,
                state_every=args.state_every,
            )
        except ValueError as err:
            raise SystemExit(f"nasbench-mt train-supernet: {err}") from None
        # the state written after the last step holds the training seconds of every run that resumed it
        final = load_train_state(state_path)
        part_seconds = float(final["seconds"])
        seconds += part_seconds
        balance[part] = final.get("balance_record")
        if done is not None:
            saved = {"weights": target.cpu().state_dict(), "seconds": part_seconds}
            save_atomic({**saved, "balance_record": balance[part]}, done)
            state_path.unlink(missing_ok=True)
    net = net.cpu()
    threads = torch.get_num_threads()
    parent_hours = (training_core_hours(parent_meta) or 0.0) if parent_meta else 0.0
    parent_gpu = float(parent_meta.get("gpu_hours", 0.0)) if parent_meta else 0.0
    on_gpu = torch.device(device).type == "cuda"
    meta = {
        "command": " ".join(["nasbench-mt", *sys.argv[1:]]),
        "seed": args.seed,
        "train_config": config_record(cfg),
        "loss_balance": balance.get(None, balance),
        "n_random": args.n_random,
        "distill": args.distill,
        "separate_smallest": args.separate_smallest,
        "separate_random": args.separate_random,
        "few_shot": args.few_shot,
        "init_from": Path(args.init_from).name if args.init_from else None,
        "init_from_sha256": sha256_file(args.init_from) if args.init_from else None,
        "structure": net.structure,
        "suite": args.suite,
        "suite_kwargs": kwargs,
        "suite_fingerprint": suite.fingerprint,
        "train_seconds": round(seconds, 1),
        "threads": threads,
        # training cost including the parent's: what it took to get these weights from nothing (CPU
        # core-hours; the hours a GPU trained are counted apart, since a core-hour says nothing of them)
        "core_hours": round(parent_hours + (0.0 if on_gpu else seconds * threads / 3600), 3),
        "gpu_hours": round(parent_gpu + (seconds / 3600 if on_gpu else 0.0), 3),
        "device": str(device),
        "torch": torch.__version__,
        "cpu": cpu_model(),
        "final_loss": sum(losses[-20:]) / max(1, len(losses[-20:])),
    }
    save_supernet(net, args.out, meta)
    for path in leftovers:
        path.unlink(missing_ok=True)
    print(
        f"supernet saved to {args.out} after {seconds:.0f} s (final sandwich loss {meta['final_loss']:.3f})"
    )
    return 0


def _generate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="release directory to write or extend, e.g. data/v1 (required)",
    )
    p.add_argument(
        "--n",
        type=int,
        required=True,
        help="number of architectures, the first n sampled with --seed from the suite's space (required)",
    )
    p.add_argument("--seed", type=int, default=0, help="architecture sampling seed (default: %(default)s)")
    p.add_argument(
        "--offset",
        type=int,
        default=0,
        help="skip the first OFFSET sampled architectures (default: %(default)s)",
    )
    p.add_argument(
        "--protocol",
        choices=["supernet", "standalone", "latency", "latency-onnx", "proxies"],
        default="supernet",
        help="how to measure: supernet (scores from --supernet), standalone (trained from scratch), latency "
        "(PyTorch eager, ms), latency-onnx (ONNX Runtime, the [onnx] extra), proxies (zero-cost proxies at "
        "initialisation) (default: %(default)s)",
    )
    p.add_argument(
        "--supernet",
        metavar="FILE.pt",
        help="supernet checkpoint, needed by the supernet protocol (default: none)",
    )
    p.add_argument(
        "--prefix",
        default=None,
        help="output file prefix: archs, latency, ort-latency, proxies, calibration or noise-NAME (default: "
        "the protocol's, e.g. archs for supernet and calibration for standalone)",
    )
    p.add_argument(
        "--shard-size", type=int, default=250, help="architectures per Parquet shard (default: %(default)s)"
    )
    workers_arg(p)
    p.add_argument(
        "--executor",
        choices=["local", "ray"],
        default="local",
        help="local: this machine (--workers); ray: one Ray task per architecture (the [ray] extra) "
        "(default: %(default)s)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="ray: cluster address, e.g. auto or ray://head:10001 (default: start a local Ray instance)",
    )
    p.add_argument(
        "--max-retries", type=int, default=3, help="ray: retries of a failed task (default: %(default)s)"
    )
    p.add_argument(
        "--n-per-sample",
        type=int,
        default=1000,
        help="test scenes whose per-sample exit confidences are kept (default: %(default)s)",
    )
    p.add_argument(
        "--epochs",
        type=float,
        default=6.0,
        help="standalone protocol: training epochs (default: %(default)s)",
    )
    p.add_argument(
        "--train-seed", type=int, default=0, help="standalone protocol: training seed (default: %(default)s)"
    )
    p.add_argument(
        "--supervise-exits",
        choices=["all", "arch"],
        default="all",
        help="standalone protocol: train a head at every exit position and keep the arch's (all, as the "
        "supernet does), or supervise only the arch's own exits (arch) (default: %(default)s)",
    )
    p.add_argument(
        "--latency-rounds",
        type=int,
        default=30,
        help="latency protocols: timed rounds per architecture (default: %(default)s)",
    )
    p.add_argument("--resume", action="store_true", help="continue a killed or partial run in --out")
    p.add_argument(
        "--release",
        default=None,
        metavar="NAME",
        help="the release's version name (default: the name its manifest in --out records, else the name of "
        "the --out folder, e.g. v2 for data/v2)",
    )
    deprecated_alias(p, "--version", "release", "--release NAME")
    _loss_balance_args(p, "standalone protocol: ")
    _finetune_args(p, "supernet protocol: ")
    _device_arg(p, "standalone training and evaluation (latency is always timed on the CPU)")
    _suite_args(p)
    quiet_arg(p)


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
            "proxies": "proxies",
        }[args.protocol]
    )
    spec = MeasureSpec(
        protocol=args.protocol,
        supernet=args.supernet,
        suite=args.suite,
        suite_kwargs=key_values(args.suite_arg, "--suite-arg", "n_train=1000"),
        n_per_sample=args.n_per_sample,
        train=(
            {
                "epochs": args.epochs,
                "seed": args.train_seed,
                "supervise_exits": args.supervise_exits,
                **loss_balance_fields(args),
            }
            if args.protocol == "standalone"
            else {}
        ),
        finetune=finetune_fields(args),
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
    manifest = generate(cfg, resume=args.resume, progress=not args.quiet)
    n_files = len(manifest.get("files", []))
    print(f"{args.out}: {n_files} files in the manifest")
    return 0


def _carry_args(p: argparse.ArgumentParser) -> None:
    for flag, dest, what in (
        ("--from", "source", "release directory to carry the tiers from, e.g. data/v1"),
        ("--out", "out", "release directory of the same architectures to carry them into, e.g. data/v2"),
    ):
        p.add_argument(flag, dest=dest, required=True, metavar="DIR", help=f"{what} (required)")
    p.add_argument(
        "--prefix",
        nargs="+",
        metavar="TIER",
        help="tiers to carry, by file prefix: latency, ort-latency, noise-latency, proxies, calibration, "
        "noise-standalone (default: every tier of --from that does not depend on the supernet's weights)",
    )
    p.add_argument("--force", action="store_true", help="replace a tier that --out already holds")


@command("carry-tiers", _carry_args)
def _carry_tiers(args: argparse.Namespace) -> int:
    """Copy the tiers that do not depend on the supernet's weights (latency, proxies, standalone calibration
    and its noise tier) from a release into a new release of the same architectures, checked by sha256 and
    arch id."""
    from nasbench_mt.release.carry import carry_tiers

    carried = carry_tiers(args.source, args.out, args.prefix, force=args.force)
    for prefix, c in carried.items():
        print(f"carried {prefix}: {c['files']} files, {c['rows']} rows from release {c['from']}")
    print(f"{args.out}: run `nasbench-mt summarize --path {args.out}` to update its figures")
    return 0


def _summarize_args(p: argparse.ArgumentParser) -> None:
    release_dir_args(p)
    p.add_argument(
        "--plot",
        metavar="PNG",
        help="also draw the card to this PNG: calibration and noise scatter plots, Pareto front",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text, for scripts")


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
    proxies = card["calibration"].get("proxies", {})
    if proxies:
        print("\nzero-cost proxies alone, Kendall tau against each target (table; calibration: standalone)")
        for proxy, per in proxies.items():
            cells = "  ".join(
                f"{key.split(':', 1)[1]}={s['kendall_tau']:+.3f}"
                + (" (standalone)" if key.startswith("vs_standalone") else "")
                for key, s in per.items()
                if "kendall_tau" in s
            )
            print(f"  {proxy:<18} {cells}")
    gain = card["calibration"].get("standalone_gain", {})
    if gain:
        print("\nstandalone minus supernet (per arch)")
        for col, g in gain.items():
            print(f"  {col:<16} n={g['n']:<5} above={g['n_above']:<5} median gain={g['median_gain']:+.2f}")
    return 0


def _calibrate_args(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--supernet",
        required=True,
        metavar="FILE.pt",
        help="candidate supernet checkpoint, with its .json card beside it (required)",
    )
    p.add_argument(
        "--release", default="v1", metavar="NAME", help="shipped release version (default: %(default)s)"
    )
    p.add_argument(
        "--path",
        metavar="DIR",
        help="release directory with a calibration tier (default: the shipped release)",
    )
    p.add_argument(
        "--work",
        metavar="DIR",
        help="directory for the measured rows; a killed run resumes from it (default: runs/fidelity/LABEL)",
    )
    p.add_argument(
        "--label", help="candidate's name in the results table (default: the checkpoint's file stem)"
    )
    _finetune_args(p)
    workers_arg(p)
    _device_arg(p, "measuring (and fine-tuning)")
    p.add_argument(
        "--results",
        default="benchmarks/results/fidelity.md",
        metavar="FILE.md",
        help="Markdown table the candidate's row is added to (default: %(default)s)",
    )
    p.add_argument("--no-results", action="store_true", help="print only; write no results row")
    p.add_argument("--json", action="store_true", help="print the report as JSON instead of text")
    quiet_arg(p)


def _f3(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


@command("calibrate", _calibrate_args)
def _calibrate(args: argparse.Namespace) -> int:
    """Measure the calibration architectures with a candidate supernet; print its agreement with training
    from scratch next to the release's and the noise ceiling, and add it to the fidelity table."""
    from nasbench_mt.publish.fidelity import append_fidelity, measure_candidate, meets_target

    report = measure_candidate(
        args.supernet,
        args.release,
        args.path,
        work=args.work,
        finetune=finetune_fields(args),
        workers=args.workers,
        label=args.label,
        progress=not (args.json or args.quiet),
        device=args.device,
    )
    if not args.no_results:
        path = append_fidelity(report, args.results)
        print(f"added {report.label} to {path}", file=sys.stderr)
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
        return 0
    how = "the release's own rows" if report.reused else f"median {report.measure_s:.1f} s per row"
    how += "" if report.device == "cpu" else f" on {report.device}"
    print(f"candidate {report.label}: {report.options} ({how})")
    print(f"{'target':<14}{'candidate tau [90% CI]':>26}{'release tau':>13}{'ceiling tau':>13}{'goal':>7}")
    for col, goal in report.target.items():
        s = report.stats.get(col, {})
        cell = "n/a"
        if "kendall_tau" in s:
            cell = "{:.3f} [{:.3f}, {:.3f}]".format(s["kendall_tau"], *s["kendall_tau_ci90"])
        rel = report.release.get(col, {}).get("kendall_tau")
        ceil = report.ceiling.get(col, {}).get("ceiling_tau")
        print(f"{col:<14}{cell:>26}{_f3(rel):>13}{_f3(ceil):>13}{goal:>7.2f}")
    print("meets the target" if meets_target(report) else "does not meet the target")
    return 0


def _checkrelease_args(p: argparse.ArgumentParser) -> None:
    release_dir_args(p)
    for key, value in RELEASE_MINIMUMS.items():
        flag = "--min-" + key.replace("_", "-")
        what = key.replace("_", " ")
        p.add_argument(
            flag,
            type=int,
            default=value,
            metavar="N",
            help=f"least {what} a complete release has (default: %(default)s)",
        )
    p.add_argument("--no-rebuild", action="store_true", help="only round-trip the ids, build no network")
    p.add_argument("--json", action="store_true", help="print JSON instead of text, for scripts")
    quiet_arg(p)


@command("check-release", _checkrelease_args)
def _check_release(args: argparse.Namespace) -> int:
    """Check a release is complete (sha256, row/calibration/noise counts, ids rebuild); exit 1 if not."""
    from nasbench_mt.publish.check import check_release

    minimums = {key: getattr(args, "min_" + key) for key in RELEASE_MINIMUMS}
    progress = not (args.json or args.quiet)
    res = check_release(args.path, minimums, rebuild=not args.no_rebuild, progress=progress)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for r in res:
            print(f"{'ok  ' if r['ok'] else 'FAIL'}  {r['check']:<28} {r['detail']}")
    return 0 if all(r["ok"] for r in res) else 1


def _reproduce_args(p: argparse.ArgumentParser) -> None:
    release_dir_args(p)
    count_arg(p, "rows to measure again", default=5)
    p.add_argument(
        "--seed", type=int, default=0, help="seed of the sample of the pass's rows (default: %(default)s)"
    )
    p.add_argument(
        "--prefix",
        default="archs",
        help="generation pass to repeat: archs, latency, calibration, noise-seed, ... (default: %(default)s)",
    )
    p.add_argument(
        "--supernet", metavar="FILE.pt", help="checkpoint (default: the file the manifest records)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text, for scripts")


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
