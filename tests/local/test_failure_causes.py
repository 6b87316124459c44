"""Failure is a result: each failed trial carries its cause, a run whose first trials fail alike
stops early and says so, and Katib's maxFailedTrialCount ends the Experiment Failed.

Real runs: the cheap objective (tests/local/objective.py), the real storage initializer on a
mistyped dataset path, and a function objective returning the wrong key through the SDK.
"""

from __future__ import annotations

import pytest

from katib_llm import KatibClient, search
from katib_llm.local import run_experiment
from katib_llm.local import failures, state
from katib_llm.local.status import read_run, trial_state
from katib_llm.sdk.errors import ExperimentFailed
from katib_llm.sdk.frame import trials_frame

from tests.local.local_helpers import cheap_experiment, tiny_bert_experiment


@pytest.fixture(autouse=True)
def _cold_pool(monkeypatch):
    monkeypatch.setenv("KATIB_LLM_PRELOAD", "")  # the cheap trials need no warm torch


def test_katib_max_failed_rule_counts_metrics_unavailable_and_fails_at_the_count():
    spec = {"maxFailedTrialCount": 2, "maxTrialCount": 10}
    assert state.stop_reason(spec, state.Counts(failed=1, metrics_unavailable=1), None) == ("Failed", "ExperimentFailed")
    assert state.stop_reason(spec, state.Counts(failed=1, succeeded=4), None) is None
    assert state.stop_reason({"maxFailedTrialCount": 0}, state.Counts(failed=1), None) == ("Failed", "ExperimentFailed")
    assert state.stop_reason({"maxFailedTrialCount": 0}, state.Counts(succeeded=1), None) is None  # none failed
    assert state.stop_reason({"maxTrialCount": 3}, state.Counts(failed=3), None) == (
        "Succeeded", "ExperimentMaxTrialsReached")  # unset: Katib never fails the Experiment
    # the goal is checked first, as in Katib's controller
    goal = {"objective": {"type": "maximize", "goal": 0.5}, "maxFailedTrialCount": 1}
    assert state.stop_reason(goal, state.Counts(failed=1, succeeded=1), 0.9) == ("Succeeded", "ExperimentGoalReached")


def test_the_last_error_line_of_a_log_is_the_cause(tmp_path):
    log = tmp_path / "stdout.log"
    log.write_text("loading\nTraceback (most recent call last):\n  File \"x.py\", line 3, in <module>\n"
                   "    main()\nhuggingface_hub.errors.RepositoryNotFoundError: 404 Client Error: repo 'a/b' not found\n"
                   "\n")
    assert failures.trial_cause(log, "Failed", 1, "score") == (
        "huggingface_hub.errors.RepositoryNotFoundError: 404 Client Error: repo 'a/b' not found (exit code 1)")
    log.write_text("step 1\nkatib-llm storage-initializer: error: dataset file:///d/x not found\ncleanup done\n")
    assert failures.trial_cause(log, "Failed", 2, "score", init_failed=True).startswith(
        "katib-llm storage-initializer: error: dataset file:///d/x not found (initializer exit code 2)")
    log.write_text("x" * 200_000)  # one huge line: bounded
    assert len(failures.trial_cause(log, "Failed", 1, "score")) < 500
    log.write_text("katib-llm-metric scor=0.5\n")
    assert failures.trial_cause(log, "MetricsUnavailable", 0, "score") == (
        "the trial exited 0 without reporting the objective metric 'score'; it printed scor")


def test_same_failure_twice_before_any_metric_stops_the_run_with_the_cause(tmp_path):
    exp = cheap_experiment("alike", max_trials=10, parallel=1, env={"OBJ_FAIL_ABOVE": "-1"})
    result = run_experiment(exp, tmp_path / "run", progress=False, report=False)
    assert [t.state for t in result.trials] == ["Failed", "Failed"]  # 2 of 10, not the budget
    assert (result.condition, result.reason) == ("Failed", failures.REPEATED_FAILURE)
    assert "2 trials failed the same way before reporting any metric: objective: failing on purpose" in result.message
    assert "maxTrialCount 10" in result.message
    # read back as Katib objects: the Experiment's Failed condition and each Trial's cause
    run = read_run(tmp_path / "run")
    [failed] = [c for c in run.experiment["status"]["conditions"] if c["type"] == "Failed"]
    assert failed["reason"] == failures.REPEATED_FAILURE and "failing on purpose" in failed["message"]
    assert trial_state(run.trials[0]) == ("Failed", "TrialFailed: objective: failing on purpose (exit code 3)")
    frame = trials_frame(run.experiment, run.trials, run.metrics)
    assert list(frame["stop_reason"]) == ["TrialFailed: objective: failing on purpose (exit code 3)"] * 2


