"""The I/O side of the core's inputs: trial templates from trial-templates/, values files.

Kept apart from ``katib_llm.core`` so the core stays pure. Every adapter (webhook, CLI, SDK,
local runner) builds its :class:`~katib_llm.core.config.AdminConfig` through here.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from katib_llm.core.config import AdminConfig, load_config
from katib_llm.core.errors import AdmissionDenied


def template_files() -> dict[str, str]:
    """Template name → YAML text, from the single source ``trial-templates/``."""
    root = resources.files("katib_llm.trial_templates")
    return {entry.name.removesuffix(".yaml"): entry.read_text()
            for entry in sorted(root.iterdir(), key=lambda e: e.name) if entry.name.endswith(".yaml")}


def load_templates() -> dict[str, dict[str, Any]]:
    return {name: yaml.safe_load(text) for name, text in template_files().items()}


def read_values(path: str | Path | None) -> dict[str, Any]:
    """Read admin values: a chart values file (its ``config`` section) or a bare config map."""
    if path is None:
        return {}
    data = yaml.safe_load(Path(path).read_text()) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: must be a YAML map of values")
    return data.get("config", data) if "config" in data else data


def admin_config(values: dict[str, Any] | str | Path | None = None) -> AdminConfig:
    """Admin configuration with the shipped templates; raises AdmissionDenied on bad values."""
    raw = values if isinstance(values, dict) else read_values(values)
    config, errors = load_config(raw, load_templates())
    if errors:
        raise AdmissionDenied(errors)
    return config


def read_documents(path: str | Path) -> list[dict[str, Any]]:
    """All YAML documents in a file (``-`` is stdin), skipping empty ones."""
    import sys

    text = sys.stdin.read() if str(path) == "-" else Path(path).read_text()
    return [d for d in yaml.safe_load_all(text) if d is not None]


class _Dumper(yaml.SafeDumper):
    """Quotes strings that YAML 1.2 readers (kubectl, Go) would take for numbers or booleans.

    Katib's feasibleSpace bounds are strings; PyYAML (YAML 1.1) writes ``"1e-05"`` bare, which
    kubectl would read back as a float.
    """


_AMBIGUOUS = __import__("re").compile(
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
