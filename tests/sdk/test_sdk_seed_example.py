"""The example of the Katib LLM tuning proposal (https://github.com/kubeflow/katib/issues/2291),
verbatim apart from imports (and dry_run=True where it says so)."""

from __future__ import annotations

import json

import pytest

from tests.conformance.schemas import admitted_errors, substitute

pytest.importorskip("transformers")
pytest.importorskip("peft")


def seed_example(KatibClient, tune_kwargs, wait=False):
    """The proposal's "Example" section (kubeflow/katib#2291). Imports changed to katib_llm's;
    nothing else but the extra tune() keyword arguments the test passes (dry_run) and, with
    ``wait``, kubeflow-katib's wait_for_experiment_condition before the last line (as its users
    write it)."""
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

    if wait:
        katib_client.wait_for_experiment_condition(name=exp_name)

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


def test_seed_example_end_to_end_against_the_cluster_stand_in(apiserver, tmp_path, monkeypatch):
    """create → wait → optimal with the proposal's code (kubeflow/katib#2291), then kubeflow-katib 0.19's reads
    (get_experiment, list_trials, get_success_trial_details, get_trial_metrics) on the Experiment
    a Katib controller stand-in runs (tests/sdk/katib_stand_in.py), with whatever kubernetes client
    is installed (the subprocess test below runs this with the oldest one we allow)."""
    import kubernetes
    from tests.sdk.katib_stand_in import db_manager, run_experiment_like_katib

    import os
    expected = os.environ.get("KATIB_LLM_TEST_KUBERNETES_VERSION")
    if expected:
        assert kubernetes.__version__ == expected
    monkeypatch.setenv("KUBECONFIG", str(apiserver.write_kubeconfig(tmp_path)))
    from katib_llm import KatibClient
    from kubeflow.katib import models

    name = "llm-hp-optimization-test"
    controller = run_experiment_like_katib(apiserver, "kubeflow", name)
    clients = []

    class Recording(KatibClient):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            clients.append(self)

    created, best = seed_example(Recording, {}, wait=True)
    controller.join(5)
    assert created["metadata"]["name"] == name
    # The optimal trial, typed, as Katib's controller recorded it.
    assert best.trial_name == f"{name}-x7k2p9qd" and best.objective_value == 0.6133333333333333
    assert best.parameters["per_device_train_batch_size"] == 16 and best.parameters["lora_config.r"] == 24
    client = clients[0]
    experiment = client.get_experiment(name)
    assert isinstance(experiment, models.V1beta1Experiment)
    assert experiment.metadata.labels["llm.katib.kubeflow.org/tune"] == "true"
    assert experiment.status.current_optimal_trial.best_trial_name == best.trial_name
    assert client.is_experiment_succeeded(name) and client.get_experiment_conditions(name)[-1].type == "Succeeded"
    trials = client.list_trials(name)
    assert sorted(t.metadata.name for t in trials) == [f"{name}-b4n8m2lz", f"{name}-x7k2p9qd"]
    assert all(isinstance(t, models.V1beta1Trial) and t.metadata.labels for t in trials)
    assert [d["name"] for d in client.get_success_trial_details(name)] == [f"{name}-x7k2p9qd"]
    assert client.get_trial(f"{name}-b4n8m2lz").status.conditions[-1].type == "EarlyStopped"
    rows = {f"{name}-x7k2p9qd": [("2026-11-29T18:10:00Z", "eval_accuracy", "0.4826666666666667"),
                                 ("2026-11-29T18:20:00Z", "eval_accuracy", "0.6133333333333333")]}
    with db_manager(rows) as address:
        logs = client.get_trial_metrics(f"{name}-x7k2p9qd", db_manager_address=address)
    assert [(m.metric.name, m.metric.value) for m in logs] == [(n, v) for _, n, v in rows[f"{name}-x7k2p9qd"]]
    frame = client.trials_dataframe(name)
    assert list(frame["name"]) == [f"{name}-x7k2p9qd", f"{name}-b4n8m2lz"]
    assert list(frame["state"]) == ["Succeeded", "EarlyStopped"]
    assert list(frame["eval_accuracy"]) == [0.6133333333333333, 0.35]
    assert list(frame["per_device_train_batch_size"]) == [16, 57]
    assert list(frame["wall_time_s"]) == [38 * 60.0, 38 * 60.0]
    assert frame["stop_reason"][1].startswith("TrialEarlyStopped")
    # The same from the CLI: report.html and trials.csv of the cluster Experiment.
    from katib_llm.cli.main import main

    assert main(["report", name, "--cluster", "--namespace", "kubeflow", "--out", str(tmp_path / "report")]) == 0
    page = (tmp_path / "report" / "report.html").read_text()
    # 1 trial with an objective: no importance (it would rank noise), no intermediate curves; static images.
    assert page.count('src="data:image/png;base64,') == 4 and "<script" not in page
    assert "importance: not drawn, 1 trials with an objective; it needs 15 to mean something" in page
    assert "<td>TrialEarlyStopped</td>" in page
    assert len((tmp_path / "report" / "trials.csv").read_text().splitlines()) == 3


def test_seed_example_end_to_end_with_the_oldest_kubernetes_client_allowed(tmp_path):
    """The test above in a subprocess whose ``kubernetes`` is the lowest version pyproject allows
    (installed once into a cache dir with pip; skipped when no package index or cache is reachable)."""
    import os
    import re
    import subprocess
    import sys
    from pathlib import Path

    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    lowest = re.search(r'"kubernetes>=(\d+)[^"]*"', pyproject).group(1)
    version = f"{lowest}.0.0"
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "katib-llm-tests" / f"kubernetes-{version}"
    if not (cache / "kubernetes" / "__init__.py").is_file():
        # kubernetes < 30 needs google-auth (and its own deps), which newer clients do not.
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(cache),
                               f"kubernetes=={version}", "google-auth", "cachetools", "pyasn1-modules", "rsa", "pyasn1"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot install kubernetes=={version} (no package index?): {done.stderr[-300:]}")
    env = dict(os.environ, KATIB_LLM_TEST_KUBERNETES_VERSION=version,
               PYTHONPATH=os.pathsep.join([str(cache), *filter(None, [os.environ.get("PYTHONPATH")])]))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", __file__, "-k",
                          "end_to_end_against_the_cluster_stand_in"], cwd=Path(__file__).resolve().parents[2],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "1 passed" in run.stdout
