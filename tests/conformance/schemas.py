"""The schemas kube-apiserver enforces on every admitted Experiment and its trial job, shared by
all test suites (the webhooks' own rules are the sibling modules of tests/conformance).

Emulates:

* the Katib Experiment field schema, closed (unknown fields are errors) because Katib's Go
  decoding silently drops unknown fields: Katib's swagger (``pkg/apis/v1beta1/swagger.json``)
  when the upstream reference files are at hand (tests/reference.py), otherwise the same field
  set from kubeflow-katib's API models (tests/model_schemas.py);
* the trial job's own schema: the PyTorchJob CRD ``openAPIV3Schema`` (training-operator v1.9) when
  the reference files are at hand, otherwise kubeflow-training's API models with every pod
  template checked by kubernetes-validate; the TrainJob CRD (Kubeflow Trainer v2.3.0,
  ``tests.conformance.trainer_crds``) when the reference files are at hand; the Kubernetes OpenAPI schema
  for ``batch/v1`` Job (kubernetes-validate) either way;
* Katib's admission rules (ported in ``katib_llm.core.katib_rules``), after substituting trial
  parameters the way Katib's controller does.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from typing import Any

import jsonschema
import yaml

from tests.model_schemas import K8S_VERSION, katib_models, model_errors, training_models
from tests.reference import REFERENCE, REPO


_EXTERNAL = {
    "v1.ObjectMeta": {"type": "object"},
    "v1.ListMeta": {"type": "object"},
    "v1.Time": {"type": "string"},
    "v1.unstructured.Unstructured": {"type": "object"},
    "v1.HTTPGetAction": {"type": "object"},
    "v1.Container": {"type": "object"},
}


@functools.cache
def experiment_schema() -> dict[str, Any]:
    """Katib's swagger, closed; needs the reference files (tests marked ``reference``)."""
    swagger = json.loads((REFERENCE / "katib" / "crds" / "swagger.json").read_text())
    definitions = copy.deepcopy(swagger["definitions"])
    for name, schema in definitions.items():
        if name.startswith("v1beta1.") and schema.get("type") == "object" and "properties" in schema:
            schema["additionalProperties"] = False
    definitions.update(_EXTERNAL)
    return {"$ref": "#/definitions/v1beta1.Experiment", "definitions": definitions}


@functools.cache
def pytorchjob_schema() -> dict[str, Any]:
    """training-operator's PyTorchJob CRD schema; needs the reference files."""
    crd = yaml.safe_load((REFERENCE / "training-operator" / "crds" / "kubeflow.org_pytorchjobs.yaml").read_text())
    return crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def schema_errors(instance: Any, schema: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(schema)
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}"
            for e in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path))]


_PLACEHOLDER = re.compile(r"\$\{trialParameters\.(.+?)\}")
_META = re.compile(r"\$\{trialSpec\.(.+?)\}")


def substitute(experiment: dict[str, Any], values: dict[str, str] | None = None) -> dict[str, Any]:
    """The trial job Katib's controller would create: placeholders replaced in the JSON text."""
    tt = experiment["spec"]["trialTemplate"]
    by_name = {}
    params = {p["name"]: p for p in experiment["spec"].get("parameters", [])}
    for tp in tt.get("trialParameters", []):
        p = params.get(tp["reference"])
        if values and tp["reference"] in values:
            by_name[tp["name"]] = values[tp["reference"]]
        elif p is None:
            by_name[tp["name"]] = "x"
        elif p["parameterType"] in ("categorical", "discrete"):
            by_name[tp["name"]] = str(p["feasibleSpace"]["list"][0])
        else:
            by_name[tp["name"]] = str(p["feasibleSpace"]["min"])
    text = json.dumps(tt["trialSpec"])
    text = _PLACEHOLDER.sub(lambda m: by_name.get(m.group(1), m.group(0)), text)
    text = _META.sub(lambda m: {"Name": "trial-abc123", "Namespace": "kubeflow"}.get(m.group(1), "meta"), text)
    return json.loads(text)


def job_errors(job: dict[str, Any]) -> list[str]:
    """Schema errors of a trial job manifest (PyTorchJob CRD, or Kubernetes batch/v1 Job)."""
    kind = job.get("kind")
    named = {**job, "metadata": {**job.get("metadata", {}), "name": "trial-abc123"}}
    if kind == "PyTorchJob" and REFERENCE is not None:
        return schema_errors(named, pytorchjob_schema())
    if kind == "TrainJob":
        from .trainer_crds import CRDS, object_errors

        # Kubeflow Trainer v2.3.0's CRD (values and structural pruning), when the reference is present.
        return object_errors(job, "TrainJob") if CRDS["TrainJob"].is_file() else []
    if kind == "PyTorchJob":
        errors = model_errors({k: v for k, v in named.items() if k != "status"}, "KubeflowOrgV1PyTorchJob",
                              "PyTorchJob", training_models())
        if named.get("apiVersion") != "kubeflow.org/v1":
            errors.append("PyTorchJob.apiVersion: must be kubeflow.org/v1")
        return errors
    if kind == "Job":
        import kubernetes_validate

        try:
            kubernetes_validate.validate(named, K8S_VERSION, strict=True)
        except kubernetes_validate.ValidationError as exc:
            return [str(exc)]
        return []
    return []


def experiment_schema_errors(experiment: Any) -> list[str]:
    """Field errors of an Experiment: Katib's swagger if at hand, else kubeflow-katib's models."""
    if REFERENCE is not None:
        return schema_errors(experiment, experiment_schema())
    return model_errors(experiment, "V1beta1Experiment", "<root>", katib_models())


def admitted_errors(experiment: dict[str, Any]) -> list[str]:
    """Every problem a cluster would find with an admitted Experiment (empty = valid)."""
    from katib_llm.core.katib_rules import validate_experiment

    errors = [f"schema: {e}" for e in experiment_schema_errors(experiment)]
    errors += [f"katib: {e}" for e in validate_experiment(experiment)]
    tt = experiment.get("spec", {}).get("trialTemplate", {})
    if "trialSpec" in tt and not errors:
        errors += [f"job: {e}" for e in job_errors(substitute(experiment))]
    return errors


def load_examples() -> list[tuple[str, dict[str, Any]]]:
    """Every Experiment in Katib's upstream examples, as (relative path, object); empty without
    the reference files (the tests using them are marked ``reference``)."""
    if REFERENCE is None:
        return []
    examples = REFERENCE / "katib" / "examples"
    out = []
    for path in sorted(examples.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Experiment":
                out.append((str(path.relative_to(examples)), doc))
    return out
