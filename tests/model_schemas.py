"""Field checks from the installed SDKs' API models, for when no upstream schema file is at hand.

kubeflow-katib 0.19 and kubeflow-training 1.9 are generated from the same Go types as Katib's
swagger and the training-operator CRDs: every model class lists its JSON keys
(``attribute_map``) and their types (``openapi_types``). ``model_errors`` walks a manifest
against them: a closed set of keys per object (Katib's and training-operator's Go decoding drops
unknown fields silently, so an unknown key is a field that would be lost), each value of the
declared type, required fields present. Kubernetes types embedded in a Kubeflow type are either
checked by kubernetes-validate's schemas (a pod template) or, as in Katib's swagger, taken as an
opaque object (ObjectMeta, Container).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Callable

K8S_VERSION = "1.33"  # the Kubernetes minor the trial jobs are checked against (kubernetes-validate)

_DICT = re.compile(r"^dict\(str, (.+)\)$")
_LIST = re.compile(r"^list\[(.+)\]$")
_PRIMITIVES: dict[str, Any] = {"int": int, "str": str, "bool": bool, "float": (int, float), "object": object,
                               "datetime": str}
_OPAQUE = {"V1ObjectMeta", "V1ListMeta", "V1Container", "V1HTTPGetAction", "V1UnstructuredUnstructured"}


@functools.cache
def _pod_template_validator() -> Any:
    """kubernetes-validate's strict PodTemplateSpec schema (unknown fields are errors) for
    Kubernetes ``K8S_VERSION``, with its shared definitions, as one validator."""
    import jsonschema
    from kubernetes_validate import utils
    from referencing import Registry, Resource

    version = [v for v in utils.all_versions() if utils.major_minor(v) <= K8S_VERSION][-1]
    folder = f"kubernetes-json-schema/v{version}-local-strict"
    schema = utils.schema_contents(f"{folder}/podtemplatespec-v1.json", K8S_VERSION)
    registry = Resource.from_contents(utils.schema_contents(f"{folder}/_definitions.json", K8S_VERSION)) @ Registry()
    return jsonschema.Draft202012Validator(schema, registry=registry)


def pod_template_errors(template: Any) -> list[str]:
    """Every error of a pod template against Kubernetes' own PodTemplateSpec schema."""
    errors = sorted(_pod_template_validator().iter_errors(template), key=lambda e: list(map(str, e.absolute_path)))
    return [f"{'.'.join(str(p) for p in e.absolute_path) or '<root>'}: {e.message}" for e in errors]


@dataclass(frozen=True)
class Models:
    """One SDK's model module, the prefix of the types it owns, and what its types require."""

    module: ModuleType
    prefix: str
    # JSON keys that must be present, per model type: the upstream schema's ``required`` lists.
    required: dict[str, set[str]] = field(default_factory=dict)
    pod_template: Callable[[Any], list[str]] = pod_template_errors


def katib_models() -> Models:
    from kubeflow.katib import models

    # Katib's swagger requires type and status in its condition types; nothing else.
    conditions = {"type", "status"}
    return Models(models, "V1beta1", {"V1beta1ExperimentCondition": conditions,
                                      "V1beta1TrialCondition": conditions})


def training_models(pod_template: Callable[[Any], list[str]] = pod_template_errors) -> Models:
    from kubeflow.training import models

    # The CRDs require only the replica map; the SDK also rejects a missing runPolicy, which the
    # Go type marks omitempty, so the SDK's client-side validation is not copied here.
    required = {"KubeflowOrgV1PyTorchJobSpec": {"pytorchReplicaSpecs"},
                "KubeflowOrgV1MPIJobSpec": {"mpiReplicaSpecs"},
                "KubeflowOrgV1JAXJobSpec": {"jaxReplicaSpecs"}}
    return Models(models, "KubeflowOrgV1", required, pod_template)


def model_errors(value: Any, type_name: str, path: str, models: Models) -> list[str]:
    """Errors of ``value`` against the model type ``type_name`` (recursively); empty = valid."""
    if type_name in _PRIMITIVES:
        ok = isinstance(value, _PRIMITIVES[type_name]) and not (type_name == "int" and isinstance(value, bool))
        return [] if ok else [f"{path}: expected {type_name}, got {type(value).__name__}"]
    if type_name == "V1PodTemplateSpec":
        return [f"{path}.{e}" for e in models.pod_template(value)]
    if m := _DICT.match(type_name):
        if not isinstance(value, dict):
            return [f"{path}: expected a map"]
        return [e for k, v in value.items() for e in model_errors(v, m.group(1), f"{path}.{k}", models)]
    if m := _LIST.match(type_name):
        if not isinstance(value, list):
            return [f"{path}: expected a list"]
        return [e for i, v in enumerate(value) for e in model_errors(v, m.group(1), f"{path}[{i}]", models)]
    model = getattr(models.module, type_name, None)
    if type_name in _OPAQUE or not type_name.startswith(models.prefix) or model is None:
        return [] if isinstance(value, dict) else [f"{path}: expected an object ({type_name})"]
    if not isinstance(value, dict):
        return [f"{path}: expected an object ({type_name})"]
    by_json = {json_key: attr for attr, json_key in model.attribute_map.items()}
    errors = [f"{path}.{k}: unknown field of {type_name}; known: {', '.join(sorted(by_json))}"
              for k in value if k not in by_json]
    errors += [f"{path}.{k}: required" for k in sorted(models.required.get(type_name, ())) if k not in value]
    for k, v in value.items():
        if k in by_json:
            errors += model_errors(v, model.openapi_types[by_json[k]], f"{path}.{k}", models)
    return errors
