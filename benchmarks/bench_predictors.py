"""Speed (and, on analytic-cost targets, quality) of every registered predictor.

For each predictor: fit time at 100 and 1,000 training architectures, predict time on 1,000, ``rank`` time
of a 10,000-architecture pool (encoding timed separately), and held-out Kendall tau per target.  Then the
multi-task tree variants (``xgb``, ``xgb_mt``, ``xgb_stack``) compared on the 30-row test fixture (repeated
20/10 splits).

With ``--path`` (a release such as ``data/v1``) the training and held-out architectures are release rows
and the targets are measured: ``latency_norm``, ``mean_acc`` and ``params``.  Without it they are
``V1.sample(..., seed)`` architectures with exact analytic targets: params, MACs and a nonlinear target
derived from them (the test fixture's).  Either way the quality figures are a side note; the leaderboard
(``nasbench-mt evaluate-predictors``) is where predictors are scored.

    OMP_NUM_THREADS=2 python benchmarks/bench_predictors.py --threads 2 --path data/v1

writes ``benchmarks/results/predictors.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

from nasbench_mt import V1, build_model, measure_costs
from predictors import (
    analytic_costs,
    create_predictor,
    encode_archs,
    encode_graphs,
    encode_sequences,
    list_predictors,
)
from predictors.metrics import kendall_tau, rmse

ANALYTIC_TARGETS = ("params", "macs", "nonlinear")
RELEASE_TARGETS = ("latency_norm", "mean_acc", "params")


def nonlinear_target(params: np.ndarray, macs: np.ndarray) -> np.ndarray:
    """Same as tests/predictors/conftest.py: log(MACs) minus a penalty peaked at the typical size."""
    lp = np.log(params)
    return np.log(macs) - (lp - lp.mean()) ** 2


def targets_of(costs) -> np.ndarray:
    params = np.array([c.params for c in costs], dtype=np.float64)
    macs = np.array([c.macs for c in costs], dtype=np.float64)
    return np.column_stack([params, macs, nonlinear_target(params, macs)])


def timed(fn):
    start = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - start


def make(name: str, threads: int, seed: int):
    params = create_predictor(name).get_params()
    kw = {"random_state": seed}
    if "n_jobs" in params:
        kw["n_jobs"] = threads
    return create_predictor(name, **kw)


def labelled_archs(path, n, seed):
    """``n`` architectures and their (n, 3) targets: release rows in a seeded order, or analytic costs."""
    if path is None:
        archs = V1.sample(n, seed=seed)
        return archs, targets_of([analytic_costs(a) for a in archs])
    from nasbench_mt import load_benchmark

    table = load_benchmark(path=path).table.dropna(subset=list(RELEASE_TARGETS))
    if len(table) < n:
        raise SystemExit(f"--path {path}: {len(table)} rows with {list(RELEASE_TARGETS)}; need {n}")
    rows = table.sort_values("arch_id", kind="stable").sample(n=n, random_state=seed)
    return list(rows["arch"]), rows[list(RELEASE_TARGETS)].to_numpy(dtype=np.float64)


def bench_speed(names, sizes, n_test, n_pool, threads, seed, path, log):
    n_train = max(sizes)
    (labelled, y), t_targets = timed(lambda: labelled_archs(path, n_train + n_test, seed))
    archs = labelled + V1.sample(n_pool, seed=seed + 1)
    X, t_feat = timed(lambda: encode_archs(archs))
    G, t_graph = timed(lambda: encode_graphs(archs))
    S, t_seq = timed(lambda: encode_sequences(archs))
    pool = slice(n_train + n_test, None)
    _, t_feat_pool = timed(lambda: encode_archs(archs[pool]))
    _, t_graph_pool = timed(lambda: encode_graphs(archs[pool]))
    _, t_seq_pool = timed(lambda: encode_sequences(archs[pool]))
    log(
        f"{len(archs)} archs: targets {t_targets:.2f} s, features {t_feat:.2f} s, graphs {t_graph:.2f} s, "
        f"sequences {t_seq:.2f} s"
    )
    rows = []
    test = slice(n_train, n_train + n_test)
    for name in names:
        row = {"name": name}
        for n in sizes:
            model = make(name, threads, seed)
            inp = {"features": X, "graphs": G, "sequences": S}[model.input_kind]
            _, row[f"fit{n}"] = timed(lambda model=model, inp=inp, n=n: model.fit(inp[:n], y[:n]))
            pred, row[f"pred{n}"] = timed(lambda model=model, inp=inp: model.predict(inp[test]))
            row[f"tau{n}"] = [kendall_tau(y[test, j], pred[:, j]) for j in range(y.shape[1])]
            log(
                f"{name:10s} n={n:5d} fit {row[f'fit{n}']:7.2f} s  predict {row[f'pred{n}']:6.3f} s  "
                f"tau {np.round(row[f'tau{n}'], 3).tolist()}"
            )
        _, row["rank"] = timed(lambda model=model, inp=inp: model.rank(inp[pool], target=1))
        row["kind"] = model.input_kind
        log(f"{name:10s} rank {n_pool} {row['rank']:.2f} s")
        rows.append(row)
    enc = {"features": t_feat_pool, "graphs": t_graph_pool, "sequences": t_seq_pool}
    return rows, enc


def bench_multitask_on_fixture(threads, seed, repeats, log):
    archs = V1.sample(30, seed=2024)  # the test fixture (tests/predictors/conftest.py)
    y = targets_of([measure_costs(build_model(a)) for a in archs])
    X = encode_archs(archs)
    out = {}
    for name in ("xgb", "xgb_mt", "xgb_stack"):
        taus, errs = [], []
        for r in range(repeats):
            perm = np.random.default_rng(r).permutation(30)
            tr, te = perm[:20], perm[20:]
            pred = make(name, threads, seed).fit(X[tr], y[tr]).predict(X[te])
            taus.append([kendall_tau(y[te, j], pred[:, j]) for j in range(3)])
            errs.append([rmse(y[te, j], pred[:, j]) / y[te, j].std() for j in range(3)])
        out[name] = (np.mean(taus, axis=0), np.mean(errs, axis=0))
        tau, err = (np.round(v, 3).tolist() for v in out[name])
        log(f"fixture {name:10s} tau {tau} rmse/std {err}")
    return out


def write_report(
    path, command, rows, enc, sizes, n_test, n_pool, fixture_cmp, load_before, load_after, threads, release
):
    if release is None:
        targets = "/".join(ANALYTIC_TARGETS)
        source = (
            "exact analytic costs of `V1.sample(..., seed)` architectures - params, MACs and a nonlinear "
            "target derived from them (see the script)"
        )
    else:
        targets = "/".join(RELEASE_TARGETS)
        source = (
            f"measured, from the release `{release}`: {n_test:,} held-out rows and the training rows, in a "
            f"seeded order; targets {', '.join(RELEASE_TARGETS)}; the {n_pool:,}-arch ranking pool is "
            "`V1.sample(..., seed + 1)`"
        )
    lines = [
        "# Predictor benchmark",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPU cores, Python {platform.python_version()}, "
        f"torch {torch.__version__}; {threads} threads (torch.set_num_threads and n_jobs).  Load average "
        f"(1 min) {load_before:.2f} at the start (it still counts the last minute before the run) and "
        f"{load_after:.2f} at the end (it counts the run's own {threads} threads).",
        "",
        f"Targets: {source}.  Features are `encode_archs` (with cost columns, so params and MACs are "
        "easy), graphs are `encode_graphs`.  Default hyper-parameters.",
        "",
        f"Encoding the {n_pool:,}-arch pool: features {enc['features']:.2f} s, graphs {enc['graphs']:.2f} s "
        "(not included in the rank times below).",
        "",
    ]
    head = "| predictor | input | " + " | ".join(
        f"fit {n} (s) | predict {n_test} (s) | tau@{n} {targets}" for n in sizes
    )
    head += f" | rank {n_pool:,} (s) |"
    lines += [head, "|" + "---|" * (3 * len(sizes) + 3)]
    for r in rows:
        cells = [r["name"], r["kind"]]
        for n in sizes:
            cells += [
                f"{r[f'fit{n}']:.2f}",
                f"{r[f'pred{n}']:.3f}",
                " / ".join(f"{t:.3f}" for t in r[f"tau{n}"]),
            ]
        cells.append(f"{r['rank']:.2f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines += [
        "",
        "Speed targets: tree fit on 1,000 < 2 s, neural fit on 1,000 < 60 s on 2 cores, rank 10k < 5 s.",
        "",
        "## Multi-task tree variants on the 30-row test fixture",
        "",
        "Mean over repeated random 20-train / 10-test splits of the fixture; RMSE divided by the test "
        "targets' standard deviation.",
        "",
        "| predictor | tau params / macs / nonlinear | rmse/std params / macs / nonlinear |",
        "|---|---|---|",
    ]
    for name, (tau, err) in fixture_cmp.items():
        lines.append(
            f"| {name} | {' / '.join(f'{t:.3f}' for t in tau)} | {' / '.join(f'{e:.3f}' for e in err)} |"
        )
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    Path(path).write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--predictors", nargs="*", default=None, help="default: all registered")
    ap.add_argument("--sizes", nargs="*", type=int, default=[100, 1000])
    ap.add_argument("--test", type=int, default=1000)
    ap.add_argument("--pool", type=int, default=10000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=5, help="fixture splits for the multi-task comparison")
    ap.add_argument("--path", default=None, help="a release (e.g. data/v1): measured targets from its rows")
    ap.add_argument("--out", default="benchmarks/results/predictors.md")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    names = args.predictors or list_predictors()
    unknown = sorted(set(names) - set(list_predictors()))
    if unknown:
        ap.error(f"unknown predictors {unknown}; allowed: {list_predictors()}")

    def log(msg: str) -> None:
        print(msg, flush=True)

    load_before = os.getloadavg()[0]
    rows, enc = bench_speed(names, args.sizes, args.test, args.pool, args.threads, args.seed, args.path, log)
    fixture_cmp = bench_multitask_on_fixture(args.threads, args.seed, args.repeats, log)
    load_after = os.getloadavg()[0]
    command = "OMP_NUM_THREADS={} python {}".format(
        os.environ.get("OMP_NUM_THREADS", "unset"), " ".join([sys.argv[0], *(argv or sys.argv[1:])])
    )
    write_report(
        args.out,
        command,
        rows,
        enc,
        args.sizes,
        args.test,
        args.pool,
        fixture_cmp,
        load_before,
        load_after,
        args.threads,
        args.path,
    )
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