def test_failures_that_differ_or_follow_a_success_do_not_stop_the_run(tmp_path):
    ended = [failures.Ended("Failed", "a (exit code 1)", False, False),
             failures.Ended("Failed", "b (exit code 1)", False, False)]
    assert failures.repeated_failure(ended, 10) is None
    reported = [failures.Ended("Failed", "a", True, False), failures.Ended("Failed", "a", False, False)]
    assert failures.repeated_failure(reported, 10) is None
    after_success = [failures.Ended("Succeeded", "", True, False), failures.Ended("Failed", "a", False, False),
                     failures.Ended("Failed", "a", False, False)]
    assert failures.repeated_failure(after_success, 10) is None


def test_an_initializer_using_a_trial_parameter_is_not_taken_as_the_experiments_failure():
    plain = {"trialSpec": {"spec": {"template": {"spec": {"initContainers": [{"args": ["--uri", "hf://a/b"]}]}}}}}
    assert not failures.initializers_take_parameters(plain)
    tuned = {"trialSpec": {"spec": {"template": {"spec": {"initContainers": [
        {"env": [{"name": "N", "value": "${trialParameters.n}"}]}]}}}}}
    assert failures.initializers_take_parameters(tuned)
    trainjob = {"trialSpec": {"spec": {"initializer": {"dataset": {"storageUri": "s3://b/${trialParameters.n}"}}}}}
    assert failures.initializers_take_parameters(trainjob)


def test_a_mistyped_dataset_costs_one_trial(tmp_path, tiny_model, tiny_dataset):
    """The real storage initializer on a dataset path that does not exist: its step fails, and it
    takes no hyperparameters, so the run stops after that trial with the initializer's message."""
    typo = tiny_dataset.parent / (tiny_dataset.name + "-typo")
    exp = tiny_bert_experiment(f"file://{tiny_model}", f"file://{typo}")
    exp["spec"].update(maxTrialCount=4, parallelTrialCount=1)
    exp["spec"].pop("maxFailedTrialCount")
    result = run_experiment(exp, tmp_path / "run", progress=False, report=False, cache_dir=tmp_path / "cache")
    assert [t.state for t in result.trials] == ["Failed"]
    assert (result.condition, result.reason) == ("Failed", failures.REPEATED_FAILURE)
    cause = result.trials[0].message
    assert str(typo) in cause and "(initializer exit code 2)" in cause, cause
    assert "a trial initializer failed" in result.message and str(typo) in result.message


def wrong_key(parameters):
    return {"scor": parameters["x"]}


def test_tune_raises_experiment_failed_with_the_cause(tmp_path):
    """A function objective returning the wrong key: two MetricsUnavailable trials, then tune()
    raises ExperimentFailed naming the missing metric; wait_for_experiment_condition, asked
    later, raises the same."""
    client = KatibClient(backend="local", workdir=str(tmp_path / "run"), progress=False)
    with pytest.raises(ExperimentFailed) as caught:
        client.tune(name="wrongkey", objective=wrong_key, parameters={"x": search.double(0.0, 1.0)},
                    objective_metric_name="score", max_trial_count=6, parallel_trial_count=1)
    err = caught.value
    assert isinstance(err, RuntimeError) and err.reason == failures.REPEATED_FAILURE
    assert err.cause == "the trial exited 0 without reporting the objective metric 'score'; it printed scor"
    assert sorted(err.failed_trials) == ["wrongkey-000", "wrongkey-001"]
    assert "without reporting the objective metric 'score'" in str(err)
    with pytest.raises(ExperimentFailed) as again:
        client.wait_for_experiment_condition("wrongkey", timeout=5, progress=False)
    assert again.value.reason == failures.REPEATED_FAILURE and again.value.cause == err.cause


def test_the_cli_shows_each_cause_as_trials_end_and_why_the_run_failed(tmp_path):
    """Not a terminal: one line per finished trial with its cause, then why the run stopped."""
    import os
    import subprocess

    import yaml

    from tests.local.local_helpers import TUNE

    exp_file = tmp_path / "exp.yaml"
    exp_file.write_text(yaml.safe_dump(cheap_experiment("clifail", max_trials=8, parallel=1,
                                                        env={"OBJ_FAIL_ABOVE": "-1"})))
    proc = subprocess.run(TUNE + [str(exp_file), "--local", "--workdir", str(tmp_path / "run")],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "KATIB_LLM_PRELOAD": ""})
    assert proc.returncode == 1
    assert "trial clifail-000: Failed (objective: failing on purpose (exit code 3))" in proc.stderr, proc.stderr
    assert f"clifail: Failed ({failures.REPEATED_FAILURE}): stopped after 2 trial(s)" in proc.stderr
    assert f"Experiment Failed ({failures.REPEATED_FAILURE}): stopped after 2 trial(s)" in proc.stdout, proc.stdout
