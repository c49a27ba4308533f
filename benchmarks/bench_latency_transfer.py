"""Few-shot latency transfer (issue 9): Spearman and Kendall vs the number of measured architectures.

    OMP_NUM_THREADS=1 python benchmarks/bench_latency_transfer.py --extra 60 --rounds 10 --repeats 20

The pool is the tiny fixture's 30 architectures plus ``--extra`` architectures of ``V1.sample(extra, seed=1)``
(their exact costs computed here).  Until the v1 release ships measured latency, the "shipped" columns are
measured fresh here: PyTorch eager, one thread (the release protocol).  Two proxy devices are then measured
for every architecture of the pool: (a) ONNX Runtime, one thread; (b) PyTorch eager, two threads.  For N in
{10, 20, 50} and ``--repeats`` seeds, N architectures are drawn as the device's measured set,
:class:`~nasbench_mt.measure.latency_transfer.LatencyTransfer` is fitted on them, and its prediction for every
other pool architecture (the held-out set) is compared with that set's measured proxy latency.  Also reported:
the shipped column itself (no transfer) and the prior alone (shipped latency rescaled) on the same held-out
sets.  Results go to ``benchmarks/results/latency_transfer.md``.

    python benchmarks/bench_latency_transfer.py --release data/v1 --repeats 20

times nothing: the pool is a release's whole table, the shipped columns are its PyTorch-eager latency and the
device is its ONNX Runtime columns (``ort_latency_*``, one thread), so the transfer is scored on thousands of
held-out architectures.  Results go to ``benchmarks/results/latency_transfer_release.md``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.stats import kendalltau, spearmanr
from tqdm import tqdm

from nasbench_mt.measure.latency_transfer import LatencyTransfer, measure_device
from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.provenance import cpu_model
from nasbench_mt.release.schema import EXIT_POSITIONS, latency_columns, ort_latency_columns
from nasbench_mt.space.arch import V1, Arch
from nasbench_mt.space.costs import measure_costs
from nasbench_mt.space.model import build_model

TINY = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "tiny"
DEVICES = {"onnxruntime-1thread": ("onnx", 1), "torch-eager-2threads": ("torch", 2)}


def pool_table(extra: int) -> pd.DataFrame:
    """Fixture architectures + a seeded V1 sample: arch_id, arch and the cost columns the transfer reads."""
    fixture = load_benchmark(path=TINY).table
    cols = ["arch_id", "arch", "macs"] + [f"macs_e{k}" for k in EXIT_POSITIONS]
    rows = [fixture[cols]]
    known = {Arch.from_string(s) for s in fixture["arch"]}  # networks, whatever their spelling
    new = []
    for arch in V1.sample(extra, seed=1):
        if arch in known:
            continue
        c = measure_costs(build_model(arch)).as_row()
        new.append(
            {
                "arch_id": arch.written_id,
                "arch": arch.written_string,
                **{k: c.get(k, np.nan) for k in cols[2:]},
            }
        )
    rows.append(pd.DataFrame(new))
    return pd.concat(rows, ignore_index=True)


def release_frames(path: str) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """A release's rows timed on both runtimes: the pool (costs), its PyTorch columns as the shipped ones,
    and its ONNX Runtime columns under the same names as the device's measurements."""
    table = load_benchmark(path=path).table
    if "ort_latency_ms" not in table or not table["ort_latency_ms"].notna().any():
        raise SystemExit(f"invalid --release: {path} has no ONNX Runtime latency; allowed: a release with it")
    table = table[table["ort_latency_ms"].notna() & table["latency_ms"].notna()].reset_index(drop=True)
    cols = ["arch_id", "arch", "macs"] + [f"macs_e{k}" for k in EXIT_POSITIONS]
    ort = table[["arch_id", *ort_latency_columns()]].rename(columns=lambda c: c.removeprefix("ort_"))
    shipped = table[["arch_id", *latency_columns()]]
    return table[cols], {"shipped": shipped, "onnxruntime-1thread": ort}


def measure(pool: pd.DataFrame, backend: str, threads: int, rounds: int, desc: str) -> pd.DataFrame:
    bar = tqdm(total=len(pool), desc=desc)
    df = measure_device(
        pool, len(pool), backend=backend, threads=threads, rounds=rounds, progress=lambda i, n: bar.update()
    )
    bar.close()
    return df.set_index("arch_id").loc[pool["arch_id"]].reset_index()


