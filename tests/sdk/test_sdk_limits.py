"""tune(budget=..., trial_active_deadline_seconds=..., early_stopping=successivehalving): through
the core contract (annotations the core validates), so a bad value is the core's denial."""

from __future__ import annotations

import json

import pytest

from katib_llm import KatibClient, TrainingClient, search
from katib_llm.sdk.errors import ExperimentDenied, TuneArgumentError

BASE = dict(name="limits", hp_space={"learning_rate": search.double(1e-5, 5e-5)},
            objective_metric_name="eval_accuracy", max_trial_count=4)


def _tune(**overrides):
    objective = TrainingClient().train(model_provider_parameters="hf://google-bert/bert-base-cased",
                                       dataset_provider_parameters="hf://yelp_review_full?split=train[:300]").metrics
    return KatibClient(namespace="kubeflow").tune(dry_run=True, **{**BASE, "objective": objective, **overrides})


def test_budget_and_deadline_become_annotations_and_the_job_deadline():
    exp = _tune(budget={"train_steps": 2000, "wall_clock": "6h"}, trial_active_deadline_seconds=3600)
    annotations = exp["metadata"]["annotations"]
    assert json.loads(annotations["llm.katib.kubeflow.org/budget"]) == {"train_steps": 2000, "wall_clock": "6h"}
    assert annotations["llm.katib.kubeflow.org/trial-active-deadline-seconds"] == "3600"
    job = exp["spec"]["trialTemplate"]["trialSpec"]
    assert job["kind"] == "PyTorchJob" and job["spec"]["runPolicy"]["activeDeadlineSeconds"] == 3600
    assert "train_step" in exp["spec"]["objective"]["additionalMetricNames"]
    assert {"name": "train_step", "value": "latest"} in exp["spec"]["objective"]["metricStrategies"]


@pytest.mark.parametrize("overrides, needle", [
    ({"budget": {"train_steps": -1}}, "train_steps must be an integer > 0"),
    ({"budget": {"wall_clock": "soon"}}, "wall_clock must be a duration"),
    ({"budget": {"gpu": 3}}, "unknown key(s) ['gpu']"),
    ({"trial_active_deadline_seconds": 0}, "whole number of seconds"),
])
def test_bad_limits_are_the_cores_denials(overrides, needle):
    with pytest.raises(ExperimentDenied) as err:
        _tune(**overrides)
    assert any(needle in e.message for e in err.value.errors), err.value.errors


def test_budget_of_the_wrong_type_is_named():
    with pytest.raises(TuneArgumentError) as err:
        _tune(budget={"train_steps": object()})
    assert err.value.argument == "budget"


def test_successivehalving_is_accepted_by_the_sdk_and_denied_unless_registered():
    es = {"algorithm": "successivehalving", "min_resource": 1, "reduction_factor": 3}
    with pytest.raises(ExperimentDenied) as err:
        _tune(early_stopping=es)
    assert err.value.errors[0].path == "spec.earlyStopping.algorithmName"
    exp = _tune(early_stopping=es, values={"earlyStoppingAlgorithms": ["successivehalving"]})
    assert exp["spec"]["earlyStopping"] == {"algorithmName": "successivehalving", "algorithmSettings": [
        {"name": "min_resource", "value": "1"}, {"name": "reduction_factor", "value": "3"}]}
    with pytest.raises(TuneArgumentError) as bad:
        _tune(early_stopping={"algorithm": "successivehalving", "reduction_factor": 1})
    assert bad.value.argument == "early_stopping.reduction_factor"
