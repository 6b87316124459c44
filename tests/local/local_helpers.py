"""The cheap objective Experiment the local backend tests share.

A module of its own, not conftest.py: ``from conftest import ...`` picks whichever conftest was
imported last when several test directories are collected together (``pytest tests/local
tests/runtime``).
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

OBJECTIVE = Path(__file__).resolve().parent / "objective.py"
TUNE = [sys.executable, "-m", "katib_llm.cli", "tune"]  # the CLI's tune command, as a process


def cheap_experiment(name: str = "cheap", *, algorithm: str = "random", settings: dict[str, str] | None = None,
                     max_trials: int = 4, parallel: int = 2, env: dict[str, str] | None = None,
                     parameters: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    """A labelled Experiment whose trial runs tests/local/objective.py (a batch Job template)."""
    env = {"OBJ_STEPS": "4", "OBJ_SLEEP": "0.02", **(env or {})}
    params = parameters or [{"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0.0", "max": "1.0"}}]
    exp = {
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
        "metadata": {"name": name, "namespace": "default", "labels": {"llm.katib.kubeflow.org/tune": "true"}},
        "spec": {
            "objective": {"type": "maximize", "objectiveMetricName": "score"},
            "algorithm": {"algorithmName": algorithm,
                          "algorithmSettings": [{"name": k, "value": v} for k, v in (settings or {}).items()]},
            "maxTrialCount": max_trials, "parallelTrialCount": parallel,
            "parameters": params,
            "trialTemplate": {
                "primaryContainerName": "main",
                "trialParameters": [{"name": p["name"], "reference": p["name"]} for p in params],
                "trialSpec": {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "python:3.11",
                                    "command": ["python", str(OBJECTIVE)],
                                    "env": [{"name": k, "value": v} for k, v in env.items()]
                                    + [{"name": "TRIAL_NAME", "value": "${trialSpec.Name}"}]}]}}}},
            },
            **spec,
        },
    }
    return copy.deepcopy(exp)
