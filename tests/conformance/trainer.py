"""Kubeflow Trainer v2.3.0's admission rules for TrainJob and (Cluster)TrainingRuntime, and its
merge of ``spec.runtimePatches`` into the runtime, ported as checks.

Upstream (github.com/kubeflow/trainer, tag v2.3.0):

* ``pkg/runtime/core/trainingruntime.go``, ``mergeRuntimePatches``: every runtimePatches entry,
  in order, is applied to the runtime's JobSet spec as a Kubernetes strategic merge patch against
  ``jobsetv1alpha2.JobSetSpec`` (sigs.k8s.io/jobset v0.12.0), then the replicated jobs are put back
  in the runtime's order. ``ValidateObjects`` runs the plugins' ``Validate`` on that merged runtime.
* ``pkg/runtime/framework/plugins/jobset/jobset.go``, ``JobSet.Validate`` (initializer mounts from
  kubeflow/trainer#3714, patch targets, no env on initializer/node patches, manager naming) and
  ``checkRuntimePatchesImmutability``.
* ``pkg/webhooks/trainingruntime_webhook.go``, ``validateReplicatedJobs`` (the same function
  validates ClusterTrainingRuntime, ``clustertrainingruntime_webhook.go``).

Messages are upstream's, so a failing check reads like the API server's denial would.
"""

from __future__ import annotations

import copy
import re
from typing import Any

# pkg/runtime/framework/plugins/jobset/constants/constants.go: VolumeNameInitializer.
INITIALIZER_VOLUME = "initializer"
# pkg/constants/constants.go
DATASET_INITIALIZER, MODEL_INITIALIZER, NODE = "dataset-initializer", "model-initializer", "node"
ANCESTOR_LABEL = "trainer.kubeflow.org/trainjob-ancestor-step"
ANCESTOR_CONTAINER = {"trainer": NODE, MODEL_INITIALIZER: MODEL_INITIALIZER, DATASET_INITIALIZER: DATASET_INITIALIZER}

# Strategic-merge keys of the lists in a JobSetSpec (jobset v0.12.0 api/jobset/v1alpha2/jobset_types.go;
# k8s.io/api core/v1 types.go). A list not named here is replaced whole by the patch.
MERGE_KEYS = {
    "replicatedJobs": "name", "dependsOn": "name",
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "volumes": "name", "env": "name", "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "ports": "containerPort", "imagePullSecrets": "name", "hostAliases": "ip",
    "resourceClaims": "name", "topologySpreadConstraints": "topologyKey",
}


def strategic_merge(base: Any, patch: Any, key: str | None = None) -> Any:
    """``strategicpatch.StrategicMergePatch`` for the list keys above: maps merge key by key
    (``null`` deletes), lists with a merge key merge item by item, any other value is replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = strategic_merge(base.get(k), v, k)
        return out
    if isinstance(base, list) and isinstance(patch, list) and key in MERGE_KEYS:
        merge_key = MERGE_KEYS[key]
        out = [copy.deepcopy(item) for item in base]
        for item in patch:
            at = next((i for i, b in enumerate(out) if isinstance(b, dict) and isinstance(item, dict)
                       and b.get(merge_key) == item.get(merge_key)), None)
            if at is None:
                out.append(copy.deepcopy(item))
            else:
                out[at] = strategic_merge(out[at], item)
        return out
    return copy.deepcopy(patch)


def merged_runtime(runtime: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    """``mergeRuntimePatches``: the runtime's ``spec.template.spec`` (a JobSetSpec) with every
    runtimePatches entry of ``job`` applied in order, replicated jobs in the runtime's order."""
    spec = copy.deepcopy(runtime["spec"]["template"]["spec"])
    order = {r.get("name"): i for i, r in enumerate(spec.get("replicatedJobs") or [])}
    for entry in (job.get("spec") or {}).get("runtimePatches") or []:
        patch = (((entry or {}).get("trainingRuntimeSpec") or {}).get("template") or {}).get("spec")
        if patch is not None:
            spec = strategic_merge(spec, patch)
    spec["replicatedJobs"] = sorted(spec.get("replicatedJobs") or [], key=lambda r: order.get(r.get("name"), len(order)))
    return spec


