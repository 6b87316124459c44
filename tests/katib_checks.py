"""Checks every admitted Experiment must pass, shared by all test suites.

Emulates what a cluster would enforce, from the upstream contracts in ``../shared/reference``:

* the Katib Experiment field schema (``katib/crds/swagger.json``), made closed
  (``additionalProperties: false``) because Katib's Go decoding silently drops unknown fields;
* the trial job's own schema: the PyTorchJob CRD ``openAPIV3Schema`` (training-operator v1.9),
  the TrainJob CRD (Kubeflow Trainer v2.3.0, ``trainer_checks``), or the Kubernetes OpenAPI schema
  for ``batch/v1`` Job (kubernetes-validate);
* Katib's admission rules (ported in ``katib_llm.core.katib_rules``), after substituting trial
  parameters the way Katib's controller does.
"""

from __future__ import annotations

import copy
import functools
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import yaml

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
REFERENCE = SHARED / "reference"
KATIB_EXAMPLES = REFERENCE / "katib" / "examples"
SWAGGER = REFERENCE / "katib" / "crds" / "swagger.json"
PYTORCHJOB_CRD = REFERENCE / "training-operator" / "crds" / "kubeflow.org_pytorchjobs.yaml"

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
    swagger = json.loads(SWAGGER.read_text())
    definitions = copy.deepcopy(swagger["definitions"])
    for name, schema in definitions.items():
        if name.startswith("v1beta1.") and schema.get("type") == "object" and "properties" in schema:
            schema["additionalProperties"] = False
    definitions.update(_EXTERNAL)
    return {"$ref": "#/definitions/v1beta1.Experiment", "definitions": definitions}


@functools.cache
def pytorchjob_schema() -> dict[str, Any]:
    crd = yaml.safe_load(PYTORCHJOB_CRD.read_text())
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
    if kind == "PyTorchJob":
        named = {**job, "metadata": {**job.get("metadata", {}), "name": "trial-abc123"}}
        return schema_errors(named, pytorchjob_schema())
    if kind == "TrainJob":
        from trainer_checks import CRDS, object_errors

        # Kubeflow Trainer v2.3.0's CRD (values and structural pruning), when the reference is present.
        return object_errors(job, "TrainJob") if CRDS["TrainJob"].is_file() else []
    if kind == "Job":
        import kubernetes_validate

        named = {**job, "metadata": {**job.get("metadata", {}), "name": "trial-abc123"}}
        try:
            kubernetes_validate.validate(named, "1.33", strict=True)
        except kubernetes_validate.ValidationError as exc:
            return [str(exc)]
        return []
    return []


def admitted_errors(experiment: dict[str, Any]) -> list[str]:
    """Every problem a cluster would find with an admitted Experiment (empty = valid)."""
    from katib_llm.core.katib_rules import validate_experiment

    errors = [f"schema: {e}" for e in schema_errors(experiment, experiment_schema())]
    errors += [f"katib: {e}" for e in validate_experiment(experiment)]
    tt = experiment.get("spec", {}).get("trialTemplate", {})
    if "trialSpec" in tt and not errors:
        errors += [f"job: {e}" for e in job_errors(substitute(experiment))]
    return errors


def load_examples() -> list[tuple[str, dict[str, Any]]]:
    """Every Experiment in the reference examples, as (relative path, object)."""
    out = []
    for path in sorted(KATIB_EXAMPLES.rglob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "Experiment":
                out.append((str(path.relative_to(KATIB_EXAMPLES)), doc))
    return out
