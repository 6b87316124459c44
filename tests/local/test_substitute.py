"""core.substitute_trial: Katib's placeholder substitution on the admitted template."""

from __future__ import annotations

import json

import pytest

from katib_llm.core.admit import admit
from katib_llm.core.substitute import SubstitutionError, substitute_trial


def test_admitted_quickstart_substitutes_every_placeholder():
    import yaml

    from katib_llm.io import admin_config as load

    admin_config = load({"fileRoots": ["/data"]})  # a cluster admits file:// only under fileRoots

    exp = yaml.safe_load(open("examples/quickstart.yaml"))
    exp["metadata"]["annotations"]["llm.katib.kubeflow.org/dataset"] = "file:///data/sentiment"
    result = admit(exp, admin_config)
    assert result.allowed, result.errors
    tt = result.experiment["spec"]["trialTemplate"]
    job = substitute_trial(tt, {"learning_rate": "0.001", "lora_config.r": "8", "weight_decay": "0.0"},
                           "quickstart-007", "team-a")
    text = json.dumps(job)
    assert "${trialParameters." not in text and "${trialSpec." not in text
    env = {e["name"]: e["value"] for e in job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
           ["containers"][0]["env"]}
    assert json.loads(env["KATIB_LLM_HPARAMS"]) == {"learning_rate": "0.001", "lora_config.r": "8",
                                                    "weight_decay": "0.0"}
    assert env["KATIB_LLM_OUTPUT_DIR"].endswith("/quickstart/quickstart-007")
    assert job["metadata"] == {**job["metadata"], "name": "quickstart-007", "namespace": "team-a"}


def test_values_with_quotes_cannot_break_the_manifest():
    tt = {"trialParameters": [{"name": "opt", "reference": "optim"}],
          "trialSpec": {"kind": "Job", "metadata": {"labels": {"team": "x"}},
                        "spec": {"a": "${trialParameters.opt}", "b": "${trialSpec.Labels[team]}-${trialSpec.Kind}"}}}
    job = substitute_trial(tt, {"optim": 'ad"am'}, "t", "ns")
    assert job["spec"] == {"a": 'ad"am', "b": "x-Job"}


def test_missing_assignment_names_the_trial_parameter():
    tt = {"trialParameters": [{"name": "lr", "reference": "learning_rate"}],
          "trialSpec": {"kind": "Job", "spec": {"a": "${trialParameters.lr} ${trialParameters.nope}"}}}
    with pytest.raises(SubstitutionError) as info:
        substitute_trial(tt, {}, "t", "ns")
    paths = [e.path for e in info.value.errors]
    assert "spec.trialTemplate.trialParameters[0].reference" in paths
    assert "spec.trialTemplate.trialSpec" in paths
