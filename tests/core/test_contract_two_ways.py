"""The contract in both directions (parse and render), the credential rules, and the admission
rules around the label, generateName, secret references and the trainer's metrics."""

from __future__ import annotations

import copy
import time

import pytest

from tests.contract_mistakes import A, EXAMPLE, HF_TOKEN
from katib_llm.core import contract, credentials
from katib_llm.core.admit import admit, validate
from katib_llm.core.contract import LLMSpec, Resources, parse, render

PROVIDERS = {"hf", "s3", "file", "pkg"}


def test_render_then_parse_gives_the_spec_back():
    spec = LLMSpec(model=contract.uri("hf://google-bert/bert-base-cased"), model_class="AutoModelForCausalLM",
                   model_parameters=125_000_000, dataset=contract.uri("hf://yelp_review_full?split=train[:300]"),
                   dataset_config={"max_length": 64}, trial_template="hf-lora-job", workers=2, procs_per_worker=2,
                   resources=Resources(gpu=2, cpu="4", memory="16Gi"), training_args={"optim": "sgd"},
                   lora_config={"r": 4}, volume_claim="shared-cache", retain_volume=True, retain_trials=True,
                   env={"HF_HUB_OFFLINE": "1"})
    annotations = render(spec)
    assert all(k.startswith(A) for k in annotations)
    back, errors = parse(annotations, PROVIDERS)
    assert errors == []
    for name in ("model_class", "model_parameters", "dataset_config", "trial_template", "workers", "procs_per_worker",
                 "resources", "training_args", "lora_config", "volume_claim", "retain_volume", "retain_trials", "env"):
        assert getattr(back, name) == getattr(spec, name), name
    assert (back.model.raw, back.dataset.raw) == (spec.model.raw, spec.dataset.raw)
    assert back.dataset.query == {"split": "train[:300]"}


def test_render_leaves_defaults_out_unless_given():
    assert render(LLMSpec()) == {}
    assert render(LLMSpec(given={contract.WORKERS})) == {A + "workers": "1"}


def test_parse_of_the_example_annotations():
    spec, errors = parse(EXAMPLE["metadata"]["annotations"], PROVIDERS)
    assert errors == [] and spec.workers == 4 and spec.resources == Resources(gpu=2, cpu="5", memory="10G")


@pytest.mark.parametrize("name", ["GITHUB_TOKEN", "AWS_ACCESS_KEY_ID", "HUGGING_FACE_HUB_TOKEN", "WANDB_API_KEY",
                                  "hf_token", "db-password", "MY_PASSWD", "GOOGLE_APPLICATION_CREDENTIALS",
                                  "client.secret", "APIKEY", "hub_token", "use_auth_token", "token"])
def test_credential_names(name):
    assert credentials.is_credential_name(name)


@pytest.mark.parametrize("name", ["TOKENIZERS_PARALLELISM", "HF_HUB_OFFLINE", "PWD", "KEYBOARD_LAYOUT",
                                  "include_tokens_per_second", "average_tokens_across_devices", "PYTHONHASHSEED",
                                  "CUDA_VISIBLE_DEVICES", "label_names"])
def test_not_credential_names(name):
    assert not credentials.is_credential_name(name)


@pytest.mark.parametrize("text, found", [
    (HF_TOKEN, True), ("hf_short", False), ("AKIAZ7Q2X9W4V6T8R1S3", True), ("ASIAZ7Q2X9W4V6T8R1S3", True),
    ("9AKIAZ7Q2X9W4V6T8R1S3", False), ("https://u:p@pypi.example.com/simple", True),
    ("https://pypi.example.com/simple", False), ("hf://org/model@main", False),
    ("secret_key: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", True), ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", False),
])
def test_value_shapes(text, found):
    assert (credentials.value_shape(text) is not None) is found


def test_a_secret_key_reference_in_a_users_container_is_the_accepted_form(admin_config):
    exp = copy.deepcopy(EXAMPLE)
    exp["spec"]["trialTemplate"] = {"primaryContainerName": "training", "trialSpec": {
        "apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [
            {"name": "training", "image": "python:3.12", "command": ["python", "train.py"],
             "env": [{"name": "WANDB_API_KEY", "valueFrom": {"secretKeyRef": {"name": "wandb", "key": "key"}}}]}]}}}}}
    result = admit(exp, admin_config)
    assert not [e for e in result.errors if e.code.startswith(("credential", "env."))], result.errors


