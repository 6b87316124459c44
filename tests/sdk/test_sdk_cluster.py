"""The SDK against the in-process API server stand-in (see tests/kube_apiserver.py): submit, results,
progress, providers, volume claims, and kubeflow-katib's inherited Trial/Suggestion calls."""

from __future__ import annotations

import json
import logging
import threading
import time
from pathlib import Path

import pytest

from katib_llm import KatibClient, TrainingClient, search
from katib_llm.sdk.client import submit_experiment
from katib_llm.sdk.errors import ExperimentDenied, TuneArgumentError
from katib_llm.io.kube import KubeApi

from tests.conformance.schemas import admitted_errors

DATA = Path(__file__).resolve().parent / "data"
SEED_SPACE = {
    "learning_rate": search.double(min=1e-05, max=5e-05),
    "per_device_train_batch_size": search.int(min=8, max=64),
    "num_train_epochs": search.int(min=1, max=10),
    "weight_decay": search.double(min=0.0, max=1.0),
    "lora_config.r": search.int(min=8, max=32),
}


def _llm(model="hf://google-bert/bert-base-cased"):
    return TrainingClient().train(model_provider_parameters={"model_uri": model,
                                                             "transformer_type": "AutoModelForSequenceClassification"},
                                  dataset_provider_parameters={"repo_id": "yelp_review_full",
                                                               "split": "train[:3000]"}).metrics


def _tune(client, name="llm-hp-optimization-test", **kwargs):
    args = dict(name=name, hp_space=SEED_SPACE, objective=_llm(), objective_metric_name="eval_accuracy",
                objective_type="maximize", additional_metric_names=["eval_loss", "train_loss"],
                max_trial_count=4, parallel_trial_count=2)
    args.update(kwargs)
    return client.tune(**args)


def test_recorded_status_follows_the_katib_schema(client, apiserver):
    created = _tune(client)
    status = json.loads((DATA / "experiment_status_succeeded.json").read_text())
    assert admitted_errors({**created, "status": status}) == []


def test_get_optimal_hyperparameters_types_values(client, apiserver):
    _tune(client)
    assert client.get_optimal_hyperparameters("llm-hp-optimization-test") is None  # no trial reported yet
    status = json.loads((DATA / "experiment_status_succeeded.json").read_text())
    apiserver.put_status("experiments", "kubeflow", "llm-hp-optimization-test", status)
    best = client.get_optimal_hyperparameters("llm-hp-optimization-test")
    assert best.trial_name == "llm-hp-optimization-test-x7k2p9qd"
    assert best.parameters == {"learning_rate": 3.1862946028473366e-05, "per_device_train_batch_size": 16,
                               "num_train_epochs": 3, "weight_decay": 0.04513781420290742, "lora_config.r": 24}
    assert [type(v) for v in best.parameters.values()] == [float, int, int, float, int]
    # maximize → Katib's "max" strategy for the objective; "min" for eval_loss? no: additional
    # metrics keep the strategy the defaulter gave them (max, as the objective is maximised).
    assert best.objective_metric_name == "eval_accuracy" and best.objective_value == 0.6133333333333333
    assert best.metrics["train_loss"] is None  # Katib's "unavailable"


def test_categorical_optimal_value_stays_a_string(client, apiserver):
    _tune(client, name="cat", hp_space={"optim": search.categorical(["adamw_torch", "sgd"])})
    apiserver.put_status("experiments", "kubeflow", "cat", {"currentOptimalTrial": {
        "bestTrialName": "cat-1", "parameterAssignments": [{"name": "optim", "value": "sgd"}],
        "observation": {"metrics": [{"name": "eval_accuracy", "min": "0.5", "max": "0.7", "latest": "0.6"}]}}})
    assert client.get_optimal_hyperparameters("cat").parameters == {"optim": "sgd"}


