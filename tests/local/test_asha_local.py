"""ASHA on the local backend: the runner answers katib-llm's trainer at every rung.

A real run (tiny BERT, LoRA, 4 evaluations per trial, rungs at reports 1, 2 and 4): trials ask
the runner, the runner gives no Katib rule to trials created after one asked, and a stopped
trial ends EarlyStopped through SetTrialStatus after printing its metrics (exit code 0, not
killed). A program that never asks keeps Katib's one-rule path (tests/local/test_limits.py).
"""

from __future__ import annotations

import json

import optuna
import pytest

from katib_llm.core.asha import rungs, AshaSettings
from katib_llm.local import run_experiment
from tests.local.local_helpers import tiny_bert_experiment

pytestmark = pytest.mark.slow
SETTINGS = {"min_resource": "1", "reduction_factor": "2", "min_early_stopping_rate": "0"}


def test_local_asha_stops_trials_at_rungs_through_the_trainer(tmp_path, tiny_model, tiny_dataset, cache_dir):
    exp = tiny_bert_experiment(f"file://{tiny_model}", f"file://{tiny_dataset}")
    annotations = exp["metadata"]["annotations"]
    key = next(k for k in annotations if k.endswith("training-args"))
    annotations[key] = json.dumps({"max_steps": 8, "eval_strategy": "steps", "eval_steps": 2, "logging_strategy": "no",
                                   "per_device_train_batch_size": 8, "per_device_eval_batch_size": 16})
    exp["spec"]["objective"] = {"type": "minimize", "objectiveMetricName": "eval_loss"}
    exp["spec"]["earlyStopping"] = {"algorithmName": "successivehalving",
                                    "algorithmSettings": [{"name": k, "value": v} for k, v in SETTINGS.items()]}
    exp["spec"].update(maxTrialCount=5, parallelTrialCount=2)
    result = run_experiment(exp, tmp_path / "run", progress=False, cache_dir=cache_dir, report=False)
    assert len(result.trials) == 5
    rung_reports = set(rungs(AshaSettings(1, 2, 0), 4))
    stopped = [t for t in result.trials if t.state == "EarlyStopped"]
    assert stopped, [(t.name, t.state, t.metrics.get("eval_loss")) for t in result.trials]
    for t in stopped:
        reports = len(t.metrics["eval_loss"])
        assert reports in rung_reports and reports < 4, (t.name, t.metrics)
    for t in result.trials:                                          # a trial's last evaluation never stops it
        assert (t.state == "Succeeded") == (len(t.metrics["eval_loss"]) == 4), (t.name, t.state, t.metrics)
    assert result.best is not None and result.best.state == "Succeeded"
    assert len(result.best.metrics["eval_loss"]) == 4
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(
        str(tmp_path / "run" / "study.journal")))
    study = optuna.load_study(study_name=exp["metadata"]["name"], storage=storage)
    for frozen in study.get_trials(deepcopy=False):
        assert frozen.user_attrs["asked_decisions"] is True          # the trainer asked at its evaluations
        assert frozen.user_attrs["exit_code"] == 0                   # stopped ones exited by themselves
        if frozen.number >= 2:                                       # created after trials asked
            assert "early_stopping_rules" not in frozen.user_attrs
