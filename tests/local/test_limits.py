"""Experiment budgets, trial deadlines and successive halving on the local backend.

The trials are the cheap objective (tests/local/objective.py): one ``score`` report per step;
it prints no ``train_step``, so each report counts as one training step.
"""

from __future__ import annotations

import json

from tests.local.local_helpers import cheap_experiment

from katib_llm.core import early_stopping as es
from katib_llm.local import run_experiment

BUDGET = "llm.katib.kubeflow.org/budget"
DEADLINE = "llm.katib.kubeflow.org/trial-active-deadline-seconds"


def _with(exp: dict, **annotations: str) -> dict:
    exp["metadata"]["annotations"] = {**(exp["metadata"].get("annotations") or {}), **annotations}
    return exp


def test_train_steps_budget_stops_new_and_running_trials_keeping_results(tmp_path, cache_dir, capsys):
    """8 steps per trial, 20 allowed: two trials finish, the third stops near step 4, none after."""
    from rich.console import Console

    from katib_llm.local.report import results_table

    exp = _with(cheap_experiment("steps", max_trials=10, parallel=1, env={"OBJ_STEPS": "8", "OBJ_SLEEP": "0.1"}),
                **{BUDGET: '{"train_steps": 20}'})
    result = run_experiment(exp, tmp_path / "run", progress=True, cache_dir=cache_dir, report=True)
    live = capsys.readouterr().err  # the progress lines (not a terminal): budget used/left per finished trial
    assert "train_steps used 8 left 12" in live and "(BudgetExhausted)" in live, live
    console = Console(record=True, width=200)
    console.print(results_table(result))
    table = console.export_text()
    assert "budget train_steps: used" in table and "left 0" in table and "EarlyStopped (BudgetExhausted)" in table
    states = [(t.state, t.reason) for t in sorted(result.trials, key=lambda t: t.number)]
    assert states == [("Succeeded", ""), ("Succeeded", ""), ("EarlyStopped", "BudgetExhausted")], states
    stopped = result.trials[-1]
    assert 4 <= len(stopped.metrics["score"]) <= 6  # stopped at the limit (one poll of slack)
    assert stopped.objective == stopped.metrics["score"][-1]  # the partial result is kept
    assert (result.condition, result.reason) == ("Succeeded", "ExperimentBudgetExhausted")
    assert "train_steps budget spent" in result.message
    [(name, used, left)] = result.budget
    assert name == "train_steps" and 20 <= int(used) <= 22 and left == "0"
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert saved["trials"][-1]["reason"] == "BudgetExhausted" and saved["trials"][-1]["metrics"]["score"]
    assert saved["budget"][0]["limit"] == "train_steps"
    assert result.best is not None and result.best.state == "Succeeded"


def test_wall_clock_budget_stops_the_run_at_the_limit(tmp_path, cache_dir):
    exp = _with(cheap_experiment("wall", max_trials=50, parallel=2, env={"OBJ_STEPS": "40", "OBJ_SLEEP": "0.1"}),
                **{BUDGET: '{"wall_clock": "3s"}'})
    result = run_experiment(exp, tmp_path / "run", progress=False, cache_dir=cache_dir, report=False)
    assert result.reason == "ExperimentBudgetExhausted" and "wall_clock" in result.message
    assert len(result.trials) == 2  # the first two never finished: no new trial started
    for t in result.trials:
        assert (t.state, t.reason) == ("EarlyStopped", "BudgetExhausted")
        assert t.metrics["score"] and t.objective is not None
        assert t.wall_time < 3 + 4.0  # stopped at the limit, not run to its 4 s end plus more
    assert json.loads((tmp_path / "run" / "budget.json").read_text())["elapsed"] >= 3


def test_trial_past_its_deadline_ends_failed(tmp_path, cache_dir):
    exp = _with(cheap_experiment("deadline", max_trials=2, parallel=1, env={"OBJ_STEPS": "50", "OBJ_SLEEP": "0.1"},
                                 maxFailedTrialCount=2),
                **{DEADLINE: "1"})
    result = run_experiment(exp, tmp_path / "run", progress=False, cache_dir=cache_dir, report=False)
    assert [(t.state, t.reason) for t in result.trials] == [("Failed", "DeadlineExceeded")] * 2
    for t in result.trials:
        assert t.wall_time < 1 + 4.0 and 0 < len(t.metrics["score"]) < 50


def test_successive_halving_locally_follows_the_rules_fixed_at_creation(tmp_path, cache_dir):
    """Each trial's rule is computed from the trials finished when it was created (as the service
    does) and applied as Katib's collector applies it."""
    exp = cheap_experiment("sha", max_trials=9, parallel=1, env={"OBJ_STEPS": "6", "OBJ_SLEEP": "0.1"},
                           earlyStopping={"algorithmName": "successivehalving", "algorithmSettings": [
                               {"name": "min_resource", "value": "2"}, {"name": "reduction_factor", "value": "3"}]})
    result = run_experiment(exp, tmp_path / "run", progress=False, cache_dir=cache_dir, report=False)
    trials = sorted(result.trials, key=lambda t: t.number)
    finished: list[es.Finished] = []
    settings = es.parse_settings("successivehalving", [("min_resource", "2"), ("reduction_factor", "3")])
    for t in trials:
        rules = es.rules_for_new_trial("successivehalving", settings, "score", True, finished)
        scores = t.metrics["score"]
        stop = es.collector_stop_step(rules, "score", True, [("score", v) for v in scores])
        assert (t.state == "EarlyStopped") == (stop is not None), (t.number, rules, scores)
        if stop is not None:
            assert rules[0].start_step == 2 and len(scores) < 6
        finished.append(es.Finished(t.state, tuple(scores)))
    assert any(t.state == "EarlyStopped" for t in trials) and any(t.state == "Succeeded" for t in trials)
