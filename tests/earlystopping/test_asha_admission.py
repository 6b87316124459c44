"""Which path a trial gets: admission points katib-llm's trainer at the Experiment's
early-stopping service (ASHA), and leaves any other program on Katib's one-rule path."""

from __future__ import annotations

from typing import Any

import pytest

from katib_llm.core import asha
from katib_llm.local.admission import local_config
from tests.builders import admitted, experiment

SHA = {"algorithmName": "successivehalving", "algorithmSettings": [{"name": "reduction_factor", "value": "3"}]}


def _env(node: Any) -> dict[str, str]:
    """Every env entry with a literal value anywhere in the admitted trial spec."""
    found: dict[str, str] = {}
    if isinstance(node, dict):
        if isinstance(node.get("env"), list):
            found.update({e["name"]: e["value"] for e in node["env"] if isinstance(e, dict) and "value" in e})
        for value in node.values():
            found.update(_env(value))
    elif isinstance(node, list):
        for value in node:
            found.update(_env(value))
    return found


@pytest.mark.parametrize("algorithm", ["tpe", "random"])
def test_the_shipped_trainer_asks_the_suggestions_early_stopping_port(algorithm):
    exp = experiment("tune-a", namespace="team", earlyStopping=SHA, algorithm={"algorithmName": algorithm})
    result = admitted(exp, local_config(None))
    assert result.allowed, result.errors
    env = _env(result.experiment["spec"]["trialTemplate"]["trialSpec"])
    # Katib's Service for the Suggestion: <experiment>-<algorithm>, port 6788 the early-stopping container.
    assert env[asha.ENV_ADDRESS] == f"tune-a-{algorithm}:6788"
    assert env[asha.ENV_METRIC] == "eval_accuracy"
    assert env["KATIB_LLM_TRIAL_NAME"] == "${trialSpec.Name}"


def test_no_decisions_without_successive_halving():
    for es in (None, {"algorithmName": "medianstop"}):
        exp = experiment("tune-b", **({"earlyStopping": es} if es else {}))
        result = admitted(exp, local_config(None))
        assert result.allowed, result.errors
        assert asha.ENV_ADDRESS not in _env(result.experiment["spec"]["trialTemplate"]["trialSpec"])


def test_decision_env_is_pure_and_tolerates_any_shape():
    assert asha.decision_env({}) == {}
    assert asha.decision_env({"spec": "x", "metadata": 3}) == {}
    assert asha.decision_env({"metadata": {"name": "e"}, "spec": {
        "earlyStopping": {"algorithmName": "successivehalving"}, "algorithm": {"algorithmName": "tpe"},
        "objective": {"objectiveMetricName": "eval_loss"}}}) == {asha.ENV_ADDRESS: "e-tpe:6788",
                                                                  asha.ENV_METRIC: "eval_loss"}


def test_a_user_template_keeps_katibs_one_rule_path():
    from katib_llm.local.admission import admit_local
    from tests.local.local_helpers import cheap_experiment

    exp = cheap_experiment("user", earlyStopping=SHA)
    result = admit_local(exp, local_config(None))
    assert result.allowed, result.errors
    assert asha.ENV_ADDRESS not in _env(result.experiment["spec"]["trialTemplate"]["trialSpec"])
