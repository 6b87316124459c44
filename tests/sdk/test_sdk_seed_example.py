"""The example of the Katib LLM tuning proposal (https://github.com/kubeflow/katib/issues/2291),
verbatim apart from imports (and dry_run=True where it says so)."""

from __future__ import annotations

import json

import pytest

from tests.katib_checks import admitted_errors, substitute

pytest.importorskip("transformers")
pytest.importorskip("peft")


def seed_example(KatibClient, tune_kwargs):
    """The proposal's "Example" section (kubeflow/katib#2291). Imports changed to katib_llm's; nothing else but the
    extra tune() keyword arguments the test passes (dry_run)."""
    import transformers
    from peft import LoraConfig

    from kubeflow.storage_initializer.hugging_face import (
        HuggingFaceModelParams,
        HuggingFaceDatasetParams,
        HuggingFaceTrainerParams,
    )
    from katib_llm import TrainingClient
    import katib_llm as katib

    # Create a Katib client
    katib_client = KatibClient(namespace='kubeflow')

    # Define an objective function leveraging the train API
    def objective(exp_name):
        result = TrainingClient().train(
            name=exp_name,
            # BERT model URI and type of Transformer to train it.
            model_provider_parameters=HuggingFaceModelParams(
                model_uri="hf://google-bert/bert-base-cased",
                transformer_type=transformers.AutoModelForSequenceClassification,
            ),
            # Use 3000 samples from Yelp dataset.
            dataset_provider_parameters=HuggingFaceDatasetParams(
                repo_id="yelp_review_full",
                split="train[:3000]",
            ),
            # Specify HuggingFace Trainer parameters.
            trainer_parameters=HuggingFaceTrainerParams(
                training_parameters=transformers.TrainingArguments(
                    output_dir="test_trainer",
                    save_strategy="no",
                    eval_strategy="epoch",
                    disable_tqdm=True,
                    log_level="info",
                ),
                # Set LoRA config to reduce number of trainable model parameters.
                lora_config=LoraConfig(
                    r=8,
                    lora_alpha=8,
                    lora_dropout=0.1,
                    bias="none",
                ),
            ),
        )
        return result.metrics

    # Define the hyperparameters search space
    hp_space = {
        "learning_rate": katib.search.double(min=1e-05, max=5e-05),
        "per_device_train_batch_size": katib.search.int(min=8, max=64),
        "num_train_epochs": katib.search.int(min=1, max=10),
        "weight_decay": katib.search.double(min=0.0, max=1.0),
        "lora_config.r": katib.search.int(min=8, max=32)
    }

    # Run the tuning Experiment
    exp_name = "llm-hp-optimization-test"
    admitted = katib_client.tune(
        name=exp_name,
        hp_space=hp_space,
        objective=objective(exp_name),
        objective_metric_name="eval_accuracy",
        objective_type="maximize",
        algorithm_name="random",
        max_trial_count=50,
        parallel_trial_count=2,
        resources_per_trial={
            "gpu": 8,
            "cpu": 20,
            "memory": "40G",
        },
        num_workers=4,
        num_procs_per_worker=2,
        resources_per_worker={
            "gpu": 2,
            "cpu": 5,
            "memory": "10G",
        },
        **tune_kwargs,
    )

    # Get the best hyperparameters
    best_hps = None if tune_kwargs.get("dry_run") else katib_client.get_optimal_hyperparameters(exp_name)
    return admitted, best_hps


def _annotations(exp):
    prefix = "llm.katib.kubeflow.org/"
    return {k[len(prefix):]: v for k, v in exp["metadata"]["annotations"].items() if k.startswith(prefix)}


def test_seed_example_dry_run_is_a_valid_admitted_experiment():
    from katib_llm import KatibClient

    admitted, _ = seed_example(KatibClient, {"dry_run": True})
    assert admitted_errors(admitted) == []
    ann = _annotations(admitted)
    assert ann["model"] == "hf://google-bert/bert-base-cased"
    assert ann["model-class"] == "AutoModelForSequenceClassification"
    assert ann["dataset"] == "hf://yelp_review_full?split=train[:3000]"
    assert ann["workers"] == "4" and ann["procs-per-worker"] == "2"
    assert json.loads(ann["resources-per-worker"]) == {"gpu": 2, "cpu": "5", "memory": "10G"}
    # Only what the proposal's example set, minus output_dir (the runtime owns it); transformers derives
    # do_eval from eval_strategy, so it differs from the default too.
    assert json.loads(ann["training-args"]) == {"save_strategy": "no", "eval_strategy": "epoch",
                                                "disable_tqdm": True, "log_level": "info", "do_eval": True}
    # r is tuned (lora_config.r) and lora_alpha=8 is peft's default: only lora_dropout is fixed.
    assert json.loads(ann["lora-config"]) == {"lora_dropout": 0.1}
    spec = admitted["spec"]
    assert [p["name"] for p in spec["parameters"]] == [
        "learning_rate", "per_device_train_batch_size", "num_train_epochs", "weight_decay", "lora_config.r"]
    assert spec["parameters"][0]["feasibleSpace"]["min"] == "1e-05"
    assert spec["maxTrialCount"] == 50 and spec["parallelTrialCount"] == 2
    job = substitute(admitted)
    assert job["kind"] == "PyTorchJob"
    replicas = job["spec"]["pytorchReplicaSpecs"]
    assert replicas["Master"]["replicas"] == 1 and replicas["Worker"]["replicas"] == 3
    limits = replicas["Worker"]["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": "5", "memory": "10G", "nvidia.com/gpu": "2"}


def test_seed_example_submits_to_the_cluster_stand_in(apiserver, tmp_path, monkeypatch):
    """Verbatim with no dry_run: KatibClient(namespace='kubeflow') loads a kubeconfig that points
    at the API server stand-in, the webhook's admission runs there, nothing is optimal yet."""
    monkeypatch.setenv("KUBECONFIG", str(apiserver.write_kubeconfig(tmp_path)))
    from katib_llm import KatibClient

    created, best = seed_example(KatibClient, {})
    assert best is None
    stored = apiserver.objects_of("experiments")[("kubeflow", "llm-hp-optimization-test")]
    assert stored["metadata"]["uid"] == created["metadata"]["uid"]
    assert admitted_errors(stored) == []
    assert ("POST", "/apis/kubeflow.org/v1beta1/namespaces/kubeflow/experiments") in apiserver.requests
