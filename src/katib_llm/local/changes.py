"""What changed between the Experiment a work dir holds and the one asked to run there.

A work dir keeps one Experiment (its journal's trials were suggested for that search space), so
a changed Experiment under the same name cannot resume it. The refusal lists the differences,
one ``path: old -> new`` line each (RFC 6902 operations from jsonpatch, in the order found), so
a user sees whether the change was meant (a widened range) or not (a stale notebook cell).
"""

from __future__ import annotations

import json
from typing import Any

import jsonpatch

MAX_SHOWN = 6
MAX_VALUE_CHARS = 60


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS - 1] + "…"


def _dotted(pointer: str) -> str:
    """``/spec/parameters/0/feasibleSpace/max`` -> ``spec.parameters[0].feasibleSpace.max``."""
    out = ""
    for part in pointer.lstrip("/").split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def _resolve(doc: Any, pointer: str) -> Any:
    try:
        return jsonpatch.JsonPointer(pointer).resolve(doc)
    except (jsonpatch.JsonPointerException, KeyError, IndexError, TypeError):
        return None


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """``path: old -> new`` for each change from ``before`` to ``after`` (status ignored)."""
    before = {k: v for k, v in before.items() if k != "status"}
    after = {k: v for k, v in after.items() if k != "status"}
    lines = []
    for op in jsonpatch.make_patch(before, after).patch:
        path = _dotted(op["path"])
        if op["op"] == "add":
            lines.append(f"{path}: added {_value(op['value'])}")
        elif op["op"] == "remove":
            lines.append(f"{path}: removed (was {_value(_resolve(before, op['path']))})")
        elif op["op"] == "replace":
            lines.append(f"{path}: {_value(_resolve(before, op['path']))} -> {_value(op['value'])}")
        else:  # move / copy
            lines.append(f"{path}: {op['op']} from {_dotted(op.get('from', ''))}")
    return lines


def summary(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The differences in one message (at most :data:`MAX_SHOWN`, then how many more)."""
    lines = differences(before, after)
    shown = "; ".join(lines[:MAX_SHOWN]) or "no difference in content"
    more = f"; and {len(lines) - MAX_SHOWN} more" if len(lines) > MAX_SHOWN else ""
    return shown + more
