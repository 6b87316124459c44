"""tune() asks for a Kubeflow Trainer v2 TrainJob trial by template name and for a Kueue queue;
both are annotations the core admits (or denies) - the SDK checks neither itself."""

from __future__ import annotations

import pytest

from katib_llm import KatibClient, TrainingClient, search
from katib_llm.core import trainjob
from katib_llm.sdk.errors import ExperimentDenied


def _tune(**overrides):
    objective = TrainingClient().train(model_provider_parameters="hf://google-bert/bert-base-cased",
                                       dataset_provider_parameters="hf://yelp_review_full?split=train[:300]").metrics
    kwargs = dict(name="tj", hp_space={"learning_rate": search.double(1e-5, 5e-5)}, objective=objective,
                  objective_metric_name="eval_accuracy", max_trial_count=4, num_workers=2,
                  num_procs_per_worker=2, resources_per_worker={"gpu": 2, "cpu": 4, "memory": "16Gi"})
    return KatibClient(namespace="kubeflow").tune(dry_run=True, **{**kwargs, **overrides})


def test_tune_asks_for_a_trainjob_trial():
    exp = _tune(trial_template="hf-lora-trainjob", queue="gpu-trials")
    assert exp["metadata"]["annotations"]["llm.katib.kubeflow.org/trial-template"] == "hf-lora-trainjob"
    job = exp["spec"]["trialTemplate"]["trialSpec"]
    assert job["kind"] == "TrainJob"
    assert (job["spec"]["trainer"]["numNodes"], job["spec"]["trainer"]["numProcPerNode"]) == (2, 2)
    assert job["spec"]["trainer"]["resourcesPerNode"]["limits"]["nvidia.com/gpu"] == "2"
    assert [p["manager"] for p in job["spec"]["runtimePatches"]] == [trainjob.MANAGER]
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu-trials"


def test_a_bad_queue_is_denied_by_the_core():
    with pytest.raises(ExperimentDenied) as info:
        _tune(queue="GPU Queue")
    assert [(e.path, e.code) for e in info.value.errors] == [
        ("metadata.annotations[llm.katib.kubeflow.org/queue]", "queue.name")]


def test_an_unknown_template_is_denied_by_the_core():
    with pytest.raises(ExperimentDenied) as info:
        _tune(trial_template="hf-lora-trainjobs")
    assert [e.code for e in info.value.errors] == ["template.unknown"]
