"""The core is pure: it imports no web framework, Kubernetes client, ML or I/O-heavy library
(the layering .importlinter declares), and its field tables describe the locked transformers and peft."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from tests.locks import locked

REPO = Path(__file__).resolve().parents[2]
CORE = REPO / "src" / "katib_llm" / "core"
FORBIDDEN = {"flask", "kubernetes", "torch", "transformers", "peft", "optuna", "requests", "boto3",
             "huggingface_hub", "datasets", "gunicorn", "kopf", "subprocess", "socket", "urllib.request"}


def test_core_source_imports_nothing_forbidden():
    offenders = []
    for path in CORE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN or n in FORBIDDEN]
    assert offenders == []


def test_importing_core_loads_no_heavy_module():
    code = ("import sys, katib_llm.core.admit, katib_llm.io; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in %r))" % sorted(FORBIDDEN))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def _generator():
    # Loaded from its file: scripts/ is not a package and sys.path stays as it is.
    spec = importlib.util.spec_from_file_location("gen_field_tables", REPO / "scripts" / "gen_field_tables.py")
    gen_field_tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_field_tables)
    return gen_field_tables


def test_field_tables_name_the_locked_versions():
    """Each table says which library version it was generated from, and that is the lock's
    (requirements/local.txt and test.txt: what the quickstart, the tests and the images install)."""
    for name, (library, _) in _generator().SOURCES.items():
        shipped = json.loads((CORE / "data" / name).read_text())
        assert set(shipped) == {"generated_from", "fields"} and len(shipped["fields"]) > 10
        for target in ("local", "test"):
            assert shipped["generated_from"] == {library: locked(target)[library]}, (
                f"core/data/{name} was generated from {shipped['generated_from']}, the lock has "
                f"{library}=={locked(target)[library]}: run python3 scripts/lock.py --tables")


def test_field_tables_match_the_locked_libraries():
    """Regenerated from the installed libraries, the tables are what ships; run where the locked
    versions are installed (CI installs exactly the lock: .ci/run checks it)."""
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    gen_field_tables = _generator()
    installed = {library: metadata.version(library) for library, _ in gen_field_tables.SOURCES.values()}
    lock = {library: locked("test")[library] for library in installed}
    if installed != lock:
        pytest.skip(f"installed {installed}, locked {lock}: install from requirements/test.txt to compare")
    for name, table in gen_field_tables.build().items():
        shipped = json.loads((CORE / "data" / name).read_text())
        assert shipped == json.loads(json.dumps(table)), f"core/data/{name} is stale: run python3 scripts/lock.py --tables"
