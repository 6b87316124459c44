"""The retain-trials annotation sets spec.trialTemplate.retain on the supplied template."""

from __future__ import annotations


from katib_llm.core.admit import admit

from tests.katib_checks import admitted_errors


def _experiment(value: str | None) -> dict:
    annotations = {"llm.katib.kubeflow.org/model": "hf://google-bert/bert-base-cased",
                   "llm.katib.kubeflow.org/dataset": "hf://yelp_review_full?split=train[:3000]"}
    if value is not None:
        annotations["llm.katib.kubeflow.org/retain-trials"] = value
    return {
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
        "metadata": {"name": "retain", "namespace": "kubeflow", "annotations": annotations,
                     "labels": {"llm.katib.kubeflow.org/tune": "true"}},
        "spec": {"objective": {"type": "maximize", "objectiveMetricName": "eval_accuracy"},
                 "algorithm": {"algorithmName": "random"}, "maxTrialCount": 4,
                 "parameters": [{"name": "learning_rate", "parameterType": "double",
                                 "feasibleSpace": {"min": "1e-05", "max": "5e-05"}}]},
    }


def test_retain_trials_true_sets_retain(admin_config):
    result = admit(_experiment("true"), admin_config)
    assert result.allowed, result.errors
    assert result.experiment["spec"]["trialTemplate"]["retain"] is True
    assert admitted_errors(result.experiment) == []


def test_retain_trials_absent_leaves_default(admin_config):
    result = admit(_experiment(None), admin_config)
    assert result.allowed
    assert "retain" not in result.experiment["spec"]["trialTemplate"]


def test_retain_trials_bad_value_is_denied(admin_config):
    result = admit(_experiment("yes"), admin_config)
    assert not result.allowed
    assert [(e.path, e.code) for e in result.errors] == [
        ("metadata.annotations[llm.katib.kubeflow.org/retain-trials]", "annotation.bool")]
