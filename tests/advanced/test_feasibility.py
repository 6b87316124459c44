"""Feasibility pre-check: the admission core rejects a search space that cannot fit the GPU."""

from __future__ import annotations

import pytest

from katib_llm.core.admit import admit
from katib_llm.core.config import load_config
from katib_llm.core.feasibility import (GIB, Shape, TrialConfig, estimate, parameters_from_name,
                                        parse_parameter_count)
from katib_llm.io import load_templates

ANN = "llm.katib.kubeflow.org/"


def _config(memory_gib: float):
    config, errors = load_config({"gpu": {"memoryGiB": memory_gib}}, load_templates())
    assert not errors
    return config


@pytest.mark.parametrize("text,count", [("7B", 7_000_000_000), ("1.5b", 1_500_000_000), ("125M", 125_000_000),
                                        ("6738415616", 6_738_415_616), (" 70m ", 70_000_000)])
def test_parameter_count_annotation_forms(text, count):
    assert parse_parameter_count(text) == count


@pytest.mark.parametrize("text", ["", "seven", "7 GB", "-7B", "0"])
def test_bad_parameter_counts_are_none(text):
    assert parse_parameter_count(text) is None


@pytest.mark.parametrize("repo,count", [("meta-llama/Llama-2-7b-hf", 7e9), ("Qwen/Qwen2.5-1.5B-Instruct", 1.5e9),
                                        ("facebook/opt-125m", 1.25e8), ("mistralai/Mixtral-8x7B-v0.1", 5.6e10),
                                        ("google-bert/bert-base-cased", None), ("gpt2", None)])
def test_size_from_repo_name(repo, count):
    assert parameters_from_name(repo) == (int(count) if count else None)


def test_estimate_grows_with_each_knob():
    shape = Shape.from_parameters(1_000_000_000)
    base = estimate(shape, TrialConfig())
    assert estimate(shape, TrialConfig(batch_size=16)).activations > base.activations
    assert estimate(shape, TrialConfig(seq_len=512)).activations > base.activations
    assert estimate(shape, TrialConfig(rank=64)).lora == 8 * base.lora
    assert estimate(shape, TrialConfig(half=True)).weights == base.weights // 2
    assert estimate(shape, TrialConfig(optim="sgd")).optimizer == 0
    assert estimate(shape, TrialConfig(checkpointing=True)).activations < base.activations
    assert estimate(shape, TrialConfig(causal=True)).activations > base.activations
    assert base.total == base.weights + base.lora + base.grads + base.optimizer + base.activations + base.overhead


def _gpu_experiment(experiment, model="hf://meta-llama/Llama-2-7b-hf", gpu=1, workers="1"):
    ann = experiment["metadata"]["annotations"]
    ann[ANN + "model"] = model
    ann[ANN + "model-class"] = "AutoModelForCausalLM"
    ann[ANN + "resources-per-worker"] = '{"gpu": %d, "cpu": 4, "memory": "32Gi"}' % gpu
    ann[ANN + "workers"] = workers
    ann[ANN + "procs-per-worker"] = "1"
    # A causal LM prints eval_loss and eval_perplexity, not the example's eval_accuracy.
    experiment["spec"]["objective"] = {"type": "minimize", "objectiveMetricName": "eval_loss"}
    return experiment


def test_impossible_space_is_denied_naming_the_batch_size_parameter(experiment):
    exp = _gpu_experiment(experiment)
    exp["metadata"]["annotations"][ANN + "dataset-config"] = '{"max_length": 4096}'
    exp["metadata"]["annotations"][ANN + "training-args"] = '{"bf16": true}'
    result = admit(exp, _config(16))
    assert not result.allowed
    [err] = [e for e in result.errors if e.code.startswith("feasibility")]
    # spec.parameters[1] is per_device_train_batch_size in the example
    assert exp["spec"]["parameters"][1]["name"] == "per_device_train_batch_size"
    assert err.path == "spec.parameters[1]" and err.code == "feasibility.memory"
    assert "per_device_train_batch_size=8" in err.message and "GiB per GPU" in err.message
    assert "16 GiB" in err.message


def test_model_too_big_for_the_gpu_is_denied_at_the_model_annotation(experiment):
    exp = _gpu_experiment(experiment, model="hf://meta-llama/Llama-2-70b-hf")
    result = admit(exp, _config(80))
    [err] = [e for e in result.errors if e.code.startswith("feasibility")]
    assert err.path == f"metadata.annotations[{ANN}model]" and err.code == "feasibility.model"
    assert "280.0 GiB" not in err.message and "80 GiB" in err.message


def test_annotation_overrides_name_and_partial_fit_warns(experiment):
    exp = _gpu_experiment(experiment, model="hf://org/my-finetune")
    exp["metadata"]["annotations"][ANN + "model-parameters"] = "1.5B"
    result = admit(exp, _config(24))
    assert result.allowed, result.errors
    [warning] = [w for w in result.warnings if "feasibility.partial" in w]
    assert warning.startswith("spec.parameters[1]") and "per_device_train_batch_size up to 64" in warning


def test_whole_space_fits_without_warning(experiment):
    exp = _gpu_experiment(experiment, model="hf://facebook/opt-125m")
    result = admit(exp, _config(80))
    assert result.allowed and not [w for w in result.warnings if "feasibility" in w]


