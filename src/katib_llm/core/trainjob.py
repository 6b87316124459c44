"""Kubeflow Trainer v2 (``trainer.kubeflow.org/v1alpha1`` TrainJob): the contract on a job that
holds no pod templates.

A TrainJob names a runtime (``spec.runtimeRef``) that holds the pods, and admission adds to them
through the TrainJob API alone (v2.3.0, ``manifests/base/crds/trainer.kubeflow.org_trainjobs.yaml``):

* ``spec.trainer``: ``numNodes``, ``numProcPerNode``, ``resourcesPerNode``, ``env`` and the
  command of the ``node`` container;
* ``spec.initializer.{model,dataset}``: ``storageUri``, ``env`` and ``secretRef`` of the runtime's
  ``model-initializer`` / ``dataset-initializer`` steps;
* ``spec.runtimePatches``: one entry per ``manager``; ours adds the shared volume, its mounts and
  the admin's placement. A patch may set only volumes, volume mounts, env (not on ``node`` or the
  initializers), security context, node selector, affinity and tolerations, and only on containers
  the runtime already has.

So the download-once steps live in our ClusterTrainingRuntime (the chart's
``trainer-clustertrainingruntime.yaml``): two initializer jobs running :data:`INITIALIZER_COMMAND`
before ``node``. Each trial's TrainJob runs them; the content-addressed cache on the experiment's
volume makes every run after the first a cache hit, as the init containers of the other kinds do.
"""

from __future__ import annotations

from typing import Any

from .config import INITIALIZER_MODULE, TRAINER_MODULE
from .contract import GROUP as OUR_GROUP
from .errors import FieldError
from .trialenv import TrialEnv

GROUP = "trainer.kubeflow.org"
RUNTIME_KIND = "ClusterTrainingRuntime"
# Our runtimePatches entry (the manager field is immutable once set: one name, always).
MANAGER = f"{OUR_GROUP}/katib-llm"
NODE = "node"
# Replicated job name == container name == the key under spec.initializer (Trainer's convention).
INITIALIZERS = {"dataset": "dataset-initializer", "model": "model-initializer"}
# What the runtime's initializer containers run: our storage initializer fed from env. Trainer
# gives the container spec.initializer.<kind>.storageUri as STORAGE_URI (the convention of its
# own initializers) and our env below; the chart's runtime and the local runner both use this.
INITIALIZER_COMMAND = ["python", "-m", INITIALIZER_MODULE, "--from-env"]
# The runtime's own node command (a TrainJob that sets spec.trainer.command replaces it).
NODE_COMMAND = ["torchrun", "-m", TRAINER_MODULE]
# The shared volume's name in a TrainJob: Trainer's TrainJob webhook (v2.3.0,
# pkg/runtime/framework/plugins/jobset/jobset.go Validate, kubeflow/trainer#3714) denies a job with
# spec.initializer unless the merged runtime's initializer containers mount a volume of this name.
INITIALIZER_VOLUME = "initializer"
ENV_URI = "STORAGE_URI"
ENV_KIND = TrialEnv.INIT_KIND
ENV_TARGET = TrialEnv.INIT_TARGET
ENV_CACHE = TrialEnv.CACHE_DIR
# Schemes our runtime image's initializer serves; a custom provider runs its own image, which a
# runtimePatches entry cannot set.
BUILTIN_SCHEMES = ("hf", "s3", "file", "pkg")


_SHAPES: tuple[tuple[tuple[str, ...], type, str], ...] = (
    (("spec",), dict, "an object"),
    (("spec", "runtimeRef"), dict, "an object {apiGroup, kind, name}"),
    (("spec", "trainer"), dict, "an object"),
    (("spec", "trainer", "env"), list, "a list of {name, value} objects"),
    (("spec", "trainer", "command"), list, "a list of strings"),
    (("spec", "trainer", "args"), list, "a list of strings"),
    (("spec", "initializer"), dict, "an object {model, dataset}"),
    (("spec", "initializer", "model"), dict, "an object {storageUri, env, secretRef}"),
    (("spec", "initializer", "dataset"), dict, "an object {storageUri, env, secretRef}"),
    (("spec", "initializer", "model", "env"), list, "a list of {name, value} objects"),
    (("spec", "initializer", "dataset", "env"), list, "a list of {name, value} objects"),
    (("spec", "runtimePatches"), list, "a list of {manager, trainingRuntimeSpec} objects"),
    (("metadata",), dict, "an object"),
    (("metadata", "labels"), dict, "a map of strings"),
)


def shape_errors(job: dict[str, Any]) -> list[FieldError]:
    """The fields admission writes into must have the TrainJob API's shape (else a denial
    naming the field, never a crash or a silently replaced value)."""
    errors = []
    for path, kind, form in _SHAPES:
        node: Any = job
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        if node is not None and not isinstance(node, kind):
            errors.append(FieldError("spec.trialTemplate.trialSpec." + ".".join(path), "template.type", f"must be {form}"))
    return errors


def runtime_ref(job: dict[str, Any]) -> dict[str, Any]:
    ref = (job.get("spec") or {}).get("runtimeRef")
    return ref if isinstance(ref, dict) else {}


