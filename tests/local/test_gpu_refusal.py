"""The local backend refuses, before the first trial, an Experiment asking for GPUs CUDA does not
see (every trial would fail: the trainer never trains on CPU what asked for GPUs), naming the
argument and the annotation; KATIB_LLM_ALLOW_NO_GPU=1 overrides it."""

from __future__ import annotations

import json

import pytest

from katib_llm.local import LocalRunError, run_experiment
from katib_llm.local.api import ALLOW_NO_GPU_ENV, refuse_if_gpus_missing, requested_gpus
from katib_llm.local.runner import admit_for_local

from tests.local.local_helpers import cheap_experiment


def _experiment(resources: dict) -> dict:
    return {
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
        "metadata": {"name": "gpus", "namespace": "kubeflow", "labels": {"llm.katib.kubeflow.org/tune": "true"},
                     "annotations": {"llm.katib.kubeflow.org/model": "hf://google-bert/bert-base-cased",
                                     "llm.katib.kubeflow.org/dataset": "hf://yelp_review_full",
                                     "llm.katib.kubeflow.org/resources-per-worker": json.dumps(resources)}},
        "spec": {"objective": {"type": "maximize", "objectiveMetricName": "eval_accuracy"},
                 "algorithm": {"algorithmName": "random"}, "maxTrialCount": 4,
                 "parameters": [{"name": "learning_rate", "parameterType": "double",
                                 "feasibleSpace": {"min": "1e-05", "max": "5e-05"}}]},
    }


@pytest.fixture
def no_cuda():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")


def test_gpus_the_machine_lacks_are_refused_naming_the_argument(no_cuda, monkeypatch):
    monkeypatch.delenv(ALLOW_NO_GPU_ENV, raising=False)
    admitted, _ = admit_for_local(_experiment({"gpu": 2}), None)
    assert requested_gpus(admitted) == 2
    with pytest.raises(LocalRunError) as caught:
        refuse_if_gpus_missing(admitted)
    message = str(caught.value)
    assert "resources_per_worker asks for 2 GPU(s) per worker" in message
    assert "llm.katib.kubeflow.org/resources-per-worker" in message and "CUDA sees none" in message
    assert f"{ALLOW_NO_GPU_ENV}=1" in message
    refuse_if_gpus_missing(admit_for_local(_experiment({"cpu": 2}), None)[0])  # CPU only: runs


def test_the_run_stops_before_its_first_trial_and_the_override_lets_it_run(no_cuda, tmp_path, monkeypatch):
    monkeypatch.delenv(ALLOW_NO_GPU_ENV, raising=False)
    exp = cheap_experiment("gpuask", max_trials=1, parallel=1)
    exp["metadata"].setdefault("annotations", {})["llm.katib.kubeflow.org/resources-per-worker"] = json.dumps({"gpu": 1})
    assert requested_gpus(admit_for_local(exp, None)[0]) == 1
    with pytest.raises(LocalRunError, match="resources_per_worker asks for 1 GPU"):
        run_experiment(exp, tmp_path / "run", progress=False, report=False)
    assert not (tmp_path / "run").exists()  # nothing started
    monkeypatch.setenv(ALLOW_NO_GPU_ENV, "1")  # the trial (not the trainer) does not check GPUs
    monkeypatch.setenv("KATIB_LLM_PRELOAD", "")
    result = run_experiment(exp, tmp_path / "run", progress=False, report=False)
    assert [t.state for t in result.trials] == ["Succeeded"]


def test_admission_warnings_are_issued_before_anything_runs(no_cuda, tmp_path, monkeypatch):
    """run_experiment (katib-llm tune --local) issues the core's admission warnings, as the
    webhook returns them: here medianstop, which the trainer's one evaluation never lets act."""
    from katib_llm.local.api import AdmissionWarning

    monkeypatch.delenv(ALLOW_NO_GPU_ENV, raising=False)
    exp = _experiment({"gpu": 1})
    exp["spec"]["earlyStopping"] = {"algorithmName": "medianstop"}
    with pytest.warns(AdmissionWarning, match="spec.earlyStopping: the rule can stop no trial early"):
        with pytest.raises(LocalRunError, match="resources_per_worker"):
            run_experiment(exp, tmp_path / "run", progress=False, report=False)
