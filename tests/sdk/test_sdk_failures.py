"""ExperimentFailed carries the Experiment's Failed condition and each failed trial's cause,
read from Katib-shaped dicts (a cluster's Experiment and Trials, or a local run's)."""

from __future__ import annotations

from katib_llm.sdk.errors import ExperimentFailed


def _trial(name: str, kind: str, message: str) -> dict:
    return {"metadata": {"name": name}, "status": {"conditions": [
        {"type": "Created", "status": "True", "reason": "TrialCreated"},
        {"type": kind, "status": "True", "reason": f"Trial{kind}", "message": message}]}}


def test_from_status_names_the_reason_and_the_failed_trials_causes():
    experiment = {"metadata": {"name": "bert"}, "status": {"conditions": [
        {"type": "Created", "status": "True"}, {"type": "Running", "status": "False"},
        {"type": "Failed", "status": "True", "reason": "ExperimentFailed",
         "message": "Experiment has failed because max failed count has reached"}]}}
    trials = [_trial("bert-a", "Succeeded", "Trial has succeeded"),
              _trial("bert-b", "Failed", "Trial has failed. Job message: Job has reached the specified backoff limit"),
              _trial("bert-c", "MetricsUnavailable", "Metrics are not available")]
    err = ExperimentFailed.from_status(experiment, trials)
    assert isinstance(err, RuntimeError)  # what kubeflow-katib raises for a Failed Experiment
    assert (err.name, err.reason) == ("bert", "ExperimentFailed")
    assert err.failed_trials == {"bert-b": "Trial has failed. Job message: Job has reached the specified backoff limit",
                                 "bert-c": "Metrics are not available"}
    assert err.cause == "Metrics are not available"
    assert str(err) == ("Experiment bert failed (ExperimentFailed): Experiment has failed because max failed count "
                        "has reached; last failed trial bert-c: Metrics are not available")


def test_a_message_that_already_names_the_cause_is_not_repeated():
    err = ExperimentFailed("x", "ExperimentTrialsFailedAlike", "stopped after 2 trial(s): boom (exit code 1)",
                           {"x-000": "boom (exit code 1)", "x-001": "boom (exit code 1)"})
    assert str(err) == "Experiment x failed (ExperimentTrialsFailedAlike): stopped after 2 trial(s): boom (exit code 1)"
