"""Job kinds: where the pod templates live inside each kind of trial job.

Injection is generic over "pod templates inside a job": a kind only says where its pod
templates are, which container is primary, how Katib tells success from failure, and how
workers scale. Adding a kind is adding one :class:`JobKind`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

KUBEFLOW_SUCCESS = 'status.conditions.#(type=="Succeeded")#|#(status=="True")#'
KUBEFLOW_FAILURE = 'status.conditions.#(type=="Failed")#|#(status=="True")#'
JOB_SUCCESS = 'status.conditions.#(type=="Complete")#|#(status=="True")#'
JOB_FAILURE = 'status.conditions.#(type=="Failed")#|#(status=="True")#'
KUBEFLOW_MASTER_LABELS = {"training.kubeflow.org/job-role": "master"}


@dataclass(frozen=True)
class JobKind:
    """How one kind of job holds its pods.

    ``replica_specs`` is the key of the replica map for training-operator kinds (``None`` for
    a kind with a single ``spec.template``, such as ``batch/v1`` Job). ``master`` and
    ``worker`` name the replica types used when scaling ``workers``.
    """

    api_versions: tuple[str, ...]
    kind: str
    replica_specs: str | None
    primary_container: str
    success_condition: str
    failure_condition: str
    primary_pod_labels: dict[str, str] = field(default_factory=dict)
    master: str | None = None
    worker: str | None = None
    # Kinds that carry no pod template (Kubeflow Trainer's TrainJob): env only.
    has_pod_templates: bool = True
    # A replica type that only launches the others (MPIJob's Launcher runs mpirun): it is not
    # one of the ``workers``, reads no data and needs no accelerator.
    launcher: str | None = None
    # Where the job's activeDeadlineSeconds lives (None: the kind has none).
    deadline_path: tuple[str, ...] | None = ("spec", "runPolicy", "activeDeadlineSeconds")

    def role_of(self, path: str) -> str | None:
        """The replica type of a pod template path from :meth:`pod_templates`."""
        if self.replica_specs is None:
            return None
        prefix = f"spec.{self.replica_specs}."
        return path[len(prefix):].split(".", 1)[0] if path.startswith(prefix) else None

    def pod_templates(self, job: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield ``(path, podTemplateSpec)`` for every pod template, creating nothing."""
        spec = job.get("spec")
        if not isinstance(spec, dict) or not self.has_pod_templates:
            return
        if self.replica_specs is None:
            template = spec.get("template")
            if isinstance(template, dict):
                yield "spec.template", template
            return
        replicas = spec.get(self.replica_specs)
        if not isinstance(replicas, dict):
            return
        # Master first, so that the primary pod comes first in every listing.
        for role in sorted(replicas, key=lambda r: (r != self.master, r)):
            rs = replicas[role]
            if isinstance(rs, dict) and isinstance(rs.get("template"), dict):
                yield f"spec.{self.replica_specs}.{role}.template", rs["template"]

    def set_workers(self, job: dict[str, Any], workers: int, procs: int) -> None:
        """Scale a distributed job to ``workers`` pods (master included)."""
        if self.replica_specs is None or self.master is None:
            return
        replicas = job.setdefault("spec", {}).setdefault(self.replica_specs, {})
        if self.launcher is not None:
            # Launcher 1 + Worker n; each worker offers `procs` MPI slots (hostfile slots=).
            if isinstance(replicas.get(self.launcher), dict):
                replicas[self.launcher]["replicas"] = 1
            if isinstance(replicas.get(self.worker), dict):
                replicas[self.worker]["replicas"] = workers
            job["spec"]["slotsPerWorker"] = procs
            return
        if self.master == self.worker:
            # One replica type for all (JAXJob's Worker): it holds every worker.
            if isinstance(replicas.get(self.worker), dict):
                replicas[self.worker]["replicas"] = workers
            return
        if self.master in replicas:
            replicas[self.master]["replicas"] = 1
        if workers > 1:
            if self.worker not in replicas and self.master in replicas:
                from .patch import clone

                replicas[self.worker] = clone(replicas[self.master])
            replicas[self.worker]["replicas"] = workers - 1
        else:
            replicas.pop(self.worker, None)
        if self.kind == "PyTorchJob":
            job["spec"]["nprocPerNode"] = str(procs)


def _kubeflow(kind: str, key: str, container: str, master: str, worker: str,
              versions: tuple[str, ...] = ("kubeflow.org/v1",)) -> JobKind:
    return JobKind(versions, kind, key, container, KUBEFLOW_SUCCESS, KUBEFLOW_FAILURE,
                   dict(KUBEFLOW_MASTER_LABELS), master, worker)


JOB_KINDS: dict[str, JobKind] = {
    k.kind: k
    for k in (
        JobKind(("batch/v1",), "Job", None, "training-container", JOB_SUCCESS, JOB_FAILURE,
                deadline_path=("spec", "activeDeadlineSeconds")),
        _kubeflow("PyTorchJob", "pytorchReplicaSpecs", "pytorch", "Master", "Worker"),
        _kubeflow("TFJob", "tfReplicaSpecs", "tensorflow", "Chief", "Worker"),
        _kubeflow("XGBoostJob", "xgbReplicaSpecs", "xgboost", "Master", "Worker"),
        _kubeflow("PaddleJob", "paddleReplicaSpecs", "paddle", "Master", "Worker"),
        _kubeflow("JAXJob", "jaxReplicaSpecs", "jax", "Worker", "Worker"),
        # MPIJob: the launcher is the primary pod (mpirun forwards every rank's output to it);
        # workers run the processes. training-operator labels the launcher pod
        # mpi-job-role=launcher (pkg/controller.v1/mpi, as Katib's mpijob-horovod example uses).
        JobKind(("kubeflow.org/v1",), "MPIJob", "mpiReplicaSpecs", "mpi", KUBEFLOW_SUCCESS,
                KUBEFLOW_FAILURE, {"mpi-job-role": "launcher"}, "Launcher", "Worker", launcher="Launcher"),
        JobKind(("trainer.kubeflow.org/v1alpha1",), "TrainJob", None, "node",
                'status.conditions.#(type=="Complete")#|#(status=="True")#',
                'status.conditions.#(type=="Failed")#|#(status=="True")#',
                {"batch.kubernetes.io/job-completion-index": "0",
                 "jobset.sigs.k8s.io/replicatedjob-name": "node"},
                has_pod_templates=False, deadline_path=("spec", "activeDeadlineSeconds")),
    )
}


def job_kind(job: dict[str, Any]) -> JobKind | None:
    """The :class:`JobKind` of a trial job manifest, or None if we do not know it."""
    if not isinstance(job, dict):
        return None
    return JOB_KINDS.get(str(job.get("kind", "")))


def containers(pod_template: dict[str, Any]) -> list[dict[str, Any]]:
    spec = pod_template.get("spec")
    if not isinstance(spec, dict):
        return []
    found = spec.get("containers")
    return [c for c in found if isinstance(c, dict)] if isinstance(found, list) else []
