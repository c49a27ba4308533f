"""Where a supernet disagrees with training from scratch: the calibration residual by structural choice.

    python benchmarks/fidelity_residuals.py --path data/v1                       # the release's supernet
    python benchmarks/fidelity_residuals.py --path data/v1 --rows runs/fidelity/NAME   # a harness candidate

For each target (each task's test score and mean_acc) and each value of each structural choice: how many
calibration architectures have it, the mean centred residual (standalone minus supernet, minus its overall
mean; positive = the supernet under-scores them) and Kendall tau between supernet and standalone within the
group.  Writes a Markdown section to benchmarks/results/fidelity_residuals.md (``--out``).
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from nasbench_mt.publish.fidelity import candidate_rows, residual_by_choice
from nasbench_mt.query.benchmark import load_benchmark

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import append_report


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--path", required=True, help="release directory with a calibration tier")
    p.add_argument("--rows", help="a calibrate --work directory (default: the release's own table)")
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "fidelity_residuals.md"))
    args = p.parse_args()
    bench = load_benchmark(path=args.path)
    table = candidate_rows(args.rows) if args.rows else bench.table
    if not len(table):
        raise SystemExit(
            f"invalid --rows: {args.rows} holds no measured rows; allowed: a calibrate --work dir"
        )
    res = residual_by_choice(table, bench.calibration, bench.tasks)
    wide = res.pivot_table(index=["choice", "value"], columns="target", values=["residual", "tau_within"])
    n = res.drop_duplicates(["choice", "value"]).set_index(["choice", "value"])["n"]
    targets = list(dict.fromkeys(res["target"]))
    head = "| choice | value | n | " + " | ".join(f"{t} resid / tau" for t in targets) + " |"
    lines = [
        f"\n## {args.rows or 'release table'} vs standalone ({dt.date.today().isoformat()})\n",
        f"`python benchmarks/fidelity_residuals.py --path {args.path}"
        + (f" --rows {args.rows}`" if args.rows else "`"),
        "",
        head,
        "|---|---|---|" + "---|" * len(targets),
    ]
    for (choice, value), row in wide.iterrows():
        cells = [f"{row[('residual', t)]:+.2f} / {row[('tau_within', t)]:.2f}" for t in targets]
        lines.append(f"| {choice} | {value} | {n[(choice, value)]} | " + " | ".join(cells) + " |")
    append_report(args.out, lines)


if __name__ == "__main__":
    main()
