"""Katib's katib-config (``config.kubeflow.org/v1beta1`` KatibConfig): our early-stopping entries.

Katib reads ``runtime.earlyStoppings`` (a list of ``{algorithmName, image, imagePullPolicy,
resources}``, kubeflow/katib ``pkg/apis/config/v1beta1/types.go`` EarlyStoppingConfig) from the
ConfigMap ``katib-config`` (key ``katib-config.yaml``) whenever it builds a Suggestion, and uses
the last entry with the algorithm's name. These pure functions add or remove one entry and keep
everything else as it was.
"""

from __future__ import annotations

import copy
from typing import Any

KEY = "katib-config.yaml"
ENTRY_KEYS = ("algorithmName", "image", "imagePullPolicy", "resources")


class KatibConfigError(ValueError):
    """The katib-config text or our entry is not what Katib reads (the message says which)."""


def check_entry(entry: Any) -> dict[str, Any]:
    if not isinstance(entry, dict) or not isinstance(entry.get("algorithmName"), str) or not entry["algorithmName"]:
        raise KatibConfigError("the entry must be an object with algorithmName")
    unknown = sorted(set(entry) - set(ENTRY_KEYS))
    if unknown:
        raise KatibConfigError(f"unknown key(s) {unknown} in the earlyStoppings entry; accepted: {', '.join(ENTRY_KEYS)}")
    if not isinstance(entry.get("image"), str) or not entry["image"].strip():
        raise KatibConfigError("the entry's image must be a container image reference (Katib requires one)")
    return entry


def with_early_stopping(config: Any, entry: dict[str, Any]) -> dict[str, Any]:
    """``config`` with ``entry`` as the only ``runtime.earlyStoppings`` item of its algorithm."""
    check_entry(entry)
    out = _copy(config)
    runtime = out.setdefault("runtime", {})
    if not isinstance(runtime, dict):
        raise KatibConfigError("katib-config: runtime must be a map")
    items = [e for e in runtime.get("earlyStoppings") or []
             if not (isinstance(e, dict) and e.get("algorithmName") == entry["algorithmName"])]
    runtime["earlyStoppings"] = items + [copy.deepcopy(entry)]
    return out


def without_early_stopping(config: Any, algorithm: str) -> dict[str, Any]:
    out = _copy(config)
    runtime = out.get("runtime")
    if isinstance(runtime, dict) and isinstance(runtime.get("earlyStoppings"), list):
        runtime["earlyStoppings"] = [e for e in runtime["earlyStoppings"]
                                     if not (isinstance(e, dict) and e.get("algorithmName") == algorithm)]
    return out


def early_stopping_names(config: Any) -> list[str]:
    runtime = config.get("runtime") if isinstance(config, dict) else None
    items = runtime.get("earlyStoppings") if isinstance(runtime, dict) else None
    return [str(e.get("algorithmName")) for e in items or [] if isinstance(e, dict)]


def _copy(config: Any) -> dict[str, Any]:
    if not isinstance(config, dict) or config.get("kind") not in (None, "KatibConfig"):
        raise KatibConfigError("katib-config: expected a KatibConfig document (apiVersion config.kubeflow.org/v1beta1)")
    return copy.deepcopy(config)
