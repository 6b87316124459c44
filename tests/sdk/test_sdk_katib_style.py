"""A kubeflow-katib 0.19-style tune() call (its own argument names and parameter classes)."""

from __future__ import annotations

import json

import pytest

from tests.conformance.schemas import admitted_errors, substitute

pytest.importorskip("transformers")
pytest.importorskip("peft")


def test_katib_019_style_call_is_a_valid_admitted_experiment():
    import kubeflow.katib as katib
    import transformers
    from kubeflow.katib import TrainerResources
    from kubeflow.storage_initializer.hugging_face import (
        HuggingFaceDatasetParams,
        HuggingFaceModelParams,
        HuggingFaceTrainerParams,
    )
    from peft import LoraConfig

    from katib_llm import KatibClient

    cl = KatibClient(namespace="kubeflow")
    admitted = cl.tune(
        name="llm-katib-style",
        model_provider_parameters=HuggingFaceModelParams(
            model_uri="hf://google-bert/bert-base-cased",
            transformer_type=transformers.AutoModelForSequenceClassification,
            num_labels=5,
        ),
        dataset_provider_parameters=HuggingFaceDatasetParams(repo_id="yelp_review_full", split="train[:3000]"),
        trainer_parameters=HuggingFaceTrainerParams(
            training_parameters=transformers.TrainingArguments(
                output_dir="results",
                save_strategy="no",
                learning_rate=katib.search.double(min=1e-05, max=5e-05),
                num_train_epochs=2,
            ),
            lora_config=LoraConfig(r=katib.search.int(min=8, max=32), lora_alpha=8, lora_dropout=0.1,
                                   bias="none"),
        ),
        objective_metric_name="train_loss",
        objective_type="minimize",
        algorithm_name="random",
        max_trial_count=10,
        parallel_trial_count=2,
        resources_per_trial=TrainerResources(num_workers=2, num_procs_per_worker=2,
                                             resources_per_worker={"gpu": "2", "cpu": "5", "memory": "10Gi"}),
        dry_run=True,
    )
    assert admitted_errors(admitted) == []
    ann = {k.split("/", 1)[1]: v for k, v in admitted["metadata"]["annotations"].items()
           if k.startswith("llm.katib.kubeflow.org/")}
    assert json.loads(ann["dataset-config"]) == {"num_labels": 5}
    assert json.loads(ann["training-args"]) == {"save_strategy": "no", "num_train_epochs": 2}
    assert ann["workers"] == "2" and ann["procs-per-worker"] == "2"
    params = {p["name"]: p for p in admitted["spec"]["parameters"]}
    assert params["learning_rate"]["feasibleSpace"] == {"min": "1e-05", "max": "5e-05", "distribution": "uniform"}
    assert params["lora_config.r"]["parameterType"] == "int"
    job = substitute(admitted, {"learning_rate": "2e-05", "lora_config.r": "16"})
    env = {e["name"]: e["value"] for e in job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
           ["containers"][0]["env"]}
    assert json.loads(env["KATIB_LLM_HPARAMS"]) == {"learning_rate": "2e-05", "lora_config.r": "16"}


def test_katib_019_style_function_objective_with_parameters():
    import kubeflow.katib as katib

    from katib_llm import KatibClient

    def objective(parameters):
        import math
        return {"score": -math.pow(parameters["x"] - 2, 2)}

    admitted = KatibClient(namespace="kubeflow").tune(
        name="fn-katib-style", objective=objective,
        parameters={"x": katib.search.double(min=-5, max=5)},
        objective_metric_name="score", max_trial_count=6, parallel_trial_count=3,
        base_image="python:3.11-slim", packages_to_install=["numpy"],
        pip_index_urls=["https://pypi.org/simple"], dry_run=True)
    assert admitted_errors(admitted) == []
    job = substitute(admitted)
    assert job["kind"] == "Job"
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == "python:3.11-slim"
    env = {e["name"]: e["value"] for e in container["env"]}
    assert json.loads(env["KATIB_LLM_PACKAGES"]) == ["numpy"]
    assert json.loads(env["KATIB_LLM_PIP_INDEX_URLS"]) == ["https://pypi.org/simple"]
    assert env["KATIB_LLM_FUNCTION"] == admitted["metadata"]["annotations"]["llm.katib.kubeflow.org/function"]


def test_distributed_function_objective_with_resource_requirements():
    """num_workers > 1 selects the function-pytorchjob template; a V1ResourceRequirements per
    trial is split over the workers."""
    from kubernetes import client as k8s

    from katib_llm import KatibClient, search

    def objective(parameters):
        return {"loss": parameters["x"] ** 2}

    admitted = KatibClient(namespace="kubeflow").tune(
        name="fn-distributed", objective=objective, hp_space={"x": search.double(-2, 2)},
        objective_metric_name="loss", objective_type="minimize", max_trial_count=2, num_workers=2,
        resources_per_trial=k8s.V1ResourceRequirements(limits={"cpu": "4", "memory": "8Gi"}), dry_run=True)
    assert admitted_errors(admitted) == []
    job = substitute(admitted)
    assert job["kind"] == "PyTorchJob"
    for replica in job["spec"]["pytorchReplicaSpecs"].values():
        assert replica["template"]["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
