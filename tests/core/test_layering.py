"""The core is pure: it imports no web framework, Kubernetes client, ML or I/O-heavy library
(the layering .importlinter declares), and its field tables match the installed transformers and peft."""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

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


def test_field_tables_match_installed_libraries():
    pytest.importorskip("transformers")
    pytest.importorskip("peft")
    # Loaded from its file: scripts/ is not a package and sys.path stays as it is.
    spec = importlib.util.spec_from_file_location("gen_field_tables", REPO / "scripts" / "gen_field_tables.py")
    gen_field_tables = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_field_tables)

    for name, table in gen_field_tables.build().items():
        shipped = json.loads((CORE / "data" / name).read_text())
        assert shipped == json.loads(json.dumps(table)), f"core/data/{name} is stale: run scripts/gen_field_tables.py"