def test_wait_for_experiment_follows_the_watch_and_logs_progress(client, apiserver, caplog):
    _tune(client)
    final = json.loads((DATA / "experiment_status_succeeded.json").read_text())
    running = {"conditions": [{"type": "Running", "status": "True", "reason": "ExperimentRunning"}],
               "trialsRunning": 2, "trials": 2}

    def controller():  # what Katib's controller would write, over time
        time.sleep(0.3)
        apiserver.put_status("experiments", "kubeflow", "llm-hp-optimization-test", running)
        time.sleep(0.3)
        apiserver.put_status("experiments", "kubeflow", "llm-hp-optimization-test", final)

    thread = threading.Thread(target=controller)
    thread.start()
    with caplog.at_level(logging.INFO, logger="katib_llm.sdk.client"):
        done = client.wait_for_experiment("llm-hp-optimization-test", timeout=30)
    thread.join()
    assert done["status"]["trialsSucceeded"] == 3
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0].startswith("llm-hp-optimization-test: Pending")
    assert any("Running; trials 0 succeeded, 2 running" in line for line in lines)
    assert lines[-1].endswith("best eval_accuracy=0.613333 (llm-hp-optimization-test-x7k2p9qd)")
    assert any("watch=true" in path for _, path in apiserver.requests)


def test_wait_for_failed_experiment_raises(client, apiserver):
    _tune(client)
    apiserver.put_status("experiments", "kubeflow", "llm-hp-optimization-test",
                         {"conditions": [{"type": "Failed", "status": "True", "reason": "ExperimentFailed"}]})
    with pytest.raises(RuntimeError, match="failed"):
        client.wait_for_experiment("llm-hp-optimization-test", timeout=5, show_progress=False)


def test_providers_round_trip_and_reach_admission(client, apiserver):
    client.register_provider("lakefs", image="registry.example.com/lakefs-fetch:1.2",
                             command=["python", "-m", "lakefs_fetch"], args=["{uri}", "--out", "{target}"],
                             secret="lakefs-credentials")
    assert client.list_providers() == [{"scheme": "lakefs", "image": "registry.example.com/lakefs-fetch:1.2",
                                        "command": ["python", "-m", "lakefs_fetch"],
                                        "args": ["{uri}", "--out", "{target}"], "secret": "lakefs-credentials"}]
    # Re-registering replaces the declaration.
    client.register_provider("lakefs", image="registry.example.com/lakefs-fetch:1.3",
                             command=["lakefs-fetch"], args=["{uri}", "{target}"])
    assert [p["image"] for p in client.list_providers()] == ["registry.example.com/lakefs-fetch:1.3"]
    created = _tune(client, name="custom", objective=_llm(model="lakefs://repo/main/bert"))
    init = created["spec"]["trialTemplate"]["trialSpec"]["spec"]["pytorchReplicaSpecs"]["Master"]["template"][
        "spec"]["initContainers"][0]
    assert init["image"] == "registry.example.com/lakefs-fetch:1.3"
    assert init["args"][0] == "lakefs://repo/main/bert"
    client.delete_provider("lakefs")
    assert client.list_providers() == []
    with pytest.raises(ExperimentDenied, match="unknown scheme 'lakefs'"):
        _tune(client, name="custom-2", objective=_llm(model="lakefs://repo/main/bert"))
    assert ("kubeflow", "custom-2") not in apiserver.objects_of("experiments")


def test_bad_provider_is_refused_before_writing(client, apiserver):
    with pytest.raises(TuneArgumentError) as info:
        client.register_provider("Bad Scheme", image="img:1", command=["fetch"], args=[])
    assert info.value.argument == "scheme"
    assert not [k for k in apiserver.objects_of("configmaps")]


def test_storage_config_creates_the_claim_owned_by_the_experiment(client, apiserver):
    created = _tune(client, storage_config={"size": "20Gi", "storage_class": "nfs-client",
                                            "access_modes": ["ReadWriteMany"]})
    claim = apiserver.objects_of("persistentvolumeclaims")[("kubeflow", "llm-hp-optimization-test-llm-cache")]
    assert claim["spec"] == {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "20Gi"}},
                             "storageClassName": "nfs-client"}
    assert claim["metadata"]["ownerReferences"][0]["uid"] == created["metadata"]["uid"]
    volumes = created["spec"]["trialTemplate"]["trialSpec"]["spec"]["pytorchReplicaSpecs"]["Master"]["template"][
        "spec"]["volumes"]
    assert volumes[0]["persistentVolumeClaim"]["claimName"] == "llm-hp-optimization-test-llm-cache"