def evaluate(table: pd.DataFrame, device: pd.DataFrame, sizes, repeats: int) -> list[dict]:
    """Held-out rank correlation with the device's measured latency_ms and with its latency_norm."""
    out = []
    truth = device.set_index("arch_id").loc[table["arch_id"]]
    for n in sizes:
        scores: dict[str, list[list[float]]] = {"transfer": [], "prior only": [], "shipped": []}
        for rep in range(repeats):
            rng = np.random.default_rng(rep)
            picked = rng.choice(len(table), size=n, replace=False)
            held = np.setdiff1d(np.arange(len(table)), picked)
            measured = device.iloc[picked]
            y_ms = truth["latency_ms"].iloc[held].to_numpy()
            y_norm = truth["latency_norm"].iloc[held].to_numpy()
            preds = {
                name: LatencyTransfer(prior_only=prior_only).fit(table, measured).predict(table.iloc[held])
                for name, prior_only in (("transfer", False), ("prior only", True))
            }
            preds = {k: v["latency_ms"].to_numpy() for k, v in preds.items()}
            preds["shipped"] = table["latency_norm"].iloc[held].to_numpy()
            for name, p in preds.items():
                scores[name].append(
                    [
                        spearmanr(p, y_ms)[0],
                        kendalltau(p, y_ms)[0],
                        spearmanr(p, y_norm)[0],
                        kendalltau(p, y_norm)[0],
                    ]
                )
        for name, vals in scores.items():
            a = np.array(vals)
            out.append(
                {
                    "N": n,
                    "held_out": len(table) - n,
                    "method": name,
                    "spearman_mean": float(a[:, 0].mean()),
                    "spearman_min": float(a[:, 0].min()),
                    "spearman_ge_0.95": float((a[:, 0] >= 0.95).mean()),
                    "kendall_mean": float(a[:, 1].mean()),
                    "spearman_norm_mean": float(a[:, 2].mean()),
                    "spearman_norm_min": float(a[:, 2].min()),
                    "kendall_norm_mean": float(a[:, 3].mean()),
                }
            )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--extra", type=int, default=60, help="V1 architectures added to the fixture's 30")
    p.add_argument("--rounds", type=int, default=10, help="timed rounds per architecture and device")
    p.add_argument("--repeats", type=int, default=20, help="random measured sets per N")
    p.add_argument("--sizes", default="10,20,50")
    p.add_argument("--out", default=None, help="Markdown file appended to (default: by mode, see above)")
    p.add_argument("--release", default=None, help="release with ONNX Runtime latency: time nothing")
    p.add_argument(
        "--measurements",
        default=None,
        help="Parquet of every measured latency: written after measuring, reused (no timing) when it exists",
    )
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    t0 = time.time()
    cache = Path(args.measurements) if args.measurements else None
    devices = list(DEVICES)
    if args.release:
        pool, frames = release_frames(args.release)
        devices = ["onnxruntime-1thread"]
    else:
        pool = pool_table(args.extra)
        if cache is not None and cache.exists():
            frames = dict(tuple(pd.read_parquet(cache).groupby("device", sort=False)))
            frames = {k: v.drop(columns="device").reset_index(drop=True) for k, v in frames.items()}
        else:
            frames = {"shipped": measure(pool, "torch", 1, args.rounds, "shipped: torch eager, 1 thread")}
            for name, (backend, threads) in DEVICES.items():
                frames[name] = measure(pool, backend, threads, args.rounds, f"proxy: {name}")
            if cache is not None:
                every = [f.assign(device=k) for k, f in frames.items()]
                pd.concat(every, ignore_index=True).to_parquet(cache)
    default_out = "latency_transfer_release.md" if args.release else "latency_transfer.md"
    args.out = args.out or f"benchmarks/results/{default_out}"
    table = pool.merge(frames["shipped"], on="arch_id")
    results = {}
    for name in devices:
        device = frames[name]
        full = spearmanr(device["latency_norm"], table["latency_norm"])[0]
        noise = float((device["latency_iqr_ms"] / device["latency_ms"]).median())
        ref_cv = float(device["ref_latency_ms"].std() / device["ref_latency_ms"].mean())
        results[name] = {
            "rows": evaluate(table, device, sizes, args.repeats),
            "shipped_vs_device_all": full,
            "median_iqr_over_median": noise,
            "ref_cv": ref_cv,
        }
    results["shipped"] = {
        "median_iqr_over_median": float((table["latency_iqr_ms"] / table["latency_ms"]).median()),
        "ref_cv": float(table["ref_latency_ms"].std() / table["ref_latency_ms"].mean()),
    }
    seconds = time.time() - t0

    if args.release:
        command = (
            f"python benchmarks/bench_latency_transfer.py --release {args.release} --repeats {args.repeats} "
            f"--sizes {args.sizes}"
        )
        about = (
            f"Architectures: every row of the release {args.release} timed on both runtimes. *Shipped*: its "
            "PyTorch-eager latency columns; the device: its ONNX Runtime columns (CPU provider, one "
            "thread, the same interleaved reference), both measured by `nasbench-mt generate` on one "
            "machine. Nothing is timed by this run. Each row's held-out Spearman/Kendall compares the "
            "prediction for the table "
            f"minus the N 'measured' architectures with their ONNX Runtime latency ({args.repeats} random "
            "measured sets per N)."
        )
    else:
        command = (
            f"OMP_NUM_THREADS=1 python benchmarks/bench_latency_transfer.py --extra {args.extra} "
            f"--rounds {args.rounds} --repeats {args.repeats} --sizes {args.sizes}"
        )
        about = (
            "Architectures: the tiny fixture's 30 plus a seeded V1 sample. The fixture's latency columns are "
            "synthetic, so the *shipped* columns here are PyTorch-eager, one-thread latencies measured fresh "
            "by this run (the release protocol, not the v1 release's own numbers). Every proxy device is "
            "measured on the whole pool; each row's held-out Spearman/Kendall compares the prediction for "
            f"the pool minus the N measured architectures with their measured proxy latency ({args.repeats} "
            "random measured sets per N)."
        )
    lines = [
        f"## Latency transfer, {time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"`{command}` ({seconds:.0f} s, {cpu_model()}, {len(pool)} architectures)",
        "",
        about + " `transfer`: LatencyTransfer; `prior only`: shipped latency rescaled (the ranking of the "
        "shipped column); `shipped`: the shipped column itself.",
        "",
    ]
    sh = results["shipped"]
    lines += [
        "Measurement noise (median IQR/median per arch; coefficient of variation of the interleaved "
        f"reference across the run, i.e. drift): shipped {sh['median_iqr_over_median']:.3f} / "
        f"{sh['ref_cv']:.3f}"
        + "".join(
            f"; {k} {r['median_iqr_over_median']:.3f} / {r['ref_cv']:.3f}"
            for k, r in results.items()
            if k in devices
        ),
        "",
    ]
    for name in devices:
        r = results[name]
        lines += [
            f"### proxy device: {name} (Spearman of shipped vs device latency_norm on all {len(pool)}: "
            f"{r['shipped_vs_device_all']:.3f})",
            "",
            "vs `latency_ms`: the device's raw measured median; vs `latency_norm`: the same divided by the "
            "interleaved reference (drift-corrected).",
            "",
            "| N | held-out | method | Spearman vs ms: mean | min | share >= 0.95 | Kendall vs ms | "
            "Spearman vs norm: mean | min | Kendall vs norm |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for row in r["rows"]:
            lines.append(
                f"| {row['N']} | {row['held_out']} | {row['method']} | {row['spearman_mean']:.3f} | "
                f"{row['spearman_min']:.3f} | {row['spearman_ge_0.95']:.2f} | {row['kendall_mean']:.3f} | "
                f"{row['spearman_norm_mean']:.3f} | {row['spearman_norm_min']:.3f} | "
                f"{row['kendall_norm_mean']:.3f} |"
            )
        lines.append("")
    text = "\n".join(lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(text)
    (out.with_suffix(".json")).write_text(json.dumps({"args": vars(args), "results": results}, indent=2))


if __name__ == "__main__":
    main()
