"""report_to (MLflow, W&B): passed to every trial's TrainingArguments, each run named after its
trial and tagged with the Experiment and hyperparameters; credentials by Secret reference only."""

from __future__ import annotations

import json

import pytest
from tests.conformance.schemas import admitted_errors, substitute

from katib_llm import KatibClient, TrainingClient, search
from katib_llm.core.admit import admit
from katib_llm.runtime import tracking
from katib_llm.sdk.errors import ExperimentDenied, TuneArgumentError


def _tune(**kwargs):
    return KatibClient(namespace="kubeflow").tune(
        name="tracked", hp_space={"learning_rate": search.double(1e-5, 5e-5)},
        objective=TrainingClient().train(model_provider_parameters={"model_uri": "hf://google-bert/bert-base-cased"},
                                         dataset_provider_parameters={"repo_id": "yelp_review_full"}).metrics,
        objective_metric_name="eval_accuracy", max_trial_count=2, dry_run=True, **kwargs)


def _env(exp):
    job = substitute(exp)
    (replica,) = job["spec"]["pytorchReplicaSpecs"].values()
    return {e["name"]: e for e in replica["template"]["spec"]["containers"][0]["env"]}


def test_report_to_and_secret_reach_every_trial():
    exp = _tune(report_to=["mlflow", "wandb"], tracking_secret="tracker-creds",
                env_per_trial={"MLFLOW_TRACKING_URI": "http://mlflow.mlflow:5000"})
    assert admitted_errors(exp) == []
    ann = exp["metadata"]["annotations"]
    assert json.loads(ann["llm.katib.kubeflow.org/training-args"])["report_to"] == ["mlflow", "wandb"]
    env = _env(exp)
    assert env["KATIB_LLM_TRIAL_NAME"]["value"] == "trial-abc123"  # Katib substitutes ${trialSpec.Name}
    assert env["KATIB_LLM_EXPERIMENT_NAME"]["value"] == "tracked"
    assert env["MLFLOW_TRACKING_URI"]["value"] == "http://mlflow.mlflow:5000"
    for key in ("WANDB_API_KEY", "MLFLOW_TRACKING_TOKEN"):
        assert env[key] == {"name": key, "valueFrom": {"secretKeyRef": {"name": "tracker-creds", "key": key,
                                                                        "optional": True}}}
    assert "report_to" in json.loads(env["KATIB_LLM_TRAINING_ARGS"]["value"])


def test_credentials_never_travel_in_the_experiment():
    with pytest.raises(TuneArgumentError):
        _tune(report_to="wandb", env_per_trial={"WANDB_API_KEY": "abc"})
    with pytest.raises(ExperimentDenied, match="tracking-secret"):
        _tune(report_to="wandb", tracking_secret="Not_A_Name")


def test_env_annotation_with_a_tracker_token_is_denied(admin_config):
    exp = _tune()
    exp["metadata"]["annotations"]["llm.katib.kubeflow.org/env"] = json.dumps({"MLFLOW_TRACKING_TOKEN": "s3cr3t-value"})
    for key in list(exp["metadata"]["annotations"]):
        if key.endswith("/admitted"):
            del exp["metadata"]["annotations"][key]
    exp["spec"].pop("trialTemplate", None)
    result = admit(exp, admin_config)
    assert not result.allowed and "credentials never travel" in str(result.errors[0])
    assert "s3cr3t-value" not in str(result.errors)


def test_the_trainer_names_and_tags_the_run():
    environ = {"KATIB_LLM_TRIAL_NAME": "tracked-abc", "KATIB_LLM_EXPERIMENT_NAME": "tracked",
               "WANDB_RUN_GROUP": "mine"}
    hparams = {"learning_rate": "3e-05", "lora_config.r": "16"}
    assert tracking.apply(["mlflow", "wandb"], environ, hparams) == "tracked-abc"
    assert json.loads(environ["MLFLOW_TAGS"]) == {"katib.experiment": "tracked", "katib.trial": "tracked-abc",
                                                  "hp.learning_rate": "3e-05", "hp.lora_config.r": "16"}
    assert environ["MLFLOW_EXPERIMENT_NAME"] == "tracked" and environ["WANDB_NAME"] == "tracked-abc"
    assert environ["WANDB_RUN_GROUP"] == "mine"  # the user's own setting wins
    assert environ["WANDB_TAGS"].split(",") == ["katib-experiment=tracked", "learning_rate=3e-05", "lora_config.r=16"]
    untouched = {"KATIB_LLM_TRIAL_NAME": "t"}
    assert tracking.apply([], untouched, hparams) is None and tracking.apply("none", untouched, {}) is None
    assert untouched == {"KATIB_LLM_TRIAL_NAME": "t"}
    assert tracking.trackers("all") == ["mlflow", "wandb"]
