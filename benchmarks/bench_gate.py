"""The v1 gate (issue 5): does a supernet rank architectures the way training them from scratch does?

    OMP_NUM_THREADS=1 python benchmarks/bench_gate.py --calibration data/v1 --partial \
        --supernet runs/sne/supernet-seed0.pt --noise runs/st-seed1

Reads the standalone-protocol rows of ``--calibration`` (its ``calibration-*.parquet`` shards, plus rows of a
run still in progress under ``partial/`` with ``--partial``), measures the same architectures with the
supernet protocol under every ``--supernet`` checkpoint, and reports per target the Kendall tau and Spearman
between the two protocols, next to the MACs baseline (rank by exact MACs, no training at all).  With
``--noise DIR`` (a standalone run of some of the same architectures with another training seed) it also
reports the seed-to-seed agreement and spread of the standalone protocol itself, the ceiling of any such
comparison.
With ``--table DIR`` the spread half of the gate is read from the supernet rows of a release being
generated (``archs-*.parquet``, plus ``partial/`` rows with ``--partial``), measured with the same checkpoint,
instead of from the few calibration architectures; the spread then comes with a 90% bootstrap interval.
Results are appended to ``benchmarks/results/gate.md``; the gate passes at tau >= 0.5 on ``mean_acc`` over
>= 30 architectures.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from _report import append_report
from scipy.stats import spearmanr
from tqdm import tqdm

from nasbench_mt.measure.generate import partial_row_files
from nasbench_mt.measure.measurer import Measurer, MeasureSpec
from nasbench_mt.release.manifest import sha256_file
from nasbench_mt.release.provenance import cpu_model
from nasbench_mt.release.stats import rank_agreement, spread_stats
from nasbench_mt.space.arch import V1

TARGETS = ("mean_acc", "test_digit", "test_count", "test_seg")


def pass_rows(directory: Path, prefix: str, partial: bool) -> pd.DataFrame:
    """Rows of one generation pass: ``<prefix>-*.parquet``, and with ``partial`` its unpacked shard's rows."""
    files = sorted(directory.glob(f"{prefix}-*.parquet"))
    if partial:
        files += partial_row_files(directory, prefix)
    if not files:
        raise SystemExit(f"no {prefix} rows in {directory} ({prefix}-*.parquet)")
    rows = pd.concat([pd.read_parquet(f) for f in files], ignore_index=True)
    return rows.drop_duplicates("arch_id").set_index("arch_id")


def standalone_rows(directory: Path, partial: bool) -> pd.DataFrame:
    return pass_rows(directory, "calibration", partial)


def table_rows(directory: Path, partial: bool, checkpoint: str) -> pd.DataFrame:
    """Supernet rows of a release (``archs-*.parquet`` and, with ``partial``, unpacked rows), checked to come
    from ``checkpoint`` (the sha256 recorded by the generation run must match the file's)."""
    run = directory / "partial" / "archs.run.json"
    if run.is_file():
        spec = json.loads(run.read_text())["spec"]
    else:
        spec = json.loads((directory / "manifest.json").read_text())["generation"]["archs"]["spec"]
    expected = spec.get("supernet_sha256")
    if expected != sha256_file(checkpoint):
        raise SystemExit(
            f"the rows in {directory} were measured with supernet sha256 {expected}, not with {checkpoint}"
        )
    return pass_rows(directory, "archs", partial)


