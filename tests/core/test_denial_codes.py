"""One table of denial codes (core/codes.py), used by the code and written into docs/contract.md."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

from katib_llm.core.codes import DENIAL_CODES

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src" / "katib_llm"


def _literals(expr: ast.expr) -> list[str]:
    """String constants an expression evaluates to (a constant, or either branch of `a if c else b`)."""
    if isinstance(expr, ast.Constant) and isinstance(expr.value, str):
        return [expr.value]
    if isinstance(expr, ast.IfExp):
        return _literals(expr.body) + _literals(expr.orelse)
    return []


# Calls that take a denial code, and the index of the code argument: FieldError(path, code, ...),
# katib_rules' _err(path, code, ...) (which prefixes "katib."), the contract's ctx.deny(code, ...),
# _value(kind, code), _local_only(raw, ctx, parse, why, code) and its table's Annotation(name, kind, code, ...).
_CODE_ARGUMENT = {"FieldError": 1, "_err": 1, "deny": 0, "_value": 1, "Annotation": 2, "_local_only": 4}


def _codes_in_source() -> dict[str, set[str]]:
    """Every code literal passed to a call of :data:`_CODE_ARGUMENT`, or assigned to a variable named ``code``."""
    found: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            literals: list[str] = []
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                index = _CODE_ARGUMENT.get(name or "")
                if index is not None and len(node.args) > index:
                    prefix = "katib." if name == "_err" else ""
                    literals = [prefix + c for c in _literals(node.args[index])]
            elif isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "code" for t in node.targets):
                literals = _literals(node.value)
            for code in literals:
                found.setdefault(code, set()).add(str(path.relative_to(REPO)))
    return found


def test_every_code_the_source_uses_is_in_the_table():
    used = _codes_in_source()
    assert not set(used) - set(DENIAL_CODES), {c: used[c] for c in set(used) - set(DENIAL_CODES)}


def test_the_table_lists_no_code_nothing_uses():
    assert not set(DENIAL_CODES) - set(_codes_in_source())


def test_codes_are_stable_identifiers_with_a_rule():
    for code, rule in DENIAL_CODES.items():
        assert code == code.lower() and " " not in code and "." in code, code
        assert rule.strip(), code


def test_docs_contract_md_is_current():
    result = subprocess.run([sys.executable, str(REPO / "scripts" / "gen_contract_doc.py"), "--check"],
                            capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    doc = (REPO / "docs" / "contract.md").read_text()
    for code in DENIAL_CODES:
        assert f"| `{code}` |" in doc
