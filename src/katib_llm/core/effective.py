"""The effective trial: every pod-spec-shaped thing a trial job will create, with its field path.

Admission's rules (host access, admin caps, procs) judge what the trial will really run, not
the annotations that fed it: the admitted ``trialSpec`` after injection. One walker yields each
pod-spec-shaped object of any supported kind; the rules (core/trial_rules.py) are applied to each
alike, so a kind, a replica type or a runtime patch cannot slip past a rule written for another.

* Pod-template kinds (batch Job, PyTorchJob, TFJob, MPIJob, ...): every pod template's ``spec``
  (containers, init containers, ephemeral containers, sidecars), with the number of pods it makes
  (``replicas`` per replica type, a Job's ``parallelism``, a PyTorchJob's
  ``elasticPolicy.maxReplicas`` when larger).
* Kubeflow Trainer's TrainJob: ``spec.trainer`` as the ``node`` container (its
  ``resourcesPerNode``, ``numNodes`` pods), and the pod spec of every replicated job of every
  ``spec.runtimePatches`` entry (the runtime decides how many pods those make).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

from .jobkinds import JobKind

BASE = "spec.trialTemplate.trialSpec"
CONTAINER_GROUPS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class Container:
    """One container-shaped object: where it is, what it holds, where its resources are."""

    path: str
    obj: dict[str, Any]
    group: str  # initContainers | containers | ephemeralContainers | trainer
    resources_key: str = "resources"

    @property
    def restartable_init(self) -> bool:
        """A sidecar (an init container with restartPolicy Always) runs beside the app containers."""
        return self.group == "initContainers" and self.obj.get("restartPolicy") == "Always"


@dataclass(frozen=True)
class PodShape:
    """One pod-spec-shaped object of the trial and how many pods it makes.

    ``replicas`` is 0 for a runtime patch (the runtime decides); ``worker`` is False for a
    replica type that is not one of the trial's workers (an MPIJob's launcher)."""

    path: str
    spec: dict[str, Any]
    containers: tuple[Container, ...]
    replicas: int = 1
    replicas_path: str | None = None
    worker: bool = True


def pod_shapes(kind: JobKind, job: dict[str, Any]) -> Iterator[PodShape]:
    """Every pod-spec-shaped object of ``job`` (a trial job of ``kind``), with its field path."""
    if not isinstance(job, dict):
        return
    if kind.has_pod_templates:
        yield from _templated(kind, job)
    else:
        yield from _trainjob(job)


def _dict(node: Any, *keys: str) -> dict[str, Any]:
    for key in keys:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else {}


def _count(raw: Any, default: int = 1) -> int:
    """A replica count as the operators read it (missing: ``default``); other types are the
    API server's to refuse, so they count as the default here."""
    if raw is None or isinstance(raw, bool) or not isinstance(raw, int):
        return default
    return max(raw, 0)


def _containers(pod: dict[str, Any], path: str) -> tuple[Container, ...]:
    found = []
    for group in CONTAINER_GROUPS:
        items = pod.get(group)
        for i, c in enumerate(items if isinstance(items, list) else []):
            if isinstance(c, dict):
                found.append(Container(f"{path}.{group}[{i}]", c, group))
    return tuple(found)


def _templated(kind: JobKind, job: dict[str, Any]) -> Iterator[PodShape]:
    spec = _dict(job, "spec")
    for tpath, tmpl in kind.pod_templates(job):
        pod = _dict(tmpl, "spec")
        path = f"{BASE}.{tpath}.spec"
        role = kind.role_of(tpath)
        if kind.replica_specs is None:
            replicas, count_path = _count(spec.get("parallelism")), f"{BASE}.spec.parallelism"
        else:
            replicas = _count(_dict(spec, kind.replica_specs, str(role)).get("replicas"))
            count_path = f"{BASE}.spec.{kind.replica_specs}.{role}.replicas"
            elastic = _count(_dict(spec, "elasticPolicy").get("maxReplicas"), 0)
            if role == kind.worker and role != kind.master and elastic > replicas:
                replicas, count_path = elastic, f"{BASE}.spec.elasticPolicy.maxReplicas"
        yield PodShape(path, pod, _containers(pod, path), replicas, count_path,
                       worker=kind.launcher is None or role != kind.launcher)


def _trainjob(job: dict[str, Any]) -> Iterator[PodShape]:
    spec = _dict(job, "spec")
    trainer = _dict(spec, "trainer")
    node = Container(f"{BASE}.spec.trainer", trainer, "trainer", "resourcesPerNode")
    yield PodShape(f"{BASE}.spec.trainer", {}, (node,), _count(trainer.get("numNodes")),
                   f"{BASE}.spec.trainer.numNodes")
    patches = spec.get("runtimePatches")
    for i, patch in enumerate(patches if isinstance(patches, list) else []):
        jobs = _dict(patch, "trainingRuntimeSpec", "template", "spec").get("replicatedJobs")
        for j, replicated in enumerate(jobs if isinstance(jobs, list) else []):
            pod = _dict(replicated, "template", "spec", "template", "spec")
            path = (f"{BASE}.spec.runtimePatches[{i}].trainingRuntimeSpec.template.spec.replicatedJobs[{j}]"
                    ".template.spec.template.spec")
            yield PodShape(path, pod, _containers(pod, path), 0, None, worker=False)


def procs_fields(kind: JobKind, job: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """(path, value) of every field that sets processes per pod: a PyTorchJob's ``nprocPerNode``
    (and its elastic ``nProcPerNode``), an MPIJob's ``slotsPerWorker``, a TrainJob's
    ``numProcPerNode``."""
    spec = _dict(job, "spec")
    if not kind.has_pod_templates:
        trainer = _dict(spec, "trainer")
        if "numProcPerNode" in trainer:
            yield f"{BASE}.spec.trainer.numProcPerNode", trainer["numProcPerNode"]
        return
    if "nprocPerNode" in spec:
        yield f"{BASE}.spec.nprocPerNode", spec["nprocPerNode"]
    elastic = _dict(spec, "elasticPolicy")
    if "nProcPerNode" in elastic:
        yield f"{BASE}.spec.elasticPolicy.nProcPerNode", elastic["nProcPerNode"]
    if kind.launcher is not None and "slotsPerWorker" in spec:
        yield f"{BASE}.spec.slotsPerWorker", spec["slotsPerWorker"]


def initializer_uris(job: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(kind, path, storageUri) of a TrainJob's own ``spec.initializer`` entries."""
    init = _dict(job, "spec", "initializer")
    for kind in ("model", "dataset"):
        entry = _dict(init, kind)
        if "storageUri" in entry:
            yield kind, f"{BASE}.spec.initializer.{kind}.storageUri", entry["storageUri"]