def supernet_values(measurer: Measurer, archs: list, ck: str, reuse: str | None) -> pd.DataFrame:
    """The supernet protocol's TARGETS for ``archs``, measured, or taken from an earlier ``--rows`` CSV.

    Rows are bit-identical on one thread, so reused values are checked by re-measuring the first reused
    architecture: any difference (another checkpoint at the same path, changed code) stops the run.
    """
    known = pd.DataFrame()
    if reuse:
        prev = pd.read_csv(reuse, index_col="arch_id")
        cols = {f"{c}@{ck}": c for c in TARGETS}
        if set(cols) <= set(prev.columns):
            known = prev[list(cols)].rename(columns=cols).dropna()
    ids = [a.written_id for a in archs]
    known = known.loc[known.index.intersection(ids)]
    todo = [a for a in archs if a.written_id not in known.index]
    if len(known):
        check = next(a for a in archs if a.written_id in known.index)
        again = measurer(check)[0]
        if any(again[c] != known.loc[check.written_id, c] for c in TARGETS):
            raise SystemExit(
                f"{reuse}: the stored values of {check.written_id} under {ck} differ from a fresh "
                "measurement; "
                "rerun without --reuse"
            )
    desc = f"{Path(ck).parent.name}/{Path(ck).name} ({len(known)} reused)"
    rows = [measurer(a)[0] for a in tqdm(todo, desc=desc)]
    fresh = pd.DataFrame(rows, columns=["arch_id", *TARGETS]).set_index("arch_id")[list(TARGETS)]
    return pd.concat([known, fresh]).loc[ids]


