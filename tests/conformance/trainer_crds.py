"""What kube-apiserver enforces on Kubeflow Trainer v2 objects, from the v2.3.0 CRDs.

Two checks, both read from the CRD's ``openAPIV3Schema`` in the reference directory's
``trainer-v2/crds`` (tests/reference.py; verbatim copies of Kubeflow Trainer v2.3.0's CRDs):

* :func:`schema_errors`: the value constraints (types, enums, patterns, required fields);
* :func:`pruned_fields`: every key the API server would silently drop. A CRD schema is
  structural: a key that is neither declared under ``properties`` nor allowed by
  ``additionalProperties`` nor under ``x-kubernetes-preserve-unknown-fields: true`` is pruned on
  write, so a field the webhook injects there would vanish without an error.

Tests that need the CRDs call :func:`crd_schema`, which skips with the missing path when the
reference data is not beside the repository (a clone of the repository alone).
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.reference import LOCATION

from .schemas import schema_errors as _schema_errors

# Kubeflow Trainer v2.3.0's CRDs in the reference directory (tests/reference.py), if present.
TRAINER = LOCATION / "trainer-v2"
CRDS = {
    "TrainJob": TRAINER / "crds" / "trainer.kubeflow.org_trainjobs.yaml",
    "ClusterTrainingRuntime": TRAINER / "crds" / "trainer.kubeflow.org_clustertrainingruntimes.yaml",
}


def reference_file(path: Path) -> Path:
    """``path`` if present, else skip the calling test saying which file is missing."""
    if not path.is_file():
        pytest.skip(f"reference data not found: {path} (Kubeflow Trainer v2.3.0 CRDs; "
                    "set KATIB_LLM_REFERENCE, see tests/reference.py)")
    return path


@functools.cache
def _load(kind: str) -> dict[str, Any]:
    crd = yaml.safe_load(CRDS[kind].read_text())
    (version,) = [v for v in crd["spec"]["versions"] if v["name"] == "v1alpha1"]
    return version["schema"]["openAPIV3Schema"]


def crd_schema(kind: str) -> dict[str, Any]:
    """The v1alpha1 ``openAPIV3Schema`` of ``kind`` (skips when the CRD file is absent)."""
    reference_file(CRDS[kind])
    return _load(kind)


def schema_errors(obj: dict[str, Any], kind: str) -> list[str]:
    return _schema_errors(obj, crd_schema(kind))


def pruned_fields(value: Any, schema: dict[str, Any], path: str = "") -> list[str]:
    """Paths of every key the API server's structural pruning would drop from ``value``."""
    if schema.get("x-kubernetes-preserve-unknown-fields"):
        return []
    out: list[str] = []
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if path == "" and key in ("apiVersion", "kind", "metadata"):
                continue  # the API server handles these itself (ObjectMeta is not pruned here)
            if key in props:
                out += pruned_fields(item, props[key], where)
            elif isinstance(extra, dict):
                out += pruned_fields(item, extra, where)
            elif extra is not True:
                out.append(where)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for i, item in enumerate(value):
            out += pruned_fields(item, schema["items"], f"{path}[{i}]")
    return out


def object_errors(obj: dict[str, Any], kind: str) -> list[str]:
    """Schema errors plus pruned fields of a Trainer object (empty: the API server keeps it all)."""
    schema = crd_schema(kind)
    named = {**obj, "metadata": {**(obj.get("metadata") or {}), "name": (obj.get("metadata") or {}).get("name", "trial-abc123")}}
    return _schema_errors(named, schema) + [f"pruned: {p}" for p in pruned_fields(named, schema)]
