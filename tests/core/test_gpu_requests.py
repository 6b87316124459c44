"""GPUs per worker: the core tells the trainer how many were requested (so it can refuse a silent
CPU run) and warns when torchrun's processes per worker disagree with them."""

from __future__ import annotations

import json

from tests.conformance.schemas import substitute

from katib_llm.core.admit import admit


def _experiment(resources: dict | None, procs: int | None) -> dict:
    annotations = {"llm.katib.kubeflow.org/model": "hf://google-bert/bert-base-cased",
                   "llm.katib.kubeflow.org/dataset": "hf://yelp_review_full?split=train[:3000]",
                   "llm.katib.kubeflow.org/workers": "2"}
    if resources is not None:
        annotations["llm.katib.kubeflow.org/resources-per-worker"] = json.dumps(resources)
    if procs is not None:
        annotations["llm.katib.kubeflow.org/procs-per-worker"] = str(procs)
    return {
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
        "metadata": {"name": "gpus", "namespace": "kubeflow", "annotations": annotations,
                     "labels": {"llm.katib.kubeflow.org/tune": "true"}},
        "spec": {"objective": {"type": "maximize", "objectiveMetricName": "eval_accuracy"},
                 "algorithm": {"algorithmName": "random"}, "maxTrialCount": 4,
                 "parameters": [{"name": "learning_rate", "parameterType": "double",
                                 "feasibleSpace": {"min": "1e-05", "max": "5e-05"}}]},
    }


def _gpu_env(result) -> list[str | None]:
    job = substitute(result.experiment)
    out = []
    for replica in job["spec"]["pytorchReplicaSpecs"].values():
        for container in replica["template"]["spec"]["containers"]:
            env = {e["name"]: e.get("value") for e in container.get("env") or []}
            out.append(env.get("KATIB_LLM_GPUS_PER_WORKER"))
    return out


def _gpu_warnings(result) -> list[str]:
    return [w for w in result.warnings if "procs-per-worker" in w]


def test_gpus_per_worker_reach_the_trainer_and_matching_procs_are_quiet(admin_config):
    result = admit(_experiment({"gpu": 2, "cpu": 4}, 2), admin_config)
    assert result.allowed, result.errors
    assert _gpu_env(result) == ["2", "2"]
    assert _gpu_warnings(result) == []


def test_cpu_trials_get_no_gpu_variable(admin_config):
    result = admit(_experiment({"cpu": 4}, None), admin_config)
    assert result.allowed and _gpu_env(result) == [None, None] and _gpu_warnings(result) == []


def test_fewer_processes_than_gpus_warns(admin_config):
    result = admit(_experiment({"gpu": 4}, None), admin_config)
    assert result.allowed
    (warning,) = _gpu_warnings(result)
    assert "4 GPU(s) per worker but procs-per-worker is 1" in warning and "3 of the 4 GPUs" in warning


def test_more_processes_than_gpus_warns(admin_config):
    result = admit(_experiment({"gpu": 1}, 4), admin_config)
    (warning,) = _gpu_warnings(result)
    assert "4 processes would share 1 GPU(s)" in warning and "procs-per-worker to 1" in warning