def choice_features(archs: list) -> pd.DataFrame:
    """Per architecture: each stage's depth, mean kernel and mean expand; branch points; number of exits."""
    rows = []
    for a in archs:
        f = {}
        for s, stage in enumerate(a.stages, start=1):
            f[f"d{s}"] = len(stage)
            f[f"k{s}"] = np.mean([b.kernel for b in stage])
            f[f"e{s}"] = np.mean([b.expand for b in stage])
        f.update({f"b_{t}": bp for t, bp in zip((t.removeprefix("test_") for t in TARGETS[1:]), a.branches)})
        f["exits"] = len(a.exits)
        rows.append(f)
    return pd.DataFrame(rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calibration", required=True, help="directory with calibration-*.parquet shards")
    p.add_argument("--supernet", nargs="+", required=True, help="supernet checkpoint(s) to compare")
    p.add_argument("--partial", action="store_true", help="also use finished rows of a run in progress")
    p.add_argument("--noise", help="directory with the same protocol under another training seed")
    p.add_argument("--out", default="benchmarks/results/gate.md")
    p.add_argument("--rows", help="also write the per-architecture values of both protocols to this CSV")
    p.add_argument(
        "--reuse", help="take supernet values from an earlier --rows CSV (checked by re-measuring one arch)"
    )
    p.add_argument("--table", help="release directory whose supernet rows give the spread (one --supernet)")
    args = p.parse_args()
    if args.table and len(args.supernet) != 1:
        p.error("--table needs exactly one --supernet (the checkpoint its rows were measured with)")
    torch.set_num_threads(1)
    st = standalone_rows(Path(args.calibration), args.partial)
    archs = [V1.validate(s) for s in st["arch"]]
    agreements, spreads = {}, {}
    per_arch = st[["arch", "macs", *TARGETS]].copy()
    for ck in args.supernet:
        measurer = Measurer(MeasureSpec(supernet=ck))
        sn = supernet_values(measurer, archs, ck, args.reuse)
        info = json.loads(Path(ck).with_suffix(".json").read_text())
        label = (
            f"`{ck}` ({info['train_config']['epochs']:g} epochs, seed {info['seed']}, "
            f"distill {info.get('distill', 0)}, separate smallest {info.get('separate_smallest', False)}"
            + "".join(f", {k}" for k, on in info.get("structure", {}).items() if on)
            + ")"
        )
        agreements[label] = {c: rank_agreement(st[c], sn.loc[st.index, c]) for c in TARGETS}
        spread_rows = table_rows(Path(args.table), args.partial, ck) if args.table else sn
        spreads[label] = spread_stats(spread_rows, measurer.tasks)
        for c in TARGETS:
            per_arch[f"{c}@{ck}"] = sn.loc[st.index, c]
        classification = [f"test_{t.name}" for t in measurer.suite.tasks if t.kind == "classification"]
    agreements["MACs baseline (rank by exact MACs)"] = {c: rank_agreement(st[c], st["macs"]) for c in TARGETS}
    noise_lines: list[str] = []
    if args.noise:
        other = standalone_rows(Path(args.noise), partial=True)
        both = other.index.intersection(st.index)
        agreements[f"standalone, training seed 1 vs 0 ({len(both)} archs)"] = {
            c: rank_agreement(st.loc[both, c], other.loc[both, c]) for c in TARGETS
        }
        diff = (other.loc[both, list(TARGETS)] - st.loc[both, list(TARGETS)]).abs()
        noise_lines = [
            "Standalone seed noise: mean |seed 1 - seed 0| per target "
            + ", ".join(f"{c} {diff[c].mean():.2f}" for c in TARGETS)
            + f" points over {len(both)} archs; spread of the standalone rows (sd over archs) "
            + ", ".join(f"{c} {st[c].std():.2f}" for c in TARGETS)
            + ".",
            "",
        ]
    cmd = "python benchmarks/bench_gate.py --calibration {} --supernet {}{}{}{}".format(
        args.calibration,
        " ".join(args.supernet),
        " --partial" if args.partial else "",
        f" --noise {args.noise}" if args.noise else "",
        f" --table {args.table}" if args.table else "",
    ) + (f" --reuse {args.reuse}" if args.reuse else "")
    lines = [
        f"## {time.strftime('%Y-%m-%d %H:%M')} — `{cmd}`",
        "",
        f"machine: {cpu_model()}, torch {torch.__version__}; {len(st)} architectures "
        f"(the first of `V1.sample(5000, seed=0)`) with the standalone protocol",
        "",
        "| ranking compared with standalone | " + " | ".join(f"{c} tau / rho" for c in TARGETS) + " |",
        "|---|" + "---|" * len(TARGETS),
    ]
    for label, agg in agreements.items():
        cells = [
            f"{agg[c].get('kendall_tau', np.nan):.3f} / {agg[c].get('spearman', np.nan):.3f}" for c in TARGETS
        ]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    source = (
        f"the supernet rows of `{args.table}`" if args.table else "the supernet rows of these architectures"
    )
    lines += [
        "",
        f"10th-90th percentile spread of {source} (points, 90% bootstrap interval in brackets; the gate "
        "needs >= 3 on every classification task) and the verdict (tau >= 0.5 on mean_acc as well):",
        "",
        "| supernet | rows | " + " | ".join(TARGETS) + " | gate |",
        "|---|---|" + "---|" * (len(TARGETS) + 1),
    ]
    # The standalone rows' own spread (the ground truth the supernet is compared with) is printed beside
    # the supernet's, so a reader sees whether the supernet compresses a task's differences.
    spreads["standalone protocol (these calibration archs)"] = spread_stats(st, measurer.tasks)
    for label, spread in spreads.items():
        if label in agreements:
            ok = agreements[label]["mean_acc"].get("kendall_tau", np.nan) >= 0.5 and all(
                spread[c]["spread_10_90"] >= 3 for c in classification
            )
            verdict = "pass" if ok else "fail"
        else:
            verdict = "(reference)"
        cells = [
            "{:.2f} [{:.2f}, {:.2f}]".format(spread[c]["spread_10_90"], *spread[c]["spread_ci90"])
            for c in TARGETS
        ]
        lines.append(
            f"| {label.split(' (')[0]} | {spread['mean_acc']['n']} | " + " | ".join(cells) + f" | {verdict} |"
        )
    feats = choice_features(archs)
    protocols = {"standalone": st["mean_acc"].to_numpy()} | {
        Path(ck).parent.name: per_arch[f"mean_acc@{ck}"].to_numpy() for ck in args.supernet
    }
    lines += [
        "",
        "What moves mean_acc under each protocol (Spearman of each choice with mean_acc over these "
        "architectures; d/k/e = stage depth / mean kernel / mean expand, b = branch point):",
        "",
        "| protocol | " + " | ".join(feats.columns) + " |",
        "|---|" + "---|" * len(feats.columns),
    ]
    for name, y in protocols.items():
        cells = [f"{spearmanr(feats[c], y)[0]:+.2f}" for c in feats.columns]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", *noise_lines]
    if args.rows:
        per_arch.to_csv(args.rows)
        lines += [f"(per-architecture values of both protocols: `{args.rows}`)", ""]
    append_report(args.out, lines)


if __name__ == "__main__":
    main()
