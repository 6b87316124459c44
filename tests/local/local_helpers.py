"""The cheap objective Experiment the local backend tests share.

A module of its own, not conftest.py: ``from conftest import ...`` picks whichever conftest was
imported last when several test directories are collected together (``pytest tests/local
tests/runtime``).
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

from tests.builders import experiment, parameter

OBJECTIVE = Path(__file__).resolve().parent / "objective.py"
TUNE = [sys.executable, "-m", "katib_llm.cli", "tune"]  # the CLI's tune command, as a process


def cheap_experiment(name: str = "cheap", *, algorithm: str = "random", settings: dict[str, str] | None = None,
                     max_trials: int = 4, parallel: int = 2, env: dict[str, str] | None = None,
                     parameters: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    """A labelled Experiment whose trial runs tests/local/objective.py (a batch Job template)."""
    env = {"OBJ_STEPS": "4", "OBJ_SLEEP": "0.02", **(env or {})}
    params = parameters or [{"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0.0", "max": "1.0"}}]
    template = {
        "primaryContainerName": "main",
        "trialParameters": [{"name": p["name"], "reference": p["name"]} for p in params],
        "trialSpec": {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "python:3.11",
                            "command": ["python", str(OBJECTIVE)],
                            "env": [{"name": k, "value": v} for k, v in env.items()]
                            + [{"name": "TRIAL_NAME", "value": "${trialSpec.Name}"}]}]}}}},
    }
    exp = experiment(name, namespace="default", model=None, dataset=None, parameters=params,
                     objective={"type": "maximize", "objectiveMetricName": "score"},
                     algorithm={"algorithmName": algorithm,
                                "algorithmSettings": [{"name": k, "value": v} for k, v in (settings or {}).items()]},
                     maxTrialCount=max_trials, parallelTrialCount=parallel, trialTemplate=template, **spec)
    return copy.deepcopy(exp)


def tiny_bert_experiment(model_uri: str, dataset_uri: str) -> dict[str, Any]:
    """The end-to-end Experiment: a real LoRA fine-tune of the tiny BERT (6 steps, evaluated every
    2), TPE with median stopping, 3 trials, 2 in parallel."""
    return experiment(
        "e2e", namespace="default", model=model_uri, dataset=dataset_uri,
        annotations={
            "model-class": "AutoModelForSequenceClassification",
            "dataset-config": json.dumps({"eval_split": "test", "max_length": 12, "num_labels": 2}),
            "training-args": json.dumps({"max_steps": 6, "eval_strategy": "steps", "eval_steps": 2,
                                         "logging_strategy": "no", "per_device_train_batch_size": 8,
                                         "per_device_eval_batch_size": 16}),
            "lora-config": json.dumps({"lora_alpha": 8, "target_modules": ["query", "value"]}),
        },
        parameters=[{**parameter("learning_rate", "double", "1e-4", "1e-2"),
                     "feasibleSpace": {"min": "1e-4", "max": "1e-2", "distribution": "logUniform"}},
                    parameter("lora_config.r", "int", "2", "8")],
        objective={"type": "maximize", "objectiveMetricName": "eval_accuracy", "additionalMetricNames": ["eval_loss"]},
        algorithm={"algorithmName": "tpe", "algorithmSettings": [
            {"name": "n_startup_trials", "value": "2"}, {"name": "random_state", "value": "0"}]},
        earlyStopping={"algorithmName": "medianstop", "algorithmSettings": [
            {"name": "min_trials_required", "value": "2"}, {"name": "start_step", "value": "2"}]},
        maxTrialCount=3, parallelTrialCount=2, maxFailedTrialCount=1,
    )
