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


def local_values(values: dict[str, Any] | str | Path | None) -> dict[str, Any]:
    """Admin values for a run on this machine (``tune --local``, and ``katib-llm mutate``/``validate``
    with ``--local``): ``file://`` may name any folder of the user's own machine
    (``fileRoots: [/]``) unless the values restrict it; on a cluster the admin allows none by default."""
    raw = dict(values) if isinstance(values, dict) else read_values(values)
    raw.setdefault("fileRoots", ["/"])
    return raw
