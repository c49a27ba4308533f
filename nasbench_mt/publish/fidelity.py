"""The fidelity harness: how closely a candidate supernet ranks the calibration architectures like training
each of them from scratch.

:func:`measure_candidate` measures a release's calibration architectures (the ones it also trained with the
standalone protocol) with a candidate supernet checkpoint, exactly as the release measured its table (same
scenes, BatchNorm recalibration and evaluation; optionally with a short per-subnet fine-tune first), and
compares them with the standalone rows: Kendall tau per task and on ``mean_acc`` with 90% bootstrap
intervals, next to the release's own figures and the standalone noise ceiling.  Measurement goes through
:func:`nasbench_mt.measure.generate.generate` into a work directory, so a killed run resumes where it stopped.

:func:`append_fidelity` keeps one Markdown table row per candidate (``benchmarks/results/fidelity.md`` in this
repository): its options, training core-hours, measurement seconds per row and per-task taus.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from nasbench_mt.measure.generate import generate
from nasbench_mt.measure.measurer import MeasureSpec
from nasbench_mt.measure.shards import GenerateConfig, partial_row_files
from nasbench_mt.query.benchmark import load_benchmark
from nasbench_mt.release.manifest import ReleaseError, read_manifest, role_paths, sha256_file
from nasbench_mt.release.provenance import training_core_hours
from nasbench_mt.release.stats import calibration_pairs, calibration_stats, stat_targets
from nasbench_mt.space.arch import V1, Arch, SearchSpace

__all__ = [
    "FidelityReport",
    "append_fidelity",
    "candidate_config",
    "candidate_rows",
    "fidelity_row",
    "fidelity_targets",
    "measure_candidate",
    "meets_target",
    "residual_by_choice",
    "structural_choices",
]

# the agreement the benchmark aims for: mean_acc and each task, or 0.10 below the noise ceiling if lower
TARGET_MEAN, TARGET_TASK, CEILING_MARGIN = 0.70, 0.55, 0.10


@dataclass(frozen=True)
class FidelityReport:
    """One candidate's agreement with the standalone protocol on a release's calibration architectures."""

    label: str
    supernet: str
    sha256: str
    options: str  # how the candidate was trained (and fine-tuned), one line
    train_core_hours: float | None  # training wall time x threads (including a parent it started from)
    measure_s: float  # median seconds to measure one row, on one thread
    reused: bool  # True when the rows are the release's own (the candidate is the release's supernet)
    device: str = "cpu"  # where the rows were measured (measure_s is that device's seconds)
    train_gpu_hours: float = 0.0  # hours trained on a GPU (including a parent's), not in train_core_hours
    stats: dict[str, dict] = field(default_factory=dict)  # target -> n, kendall_tau(_ci90), spearman
    release: dict[str, dict] = field(default_factory=dict)  # the release's supernet-vs-standalone figures
    ceiling: dict[str, dict] = field(default_factory=dict)  # standalone seed-to-seed and its proxy ceiling
    target: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def fidelity_targets(targets: list[str], ceiling: dict[str, dict]) -> dict[str, float]:
    """Per target, the Kendall tau a candidate must reach: 0.70 on ``mean_acc`` and 0.55 on each task, or
    0.10 below the standalone noise ceiling where that is lower."""
    out = {}
    for col in targets:
        goal = TARGET_MEAN if col == "mean_acc" else TARGET_TASK
        if col in ceiling and "ceiling_tau" in ceiling[col]:
            goal = min(goal, ceiling[col]["ceiling_tau"] - CEILING_MARGIN)
        out[col] = round(goal, 3)
    return out


def _options(meta: dict, finetune: dict) -> str:
    """One line saying how a checkpoint was trained, from its side file."""
    cfg = meta.get("train_config", {})
    parts = []
    if meta.get("init_from"):
        parts.append(f"from {meta['init_from']}")
    if meta.get("few_shot"):
        parts.append(f"few-shot split {meta['few_shot']}")
    if "epochs" in cfg:
        parts.append(f"epochs={cfg['epochs']:g}")
    for key in ("n_random", "distill"):
        if key in meta:
            parts.append(f"{key}={meta[key]:g}")
    for key in ("separate_smallest", "separate_random", "stem_branch_fair"):
        if meta.get(key):
            parts.append(key)
    balance = meta.get("loss_balance") or {}
    if balance.get("scheme", "fixed") != "fixed" or any(
        w != 1 for weights in ("task_weights", "exit_weights") for w in balance.get(weights, {}).values()
    ):
        weights = {**balance.get("task_weights", {}), **balance.get("exit_weights", {})}
        parts.append(
            f"loss_balance={balance.get('scheme', 'fixed')}"
            + "".join(f" {k}={v:g}" for k, v in weights.items() if v != 1)
        )
    parts += [k for k, v in meta.get("structure", {}).items() if v]
    if finetune:
        parts.append(
            "finetune "
            + " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in finetune.items())
        )
    return ", ".join(parts) or "defaults"


def candidate_rows(out: str | Path, prefix: str = "archs") -> pd.DataFrame:
    """Every row a ``calibrate`` work directory holds: packed shards and finished rows still in partial/."""
    out = Path(out)
    paths = role_paths(out, read_manifest(out), "archs", prefix) if (out / "manifest.json").exists() else []
    paths = [*paths, *partial_row_files(out, prefix)]
    if not paths:
        return pd.DataFrame(columns=["arch_id"])
    return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)


def candidate_config(
    manifest: dict,
    supernet: str | Path,
    label: str,
    work: str | Path | None = None,
    finetune: dict | None = None,
    workers: int = 1,
    device: str = "cpu",
    root: str | Path = "the release",
) -> GenerateConfig:
    """The :func:`~nasbench_mt.measure.generate.generate` run that measures a release's calibration
    architectures with ``supernet`` exactly as the release measured its table, into ``work`` (default
    ``runs/fidelity/<label>``).  Only the release's ``manifest`` is read, so the same run can start on
    another machine (a GPU, ``device="cuda"``) and be resumed or read back by :func:`measure_candidate`."""
    gen = manifest.get("generation", {})
    if "calibration" not in gen or "archs" not in gen:
        raise ReleaseError(
            f"invalid release: {root}'s manifest does not record how its table and calibration tier "
            "were generated; allowed: a release written by nasbench-mt generate"
        )
    cal_gen, table_spec = gen["calibration"], gen["archs"]["spec"]
    spec = MeasureSpec(
        protocol="supernet",
        supernet=str(supernet),
        suite=table_spec.get("suite", "mnist-scenes"),
        suite_kwargs=table_spec.get("suite_kwargs", {}),
        n_per_sample=table_spec.get("n_per_sample", 1000),
        calib_images=table_spec.get("calib_images", 1024),
        calib_batch=table_spec.get("calib_batch", 256),
        finetune=dict(finetune or {}),
        device=device,
    )
    return GenerateConfig(
        out=str(Path(work) if work is not None else Path("runs") / "fidelity" / label),
        n=int(cal_gen["n"]),
        seed=int(cal_gen["seed"]),
        offset=int(cal_gen.get("offset", 0)),
        shard_size=int(cal_gen["n"]),
        spec=spec,
        prefix="archs",
        workers=workers,
        version=f"fidelity-{label}",
    )


def measure_candidate(
    supernet: str | Path,
    release: str = "v1",
    path: str | Path | None = None,
    work: str | Path | None = None,
    finetune: dict | None = None,
    workers: int = 1,
    label: str | None = None,
    progress: bool = True,
    device: str = "cpu",
) -> FidelityReport:
    """Measure the calibration architectures of a release (the shipped ``release``, or the release
    directory ``path``) with checkpoint ``supernet`` and compare them with the standalone protocol (see
    the module docstring).

    ``finetune`` holds :class:`~nasbench_mt.train.TrainConfig` fields of a per-subnet fine-tune before
    measuring (e.g. ``{"epochs": 0.5, "lr": 1e-3}``).  ``work`` (default ``runs/fidelity/<label>``) keeps
    the measured rows; an interrupted call continues from them.  When the candidate is the release's own
    supernet and there is no fine-tune, the release's rows are used as they are (measuring them again gives
    bit-identical rows: ``nasbench-mt reproduce``).
    """
    bench = load_benchmark(release, path=path)
    calibration = bench.calibration
    if calibration is None or not len(calibration):
        raise ReleaseError(
            f"invalid release: {bench.root} has no calibration tier; allowed: a release with one"
        )
    supernet = Path(supernet)
    if not supernet.is_file():
        raise ValueError(f"invalid supernet: {supernet} does not exist; allowed: a checkpoint file path")
    finetune = dict(finetune or {})
    table_spec = bench.manifest.get("generation", {}).get("archs", {}).get("spec", {})
    meta_path = supernet.with_suffix(".json")
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    sha = sha256_file(supernet)
    label = label or supernet.stem + ("-finetune" if finetune else "")
    reused = not finetune and sha == table_spec.get("supernet_sha256")
    ids = set(calibration["arch_id"])
    device_used = "cpu"
    if reused:
        rows = bench.table[bench.table["arch_id"].isin(ids)]
    else:
        cfg = candidate_config(bench.manifest, supernet, label, work, finetune, workers, device, bench.root)
        manifest = generate(cfg, resume=True, progress=progress)
        # rows measured elsewhere (e.g. on a GPU machine) and only read back here keep that run's record
        device_used = manifest.get("generation", {}).get("archs", {}).get("device", "cpu")
        rows = candidate_rows(cfg.out)
        rows = rows[rows["arch_id"].isin(ids)]
    tasks = bench.tasks
    stats = calibration_stats(rows, calibration, tasks)
    ceiling = bench.standalone_noise()
    return FidelityReport(
        label=label,
        supernet=str(supernet),
        sha256=sha,
        options=_options(meta, finetune),
        train_core_hours=training_core_hours(meta),
        train_gpu_hours=float(meta.get("gpu_hours", 0.0)),
        measure_s=float(rows["measure_s"].median()) if len(rows) else float("nan"),
        reused=reused,
        device=device_used,
        stats=stats,
        release=bench.manifest.get("calibration", {}).get("supernet_vs_standalone", {}),
        ceiling=ceiling,
        target=fidelity_targets(stat_targets(tasks), ceiling),
    )


_HEADER = (
    "| date | candidate | options | train core-h | measure s/row | n | {targets} | meets target | command |\n"
    "|---|---|---|---|---|---|{dashes}---|---|\n"
)


def _tau_cell(s: dict) -> str:
    if "kendall_tau" not in s:
        return "n/a"
    lo, hi = s.get("kendall_tau_ci90", (float("nan"), float("nan")))
    return f"{s['kendall_tau']:.3f} [{lo:.3f}, {hi:.3f}]"


def meets_target(report: FidelityReport) -> bool:
    return all(report.stats.get(c, {}).get("kendall_tau", -1.0) >= goal for c, goal in report.target.items())


def fidelity_row(report: FidelityReport, command: str | None = None) -> str:
    """The candidate's row of the fidelity table (Markdown)."""
    targets = list(report.target)
    n = max((s.get("n", 0) for s in report.stats.values()), default=0)
    hours = "n/a" if report.train_core_hours is None else f"{report.train_core_hours:.2f}"
    if report.train_gpu_hours:
        hours += f" + {report.train_gpu_hours:.2f} GPU-h"
    command = command or " ".join(["nasbench-mt", *sys.argv[1:]])
    cells = [
        dt.date.today().isoformat(),
        f"{report.label} (`{report.sha256[:12]}`)" + (" (release rows)" if report.reused else ""),
        report.options,
        hours,
        f"{report.measure_s:.1f}" + ("" if report.device == "cpu" else f" ({report.device})"),
        str(n),
        *(_tau_cell(report.stats.get(c, {})) for c in targets),
        "yes" if meets_target(report) else "no",
        f"`{command}`",
    ]
    return "| " + " | ".join(cells) + " |\n"


