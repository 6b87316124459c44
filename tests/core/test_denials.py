"""Denials name the field and the accepted form; every rule has a stable code."""

from __future__ import annotations

import copy

import pytest
import yaml

from katib_llm.core.admit import admit

from tests.builders import example

EXAMPLE = example()
A = "llm.katib.kubeflow.org/"


def with_annotations(**changes):
    exp = copy.deepcopy(EXAMPLE)
    for key, value in changes.items():
        name = A + key.replace("_", "-")
        if value is None:
            exp["metadata"]["annotations"].pop(name, None)
        else:
            exp["metadata"]["annotations"][name] = value
    return exp


def denial(exp, admin_config):
    result = admit(exp, admin_config)
    assert not result.allowed
    assert result.patch == []
    return [(e.path, e.code) for e in result.errors], result.errors


@pytest.mark.parametrize("annotation,value,path,code,accepted", [
    ("resources_per_worker", '{"gpu": 2, "cpu": 5', "metadata.annotations[llm.katib.kubeflow.org/resources-per-worker]",
     "annotation.json", '{"gpu": 2'),
    ("resources_per_worker", '{"gpu": 9}', "metadata.annotations[llm.katib.kubeflow.org/resources-per-worker].gpu",
     "gpu.cap", "0 to 8"),
    ("resources_per_worker", '{"gpu": 1.5}', "metadata.annotations[llm.katib.kubeflow.org/resources-per-worker].gpu",
     "resources.gpu", "whole number"),
    ("resources_per_worker", '{"tpu": 1}', "metadata.annotations[llm.katib.kubeflow.org/resources-per-worker].tpu",
     "resources.unknown", "gpu, cpu, memory"),
    ("resources_per_worker", '{"memory": "ten gigs"}',
     "metadata.annotations[llm.katib.kubeflow.org/resources-per-worker].memory", "resources.quantity", "16Gi"),
    ("model", "ftp://host/model", "metadata.annotations[llm.katib.kubeflow.org/model]", "uri.scheme", "hf://"),
    ("model", "google-bert/bert-base-cased", "metadata.annotations[llm.katib.kubeflow.org/model]", "uri.form", "hf://<repo>"),
    ("model", "hf://bad repo", "metadata.annotations[llm.katib.kubeflow.org/model]", "uri.chars", "spaces"),
    ("model", "s3://A_B/x", "metadata.annotations[llm.katib.kubeflow.org/model]", "uri.s3-bucket", "s3://<bucket>"),
    ("dataset", "hf://yelp?splt=train", "metadata.annotations[llm.katib.kubeflow.org/dataset]", "uri.query", "split"),
    ("model_class", "AutoModelForMagic", "metadata.annotations[llm.katib.kubeflow.org/model-class]",
     "model-class.unknown", "AutoModelForCausalLM"),
    ("workers", "zero", "metadata.annotations[llm.katib.kubeflow.org/workers]", "annotation.int", "between 1 and"),
    ("training_args", "[1, 2]", "metadata.annotations[llm.katib.kubeflow.org/training-args]", "annotation.type", "JSON object"),
    ("trial_template", "no-such-template", "metadata.annotations[llm.katib.kubeflow.org/trial-template]",
     "template.unknown", "hf-lora-pytorchjob"),
    ("model", None, "metadata.annotations[llm.katib.kubeflow.org/model]", "model.required", "hf://"),
])
def test_annotation_denials(annotation, value, path, code, accepted, admin_config):
    pairs, errors = denial(with_annotations(**{annotation: value}), admin_config)
    assert (path, code) in pairs
    message = next(e.message for e in errors if (e.path, e.code) == (path, code))
    assert accepted in message


def test_unknown_annotation_lists_known_names(admin_config):
    exp = with_annotations()
    exp["metadata"]["annotations"][A + "modle"] = "hf://x/y"
    pairs, errors = denial(exp, admin_config)
    assert pairs == [("metadata.annotations[llm.katib.kubeflow.org/modle]", "annotation.unknown")]
    assert "model" in errors[0].message


def test_gpu_trial_cap(admin_config):
    exp = with_annotations(workers="16", resources_per_worker='{"gpu": 8}')
    pairs, errors = denial(exp, admin_config)
    assert ("metadata.annotations[llm.katib.kubeflow.org/resources-per-worker].gpu", "gpu.trial-cap") in pairs


def test_unknown_parameter_suggests_a_field(admin_config):
    exp = with_annotations()
    exp["spec"]["parameters"][0]["name"] = "learning_rat"
    pairs, errors = denial(exp, admin_config)
    assert pairs == [("spec.parameters[0].name", "parameter.unknown")]
    assert "learning_rate" in errors[0].message


def test_parameter_type_must_fit_field(admin_config):
    exp = with_annotations()
    exp["spec"]["parameters"][1]["parameterType"] = "double"  # per_device_train_batch_size
    pairs, _ = denial(exp, admin_config)
    assert ("spec.parameters[1].parameterType", "parameter.type") in pairs


def test_categorical_choice_checked_against_enum(admin_config):
    exp = with_annotations()
    exp["spec"]["parameters"].append({"name": "lr_scheduler_type", "parameterType": "categorical",
                                      "feasibleSpace": {"list": ["cosine", "cosin"]}})
    pairs, errors = denial(exp, admin_config)
    assert pairs == [("spec.parameters[5].feasibleSpace.list[1]", "parameter.choice")]
    assert "cosine_with_restarts" in errors[0].message


