"""The shapes of Experiment Katib users write, in the project's own words (not upstream's files):
every algorithm family, early stopping, each metrics collector kind, resume policies and the trial
job kinds. Unlabelled: untouched. Labelled: admitted, cluster-valid (tests/conformance/schemas.py) and
idempotent. Runs with or without the upstream reference files (which add Katib's own examples:
tests/core/test_reference_examples.py)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from katib_llm.core.jobkinds import job_kind
from tests.builders import admitted, experiment, parameter
from tests.conformance.schemas import admitted_errors


def _job(command: list[str]) -> dict[str, Any]:
    return {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": {
        "restartPolicy": "Never",
        "containers": [{"name": "training", "image": "registry.example/sweep:1", "command": command}]}}}}


def _pytorchjob(command: list[str]) -> dict[str, Any]:
    replica = {"replicas": 1, "restartPolicy": "OnFailure", "template": {"spec": {"containers": [
        {"name": "pytorch", "image": "registry.example/ddp:1", "command": command}]}}}
    return {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob",
            "spec": {"pytorchReplicaSpecs": {"Master": copy.deepcopy(replica), "Worker": {**replica, "replicas": 2}}}}


PARAMS = [parameter("learning_rate", "double", "0.001", "0.1"), parameter("lora_config.r", "int", "4", "16"),
          parameter("optim", "categorical", values=["adamw_torch", "sgd"])]
TRIAL_PARAMETERS = [{"name": "lr", "reference": "learning_rate"}, {"name": "rank", "reference": "lora_config.r"},
                    {"name": "optimizer", "reference": "optim"}]
ARGV = ["python", "/app/sweep.py", "--lr=${trialParameters.lr}", "--rank=${trialParameters.rank}",
        "--optimizer=${trialParameters.optimizer}"]


def _own_template(job: dict[str, Any], container: str) -> dict[str, Any]:
    return {"primaryContainerName": container, "trialParameters": TRIAL_PARAMETERS, "trialSpec": job}


def _case(name: str, *, template: dict[str, Any] | None = None, **spec: Any) -> tuple[str, dict[str, Any]]:
    if template is not None:
        spec["trialTemplate"] = template
    spec.setdefault("parameters", copy.deepcopy(PARAMS))
    return name, experiment(name, **spec)


CASES = [
    _case("random-search", algorithm={"algorithmName": "random", "algorithmSettings": [
        {"name": "random_state", "value": "7"}]}),
    _case("tpe-with-median-stop", algorithm={"algorithmName": "tpe"}, earlyStopping={
        "algorithmName": "medianstop", "algorithmSettings": [{"name": "min_trials_required", "value": "2"}]}),
    _case("multivariate-tpe", algorithm={"algorithmName": "multivariate-tpe"}),
    _case("cma-evolution", algorithm={"algorithmName": "cmaes"},
          parameters=[parameter("learning_rate", "double", "0.001", "0.1"),
                      parameter("weight_decay", "double", "0.0", "0.3")]),
    _case("bayes-opt", algorithm={"algorithmName": "bayesianoptimization"}),
    _case("sobol-sequence", algorithm={"algorithmName": "sobol"}),
    _case("grid-over-lists", algorithm={"algorithmName": "grid"},
          parameters=[parameter("per_device_train_batch_size", "discrete", values=["8", "16"]),
                      parameter("optim", "categorical", values=["adamw_torch", "sgd"])]),
    _case("file-collector-json", metricsCollectorSpec={
        "source": {"fileSystemPath": {"path": "/var/log/sweep/metrics.json", "kind": "File", "format": "JSON"}},
        "collector": {"kind": "File"}}),
    _case("resume-from-volume", resumePolicy="FromVolume"),
    _case("never-resume", resumePolicy="Never", maxFailedTrialCount=2),
    _case("own-batch-job", template=_own_template(_job(ARGV), "training")),
    _case("own-pytorchjob", template=_own_template(_pytorchjob(ARGV), "pytorch")),
]
# Experiments Katib tells apart by name: one object per case.
assert len({name for name, _ in CASES}) == len(CASES)


@pytest.mark.parametrize("name,exp", CASES, ids=[n for n, _ in CASES])
def test_unlabelled_untouched(name, exp):
    plain = copy.deepcopy(exp)
    del plain["metadata"]["labels"]
    before = copy.deepcopy(plain)
    result = admitted(plain)
    assert result.allowed and not result.labelled and result.patch == []
    assert plain == before


@pytest.mark.parametrize("name,exp", CASES, ids=[n for n, _ in CASES])
def test_labelled_admitted_valid_and_idempotent(name, exp):
    first = admitted(exp)
    assert first.allowed, first.errors
    assert admitted_errors(first.experiment) == []
    job = first.experiment["spec"]["trialTemplate"]["trialSpec"]
    for _, template in job_kind(job).pod_templates(job):
        names = [c["name"] for c in template["spec"]["initContainers"]]
        assert names == ["storage-initializer-model", "storage-initializer-dataset"]
        assert any(v["name"] == "katib-llm-storage" for v in template["spec"]["volumes"])
    second = admitted(first.experiment)
    assert second.allowed and second.patch == [] and second.experiment == first.experiment