def _pod(rjob: dict[str, Any]) -> dict[str, Any]:
    return ((((rjob.get("template") or {}).get("spec") or {}).get("template") or {}).get("spec")) or {}


def _container_names(spec: dict[str, Any]) -> dict[str, set[str]]:
    return {r["name"]: {c["name"] for c in (_pod(r).get("initContainers") or []) + (_pod(r).get("containers") or [])}
            for r in spec.get("replicatedJobs") or []}


def _initializer_errors(spec: dict[str, Any], job: dict[str, Any]) -> list[str]:
    """``Validate``: with ``spec.initializer.<dataset|model>`` set, the merged runtime's
    ``<kind>-initializer`` job has that container, and it mounts the volume ``initializer``."""
    errors = []
    names = _container_names(spec)
    initializer = (job.get("spec") or {}).get("initializer") or {}
    for kind, step, config in (("dataset", DATASET_INITIALIZER, "datasetConfig"), ("model", MODEL_INITIALIZER, "modelConfig")):
        if initializer.get(kind) is None:
            continue
        if step not in names:
            errors.append(f"spec.runtimeRef: Invalid value: must have {step} job when trainJob is configured with input {config}")
        elif step not in names[step]:
            errors.append(f"spec.runtimeRef: Invalid value: must have container with name - {step} in the {step} job")
        else:
            mounts = [m.get("name") for r in spec["replicatedJobs"] if r["name"] == step
                      for c in _pod(r).get("containers") or [] if c.get("name") == step for m in c.get("volumeMounts") or []]
            if INITIALIZER_VOLUME not in mounts:
                errors.append(f"spec.runtimeRef: Invalid value: must have volumeMount with name - {INITIALIZER_VOLUME} "
                              f"in container {step} of the {step} job")
    return errors


# k8s.io/apimachinery/pkg/util/validation: IsDNS1123Subdomain and the path of IsDomainPrefixedPath.
_DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_HTTP_PATH = re.compile(r"^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$")


def manager_errors(manager: Any) -> list[str]:
    """``validation.IsDomainPrefixedPath(spec.runtimePatches.manager)``."""
    where = "spec.runtimePatches.manager"
    if not manager:
        return [f"{where}: Required value"]
    domain, slash, path = str(manager).partition("/")
    if not slash or not path:
        return [f'{where}: Invalid value: {manager!r}: must be a domain-prefixed path (such as "acme.io/foo")']
    errors = []
    if len(domain) > 253 or not _DNS1123_SUBDOMAIN.match(domain):
        errors.append(f"{where}: Invalid value: {domain!r}: a lowercase RFC 1123 subdomain must consist of lower case "
                      "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")
    if not _HTTP_PATH.match(path):
        errors.append(f"{where}: Invalid value: {path!r}: path must consist of valid characters")
    return errors


def _patch_target_errors(spec: dict[str, Any], job: dict[str, Any]) -> list[str]:
    """``Validate``: a patch names only replicated jobs and containers the runtime has, and sets
    no env on ``dataset-initializer``, ``model-initializer`` or ``node``."""
    where, errors = "spec.runtimePatches: Invalid value", []
    names = _container_names(spec)
    for entry in (job.get("spec") or {}).get("runtimePatches") or []:
        errors += manager_errors(entry.get("manager"))
        patch = (((entry.get("trainingRuntimeSpec") or {}).get("template") or {}).get("spec")) or {}
        for rjob in patch.get("replicatedJobs") or []:
            if rjob.get("name") not in names:
                errors.append(f"{where}: must not have replicated job that doesn't exist in the runtime job template")
                continue
            have, pod = names[rjob["name"]], _pod(rjob)
            errors += [f"{where}: must not have initContainer that doesn't exist in the runtime job {rjob['name']}"
                       for c in pod.get("initContainers") or [] if c.get("name") not in have]
            for c in pod.get("containers") or []:
                if c.get("name") not in have:
                    errors.append(f"{where}: must not have container that doesn't exist in the runtime job {rjob['name']}")
                elif c.get("env") and c["name"] in (DATASET_INITIALIZER, MODEL_INITIALIZER, NODE):
                    errors.append(f"{where}: must not have envs for the {DATASET_INITIALIZER}, {MODEL_INITIALIZER}, {NODE} containers")
    return errors


