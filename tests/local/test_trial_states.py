"""Katib trial states locally: EarlyStopped by medianstop (promptly), Failed, MetricsUnavailable."""

from __future__ import annotations

import json
import os
import subprocess

import yaml

from katib_llm.local import run_experiment

from tests.local.local_helpers import TUNE, cheap_experiment


def test_medianstop_marks_trials_early_stopped_and_stops_them_promptly(tmp_path, cache_dir):
    """After 2 succeeded trials, a trial whose best value at report start_step is below Katib's
    "median" (the mean of the succeeded trials' average over their first start_step values) is killed."""
    params = [{"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0.0", "max": "1.0"}}]
    exp = cheap_experiment(
        "median2", algorithm="random", settings={"random_state": "0"}, max_trials=6, parallel=1,
        parameters=params, env={"OBJ_STEPS": "8", "OBJ_SLEEP": "0.15"},
        earlyStopping={"algorithmName": "medianstop",
                       "algorithmSettings": [{"name": "min_trials_required", "value": "2"},
                                             {"name": "start_step", "value": "1"}]})
    result = run_experiment(exp, tmp_path / "run", progress=False, cache_dir=cache_dir, report=False)
    stopped = [t for t in result.trials if t.state == "EarlyStopped"]
    assert stopped, [(t.assignments, t.state, t.objective) for t in result.trials]
    for t in stopped:
        assert 1 <= len(t.metrics["score"]) < 8  # stopped at start_step, before the end
        assert t.wall_time < 8 * 0.15 + 0.5
    assert all(t.state in ("Succeeded", "EarlyStopped") for t in result.trials)
    assert result.best.state == "Succeeded"


def test_a_stopped_trial_releases_its_semaphores(tmp_path):
    """A trial stopped by medianstop unwinds like an exit, so what it registered with the
    runner's resource tracker (named semaphores: tqdm's and torch's locks) is released; before,
    every stopped trial left one, and the run ended with "N leaked semaphore objects"."""
    exp = cheap_experiment("sems", settings={"random_state": "0"}, max_trials=6, parallel=1,
                           env={"OBJ_STEPS": "8", "OBJ_SLEEP": "0.15", "OBJ_LOCK": "1"},
                           earlyStopping={"algorithmName": "medianstop", "algorithmSettings": [
                               {"name": "min_trials_required", "value": "2"}, {"name": "start_step", "value": "1"}]})
    exp_file = tmp_path / "exp.yaml"
    exp_file.write_text(yaml.safe_dump(exp))
    workdir = tmp_path / "run"
    proc = subprocess.run(TUNE + [str(exp_file), "--local", "--workdir", str(workdir), "--no-progress"],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "KATIB_LLM_PRELOAD": ""})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    states = [t["state"] for t in json.loads((workdir / "results.json").read_text())["trials"]]
    assert "EarlyStopped" in states, states
    assert "leaked semaphore" not in proc.stderr, proc.stderr


def test_failed_trials_count_against_max_failed_trial_count(tmp_path, cache_dir):
    """Katib v0.19 fails the Experiment once failed trials reach maxFailedTrialCount (>=, and
    MetricsUnavailable ones count): with 1, the first failure ends it, with its cause."""
    exp = cheap_experiment("fails", max_trials=20, parallel=1, env={"OBJ_FAIL_ABOVE": "-1"},
                           maxFailedTrialCount=1)
    result = run_experiment(exp, tmp_path / "run", progress=False, cache_dir=cache_dir, report=False)
    assert [t.state for t in result.trials] == ["Failed"]
    assert (result.condition, result.reason) == ("Failed", "ExperimentFailed")
    assert result.message.startswith("Experiment has failed because max failed count has reached")
    assert result.trials[0].message == "objective: failing on purpose (exit code 3)"
    assert "objective: failing on purpose (exit code 3)" in result.message
    assert result.best is None and result.optimal_hyperparameters == {}


def test_mixed_failures_within_the_budget_do_not_stop_the_experiment(tmp_path, cache_dir):
    exp = cheap_experiment("somefail", algorithm="random", settings={"random_state": "5"}, max_trials=6,
                           parallel=2, env={"OBJ_FAIL_ABOVE": "0.5"}, maxFailedTrialCount=6)
    result = run_experiment(exp, tmp_path / "run", progress=False, cache_dir=cache_dir, report=False)
    assert len(result.trials) == 6 and result.condition == "Succeeded"
    for t in result.trials:
        assert t.state == ("Failed" if t.parameters["x"] > 0.5 else "Succeeded")


def test_no_metrics_is_metrics_unavailable(tmp_path, cache_dir):
    exp = cheap_experiment("silent", max_trials=2, parallel=2, env={"OBJ_SILENT": "1"})
    result = run_experiment(exp, tmp_path / "run", progress=False, cache_dir=cache_dir, report=False)
    assert [t.state for t in result.trials] == ["MetricsUnavailable"] * 2
    assert result.best is None


def test_a_non_finite_objective_is_metrics_unavailable_as_on_a_cluster(tmp_path, cache_dir):
    """Never printed as a value (core.metrics.metric_lines): Katib's collector reports
    `unavailable` for the objective, and the local backend records the same state."""
    exp = cheap_experiment("diverged", max_trials=2, parallel=2, env={"OBJ_NAN": "1"})
    result = run_experiment(exp, tmp_path / "run", progress=False, cache_dir=cache_dir, report=False)
    assert [t.state for t in result.trials] == ["MetricsUnavailable"] * 2
    assert result.best is None


def test_goal_stops_the_experiment(tmp_path, cache_dir):
    exp = cheap_experiment("goal", max_trials=20, parallel=1)
    exp["spec"]["objective"]["goal"] = -1.0  # any trial reaches it
    result = run_experiment(exp, tmp_path / "run", progress=False, cache_dir=cache_dir, report=False)
    assert len(result.trials) == 1 and result.reason == "ExperimentGoalReached"
