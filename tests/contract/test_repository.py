"""The repository stands alone and its structure stays checkable:

* no test or benchmark edits ``sys.path`` (the ``tests`` package is imported by pytest's
  rootdir-based import; ``scripts/`` are loaded from their files);
* no comment, docstring or doc points at a document outside the repository (a private brief,
  its numbered traps, a style guide); upstream facts cite the public upstream issue or file;
* no import cycle between modules inside ``katib_llm`` (grimp, installed with import-linter,
  sees function-level imports too).
"""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".tpl", ".txt", ".toml", ".json", ".cfg", ".ini", ".sh"}
TEXT_NAMES = {"Dockerfile", ".importlinter", "run"}
# Pointers a reader of the repository cannot follow. "seed" alone is fine (a random seed).
OUTSIDE = re.compile(r"\bSTYLE\.md\b|\bPRODUCT\.md\b|\btrap \d+\b|\bbrief,? trap\b|\(brief\b|\bthe brief\b"
                     r"|\bthe seed's\b|\bseed proposal\b|\bthe seed\b(?! (?:makes|value|argument|is|of))",
                     re.IGNORECASE)
# A cycle another change removes (issue #15): core.contract <-> core.feasibility.


def _tracked(*folders: str) -> list[Path]:
    out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", *folders],
                         cwd=REPO, capture_output=True, text=True)
    if out.returncode != 0:  # not a git checkout (e.g. an sdist): walk the folders instead
        return [p for f in folders or (".",) for p in (REPO / f).rglob("*") if p.is_file() and ".git" not in p.parts]
    return [REPO / line for line in out.stdout.splitlines() if (REPO / line).is_file()]


def _edits_sys_path(tree: ast.AST) -> list[int]:
    """Lines that change sys.path: sys.path.insert/append/extend(...), sys.path = / += ...,
    site.addsitedir(...)."""
    def is_sys_path(node: ast.AST) -> bool:
        return (isinstance(node, ast.Attribute) and node.attr == "path"
                and isinstance(node.value, ast.Name) and node.value.id == "sys")

    lines = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            target = node.func
            if target.attr in ("insert", "append", "extend", "remove") and is_sys_path(target.value):
                lines.append(node.lineno)
            if target.attr == "addsitedir" and isinstance(target.value, ast.Name) and target.value.id == "site":
                lines.append(node.lineno)
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            lines += [node.lineno for t in targets if is_sys_path(t)]
    return sorted(lines)


def test_no_test_or_benchmark_edits_sys_path():
    offenders = []
    for path in _tracked("tests", "benchmarks"):
        if path.suffix == ".py":
            offenders += [f"{path.relative_to(REPO)}:{n}" for n in _edits_sys_path(ast.parse(path.read_text()))]
    assert offenders == []


def test_the_sys_path_check_can_fail():
    assert _edits_sys_path(ast.parse("import sys\nsys.path.insert(0, 'x')\nsys.path += ['y']\n")) == [2, 3]


def test_no_comment_or_doc_points_outside_the_repository():
    offenders = []
    for path in _tracked():
        if path.suffix not in TEXT_SUFFIXES and path.name not in TEXT_NAMES or path == Path(__file__).resolve():
            continue
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == [], "state the fact and cite the public upstream issue/file instead:\n" + "\n".join(offenders)


@pytest.mark.parametrize("line", ["see STYLE.md, item 3", "(brief, trap 7)", "brief trap 1", "PRODUCT.md trap 8",
                                  "as in the seed's hp_space", "the seed proposal's tune()"])
def test_the_outside_pointer_check_can_fail(line):
    assert OUTSIDE.search(line)


@pytest.mark.parametrize("line", ["the random seed makes runs identical", "per seed (the same seed's random run)",
                                  "briefly", "warmup_ratio was removed in transformers 5 (kubeflow/katib#2587)"])
def test_the_outside_pointer_check_leaves_facts_alone(line):
    assert not OUTSIDE.search(line)


def _import_cycles() -> list[set[str]]:
    """Strongly connected components (more than one module) of katib_llm's import graph."""
    import grimp

    graph = grimp.build_graph("katib_llm")
    modules = sorted(m for m in graph.modules if m.startswith("katib_llm"))
    edges = {m: sorted(i for i in graph.find_modules_directly_imported_by(m) if i.startswith("katib_llm"))
             for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in edges[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == module:
                    break
            if len(component) > 1:
                found.append(component)

    for module in modules:
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_inside_the_package():
    assert [sorted(c) for c in _import_cycles()] == []