def test_the_credential_denial_says_how_to_do_it(admin_config):
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"][A + "env"] = '{"WANDB_API_KEY": "abc"}'
    [error] = admit(exp, admin_config).errors
    assert "WANDB_API_KEY" in error.message and "secretKeyRef" in error.message and "abc" not in error.message


@pytest.mark.parametrize("value", ["false", "no", "TRUE"])
def test_a_wrong_label_value_without_our_annotations_is_katibs_business(admin_config, value):
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["labels"][A + "tune"] = value
    exp["metadata"]["annotations"] = {"note": "not ours"}
    assert validate(exp, admin_config).allowed and not validate(exp, admin_config).labelled


def test_generate_name_with_an_existing_claim_is_admitted(admin_config):
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["generateName"] = exp["metadata"].pop("name") + "-"
    exp["metadata"]["annotations"][A + "volume-claim"] = "team-cache"
    result = admit(exp, admin_config)
    assert result.allowed, result.errors
    env = {e["name"]: e.get("value") for e in result.experiment["spec"]["trialTemplate"]["trialSpec"]["spec"][
        "pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KATIB_LLM_OUTPUT_DIR"] == "/workspace/trials/${trialSpec.Name}"


def test_admitting_the_admitted_example_still_changes_nothing(admin_config):
    """The collision rules recognise what an earlier admission injected."""
    first = admit(copy.deepcopy(EXAMPLE), admin_config)
    second = admit(first.experiment, admin_config)
    assert second.allowed and second.patch == [], second.errors


def test_a_causal_lm_objective_must_be_a_metric_it_prints(admin_config):
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"][A + "model-class"] = "AutoModelForCausalLM"
    assert admit(exp, admin_config).allowed  # eval_accuracy: next-token accuracy, as run_clm.py reports it
    exp["spec"]["objective"]["objectiveMetricName"] = "eval_perplexty"
    [error] = admit(exp, admin_config).errors
    assert (error.path, error.code) == ("spec.objective.objectiveMetricName", "metric.unknown")
    assert "eval_perplexity" in error.message
    exp["spec"]["objective"] = {"type": "minimize", "objectiveMetricName": "eval_perplexity",
                                "additionalMetricNames": ["eval_loss", "train_loss", "train_runtime", "total_flos",
                                                          "train_samples_per_second", "train_steps_per_second"]}
    assert admit(exp, admin_config).allowed
    exp["metadata"]["annotations"][A + "model-class"] = "AutoModelForSequenceClassification"
    [error] = admit(exp, admin_config).errors  # only a causal LM has a perplexity
    assert error.path == "spec.objective.objectiveMetricName"


@pytest.mark.parametrize("model_class", ["AutoModelForSequenceClassification", "AutoModelForCausalLM"])
def test_the_metric_table_is_what_the_trainer_prints(model_class, capsys):
    """The trainer's printer fed what transformers' Trainer.evaluate() returns (loss, speed metrics,
    model preparation time, the compute_metrics result, epoch) prints only names of the table."""
    from transformers.trainer_utils import speed_metrics

    from katib_llm.core.metrics import MARKER, trainer_metrics
    from katib_llm.runtime.trainer import MetricPrinter

    causal = model_class == "AutoModelForCausalLM"
    evaluated = {"eval_loss": 1.25, "eval_accuracy": 0.5, "eval_model_preparation_time": 0.01,
                 **speed_metrics("eval", time.time() - 1.0, num_samples=32, num_steps=4), "epoch": 1.0}
    trained = {**speed_metrics("train", time.time() - 2.0, num_samples=64, num_steps=8), "total_flos": 1.5e12,
               "train_loss": 0.75, "epoch": 1.0}  # what Trainer.train() returns (trainer.py, end of train())
    printer = MetricPrinter(None, causal)
    printer.emit(evaluated)
    printer.emit(trained, history=False)
    printed = {line.split(MARKER + " ")[1].split("=")[0] for line in capsys.readouterr().out.splitlines()}
    assert printed <= set(trainer_metrics(model_class)), printed - set(trainer_metrics(model_class))
    assert {"eval_accuracy", "train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos",
            "train_loss", "epoch"} <= printed
    assert ("eval_perplexity" in printed) == causal
