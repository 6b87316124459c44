"""Builders every test folder shares: Experiments, AdmissionReviews as kube-apiserver sends them,
and admitted results. Import as ``from tests.builders import experiment, review, admitted``.

The Experiments are the project's own (``examples/bert-lora-experiment.yaml`` and a small one
written here), never upstream files.
"""

from __future__ import annotations

import copy
import functools
import uuid
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parent.parent
EXAMPLE_PATH = REPO / "examples" / "bert-lora-experiment.yaml"
PREFIX = "llm.katib.kubeflow.org/"
LABEL = PREFIX + "tune"
MODEL = "hf://google-bert/bert-base-cased"
DATASET = "hf://yelp_review_full?split=train[:3000]"

GVK = {"group": "kubeflow.org", "version": "v1beta1", "kind": "Experiment"}
GVR = {"group": "kubeflow.org", "version": "v1beta1", "resource": "experiments"}
OPTIONS_KIND = {"CREATE": "CreateOptions", "UPDATE": "UpdateOptions", "DELETE": "DeleteOptions"}


@functools.cache
def _example() -> dict[str, Any]:
    return yaml.safe_load(EXAMPLE_PATH.read_text())


def example(name: str | None = None, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    """A fresh copy of the project's labelled example (examples/bert-lora-experiment.yaml: BERT
    LoRA on yelp reviews, 4 workers x 2 processes x 2 GPUs, five parameters), optionally renamed
    and with ``annotations`` added (keys with or without the ``llm.katib.kubeflow.org/`` prefix)."""
    exp = copy.deepcopy(_example())
    if name is not None:
        exp["metadata"]["name"] = name
    exp["metadata"]["annotations"].update(_prefixed(annotations))
    return exp


def _prefixed(annotations: dict[str, str] | None) -> dict[str, str]:
    return {(k if "/" in k else PREFIX + k): v for k, v in (annotations or {}).items()}


def parameter(name: str, kind: str = "double", low: str | None = None, high: str | None = None,
              values: list[str] | None = None) -> dict[str, Any]:
    """One Katib ParameterSpec: a range (``low``..``high``) or a list of ``values``."""
    if values is not None:
        return {"name": name, "parameterType": kind, "feasibleSpace": {"list": list(values)}}
    low = low if low is not None else ("1e-05" if kind == "double" else "1")
    high = high if high is not None else ("5e-05" if kind == "double" else "8")
    return {"name": name, "parameterType": kind, "feasibleSpace": {"min": low, "max": high}}


def experiment(name: str = "llm-tune", *, namespace: str = "kubeflow", labelled: bool = True,
               annotations: dict[str, str] | None = None, parameters: list[dict[str, Any]] | None = None,
               model: str | None = MODEL, dataset: str | None = DATASET, **spec: Any) -> dict[str, Any]:
    """A small Experiment: TPE on eval_accuracy, 4 trials, 2 in parallel, one learning-rate
    parameter unless ``parameters`` is given. ``labelled`` adds the tune label and the model and
    dataset annotations (``None`` leaves one out); ``annotations`` adds more, their keys with or
    without the ``llm.katib.kubeflow.org/`` prefix; ``spec`` keys override the spec's."""
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    notes: dict[str, str] = {}
    if labelled:
        meta["labels"] = {LABEL: "true"}
        notes.update({PREFIX + k: v for k, v in (("model", model), ("dataset", dataset)) if v is not None})
    notes.update(_prefixed(annotations))
    if notes:
        meta["annotations"] = notes
    body = {
        "objective": {"type": "maximize", "objectiveMetricName": "eval_accuracy"},
        "algorithm": {"algorithmName": "tpe"},
        "maxTrialCount": 4, "parallelTrialCount": 2,
        "parameters": parameters if parameters is not None else [parameter("learning_rate")],
        **spec,
    }
    return copy.deepcopy({"apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment", "metadata": meta, "spec": body})


def review(obj: dict[str, Any] | None, operation: str = "CREATE", old: dict[str, Any] | None = None,
           dry_run: bool = False, uid: str | None = None) -> dict[str, Any]:
    """An AdmissionReview v1 request as kube-apiserver sends it for an Experiment: namespace set
    from the URL (the object's namespace, else ``default``), kind/resource, userInfo, options."""
    meta = ((obj or old) or {}).get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    namespace = meta.get("namespace") if isinstance(meta.get("namespace"), str) else "default"
    if obj is not None:
        obj = copy.deepcopy(obj)
        if isinstance(obj.get("metadata"), dict):
            obj["metadata"]["namespace"] = namespace  # the apiserver sets it from the URL
    request = {
        "uid": uid or str(uuid.uuid4()),
        "kind": dict(GVK), "resource": dict(GVR),
        "requestKind": dict(GVK), "requestResource": dict(GVR),
        "name": meta.get("name") if isinstance(meta.get("name"), str) else "", "namespace": namespace,
        "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["kubeadm:cluster-admins", "system:authenticated"]},
        "object": obj, "oldObject": copy.deepcopy(old), "dryRun": dry_run,
        "options": {"kind": OPTIONS_KIND.get(operation, "CreateOptions"), "apiVersion": "meta.k8s.io/v1"},
    }
    return {"kind": "AdmissionReview", "apiVersion": "admission.k8s.io/v1", "request": request}


@functools.cache
def _default_config() -> Any:
    from katib_llm.io import admin_config

    return admin_config(None)


def admitted(exp: dict[str, Any], config: Any = None, **kw: Any) -> Any:
    """The core's admission of ``exp`` (``katib_llm.core.admit.admit``) under ``config``, by
    default the chart's default admin configuration with the shipped templates."""
    from katib_llm.core.admit import admit

    return admit(exp, config if config is not None else _default_config(), **kw)


def own_trial(exp: dict[str, Any], job: dict[str, Any], primary: str, *, keep_shape: bool = True) -> dict[str, Any]:
    """``exp`` running the user's own trial ``job`` (primary container ``primary``), with ``lr``
    for learning_rate. ``keep_shape`` drops the workers/procs/resources annotations, so admission
    keeps the job's own replicas, processes and resources (what the effective-trial rules judge)."""
    exp = copy.deepcopy(exp)
    notes = exp["metadata"].setdefault("annotations", {})
    if keep_shape:
        for name in ("workers", "procs-per-worker", "resources-per-worker"):
            notes.pop(PREFIX + name, None)
    exp["spec"]["parameters"] = [parameter("learning_rate")]
    exp["spec"]["trialTemplate"] = {"primaryContainerName": primary,
                                    "trialParameters": [{"name": "lr", "reference": "learning_rate"}],
                                    "trialSpec": copy.deepcopy(job)}
    return exp


def container(name: str, *, gpus: int | str | None = None, **extra: Any) -> dict[str, Any]:
    """A container running ``python train.py --lr=${trialParameters.lr}`` (``gpus`` as limits)."""
    c: dict[str, Any] = {"name": name, "image": "python:3.12",
                         "command": ["python", "train.py", "--lr=${trialParameters.lr}"], **extra}
    if gpus is not None:
        c["resources"] = {"limits": {"nvidia.com/gpu": gpus}}
    return c


def pytorchjob(master: list[dict[str, Any]], worker: list[dict[str, Any]] | None = None, workers: int = 1,
               **spec: Any) -> dict[str, Any]:
    """A PyTorchJob: Master (1 replica) with ``master`` containers, Worker (``workers``) with ``worker``."""
    replicas: dict[str, Any] = {"Master": {"replicas": 1, "restartPolicy": "OnFailure",
                                           "template": {"spec": {"containers": master}}}}
    if worker is not None:
        replicas["Worker"] = {"replicas": workers, "restartPolicy": "OnFailure",
                              "template": {"spec": {"containers": worker}}}
    return {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "spec": {"pytorchReplicaSpecs": replicas, **spec}}


def batch_job(pod: dict[str, Any], **spec: Any) -> dict[str, Any]:
    """A batch/v1 Job whose pod spec is ``pod`` (restartPolicy Never added)."""
    return {"apiVersion": "batch/v1", "kind": "Job",
            "spec": {"template": {"spec": {"restartPolicy": "Never", **pod}}, **spec}}


def trainjob(trainer: dict[str, Any] | None = None, runtime: str = "katib-llm-lora", **spec: Any) -> dict[str, Any]:
    """A user's TrainJob on ClusterTrainingRuntime ``runtime`` with ``trainer`` and more ``spec``."""
    body = {"image": "registry.example.com/team/lora:1.2",
            "command": ["torchrun", "-m", "katib_llm.runtime.trainer", "--learning_rate=${trialParameters.lr}"],
            **(trainer or {})}
    return {"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob",
            "spec": {"runtimeRef": {"name": runtime}, "trainer": body, **spec}}


def runtime_patch(manager: str, jobs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A ``runtimePatches`` entry of ``manager``: replicated job name -> its pod spec patch."""
    return {"manager": manager, "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [
        {"name": name, "template": {"spec": {"template": {"spec": pod}}}} for name, pod in jobs.items()]}}}}