def append_fidelity(report: FidelityReport, path: str | Path, command: str | None = None) -> Path:
    """Add (or replace, by candidate label) the candidate's row in the Markdown table at ``path``."""
    path = Path(path)
    targets = list(report.target)
    header = _HEADER.format(
        targets=" | ".join(f"{c} tau [90% CI]" for c in targets), dashes="---|" * len(targets)
    )
    intro = (
        "# Fidelity of candidate supernets\n\n"
        "Kendall tau between each candidate's measurement of the calibration architectures and the same "
        "architectures trained from scratch (standalone protocol), with 90% bootstrap intervals. Written by "
        "`nasbench-mt calibrate`; one row per candidate (a re-run replaces its row).\n\n"
    )
    lines = path.read_text().splitlines(keepends=True) if path.is_file() else []
    if not lines:
        lines = [intro, header]
    elif header not in "".join(lines):
        raise ValueError(
            f"invalid results file: {path} has another table's columns; allowed: a fidelity table of the "
            f"targets {targets} (or a new path)"
        )
    row = fidelity_row(report, command)
    key = f"| {report.label} (`"
    out, replaced = [], False
    for line in lines:
        if line.startswith("| ") and key in line:
            if not replaced:
                out.append(row)
            replaced = True
        else:
            out.append(line)
    if not replaced:
        out.append(row)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(out))
    return path