def test_categorical_value_with_quote_denied(admin_config):
    exp = with_annotations()
    exp["spec"]["parameters"].append({"name": "optim", "parameterType": "categorical",
                                      "feasibleSpace": {"list": ['adamw_torch"']}})
    pairs, _ = denial(exp, admin_config)
    assert ("spec.parameters[5].feasibleSpace.list[0]", "parameter.value-chars") in pairs


@pytest.mark.parametrize("mutate,path,code", [
    (lambda e: e["metadata"].update(name="x" * 41), "metadata.name", "katib.name"),
    (lambda e: e["metadata"].update(name="Bad_Name"), "metadata.name", "katib.name"),
    (lambda e: e["spec"].update(maxTrialCount=1, parallelTrialCount=2), "spec.parallelTrialCount", "katib.count"),
    (lambda e: e["spec"].update(maxFailedTrialCount=-1), "spec.maxFailedTrialCount", "katib.count"),
    (lambda e: e["spec"]["objective"].update(type="maximise"), "spec.objective.type", "katib.objective"),
    (lambda e: e["spec"]["algorithm"].update(algorithmName="bayesian"), "spec.algorithm.algorithmName", "katib.algorithm"),
    (lambda e: e["spec"].update(earlyStopping={"algorithmName": "meanstop"}), "spec.earlyStopping.algorithmName",
     "katib.early-stopping"),
    (lambda e: e["spec"]["parameters"][0]["feasibleSpace"].update(min="0.1", max="0.01"),
     "spec.parameters[0].feasibleSpace.min", "katib.parameters"),
    (lambda e: e["spec"]["parameters"][0]["feasibleSpace"].update(min="abc"),
     "spec.parameters[0].feasibleSpace.min", "katib.parameters"),
])
def test_katib_rules(mutate, path, code, admin_config):
    exp = with_annotations()
    mutate(exp)
    pairs, _ = denial(exp, admin_config)
    assert (path, code) in pairs


def test_every_error_reported_at_once(admin_config):
    exp = with_annotations()
    exp["metadata"]["name"] = "x" * 41
    exp["spec"]["algorithm"]["algorithmName"] = "nope"
    exp["spec"]["parameters"][0]["name"] = "nope_param"
    pairs, _ = denial(exp, admin_config)
    assert {"metadata.name", "spec.algorithm.algorithmName", "spec.parameters[0].name"} <= {p for p, _ in pairs}


def test_foreign_configmap_without_data_denied(admin_config):
    exp = with_annotations()
    exp["spec"]["trialTemplate"] = {"configMap": {"configMapName": "other",
                                                  "configMapNamespace": exp["metadata"]["namespace"],
                                                  "templatePath": "t.yaml"}, "trialParameters": []}
    pairs, _ = denial(exp, admin_config)
    assert pairs == [("spec.trialTemplate.configMap", "template.configmap-unavailable")]


def test_template_configmap_of_another_namespace_denied(admin_config):
    exp = with_annotations()
    exp["spec"]["trialTemplate"] = {"configMap": {"configMapName": "other", "configMapNamespace": "ns",
                                                  "templatePath": "t.yaml"}, "trialParameters": []}
    # Even when the caller supplied its data: another namespace's ConfigMaps are never used.
    job = "apiVersion: batch/v1\nkind: Job\nspec: {template: {spec: {containers: [{name: c, image: x}]}}}\n"
    result = admit(exp, admin_config, configmaps={("ns", "other"): {"t.yaml": job}})
    assert not result.allowed
    assert [(e.path, e.code) for e in result.errors] == [("spec.trialTemplate.configMap.configMapNamespace", "template.configmap-namespace")]


def test_unknown_job_kind_denied(admin_config):
    exp = with_annotations()
    exp["spec"]["trialTemplate"] = {"trialSpec": {"apiVersion": "example.com/v1", "kind": "MagicJob"},
                                    "primaryContainerName": "x", "trialParameters": []}
    pairs, errors = denial(exp, admin_config)
    assert pairs == [("spec.trialTemplate.trialSpec.kind", "template.kind")]
    assert "PyTorchJob" in errors[0].message


def test_credentials_in_env_denied(admin_config):
    pairs, errors = denial(with_annotations(env='{"HF_TOKEN": "hf_abc"}'), admin_config)
    assert pairs == [("metadata.annotations[llm.katib.kubeflow.org/env].HF_TOKEN", "env.credential")]
    assert "Secret" in errors[0].message


def test_bad_admin_values_rejected():
    from katib_llm.core.config import load_config

    _, errors = load_config({"gpu": {"maxPerWorker": -1}, "storge": {}})
    assert {e.path for e in errors} == {"config.gpu.maxPerWorker", "config.storge"}


@pytest.mark.parametrize("choice", ["corda", "astra"])
def test_lora_inits_that_need_a_preprocessing_step_are_denied(admin_config, choice):
    """peft computes these inits only in a separate step (preprocess_corda/preprocess_astra) that
    katib-llm's trainer does not run: get_peft_model alone fails, so every trial would fail."""
    exp = with_annotations()
    exp["spec"]["parameters"].append({"name": "lora_config.init_lora_weights", "parameterType": "categorical",
                                      "feasibleSpace": {"list": ["gaussian", choice]}})
    pairs, errors = denial(exp, admin_config)
    assert pairs == [("spec.parameters[5].feasibleSpace.list[1]", "parameter.choice")]
    assert "gaussian" in errors[0].message and f"'{choice}'" in errors[0].message
