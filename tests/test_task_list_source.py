"""No module outside the search space's own definition hard-codes the v1 task list: its names (``digit``,
``count``, ``seg``), its length (a literal 3 for the number of tasks, a three-branch architecture literal in
code) or a check that a suite has exactly the v1 tasks.  Everything else takes the task list from the
release, the suite or the space."""

import ast
import re
from pathlib import Path

import pytest

from nasbench_mt.space.tasks import SCENE_TASKS

ROOT = Path(__file__).resolve().parents[1]
# the space's own definition: the task declarations, the v1 space declaration, the scene suite defining them
OWN_DEFINITION = {
    "nasbench_mt/space/tasks.py",
    "nasbench_mt/space/arch.py",
    "nasbench_mt/measure/datasets.py",
}
NAMES = "|".join(t.name for t in SCENE_TASKS)
NAME_IN_TEXT = [
    re.compile(rf"^\s*({NAMES})\s*$"),  # the whole string is a task name
    re.compile(rf"[\"'`]({NAMES})[\"'`]"),  # a quoted task name inside a text (a dict key, a list, a literal)
    re.compile(rf"\b(?:test|val|params|policy_acc)_({NAMES})(?:_e\d*)?(?![A-Za-z0-9])"),  # a column of one
]
THREE_BRANCH_ARCH = re.compile(r"\|b=\d+,\d+,\d+\|x=")
V1_IDENTIFIERS = {"check_v1", "SCENE_TASKS"}


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                out.add(id(body[0].value))
    return out


def _mentions_tasks(node: ast.AST) -> bool:
    return any("task" in n.lower() for n in _names(node))


def _names(node: ast.AST) -> list[str]:
    return [
        n.id if isinstance(n, ast.Name) else n.attr
        for n in ast.walk(node)
        if isinstance(n, (ast.Name, ast.Attribute))
    ]


def _is_three(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int and node.value == 3


def offences(source: str) -> list[str]:
    """Where ``source`` hard-codes the v1 task list: ``line: what``."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    helps = {id(k.value) for k in ast.walk(tree) if isinstance(k, ast.keyword) and k.arg == "help"}
    out = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for pattern in NAME_IN_TEXT:
                if m := pattern.search(node.value):
                    out.append(f"{line}: v1 task name {m.group(0)!r}")
            if id(node) not in docstrings and id(node) not in helps and THREE_BRANCH_ARCH.search(node.value):
                out.append(f"{line}: three-branch architecture literal {node.value!r}")
        elif isinstance(node, (ast.Name, ast.Attribute, ast.alias, ast.FunctionDef)):
            name = getattr(node, "id", None) or getattr(node, "attr", None) or getattr(node, "name", None)
            if name in V1_IDENTIFIERS:
                out.append(f"{line}: {name}")
            v1_attr = isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            if v1_attr and node.value.id == "V1" and node.attr in ("num_tasks", "task_names", "tasks"):
                out.append(f"{line}: V1.{node.attr} (the v1 task list as every release's)")
        elif isinstance(node, ast.keyword) and node.arg and "task" in node.arg and _is_three(node.value):
            out.append(f"{line}: {node.arg}=3")
        elif (
            isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None and _is_three(node.value)
        ):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(_mentions_tasks(t) for t in targets):
                out.append(f"{line}: a task count assigned 3")
        elif isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_is_three(s) for s in sides) and any(_mentions_tasks(s) for s in sides):
                out.append(f"{line}: a task count compared with 3")
    return out


def _package_files() -> list[str]:
    files = sorted(ROOT.glob("nasbench_mt/**/*.py")) + sorted(ROOT.glob("predictors/**/*.py"))
    return [p.relative_to(ROOT).as_posix() for p in files]


def test_the_scan_sees_every_kind_of_offence():
    bad = """
check_v1(name, cols)
thresholds = {"digit": 0.9, "count": 0.8}
col = f"test_seg_e{k}"
x = table["params_count"]
if len(tasks) == 3 or space.num_tasks != 3:
    pass
num_tasks = 3
space = SearchSpace(num_tasks=3)
n = V1.num_tasks
ref = "k5e4|k5e4|k5e4|k5e4|b=4,4,4|x="
from nasbench_mt.space.tasks import SCENE_TASKS
"""
    found = offences(bad)
    lines = sorted({int(f.split(":")[0]) for f in found})
    assert lines == [2, 3, 4, 5, 6, 8, 9, 10, 11, 12], found
    good = '''
"""Segments: ``macs_seg_{segment}``; counts as 1; a count line; ``test_{task}`` per task."""
seg = f"macs_seg_{name}"
n = len(counts)
if len(tasks) == 2:
    pass
x = 3
p.add_argument("--arch", help="e.g. k5e4|k5e4|k5e4|k5e4|b=4,4,4|x=")
'''
    assert offences(good) == []


@pytest.mark.parametrize("path", [p for p in _package_files() if p not in OWN_DEFINITION])
def test_no_module_hard_codes_the_v1_tasks(path):
    assert offences((ROOT / path).read_text()) == [], f"{path} hard-codes the v1 task list"