def trainjob_errors(job: dict[str, Any], runtime: dict[str, Any], old: dict[str, Any] | None = None,
                    active_replicated_jobs: tuple[str, ...] = ()) -> list[str]:
    """Everything Trainer's TrainJob webhook denies (empty: admitted). ``runtime`` is the
    (Cluster)TrainingRuntime the job names; ``old`` the stored job on an update;
    ``active_replicated_jobs`` the JobSet's replicated jobs that still have active pods, plus
    :func:`patch_target_errors` (see there why it is checked separately).

    ``Validate`` reads the *merged* runtime (runtime + patches): ``ValidateObjects`` builds the
    runtime info with ``newRuntimeInfo``, which runs ``mergeRuntimePatches`` first."""
    spec = merged_runtime(runtime, job)
    errors = _initializer_errors(spec, job) + immutability_errors(old, job, active_replicated_jobs)
    return list(dict.fromkeys(errors + _patch_target_errors(spec, job) + patch_target_errors(job, runtime)))


def patch_target_errors(job: dict[str, Any], runtime: dict[str, Any]) -> list[str]:
    """``Validate``'s patch-target rules against the runtime as stored. In v2.3.0 they read the
    merged runtime, where a container or replicated job the patch itself adds already exists, so
    the webhook lets it through and the JobSet it builds fails instead (a patched-in container has
    no image). katib-llm's patch must meet the rules as written; messages are upstream's."""
    stored = {"replicatedJobs": runtime["spec"]["template"]["spec"].get("replicatedJobs") or []}
    return [e for e in _patch_target_errors(stored, job) if not e.startswith("spec.runtimePatches.manager")]


def immutability_errors(old: dict[str, Any] | None, new: dict[str, Any], active_replicated_jobs: tuple[str, ...] = ()) -> list[str]:
    """``checkRuntimePatchesImmutability``: runtimePatches change only while the TrainJob is
    suspended before or after the update, and never while a replicated job still has active pods."""
    if old is None:
        return []
    before, after = (old.get("spec") or {}), (new.get("spec") or {})
    if before.get("runtimePatches") == after.get("runtimePatches"):
        return []
    where = "spec.runtimePatches: Forbidden"
    if before.get("suspend") is not True and after.get("suspend") is not True:
        return [f"{where}: RuntimePatches can only be modified when the TrainJob is suspended before or after the update"]
    return [f"{where}: RuntimePatches cannot be modified when the JobSet's ReplicatedJob {name} is still active"
            for name in active_replicated_jobs]


def runtime_errors(runtime: dict[str, Any]) -> list[str]:
    """``validateReplicatedJobs`` (TrainingRuntime and ClusterTrainingRuntime create): a replicated
    job labelled with a known ancestor step has 1 replica and the ancestor's container."""
    errors = []
    for i, rjob in enumerate(runtime["spec"]["template"]["spec"].get("replicatedJobs") or []):
        labels = ((rjob.get("template") or {}).get("metadata") or {}).get("labels")
        ancestor = (labels or {}).get(ANCESTOR_LABEL)
        if ancestor not in ANCESTOR_CONTAINER:
            continue
        where = f"spec.template.spec.replicatedJobs[{i}]"
        if rjob.get("replicas", 1) != 1:
            errors.append(f"{where}.replicas: Invalid value: {rjob.get('replicas')}: always must be 1")
        if ANCESTOR_CONTAINER[ancestor] not in {c.get("name") for c in _pod(rjob).get("containers") or []}:
            errors.append(f"{where}.template.spec.template.spec.containers: Invalid value: "
                          f"must contain the required container for the ancestor: {ancestor}")
    return errors