def structural_choices(arch_ids: pd.Series, archs: pd.Series, space: SearchSpace = V1) -> pd.DataFrame:
    """Per architecture, the structural choices a supernet may get wrong: each task's branch point, how many
    tasks branch off at the stem, the earliest branch point, the number of early exits, total depth, the
    first stage's depth and its first block's kernel."""
    rows = []
    for arch_id, text in zip(arch_ids, archs):
        a = Arch.from_string(text, space=space)
        row = {"arch_id": arch_id}
        row.update({f"branch_{i}": b for i, b in enumerate(a.branches)})
        row.update(
            {
                "tasks_at_stem": sum(b == 0 for b in a.branches),
                "first_branch": min(a.branches),
                "early_exits": len(a.exits),
                "depth": sum(len(s) for s in a.stages),
                "stage1_depth": len(a.stages[0]),
                "stage1_kernel": a.stages[0][0].kernel,
            }
        )
        rows.append(row)
    return pd.DataFrame(rows)


def residual_by_choice(table: pd.DataFrame, calibration: pd.DataFrame, tasks) -> pd.DataFrame:
    """Where a supernet disagrees with training from scratch, by structural choice.

    For every target and every value of every choice of :func:`structural_choices`: the architectures with
    it (``n``), the mean of the centred residual (standalone minus supernet, minus its mean over all
    calibration archs: positive = the supernet under-scores these networks) and the Kendall tau between
    supernet and standalone within the group (``tau_within``: does the supernet rank the group's members
    right).  ``table`` holds the supernet rows (a release's table or a candidate's rows)."""
    from scipy.stats import kendalltau

    merged = calibration_pairs(table, calibration)
    choices = structural_choices(merged["arch_id"], merged["arch"], V1.with_tasks(tasks))
    names = {f"branch_{i}": f"branch_{t.name}" for i, t in enumerate(tasks)}
    choices = choices.rename(columns=names)
    merged = merged.merge(choices, on="arch_id")
    out = []
    for col in stat_targets(tasks):
        resid = merged[col + "_standalone"] - merged[col]
        resid = resid - resid.mean()
        for choice in [c for c in choices.columns if c != "arch_id"]:
            for value, idx in merged.groupby(choice).groups.items():
                part = merged.loc[idx]
                tau = float("nan")
                if len(part) >= 3:
                    tau = float(kendalltau(part[col], part[col + "_standalone"]).statistic)
                out.append(
                    {
                        "target": col,
                        "choice": choice,
                        "value": int(value),
                        "n": len(part),
                        "residual": float(resid.loc[idx].mean()),
                        "tau_within": tau,
                    }
                )
    return pd.DataFrame(out)
