"""Free auxiliary targets: exact costs that every architecture of the space carries at no measuring cost.

Accuracy needs training; parameters, MACs/FLOPs and their per-task and per-exit parts are computed from the
architecture alone (:func:`nasbench_mt.space.costs.analytic_costs`, well under a millisecond per
architecture once each distinct part has been seen).  A multi-target predictor that masks missing labels
(``accepts_missing_targets``: ``gin``, ``gcn``, ``brp``, ``brp_gin``, ``xgb_stack``) can therefore learn its
shared representation from many architectures labelled with the free targets while only a few carry
accuracy.  :func:`with_free_targets` builds that training set; unlabelled cells are NaN and are left out of
the loss, never imputed.  Every row counts as a row: an epoch of a neural predictor passes once over all of
them, labelled or not, so a fit on 50 labelled and 1,000 unlabelled archs costs about what a fit on 1,050
labelled ones does::

    >>> import numpy as np
    >>> from nasbench_mt import V1
    >>> from predictors import create_predictor, encode_graphs
    >>> from predictors.auxiliary import with_free_targets
    >>> labelled = V1.sample(20, seed=0)
    >>> acc = np.random.default_rng(0).random(20)  # stands for measured accuracies
    >>> archs, Y, names = with_free_targets(labelled, acc, ["acc"], V1.sample(60, seed=1))
    >>> Y.shape, names[:2], int(np.isnan(Y[:, 0]).sum())  # then params_{task} per task, flops, macs_e{k}
    ((80, 9), ['acc', 'params'], 60)
    >>> model = create_predictor("gin", epochs=2, random_state=0).fit(encode_graphs(archs), Y)
    >>> model.predict(encode_graphs(labelled[:3]))[:, 0].shape  # column 0: the accuracy
    (3,)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nasbench_mt.space.arch import V1, Arch, SearchSpace, infer_space
from nasbench_mt.space.costs import analytic_costs
from nasbench_mt.space.tasks import TaskSpec

__all__ = ["free_target_names", "free_targets", "sample_unlabelled", "with_free_targets"]


def free_target_names(space: SearchSpace = V1, tasks: Sequence[TaskSpec] | None = None) -> list[str]:
    """The default free targets: ``params``, ``params_{task}`` (each task's path), ``flops`` (2 x MACs of
    the whole network) and ``macs_e{k}`` (MACs up to the early exit after stage ``k``; NaN, a missing
    label, for an architecture without that exit).  Column names as in the release table."""
    tasks = space.tasks if tasks is None else tasks
    return [
        "params",
        *[f"params_{t.name}" for t in tasks],
        "flops",
        *[f"macs_e{k}" for k in space.exit_choices],
    ]


def _allowed(space: SearchSpace, tasks: Sequence[TaskSpec]) -> list[str]:
    return ["macs", *free_target_names(space, tasks)]


def free_targets(
    archs: Sequence[Arch | str],
    names: Sequence[str] | None = None,
    tasks: Sequence[TaskSpec] | None = None,
    space: SearchSpace | None = None,
) -> np.ndarray:
    """Exact values of the free targets ``names`` (default :func:`free_target_names`; ``macs`` too) for each
    architecture: a float64 array ``(len(archs), len(names))``, NaN where a cost does not exist (an exit the
    architecture lacks)."""
    if isinstance(archs, (str, Arch)) or not isinstance(archs, Sequence):
        raise ValueError(f"invalid archs: {type(archs).__name__}; allowed: a sequence of Arch or strings")
    space = infer_space(archs, tasks, space)
    tasks = tuple(space.tasks if tasks is None else tasks)
    names = free_target_names(space, tasks) if names is None else list(names)
    allowed = _allowed(space, tasks)
    unknown = [n for n in names if n not in allowed]
    if unknown:
        raise ValueError(f"invalid free targets: {unknown}; allowed: {allowed}")
    out = np.full((len(archs), len(names)), np.nan)
    for i, arch in enumerate(archs):
        row = analytic_costs(space.validate(arch), tasks).as_row()
        out[i] = [row.get(n, np.nan) for n in names]
    return out


def sample_unlabelled(
    space: SearchSpace, m: int, seed: int, exclude: Sequence[Arch | str] = ()
) -> list[Arch]:
    """``m`` distinct architectures of ``space`` drawn with ``seed`` (:meth:`SearchSpace.sample`), none of
    them in ``exclude`` (e.g. a test split): the unlabelled archs of :func:`with_free_targets`.

    >>> held_out = V1.sample(5, seed=0)
    >>> archs = sample_unlabelled(V1, 20, seed=0, exclude=held_out)
    >>> len(archs), any(a in held_out for a in archs)
    (20, False)
    """
    excluded = {space.validate(a) for a in exclude}
    drawn = space.sample(m + len(excluded), seed=seed)
    return [a for a in drawn if a not in excluded][:m]


def with_free_targets(
    archs: Sequence[Arch | str],
    y: np.ndarray,
    targets: Sequence[str],
    aux_archs: Sequence[Arch | str] = (),
    free: Sequence[str] | None = None,
    tasks: Sequence[TaskSpec] | None = None,
    space: SearchSpace | None = None,
) -> tuple[list[Arch], np.ndarray, list[str]]:
    """The training set of ``archs`` (labels ``y``, columns named ``targets``) plus ``aux_archs`` that carry
    only the free targets: ``(archs + aux_archs, Y, names)``.

    ``Y`` has the columns ``targets`` then every free target of ``free`` (default
    :func:`free_target_names`) not already among them.  Labelled rows keep ``y`` and get the free columns
    computed; the rows of ``aux_archs`` get the exact value of every free column and of every target that is
    itself a free cost (``params``, ``flops``, ``macs``, ...), and NaN (missing, masked by the predictor) in
    the others, e.g. accuracy and latency.
    """
    space = infer_space([*archs, *aux_archs], tasks, space)
    tasks = tuple(space.tasks if tasks is None else tasks)
    targets = list(targets)
    labelled = [space.validate(a) for a in archs]
    unlabelled = [space.validate(a) for a in aux_archs]
    y = np.asarray(y, dtype=np.float64).reshape(len(labelled), -1)
    if y.shape[1] != len(targets):
        raise ValueError(
            f"invalid targets: {len(targets)} names for {y.shape[1]} columns of y; allowed: one each"
        )
    free = free_target_names(space, tasks) if free is None else list(free)
    extra = [n for n in free if n not in targets]
    names = targets + extra
    allowed = set(_allowed(space, tasks))
    computed = [n for n in names if n in allowed]  # what an unlabelled row carries
    out = np.full((len(labelled) + len(unlabelled), len(names)), np.nan)
    out[: len(labelled), : len(targets)] = y
    if extra and labelled:
        out[: len(labelled), len(targets) :] = free_targets(labelled, extra, tasks, space)
    if unlabelled:
        cols = [names.index(n) for n in computed]
        out[len(labelled) :, cols] = free_targets(unlabelled, computed, tasks, space)
    return labelled + unlabelled, out, names
