"""Schema checks for trial job kinds that have no CRD in ../shared/reference (MPIJob, JAXJob).

Emulated, since no CRD for them is at hand: the job-level fields are checked against the
kubeflow-training 1.9 SDK's model types (``openapi_types`` / ``attribute_map``: a closed set of
keys, each of the declared type, required fields present), and every embedded pod template
against the PodTemplateSpec schema of the PyTorchJob CRD (the same Kubernetes core/v1 schema the
training-operator CRDs embed for every replica type).
"""

from __future__ import annotations

import re
from typing import Any

from katib_checks import pytorchjob_schema, schema_errors

_DICT = re.compile(r"^dict\(str, (\w+)\)$")
_LIST = re.compile(r"^list\[(\w+)\]$")
_PRIMITIVES = {"int": int, "str": str, "bool": bool, "float": (int, float), "object": object}
# Fields whose setter rejects None in the SDK (client-side validation): required.
_REQUIRED = {"KubeflowOrgV1MPIJobSpec": {"mpi_replica_specs"}, "KubeflowOrgV1JAXJobSpec": {"jax_replica_specs"}}


def pod_template_schema() -> dict[str, Any]:
    replica = pytorchjob_schema()["properties"]["spec"]["properties"]["pytorchReplicaSpecs"]["additionalProperties"]
    return replica["properties"]["template"]


def model_errors(value: Any, type_name: str, path: str) -> list[str]:
    """Errors of ``value`` against a kubeflow-training model type (recursively)."""
    from kubeflow.training import models

    if type_name in _PRIMITIVES:
        ok = isinstance(value, _PRIMITIVES[type_name]) and not (type_name == "int" and isinstance(value, bool))
        return [] if ok else [f"{path}: expected {type_name}, got {type(value).__name__}"]
    if type_name == "V1PodTemplateSpec":
        return [f"{path}.{e}" for e in schema_errors(value, pod_template_schema())]
    if type_name == "V1ObjectMeta":
        return [] if isinstance(value, dict) else [f"{path}: expected an object"]
    if m := _DICT.match(type_name):
        if not isinstance(value, dict):
            return [f"{path}: expected a map"]
        return [e for k, v in value.items() for e in model_errors(v, m.group(1), f"{path}.{k}")]
    if m := _LIST.match(type_name):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [e for i, v in enumerate(value) for e in model_errors(v, m.group(1), f"{path}[{i}]")]
    model = getattr(models, type_name, None)
    if model is None:
        return []  # a type the SDK names but does not model (e.g. kubernetes core types): not checked
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({type_name})"]
    by_json = {json_key: attr for attr, json_key in model.attribute_map.items()}
    errors = [f"{path}.{k}: unknown field of {type_name}; known: {', '.join(sorted(by_json))}"
              for k in value if k not in by_json]
    for attr in _REQUIRED.get(type_name, set()):
        if model.attribute_map[attr] not in value:
            errors.append(f"{path}.{model.attribute_map[attr]}: required")
    for k, v in value.items():
        if k in by_json:
            errors += model_errors(v, model.openapi_types[by_json[k]], f"{path}.{k}")
    return errors


def kubeflow_job_errors(job: dict[str, Any]) -> list[str]:
    """Schema errors of an MPIJob or JAXJob manifest (emulated, see the module docstring)."""
    kind = job.get("kind")
    model = {"MPIJob": "KubeflowOrgV1MPIJob", "JAXJob": "KubeflowOrgV1JAXJob"}[kind]
    errors = model_errors({k: v for k, v in job.items() if k != "status"}, model, kind)
    if job.get("apiVersion") != "kubeflow.org/v1":
        errors.append(f"{kind}.apiVersion: must be kubeflow.org/v1")
    return errors