def test_existing_claim_and_retention(client, apiserver):
    created = _tune(client, storage_config={"claim_name": "team-cache"}, retain_trials=True,
                    early_stopping={"algorithm": "medianstop", "min_trials_required": 2, "start_step": 3})
    spec = created["spec"]
    assert spec["trialTemplate"]["retain"] is True
    assert spec["earlyStopping"] == {"algorithmName": "medianstop", "algorithmSettings": [
        {"name": "min_trials_required", "value": "2"}, {"name": "start_step", "value": "3"}]}
    assert not [k for k in apiserver.objects_of("persistentvolumeclaims")]
    claim = spec["trialTemplate"]["trialSpec"]["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"][
        "volumes"][0]["persistentVolumeClaim"]["claimName"]
    assert claim == "team-cache"


def test_submit_experiment_for_the_cli(apiserver):
    api = KubeApi(apiserver.configuration())
    experiment = _tune(KatibClient(namespace="kubeflow"), name="from-file", dry_run=True)
    created = submit_experiment({k: v for k, v in experiment.items() if k != "status"}, "team-a", api)
    assert created["metadata"]["namespace"] == "team-a" and created["metadata"]["uid"]
    with pytest.raises(Exception) as info:
        submit_experiment(experiment, "team-a", api)
    assert getattr(info.value, "status", None) == 409


def test_trials_suggestions_and_inherited_calls(client, apiserver):
    """Trials as plain dicts by the Experiment's label; kubeflow-katib's own get_suggestion and
    delete_experiment work on the subclass (their clients are built on demand)."""
    _tune(client)
    api = KubeApi(apiserver.configuration())
    for name, experiment in (("llm-hp-optimization-test-x7k2p9qd", "llm-hp-optimization-test"),
                             ("other-1", "other")):
        api.create("trials", "kubeflow", {
            "apiVersion": "kubeflow.org/v1beta1", "kind": "Trial",
            "metadata": {"name": name, "namespace": "kubeflow",
                         "labels": {"katib.kubeflow.org/experiment": experiment}},
            "spec": {"objective": {"type": "maximize", "objectiveMetricName": "eval_accuracy"},
                     "parameterAssignments": [{"name": "learning_rate", "value": "3e-05"}]}})
    assert [t["metadata"]["name"] for t in client.list_trial_dicts("llm-hp-optimization-test")] == [
        "llm-hp-optimization-test-x7k2p9qd"]
    api.create("suggestions", "kubeflow", {"apiVersion": "kubeflow.org/v1beta1", "kind": "Suggestion",
                                           "metadata": {"name": "llm-hp-optimization-test", "namespace": "kubeflow"},
                                           "spec": {"algorithm": {"algorithmName": "random"}, "requests": 2}})
    assert client.get_suggestion("llm-hp-optimization-test").spec.requests == 2
    client.delete_experiment("llm-hp-optimization-test")
    assert ("kubeflow", "llm-hp-optimization-test") not in apiserver.objects_of("experiments")


def test_bad_arguments_send_nothing(client, apiserver):
    with pytest.raises(TuneArgumentError):
        _tune(client, parallel_trial_count=9)
    with pytest.raises(ExperimentDenied):
        _tune(client, objective=_llm(model="gcs://bucket/model"))
    assert [r for r in apiserver.requests if r[0] != "GET"] == []


def test_dry_run_equals_what_the_webhook_stores(client, apiserver):
    """One core: the Experiment tune(dry_run=True) returns is the one admission stores."""
    dry = _tune(client, dry_run=True)
    created = _tune(client)
    strip = ("uid", "resourceVersion", "creationTimestamp")
    created["metadata"] = {k: v for k, v in created["metadata"].items() if k not in strip}
    assert created == dry
