"""Kueue: trial jobs of every kind join a LocalQueue (kueue.x-k8s.io/queue-name) chosen by the
admin (config.kueue.localQueue) or per Experiment (the queue annotation)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from tests.conformance.schemas import admitted_errors

from katib_llm.core.admit import admit
from katib_llm.core.config import load_config
from katib_llm.io import load_templates

EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "bert-lora-experiment.yaml").read_text())
A = "llm.katib.kubeflow.org/"
LABEL = "kueue.x-k8s.io/queue-name"


def _admit(template: str, values: dict | None = None, **annotations: str):
    config, errors = load_config(values or {}, load_templates())
    assert not errors
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"][A + "trial-template"] = template
    if template.endswith("-job"):
        exp["metadata"]["annotations"][A + "workers"] = "1"
    exp["metadata"]["annotations"].update({A + k: v for k, v in annotations.items()})
    return admit(exp, config)


@pytest.mark.parametrize("template", ["hf-lora-pytorchjob", "hf-lora-job", "hf-lora-mpijob", "hf-lora-trainjob"])
def test_admin_queue_labels_every_kind(template):
    result = _admit(template, {"kueue": {"localQueue": "gpu-trials"}})
    assert result.allowed, result.errors
    job = result.experiment["spec"]["trialTemplate"]["trialSpec"]
    assert job["metadata"]["labels"][LABEL] == "gpu-trials"
    assert admitted_errors(result.experiment) == []
    # Kueue starts a TrainJob by unsuspending it.
    assert job["spec"].get("suspend") is (True if job["kind"] == "TrainJob" else None)


def test_experiment_annotation_overrides_admin_queue():
    result = _admit("hf-lora-pytorchjob", {"kueue": {"localQueue": "gpu-trials"}}, queue="team-a-queue")
    assert result.experiment["spec"]["trialTemplate"]["trialSpec"]["metadata"]["labels"][LABEL] == "team-a-queue"


def test_no_queue_no_label(admin_config):
    result = admit(copy.deepcopy(EXAMPLE), admin_config)
    assert LABEL not in (result.experiment["spec"]["trialTemplate"]["trialSpec"].get("metadata") or {}).get("labels", {})


def test_users_own_label_stays_unless_the_experiment_names_a_queue(admin_config):
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"][A + "trial-template"] = "hf-lora-pytorchjob"
    first = admit(exp, admin_config)
    own = copy.deepcopy(first.experiment)
    own["spec"]["trialTemplate"]["trialSpec"].setdefault("metadata", {}).setdefault("labels", {})[LABEL] = "mine"
    config, _ = load_config({"kueue": {"localQueue": "gpu-trials"}}, load_templates())
    assert admit(own, config).experiment["spec"]["trialTemplate"]["trialSpec"]["metadata"]["labels"][LABEL] == "mine"
    own["metadata"]["annotations"][A + "queue"] = "other"
    assert admit(own, config).experiment["spec"]["trialTemplate"]["trialSpec"]["metadata"]["labels"][LABEL] == "other"


def test_queue_is_idempotent():
    first = _admit("hf-lora-trainjob", queue="q1")
    second = admit(first.experiment, load_config({}, load_templates())[0])
    assert second.patch == []


@pytest.mark.parametrize("bad", ["Q", "has space", "-x", "a" * 64])
def test_bad_queue_names_the_annotation(bad):
    result = _admit("hf-lora-pytorchjob", queue=bad)
    assert [(e.path, e.code) for e in result.errors] == [(f"metadata.annotations[{A}queue]", "queue.name")]


def test_bad_admin_queue_is_a_config_error():
    _, errors = load_config({"kueue": {"localQueue": "Bad Queue"}})
    assert [e.path for e in errors] == ["config.kueue.localQueue"]


def _own_labelled(label: str | None) -> dict:
    """The example on the shipped PyTorchJob template inlined, with the user's own queue label."""
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"][A + "trial-template"] = "hf-lora-pytorchjob"
    config, _ = load_config({}, load_templates())
    own = copy.deepcopy(admit(exp, config).experiment)
    labels = own["spec"]["trialTemplate"]["trialSpec"].setdefault("metadata", {}).setdefault("labels", {})
    if label is not None:
        labels[LABEL] = label
    return own


ENFORCED = {"kueue": {"localQueue": "gpu-trials", "enforce": True}}


@pytest.mark.parametrize("label", ["", "unlimited-queue", None])
def test_an_enforced_queue_replaces_the_users_empty_or_other_label(label):
    config, errors = load_config(ENFORCED, load_templates())
    assert not errors
    result = admit(_own_labelled(label), config)
    assert result.allowed, result.errors
    assert result.experiment["spec"]["trialTemplate"]["trialSpec"]["metadata"]["labels"][LABEL] == "gpu-trials"
    replaced = [w for w in result.warnings if w.startswith(f"spec.trialTemplate.trialSpec.metadata.labels[{LABEL}]")]
    assert len(replaced) == (0 if label is None else 1)
    assert admit(result.experiment, config).patch == []  # idempotent


def test_an_empty_label_never_escapes_the_admins_default_queue():
    config, _ = load_config({"kueue": {"localQueue": "gpu-trials"}}, load_templates())
    result = admit(_own_labelled(""), config)
    assert result.experiment["spec"]["trialTemplate"]["trialSpec"]["metadata"]["labels"][LABEL] == "gpu-trials"


def test_a_queue_annotation_naming_another_queue_is_denied_when_enforced():
    result = _admit("hf-lora-pytorchjob", ENFORCED, queue="team-a-queue")
    assert [(e.path, e.code) for e in result.errors] == [(f"metadata.annotations[{A}queue]", "queue.forced")]
    assert _admit("hf-lora-pytorchjob", ENFORCED, queue="gpu-trials").allowed


@pytest.mark.parametrize("values", [{"kueue": {"enforce": True}}, {"kueue": {"localQueue": "q", "enforce": "yes"}}])
def test_enforce_needs_a_queue_and_a_boolean(values):
    _, errors = load_config(values)
    assert [e.path for e in errors] == ["config.kueue.enforce"]
