"""The training-operator v1.9 PyTorchJob webhook, ported as a check.

Upstream (github.com/kubeflow/training-operator, tag v1.9.0):

* ``pkg/apis/kubeflow.org/v1/pytorch_defaults.go``, ``SetDefaults_PyTorchJob`` (the mutating
  webhook runs it first): replica types to camel case, ``replicas`` 1 when unset.
* ``pkg/webhooks/pytorch/pytorchjob_webhook.go``, ``validatePyTorchJob``, ``validateSpec``,
  ``validatePyTorchReplicaSpecs``; ``pkg/common/util/webhooks.go``, ``ValidateRunPolicy``.
"""

from __future__ import annotations

import copy
import re
from typing import Any

DEFAULT_CONTAINER = "pytorch"  # PyTorchJobDefaultContainerName
REPLICA_TYPES = ("Master", "Worker")
MANAGED_BY = ("kubeflow.org/training-operator", "kueue.x-k8s.io/multikueue")
_DNS1035 = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")


def defaulted(job: dict[str, Any]) -> dict[str, Any]:
    """``SetDefaults_PyTorchJob`` as far as validation depends on it."""
    job = copy.deepcopy(job)
    specs = (job.get("spec") or {}).get("pytorchReplicaSpecs") or {}
    for canonical in REPLICA_TYPES:
        for key in [k for k in specs if k.lower() == canonical.lower() and k != canonical]:
            specs[canonical] = specs.pop(key)
    for rspec in specs.values():
        if isinstance(rspec, dict):
            rspec.setdefault("replicas", 1)
    return job


def pytorchjob_errors(job: dict[str, Any]) -> list[str]:
    """Everything the PyTorchJob validating webhook denies, after the defaulter (empty: admitted)."""
    job = defaulted(job)
    name, spec = (job.get("metadata") or {}).get("name", ""), job.get("spec") or {}
    errors = []
    if len(name) > 63 or not _DNS1035.match(name):
        errors.append(f"metadata.name: Invalid value: {name!r}: should match: a DNS-1035 label must consist of lower "
                      "case alphanumeric characters or '-', start with an alphabetic character, and end with an "
                      "alphanumeric character")
    manager = (spec.get("runPolicy") or {}).get("managedBy")
    if manager is not None and manager not in MANAGED_BY:
        errors.append(f"spec.runPolicy.managedBy: Unsupported value: {manager!r}")
    specs = spec.get("pytorchReplicaSpecs")
    if spec.get("elasticPolicy") is not None:
        if "Worker" not in (specs or {}):
            errors.append("spec.pytorchReplicaSpecs[Worker]: Required value: must be configured if elastic policy is used")
        if spec["elasticPolicy"].get("nProcPerNode") is not None and spec.get("nprocPerNode") is not None:
            errors.append("spec.elasticPolicy.nProcPerNode: Forbidden: must not be used with spec.nprocPerNode")
    if specs is None:
        errors.append("spec.pytorchReplicaSpecs: Required value: must be required")
    for rtype, rspec in (specs or {}).items():
        where = f"spec.pytorchReplicaSpecs[{rtype}]"
        if rtype not in REPLICA_TYPES:
            errors.append(f'{where}: Unsupported value: "{rtype}": supported values: "Master", "Worker"')
        containers = ((((rspec or {}).get("template") or {}).get("spec") or {}).get("containers")) or []
        if not containers:
            errors.append(f"{where}.template.spec.containers: Required value: must be specified")
        errors += [f"{where}.template.spec.containers[{i}].image: Required value: must be required"
                   for i, c in enumerate(containers) if not c.get("image")]
        if DEFAULT_CONTAINER not in {c.get("name") for c in containers}:
            errors.append(f"{where}.template.spec.containers: Required value: must have at least one container "
                          f"with name {DEFAULT_CONTAINER}")
        replicas = (rspec or {}).get("replicas")
        if rtype == "Master" and replicas != 1:
            errors.append(f"{where}.replicas: Forbidden: must be 1")
        elif rtype != "Master" and isinstance(replicas, int) and replicas < 1:
            errors.append(f"{where}.replicas: Forbidden: must be at least 1")
    return errors
