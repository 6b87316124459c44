"""Regenerate core/data/*.json, the TrainingArguments and LoraConfig field tables.

Each table names the library version it was generated from (``generated_from``) beside its
``fields``. Run by ``python3 scripts/lock.py``, which bumps the lock and then runs this in a fresh
environment installed from ``requirements/local.txt``, so the tables always describe the locked
transformers and peft (``python3 scripts/lock.py --tables`` regenerates them alone).
``tests/core/test_layering.py`` checks that the tables name the locked versions and, where those
versions are installed, that this script's output equals them.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
import typing
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "src" / "katib_llm" / "core" / "data"


def describe(tp: object) -> dict[str, object]:
    """Reduce a dataclass field type to the small vocabulary the core checks against."""
    origin = typing.get_origin(tp)
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        kinds = [describe(a) for a in args]
        for preferred in ("enum", "float", "int", "bool", "list", "dict", "str"):
            for k in kinds:
                if k["type"] == preferred:
                    return k
        return {"type": "str"}
    if origin is typing.Literal:
        return {"type": "enum", "choices": [str(a) for a in typing.get_args(tp)]}
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return {"type": "enum", "choices": [str(m.value) for m in tp]}
    if tp is bool:
        return {"type": "bool"}
    if tp is int:
        return {"type": "int"}
    if tp is float:
        return {"type": "float"}
    if origin in (list, tuple, set) or tp in (list, tuple, set):
        return {"type": "list"}
    if origin is dict or tp is dict:
        return {"type": "dict"}
    return {"type": "str"}


def table(cls: type) -> dict[str, dict[str, object]]:
    hints = typing.get_type_hints(cls)
    out = {}
    for f in dataclasses.fields(cls):
        if f.name.startswith("_") or not f.init:
            continue
        out[f.name] = describe(hints.get(f.name, str))
    return dict(sorted(out.items()))


SOURCES = {"training_arguments.json": ("transformers", "TrainingArguments"), "lora_config.json": ("peft", "LoraConfig")}


def build() -> dict[str, dict[str, object]]:
    """File name -> {"generated_from": {library: version}, "fields": table} from the installed libraries."""
    import importlib

    out: dict[str, dict[str, object]] = {}
    for name, (library, cls) in SOURCES.items():
        module = importlib.import_module(library)
        out[name] = {"generated_from": {library: module.__version__}, "fields": table(getattr(module, cls))}
    return out


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, data in build().items():
        (OUT / name).write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
        print(f"wrote {OUT / name}: {len(data['fields'])} fields from {data['generated_from']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
