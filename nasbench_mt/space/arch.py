"""Search spaces of multi-task, early-exit MobileNet-style networks; v1 is one of them.

A :class:`SearchSpace` is parameterised by its task list (one branch point per task, any number of tasks):
``V1`` is the built-in scene suite's three tasks, and ``V1.with_tasks(tasks)`` is the same geometry for any
other list (a release records its tasks in its manifest and is loaded with the space they give).

An :class:`Arch` is a frozen value.  Only the blocks a network actually uses are stored, and branch points are
stored canonically (see :func:`canonical_branches`), so two specs that build the same network are the same
``Arch`` (same canonical string, same id).  The spec as written stays readable as
:attr:`Arch.written_string` and :attr:`Arch.written_id`: the v1 release names its rows that way.

Canonical string (v1)::

    k3e4,k5e6|k7e3|k3e3,k5e4,k7e6|k3e3|b=2,2,0|x=1,3

four ``|``-separated stages of ``k{kernel}e{expand}`` blocks (the stage depth is the number of blocks), the
branch point of each task (``b=``, canonical: none above the second-largest) and the early-exit positions
(``x=``, possibly empty).  Any spelling parses: ``b=4,2,0`` is the same network as ``b=2,2,0``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import json
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from nasbench_mt.space.tasks import SCENE_TASKS, TaskSpec, check_tasks

__all__ = [
    "FEW_SHOT_SPLITS",
    "V1",
    "Arch",
    "Block",
    "SearchSpace",
    "StageSpec",
    "canonical_branches",
    "few_shot_regions",
    "infer_space",
    "string_id",
]


@dataclass(frozen=True)
class StageSpec:
    """Fixed (not searched) geometry of one MBConv stage."""

    channels: int
    stride: int


@dataclass(frozen=True, order=True)
class Block:
    """One MBConv block: depthwise kernel size and expand ratio."""

    kernel: int
    expand: int

    def __str__(self) -> str:
        return f"k{self.kernel}e{self.expand}"


def _bad(field_name: str, value: Any, allowed: Any) -> ValueError:
    return ValueError(f"invalid {field_name}: {value!r}; allowed: {allowed}")


def canonical_branches(branches: Sequence[int]) -> tuple[int, ...]:
    """The one spelling of the branch points of a network: none above the second-largest.

    Trunk stage ``s`` is computed once for the tasks whose branch point is above ``s``.  A trunk stage that
    only one task still uses is exactly that task's own stage (same blocks, same input, nobody else reads
    it), so ``b=2,0,4`` and ``b=2,0,2`` build the same network: the canonical spelling lowers a branch point
    that stands above all others to the second-largest (with one task, to 0: nothing is shared).
    """
    cap = sorted(branches)[-2] if len(branches) >= 2 else 0
    return tuple(min(int(b), cap) for b in branches)


def string_id(text: str, space_name: str = "v1") -> str:
    """The 12-hex id of an architecture string: the first 12 hex digits of sha1 of ``space:string``."""
    return hashlib.sha1(f"{space_name}:{text}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class SearchSpace:
    """Choices, fixed geometry and task list of a search space (v1 defaults, see DESIGN.md).

    ``tasks`` (one :class:`~nasbench_mt.space.tasks.TaskSpec` per task, hence per branch point) decides how
    many branch points an architecture has and which heads its network carries; ``name`` names the geometry
    and enters every architecture id (``string_id``), so the same spec under another task list of the same
    length keeps its id.
    """

    name: str = "v1"
    depths: tuple[int, ...] = (1, 2, 3)
    kernels: tuple[int, ...] = (3, 5, 7)
    expands: tuple[int, ...] = (3, 4, 6)
    tasks: tuple[TaskSpec, ...] = SCENE_TASKS
    stem_channels: int = 16
    stages: tuple[StageSpec, ...] = (
        StageSpec(24, 1),
        StageSpec(40, 2),
        StageSpec(64, 2),
        StageSpec(96, 1),
    )
    input_size: int = 32
    input_channels: int = 3

    def __post_init__(self) -> None:
        if isinstance(self.tasks, (str, bytes)) or not isinstance(self.tasks, Sequence) or not self.tasks:
            raise _bad("tasks", self.tasks, "a non-empty sequence of TaskSpec, one per task")
        object.__setattr__(self, "tasks", check_tasks(self.tasks, len(self.tasks)))

    def with_tasks(self, tasks: Sequence[TaskSpec]) -> SearchSpace:
        """This geometry with the task list ``tasks`` (``self`` when the list is the same)."""
        tasks = tuple(tasks)
        return self if tasks == self.tasks else dataclasses.replace(self, tasks=tasks)

    # ------------------------------------------------------------------ tasks
    @property
    def num_tasks(self) -> int:
        return len(self.tasks)

    @property
    def task_names(self) -> tuple[str, ...]:
        return tuple(t.name for t in self.tasks)

    # ------------------------------------------------------------------ geometry
    @property
    def num_stages(self) -> int:
        return len(self.stages)

    @property
    def branch_choices(self) -> tuple[int, ...]:
        return tuple(range(self.num_stages + 1))

    @property
    def exit_choices(self) -> tuple[int, ...]:
        """Positions that may carry an early exit (after stage 1 .. n-1); the final exit always exists."""
        return tuple(range(1, self.num_stages))

    @property
    def max_depth(self) -> int:
        return max(self.depths)

    @property
    def block_choices(self) -> tuple[Block, ...]:
        return tuple(Block(k, e) for k in self.kernels for e in self.expands)

    def resolution_after(self, stage: int) -> int:
        """Spatial size of the feature map after ``stage`` (0 = stem)."""
        size = self.input_size // 2
        for spec in self.stages[:stage]:
            size //= spec.stride
        return size

    # ------------------------------------------------------------------ counting
    @property
    def branch_settings(self) -> tuple[tuple[int, ...], ...]:
        """Every distinct sharing structure: the canonical branch-point tuples (see canonical_branches)."""
        return _branch_settings(self.branch_choices, self.num_tasks)

    @property
    def num_branch_settings(self) -> int:
        """``len(self.branch_settings)``, counted without listing them."""
        return _count_branch_settings(len(self.branch_choices), self.num_tasks)

    @property
    def size(self) -> int:
        """Exact number of distinct architectures (networks) in the space."""
        per_stage = sum(len(self.block_choices) ** d for d in self.depths)
        return per_stage**self.num_stages * self.num_branch_settings * 2 ** len(self.exit_choices)

    # ------------------------------------------------------------------ sampling
    def sample(self, n: int, seed: int = 0, distribution: str = "per-choice") -> list[Arch]:
        """Return ``n`` distinct architectures drawn with ``random.Random(seed)``.

        ``distribution="per-choice"`` (default, the OFA/BigNAS convention) draws every decision uniformly:
        each stage's depth, each active block's kernel and expand, each branch point, each exit bit.
        ``distribution="network"`` is uniform over the distinct networks counted by :attr:`size`; it puts
        most mass on the deepest stages because they have the most block combinations.  Each returned
        ``Arch`` keeps the branch points as drawn in :attr:`Arch.written_string`.
        """
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise _bad("n", n, "a non-negative int")
        if distribution not in ("per-choice", "network"):
            raise _bad("distribution", distribution, ["per-choice", "network"])
        if n > self.size:
            raise _bad("n", n, f"at most the space size {self.size}")
        rng = random.Random(seed)
        seen: set[Arch] = set()
        out: list[Arch] = []
        while len(out) < n:
            arch = self.random_arch(rng, distribution)
            if arch not in seen:
                seen.add(arch)
                out.append(arch)
        return out

    def random_arch(self, rng: random.Random, distribution: str = "per-choice") -> Arch:
        """One architecture drawn with ``rng`` (see :meth:`sample`)."""
        nb = len(self.block_choices)
        weights = [nb**d for d in self.depths] if distribution == "network" else [1] * len(self.depths)
        stages = []
        for _ in range(self.num_stages):
            depth = rng.choices(self.depths, weights=weights)[0]
            stages.append(
                tuple(Block(rng.choice(self.kernels), rng.choice(self.expands)) for _ in range(depth))
            )
        if distribution == "network":  # one draw per sharing structure, not per spelling of one
            branches = rng.choice(self.branch_settings)
        else:  # per decision (the draw the v1 release was sampled with)
            branches = tuple(rng.choice(self.branch_choices) for _ in range(self.num_tasks))
        exits = tuple(x for x in self.exit_choices if rng.random() < 0.5)
        return Arch(tuple(stages), branches, exits, space=self)

    # ------------------------------------------------------------------ local moves
    def neighbors(self, arch: Arch) -> list[Arch]:
        """All other architectures one decision away, in a deterministic order, each once.

        A decision is: one active block's kernel or expand; one stage's depth (blocks are dropped from the
        end, or the stage's last block is repeated); one task's branch point in any spelling of the network
        (so ``b=2,0,2``, also spelled ``b=2,0,4``, reaches ``b=3,0,3``); one exit toggled.
        """
        arch = self.validate(arch)
        out: list[Arch] = []
        for s, stage in enumerate(arch.stages):
            for b, block in enumerate(stage):
                for k in self.kernels:
                    if k != block.kernel:
                        out.append(arch._replace_block(s, b, Block(k, block.expand)))
                for e in self.expands:
                    if e != block.expand:
                        out.append(arch._replace_block(s, b, Block(block.kernel, e)))
            for d in self.depths:
                if d != len(stage):
                    new = stage[:d] if d < len(stage) else stage + (stage[-1],) * (d - len(stage))
                    out.append(arch._replace_stage(s, new))
        for branches in _branch_neighbors(arch.branches, self.branch_choices):
            out.append(Arch(arch.stages, branches, arch.exits, space=self))
        for x in self.exit_choices:
            exits = tuple(sorted(set(arch.exits) ^ {x}))
            out.append(Arch(arch.stages, arch.branches, exits, space=self))
        return out

    def mutate(self, arch: Arch, rng: random.Random) -> Arch:
        """A uniformly chosen neighbour of ``arch`` (one decision changed)."""
        if not isinstance(rng, random.Random):
            raise _bad("rng", rng, "a random.Random instance, e.g. random.Random(0)")
        return rng.choice(self.neighbors(self.validate(arch)))

    # ------------------------------------------------------------------ checks
    def validate(self, arch: Arch | str) -> Arch:
        """Return ``arch`` as an :class:`Arch` of this space, raising ``ValueError`` if it is not one."""
        if isinstance(arch, str):
            return Arch.from_string(arch, space=self)
        if not isinstance(arch, Arch):
            raise _bad("arch", type(arch).__name__, "an Arch or its canonical string")
        if arch.space != self:
            return Arch.from_string(arch.written_string, space=self)
        return arch

    def largest(self) -> Arch:
        """The most expensive architecture (deepest, widest, one backbone per task, all exits)."""
        block = Block(max(self.kernels), max(self.expands))
        stages = tuple((block,) * self.max_depth for _ in range(self.num_stages))
        return Arch(stages, (0,) * self.num_tasks, self.exit_choices, space=self)

    def smallest(self) -> Arch:
        """The cheapest architecture (shallowest, narrowest, fully shared, no early exit)."""
        block = Block(min(self.kernels), min(self.expands))
        stages = tuple((block,) * min(self.depths) for _ in range(self.num_stages))
        return Arch(stages, (self.num_stages,) * self.num_tasks, (), space=self)


V1 = SearchSpace(name="v1", tasks=SCENE_TASKS)  # the v1 release: the scene suite's tasks


def _count_branch_settings(n_choices: int, num_tasks: int) -> int:
    """How many canonical branch settings ``num_tasks`` tasks have over ``n_choices`` branch points: with one
    task, 1; else the tuples whose largest value ``m`` occurs at least twice, summed over ``m``."""
    if num_tasks == 1:
        return 1
    t = num_tasks
    return sum((m + 1) ** t - m**t - t * m ** (t - 1) for m in range(n_choices))


@functools.lru_cache(maxsize=16)
def _branch_settings(choices: tuple[int, ...], num_tasks: int) -> tuple[tuple[int, ...], ...]:
    return tuple(sorted({canonical_branches(b) for b in itertools.product(choices, repeat=num_tasks)}))


def _spellings(branches: tuple[int, ...], choices: tuple[int, ...]) -> list[tuple[int, ...]]:
    """Every branch-point tuple over ``choices`` whose canonical spelling is ``branches``, sorted.

    Only a branch point at the canonical maximum may be written higher, and only one of them (with two
    above it, the second-largest would move): so the spellings are ``branches`` and, for each task at the
    maximum, that task raised to any higher choice.
    """
    if len(branches) == 1:
        return [(c,) for c in choices]
    cap = max(branches)
    out = {branches}
    for t, b in enumerate(branches):
        if b == cap:
            out.update(branches[:t] + (c,) + branches[t + 1 :] for c in choices if c > cap)
    return sorted(out)


@functools.lru_cache(maxsize=4096)
def _branch_neighbors(branches: tuple[int, ...], choices: tuple[int, ...]) -> tuple[tuple[int, ...], ...]:
    """The other canonical branch settings one task's branch point away from any spelling of ``branches``."""
    spellings = _spellings(branches, choices)
    out: dict[tuple[int, ...], None] = {}
    for spelling in spellings:
        for t in range(len(branches)):
            for c in choices:
                moved = canonical_branches(spelling[:t] + (c,) + spelling[t + 1 :])
                if moved != branches:
                    out.setdefault(moved)
    return tuple(out)


def _parse_block(text: str) -> Block:
    if len(text) < 4 or text[0] != "k" or "e" not in text[1:]:
        raise _bad("block", text, "'k{kernel}e{expand}', e.g. 'k5e4'")
    k, e = text[1:].split("e", 1)
    if not (_CANONICAL_INT.fullmatch(k) and _CANONICAL_INT.fullmatch(e)):
        raise _bad("block", text, "'k{kernel}e{expand}' with ASCII digits, e.g. 'k5e4'")
    return Block(int(k), int(e))


# a canonical integer: ASCII digits, no leading zero, so one network has one string (and one id)
_CANONICAL_INT = re.compile(r"0|[1-9][0-9]*")


def _parse_ints(text: str, field_name: str) -> tuple[int, ...]:
    if text == "":
        return ()
    parts = text.split(",")
    if not all(_CANONICAL_INT.fullmatch(p) for p in parts):
        raise _bad(field_name, text, "comma-separated integers in ASCII digits without leading zeros")
    return tuple(int(p) for p in parts)


@dataclass(frozen=True, init=False)
class Arch:
    """A multi-task early-exit architecture of a :class:`SearchSpace` (frozen, hashable).

    Example::

        >>> a = Arch.from_string("k3e4,k5e6|k7e3|k3e3,k5e4,k7e6|k3e3|b=4,2,0|x=1,3")
        >>> a.depths, a.branches, a.exits
        ((2, 1, 3, 1), (2, 2, 0), (1, 3))
        >>> Arch.from_string(a.to_string()) == a, a.written_string.endswith("b=4,2,0|x=1,3")
        (True, True)
    """

    stages: tuple[tuple[Block, ...], ...]
    branches: tuple[int, ...]
    exits: tuple[int, ...]
    space: SearchSpace = field(default=V1, compare=False, hash=False, repr=False)

    def __init__(
        self,
        stages: Sequence[Sequence[Block | tuple[int, int]]],
        branches: Sequence[int],
        exits: Iterable[int] = (),
        space: SearchSpace = V1,
    ) -> None:
        if not isinstance(space, SearchSpace):
            raise _bad("space", type(space).__name__, "a SearchSpace")
        if not isinstance(stages, (list, tuple)) or len(stages) != space.num_stages:
            n = len(stages) if isinstance(stages, (list, tuple)) else stages
            raise _bad("stages", n, f"a sequence of {space.num_stages} stages")
        norm_stages = []
        for s, stage in enumerate(stages):
            name = f"stages[{s}]"
            if not isinstance(stage, (list, tuple)) or len(stage) not in space.depths:
                depth = len(stage) if isinstance(stage, (list, tuple)) else stage
                raise _bad(f"{name} depth", depth, list(space.depths))
            blocks = []
            for b, blk in enumerate(stage):
                blk = _coerce_block(blk, f"{name}[{b}]")
                if blk.kernel not in space.kernels:
                    raise _bad(f"{name}[{b}].kernel", blk.kernel, list(space.kernels))
                if blk.expand not in space.expands:
                    raise _bad(f"{name}[{b}].expand", blk.expand, list(space.expands))
                blocks.append(blk)
            norm_stages.append(tuple(blocks))
        if not isinstance(branches, (list, tuple)) or len(branches) != space.num_tasks:
            raise _bad(
                "branches", branches, f"{space.num_tasks} branch points, each in {list(space.branch_choices)}"
            )
        for t, bp in enumerate(branches):
            if not _is_int(bp) or bp not in space.branch_choices:
                raise _bad(f"branches[{t}]", bp, list(space.branch_choices))
        if isinstance(exits, (str, bytes)) or not isinstance(exits, Iterable):
            raise _bad("exits", exits, f"a subset of {list(space.exit_choices)}")
        exits = list(exits)
        for x in exits:
            if not _is_int(x) or x not in space.exit_choices:
                raise _bad("exits", x, f"a subset of {list(space.exit_choices)}")
        if len(set(exits)) != len(exits):
            raise _bad("exits", exits, "distinct positions")
        written = tuple(int(b) for b in branches)
        canonical = canonical_branches(written)
        object.__setattr__(self, "stages", tuple(norm_stages))
        object.__setattr__(self, "branches", canonical)
        if written != canonical:  # not a field: equality and hashing ignore how the spec was written
            object.__setattr__(self, "_written_branches", written)
        object.__setattr__(self, "exits", tuple(sorted(int(x) for x in exits)))
        object.__setattr__(self, "space", space)
        self.to_string()  # computed once here: the string is the arch's identity in every table lookup

    # ------------------------------------------------------------------ views
    @property
    def depths(self) -> tuple[int, ...]:
        return tuple(len(s) for s in self.stages)

    @property
    def all_exits(self) -> tuple[int, ...]:
        """Early exits plus the final exit (after the last stage)."""
        return (*self.exits, self.space.num_stages)

    @property
    def num_tasks(self) -> int:
        return len(self.branches)

    # ------------------------------------------------------------------ serialisation
    def to_string(self) -> str:
        """The canonical string (see the module docstring), computed once at construction (Arch is frozen)."""
        cached = self.__dict__.get("_string")
        if cached is None:
            cached = self._spell(self.branches)
            object.__setattr__(self, "_string", cached)  # not a field: equality and hashing ignore it
        return cached

    def _spell(self, branches: Sequence[int]) -> str:
        stages = "|".join([",".join([f"k{b.kernel}e{b.expand}" for b in st]) for st in self.stages])
        return f"{stages}|b={','.join(map(str, branches))}|x={','.join(map(str, self.exits))}"

    @property
    def written_branches(self) -> tuple[int, ...]:
        """The branch points as written or drawn (``branches`` is their canonical spelling).

        They decide only the layout :func:`~nasbench_mt.space.model.build_model` gives the network: for
        ``b=2,0,4`` task 3's stages 3-4 sit on the trunk, for ``b=2,0,2`` on its own branch.  The function,
        parameters and MACs are the same; the trunk-first forward keeps more activations alive, so peak
        memory (and latency, slightly) is that of the layout measured.
        """
        return self.__dict__.get("_written_branches", self.branches)

    @property
    def written_string(self) -> str:
        """The string of the spec as written or drawn (:attr:`written_branches`, not canonicalised).

        The v1 release names each row by the spec its sampler drew: ``Arch.from_string(row.arch)
        .written_id == row.arch_id``.  Equal to :meth:`to_string` when the spec was written canonically.
        """
        written = self.__dict__.get("_written_branches")
        return self.to_string() if written is None else self._spell(written)

    @property
    def written_id(self) -> str:
        """The id of :attr:`written_string` (equal to :attr:`id` for a canonically written spec)."""
        written = self.__dict__.get("_written_branches")
        return self.id if written is None else string_id(self._spell(written), self.space.name)

    def __str__(self) -> str:
        return self.to_string()

    @classmethod
    def from_string(cls, text: str, space: SearchSpace = V1) -> Arch:
        """Parse the canonical string form (see the module docstring)."""
        if not isinstance(text, str):
            raise _bad("arch string", type(text).__name__, "a str such as 'k3e4|k5e6|k7e3|k3e3|b=4,4,4|x='")
        parts = text.strip().split("|")
        expected = f"{space.num_stages} stages then 'b=...' and 'x=...' separated by '|'"
        if len(parts) != space.num_stages + 2:
            raise _bad("arch string", text, expected)
        *stage_txt, b_txt, x_txt = parts
        if not b_txt.startswith("b=") or not x_txt.startswith("x="):
            raise _bad("arch string", text, expected)
        stages = [[_parse_block(t) for t in s.split(",")] if s else [] for s in stage_txt]
        return cls(stages, _parse_ints(b_txt[2:], "branches"), _parse_ints(x_txt[2:], "exits"), space=space)

    def to_dict(self) -> dict[str, Any]:
        return {
            "stages": [[[b.kernel, b.expand] for b in stage] for stage in self.stages],
            "branches": list(self.branches),
            "exits": list(self.exits),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"))

    @classmethod
    def from_dict(cls, data: dict[str, Any], space: SearchSpace = V1) -> Arch:
        if not isinstance(data, dict):
            raise _bad("arch dict", type(data).__name__, "a dict with keys stages, branches, exits")
        missing = {"stages", "branches", "exits"} - set(data)
        extra = set(data) - {"stages", "branches", "exits"}
        if missing or extra:
            raise _bad("arch dict keys", sorted(data), "exactly ['branches', 'exits', 'stages']")
        return cls(data["stages"], data["branches"], data["exits"], space=space)

    @classmethod
    def from_json(cls, text: str, space: SearchSpace = V1) -> Arch:
        try:
            data = json.loads(text)
        except (TypeError, json.JSONDecodeError) as err:
            raise _bad("arch JSON", text, f"a JSON object ({err})") from None
        return cls.from_dict(data, space=space)

    @classmethod
    def from_spec(
        cls,
        depths: Sequence[int],
        kernels: Sequence[Sequence[int]],
        expands: Sequence[Sequence[int]],
        branches: Sequence[int],
        exits: Iterable[int] = (),
        space: SearchSpace = V1,
    ) -> Arch:
        """Build from a fixed-size (OFA-style) spec: per-stage depth plus a kernel/expand for every slot.

        Slots beyond a stage's depth are ignored, so specs that differ only there give the same ``Arch``.
        """
        if len(depths) != space.num_stages:
            raise _bad("depths", depths, f"{space.num_stages} values in {list(space.depths)}")
        for name, grid in (("kernels", kernels), ("expands", expands)):
            if len(grid) != space.num_stages:
                raise _bad(name, grid, f"{space.num_stages} rows of {space.max_depth} slots")
        stages = []
        for s, d in enumerate(depths):
            if not _is_int(d) or d not in space.depths:
                raise _bad(f"depths[{s}]", d, list(space.depths))
            if len(kernels[s]) < d or len(expands[s]) < d:
                raise _bad(f"stage {s} slots", (kernels[s], expands[s]), f"at least depth={d} slots")
            stages.append([(kernels[s][i], expands[s][i]) for i in range(d)])
        return cls(stages, branches, exits, space=space)

    @property
    def id(self) -> str:
        """Stable short id: the first 12 hex digits of sha1 of the space name and canonical string."""
        cached = self.__dict__.get("_id")
        if cached is None:
            cached = string_id(self.to_string(), self.space.name)
            object.__setattr__(self, "_id", cached)
        return cached

    # ------------------------------------------------------------------ helpers for SearchSpace
    def _replace_stage(self, s: int, stage: tuple[Block, ...]) -> Arch:
        stages = self.stages[:s] + (stage,) + self.stages[s + 1 :]
        return Arch(stages, self.branches, self.exits, space=self.space)

    def _replace_block(self, s: int, b: int, block: Block) -> Arch:
        stage = self.stages[s][:b] + (block,) + self.stages[s][b + 1 :]
        return self._replace_stage(s, stage)


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _coerce_block(blk: Any, name: str) -> Block:
    if isinstance(blk, Block):
        return blk
    if isinstance(blk, str):
        return _parse_block(blk)
    if isinstance(blk, (list, tuple)) and len(blk) == 2 and all(_is_int(v) for v in blk):
        return Block(int(blk[0]), int(blk[1]))
    raise _bad(name, blk, "a Block, 'k{kernel}e{expand}' or a (kernel, expand) pair of ints")


def infer_space(
    archs: Iterable[Arch | str], tasks: Sequence[TaskSpec] | None = None, space: SearchSpace | None = None
) -> SearchSpace:
    """The space a list of architectures belongs to: ``space`` when given, else the first :class:`Arch`'s,
    else (strings only) ``V1`` with the task list ``tasks`` (``V1`` itself when ``tasks`` is None)."""
    if space is not None:
        return space
    found = next((a.space for a in archs if isinstance(a, Arch)), None)
    if found is not None:
        return found
    return V1 if tasks is None else V1.with_tasks(tasks)


FEW_SHOT_SPLITS = ("stem-branch",)


def few_shot_regions(split: str, task_names: Sequence[str], space: SearchSpace) -> dict[str, tuple]:
    """The parts of a few-shot split: part name -> each task's allowed branch points.

    ``stem-branch`` splits on which tasks branch off at the stem (branch point 0, a backbone of their own):
    ``2 ** len(task_names)`` parts, named by the tasks that do (``none`` when no task does).  That choice
    decides which task-branch copies of the early stages a network uses at all, and those copies are what
    one shared supernet trains least.
    """
    if split not in FEW_SHOT_SPLITS:
        raise ValueError(f"invalid few-shot split: {split!r}; allowed: {list(FEW_SHOT_SPLITS)}")
    if len(task_names) != space.num_tasks:
        raise _bad("task_names", list(task_names), f"{space.num_tasks} names, one per branch point")
    later = tuple(b for b in space.branch_choices if b != 0)
    out = {}
    for mask in itertools.product((True, False), repeat=len(task_names)):
        name = "-".join(n for n, m in zip(task_names, mask) if m) or "none"
        out[name] = tuple((0,) if m else later for m in mask)
    return out