def test_cpu_trials_and_unknown_sizes_are_skipped(experiment):
    cpu = _gpu_experiment(experiment, model="hf://meta-llama/Llama-2-70b-hf", gpu=0)
    assert admit(cpu, _config(1)).allowed
    unknown = _gpu_experiment(experiment, model="hf://google-bert/bert-base-cased")
    result = admit(unknown, _config(1))
    assert result.allowed and not [w for w in result.warnings if "feasibility" in w]


def test_bad_model_parameters_annotation_is_denied(experiment):
    experiment["metadata"]["annotations"][ANN + "model-parameters"] = "seven billion"
    result = admit(experiment, _config(80))
    assert [e.code for e in result.errors] == ["model-parameters.format"]
    assert "7B" in result.errors[0].message


def test_gradient_checkpointing_in_the_space_rescues_the_smallest_configuration(experiment):
    exp = _gpu_experiment(experiment)
    exp["metadata"]["annotations"][ANN + "dataset-config"] = '{"max_length": 4096}'
    exp["metadata"]["annotations"][ANN + "training-args"] = '{"bf16": true}'
    exp["spec"]["parameters"].append({"name": "gradient_checkpointing", "parameterType": "categorical",
                                      "feasibleSpace": {"list": ["true", "false"]}})
    exp["spec"]["parameters"][1]["feasibleSpace"] = {"min": "1", "max": "8"}
    result = admit(exp, _config(24))
    assert result.allowed, result.errors
    assert any("feasibility.partial" in w for w in result.warnings)


def test_gib_constant():
    assert GIB == 2 ** 30


def test_validate_cli_rejects_the_impossible_space_naming_parameter_and_memory(experiment, tmp_path):
    """`katib-llm validate` runs the validating webhook's core: the same denial, as a user sees it."""
    import subprocess
    import sys

    import yaml

    exp = _gpu_experiment(experiment)
    exp["metadata"]["annotations"][ANN + "dataset-config"] = '{"max_length": 4096}'
    exp["metadata"]["annotations"][ANN + "training-args"] = '{"bf16": true}'
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(exp))
    (tmp_path / "values.yaml").write_text(yaml.safe_dump({"config": {"gpu": {"memoryGiB": 16}}}))
    done = subprocess.run([sys.executable, "-m", "katib_llm.cli", "validate", str(tmp_path / "exp.yaml"),
                           "--values", str(tmp_path / "values.yaml")], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    output = done.stdout + done.stderr
    assert "spec.parameters[1]" in output and "feasibility.memory" in output
    assert "GiB per GPU" in output and "16 GiB" in output and "Traceback" not in output


def test_sdk_tune_gets_the_pre_check_for_free():
    """tune() admits through the core: an impossible space is denied before anything is submitted."""
    from katib_llm import KatibClient, TrainingClient, search
    from katib_llm.sdk.errors import ExperimentDenied

    objective = TrainingClient().train(
        model_provider_parameters={"model_uri": "hf://meta-llama/Llama-2-70b-hf",
                                   "transformer_type": "AutoModelForCausalLM"},
        dataset_provider_parameters={"repo_id": "yelp_review_full", "split": "train[:3000]"}).metrics
    with pytest.raises(ExperimentDenied) as denied:
        KatibClient(namespace="kubeflow").tune(
            name="too-big", hp_space={"per_device_train_batch_size": search.int(min=1, max=8)},
            objective=objective, objective_metric_name="eval_loss", objective_type="minimize",
            resources_per_worker={"gpu": 1, "cpu": 4, "memory": "64Gi"}, max_trial_count=2,
            dry_run=True, values={"gpu": {"memoryGiB": 24}})
    codes = [e.code for e in denied.value.errors]
    assert codes == ["feasibility.model"] and "24 GiB" in denied.value.errors[0].message


def test_validating_webhook_denies_with_a_cause_per_field(experiment, tmp_path):
    """The webhook's /validate answers the AdmissionReview with the core's feasibility denial."""
    import json

    import yaml

    from katib_llm.webhook.app import create_app
    from katib_llm.webhook.sources import ConfigSource
    from tests.builders import review

    exp = _gpu_experiment(experiment)
    exp["metadata"]["annotations"][ANN + "dataset-config"] = '{"max_length": 4096}'
    exp["metadata"]["annotations"][ANN + "training-args"] = '{"bf16": true}'
    values = tmp_path / "config.yaml"
    values.write_text(yaml.safe_dump({"gpu": {"memoryGiB": 16}}))
    request = review(exp)
    uid = request["request"]["uid"]
    app = create_app(ConfigSource(str(values)))
    reply = app.test_client().post("/validate?timeout=10s", data=json.dumps(request),
                                   content_type="application/json")
    assert reply.status_code == 200
    response = reply.get_json()["response"]
    assert response["uid"] == uid and response["allowed"] is False
    causes = response["status"]["details"]["causes"]
    assert [(c["field"], c["reason"]) for c in causes] == [("spec.parameters[1]", "feasibility.memory")]
    assert "16 GiB" in causes[0]["message"]


def test_admin_default_gpus_count_when_the_experiment_sets_none(experiment):
    exp = _gpu_experiment(experiment, model="hf://meta-llama/Llama-2-70b-hf")
    del exp["metadata"]["annotations"][ANN + "resources-per-worker"]
    config, errors = load_config({"gpu": {"memoryGiB": 40},
                                  "defaultResourcesPerWorker": {"gpu": 1, "cpu": "4", "memory": "32Gi"}},
                                 load_templates())
    assert not errors
    assert [e.code for e in admit(exp, config).errors] == ["feasibility.model"]