def uses_runtime(job: dict[str, Any], name: str) -> bool:
    """Whether the TrainJob runs the ClusterTrainingRuntime ``name`` (which has our steps)."""
    ref = runtime_ref(job)
    return (ref.get("name") == name and ref.get("kind", RUNTIME_KIND) == RUNTIME_KIND
            and ref.get("apiGroup", GROUP) == GROUP)


def trainer_spec(job: dict[str, Any]) -> dict[str, Any]:
    """``spec.trainer`` (created empty when missing)."""
    spec = job.setdefault("spec", {})
    if not isinstance(spec.get("trainer"), dict):
        spec["trainer"] = {}
    trainer: dict[str, Any] = spec["trainer"]
    return trainer


def set_runtime(job: dict[str, Any], name: str, ours: bool) -> None:
    """Our template runs the admin's runtime; a user's TrainJob keeps its own (or gets ours)."""
    spec = job.setdefault("spec", {})
    if ours or not runtime_ref(job).get("name"):
        spec["runtimeRef"] = {"apiGroup": GROUP, "kind": RUNTIME_KIND, "name": name}


def set_nodes(job: dict[str, Any], workers: int, procs: int) -> None:
    """``workers`` → ``numNodes``; ``procs-per-worker`` → ``numProcPerNode`` (torchrun reads it
    from the PET_NPROC_PER_NODE variable Trainer's torch plugin sets)."""
    trainer = trainer_spec(job)
    trainer["numNodes"] = workers
    trainer["numProcPerNode"] = procs


def initializer(uri: str, target: str, cache_dir: str, secret: str | None) -> dict[str, Any]:
    """``spec.initializer.<kind>`` for one download."""
    entry: dict[str, Any] = {
        "storageUri": uri,
        "env": [{"name": ENV_TARGET, "value": target}, {"name": ENV_CACHE, "value": cache_dir}],
    }
    if secret:
        # Credentials only by Secret reference: Trainer exposes it to the initializer container.
        entry["secretRef"] = {"name": secret}
    return entry


def check_download(scheme: str, our_runtime: bool, runtime: str, kind: str, path: str) -> FieldError | None:
    """Why a download cannot run in this TrainJob, or None."""
    if not our_runtime:
        return FieldError("spec.trialTemplate.trialSpec.spec.runtimeRef.name", "trainjob.runtime",
                          f"the {kind} is downloaded by the initializer steps of katib-llm's ClusterTrainingRuntime: "
                          f"set runtimeRef.name to {runtime!r} (kind ClusterTrainingRuntime), or drop the {kind} "
                          "annotation and fetch it in your own runtime")
    if scheme not in BUILTIN_SCHEMES:
        return FieldError(path, "trainjob.provider",
                          f"a TrainJob's initializer runs katib-llm's runtime image, which serves "
                          f"{', '.join(s + '://' for s in BUILTIN_SCHEMES)}; the custom provider {scheme}:// needs its "
                          "own image: use a PyTorchJob or Job template (e.g. hf-lora-pytorchjob)")
    return None


def _pod_patch(job_name: str, volume: dict[str, Any] | None, mount: dict[str, Any] | None,
               selector: dict[str, str], tolerations: list[Any]) -> dict[str, Any]:
    pod: dict[str, Any] = {}
    if volume and mount:
        pod["volumes"] = [dict(volume, persistentVolumeClaim=dict(volume["persistentVolumeClaim"]))]
        pod["containers"] = [{"name": job_name, "volumeMounts": [dict(mount)]}]
    if selector:
        pod["nodeSelector"] = dict(selector)
    if tolerations:
        pod["tolerations"] = [dict(t) if isinstance(t, dict) else t for t in tolerations]
    return {"name": job_name, "template": {"spec": {"template": {"spec": pod}}}}


def runtime_patch(volume: dict[str, Any] | None, mount: dict[str, Any] | None, our_runtime: bool,
                  selector: dict[str, str], tolerations: list[Any]) -> dict[str, Any]:
    """Our ``runtimePatches`` entry: the shared volume on every step, placement on ``node``.

    Only steps the runtime has are named (Trainer rejects a patch naming a missing container):
    every runtime has ``node`` (its container has the job's name); the initializers only ours.
    Each replicated job's container is named like the job (Trainer's convention).
    """
    jobs = [_pod_patch(NODE, volume, mount, selector, tolerations)]
    if our_runtime and volume:
        jobs = [_pod_patch(name, volume, mount, {}, []) for name in INITIALIZERS.values()] + jobs
    return {"manager": MANAGER, "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": jobs}}}}


def set_patch(job: dict[str, Any], entry: dict[str, Any]) -> None:
    """Replace our entry (by manager), leaving every other manager's entry as it is."""
    spec = job.setdefault("spec", {})
    patches = spec.get("runtimePatches")
    if not isinstance(patches, list):
        patches = spec["runtimePatches"] = []
    for i, item in enumerate(patches):
        if isinstance(item, dict) and item.get("manager") == MANAGER:
            patches[i] = entry
            return
    patches.append(entry)


def argv(job: dict[str, Any]) -> list[str]:
    """The ``node`` container's command and args as the TrainJob sets them (may be empty)."""
    trainer = (job.get("spec") or {}).get("trainer")
    if not isinstance(trainer, dict):
        return []
    return [str(x) for x in (trainer.get("command") or []) + (trainer.get("args") or [])]
