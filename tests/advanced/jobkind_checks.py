"""Schema checks for trial job kinds that have no CRD among the reference files (MPIJob, JAXJob).

Emulated: the job-level fields are checked against the kubeflow-training 1.9 SDK's model types
(tests/model_schemas.py: a closed set of keys, each of the declared type, required fields
present), and every embedded pod template against the PodTemplateSpec schema the
training-operator CRDs embed for every replica type (the PyTorchJob CRD's, when the upstream
reference files are at hand; otherwise Kubernetes' own, from kubernetes-validate).
"""

from __future__ import annotations

from typing import Any

from tests.conformance.schemas import pytorchjob_schema, schema_errors
from tests.model_schemas import model_errors, pod_template_errors, training_models
from tests.reference import REFERENCE


def crd_pod_template_errors(template: Any) -> list[str]:
    """A pod template against the PodTemplateSpec schema embedded in the PyTorchJob CRD."""
    replica = pytorchjob_schema()["properties"]["spec"]["properties"]["pytorchReplicaSpecs"]["additionalProperties"]
    return schema_errors(template, replica["properties"]["template"])


def kubeflow_job_errors(job: dict[str, Any]) -> list[str]:
    """Schema errors of an MPIJob or JAXJob manifest (emulated, see the module docstring)."""
    kind = job.get("kind")
    model = {"MPIJob": "KubeflowOrgV1MPIJob", "JAXJob": "KubeflowOrgV1JAXJob"}[kind]
    models = training_models(crd_pod_template_errors if REFERENCE is not None else pod_template_errors)
    errors = model_errors({k: v for k, v in job.items() if k != "status"}, model, kind, models)
    if job.get("apiVersion") != "kubeflow.org/v1":
        errors.append(f"{kind}.apiVersion: must be kubeflow.org/v1")
    return errors
