"""YAML documents in and out: manifests read from files or stdin, written back for kubectl."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml


def read_documents(path: str | Path) -> list[dict[str, Any]]:
    """All YAML documents in a file (``-`` is stdin), skipping empty ones.

    Parsed by :mod:`katib_llm.core.safeyaml` (no anchors or aliases, capped size, depth and
    document count), like everything the webhook reads: raises ``yaml.YAMLError`` naming the
    refusal.
    """
    import sys

    from katib_llm.core import safeyaml

    limit = 16 * safeyaml.MAX_BYTES
    if str(path) == "-":
        text = sys.stdin.read(limit + 1)
    else:
        with Path(path).open(encoding="utf-8") as fh:
            text = fh.read(limit + 1)  # never more than the cap in memory
    return [d for d in safeyaml.load_all(text, max_bytes=limit) if d is not None]


class _Dumper(yaml.SafeDumper):
    """Quotes strings that YAML 1.2 readers (kubectl, Go) would take for numbers or booleans.

    Katib's feasibleSpace bounds are strings; PyYAML (YAML 1.1) writes ``"1e-05"`` bare, which
    kubectl would read back as a float.
    """


_AMBIGUOUS = re.compile(
    r"^([-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN)"
    r"|true|True|TRUE|false|False|FALSE|null|Null|NULL|~|yes|no|on|off|y|n)$")


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    if _AMBIGUOUS.match(data):
        return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="'")
    return yaml.SafeDumper.represent_str(dumper, data)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(documents: list[Any], stream: Any = None) -> str | None:
    """Dump manifests so that kubectl reads back exactly the same types."""
    return yaml.dump_all(documents, stream, Dumper=_Dumper, sort_keys=False)


def configmaps_from(documents: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, str]]:
    """(namespace, name) → data of every ConfigMap among ``documents``."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for doc in documents:
        if isinstance(doc, dict) and doc.get("kind") == "ConfigMap":
            meta = doc.get("metadata") or {}
            out[(str(meta.get("namespace", "default")), str(meta.get("name")))] = dict(doc.get("data") or {})
    return out
