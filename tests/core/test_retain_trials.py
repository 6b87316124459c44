"""The retain-trials annotation sets spec.trialTemplate.retain on the supplied template."""

from __future__ import annotations

from katib_llm.core.admit import admit
from tests.builders import experiment
from tests.conformance.schemas import admitted_errors


def _experiment(value: str | None) -> dict:
    return experiment("retain", algorithm={"algorithmName": "random"},
                      annotations={} if value is None else {"retain-trials": value})


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
