"""The KServe InferenceService for an Experiment's best trial, and the promotion Job."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from katib_llm.core.uris import parse_uri
from katib_llm.deploy import DeployError, deploy_best, inference_service, promotion_job

ANN = "llm.katib.kubeflow.org/"


def _succeeded(experiment, causal=False):
    if causal:
        experiment["metadata"]["annotations"][ANN + "model"] = "hf://Qwen/Qwen2.5-0.5B"
        experiment["metadata"]["annotations"][ANN + "model-class"] = "AutoModelForCausalLM"
    experiment["status"] = {
        "currentOptimalTrial": {
            "bestTrialName": "llm-hp-optimization-test-x7k2p",
            "parameterAssignments": [{"name": "learning_rate", "value": "3e-05"},
                                     {"name": "lora_config.r", "value": "24"}],
            "observation": {"metrics": [{"name": "eval_accuracy", "latest": "0.81", "max": "0.81", "min": "0.5"}]}},
        "succeededTrialList": ["llm-hp-optimization-test-x7k2p", "llm-hp-optimization-test-abcde"],
        "failedTrialList": ["llm-hp-optimization-test-fffff"],
        "conditions": [{"type": "Succeeded", "status": "True"}]}
    return experiment


def _key(uri):
    return parse_uri(uri, "x", "model", {"hf"}, []).key


def test_causal_lm_is_served_by_vllm_with_the_promoted_lora_adapter(experiment, admin_config):
    isvc = inference_service(_succeeded(experiment, causal=True), admin_config)
    assert isvc["apiVersion"] == "serving.kserve.io/v1beta1" and isvc["kind"] == "InferenceService"
    assert isvc["metadata"] == {"name": "llm-hp-optimization-test", "namespace": "kubeflow",
                                "labels": {"llm.katib.kubeflow.org/experiment": "llm-hp-optimization-test"},
                                "annotations": {"llm.katib.kubeflow.org/best-trial": "llm-hp-optimization-test-x7k2p",
                                                "llm.katib.kubeflow.org/best-parameters":
                                                    '{"learning_rate": "3e-05", "lora_config.r": "24"}'}}
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "huggingface"}
    assert model["storageUri"] == "pvc://llm-hp-optimization-test-llm-cache"  # the claim the trials wrote to
    assert model["args"] == [
        "--model_name=llm-hp-optimization-test", "--backend=vllm",
        f"--model_dir=/mnt/models/inputs/{_key('hf://Qwen/Qwen2.5-0.5B')}", "--enable-lora",
        "--max-lora-rank=32",  # best r = 24 -> the next rank vLLM accepts
        "--lora-modules=llm-hp-optimization-test-lora=/mnt/models/experiments/llm-hp-optimization-test/best"]
    assert model["resources"]["limits"] == {"cpu": "5", "memory": "10G", "nvidia.com/gpu": "1"}


def test_classifier_is_served_merged_by_the_huggingface_backend(experiment, admin_config):
    isvc = inference_service(_succeeded(experiment), admin_config, namespace="serving")
    model = isvc["spec"]["predictor"]["model"]
    assert isvc["metadata"]["namespace"] == "serving"
    assert model["args"] == ["--model_name=llm-hp-optimization-test", "--backend=huggingface",
                             "--model_dir=/mnt/models/experiments/llm-hp-optimization-test/best/merged",
                             "--return_probabilities", "--task=sequence_classification"]


def test_from_trial_and_existing_claim(experiment, admin_config):
    exp = _succeeded(experiment, causal=True)
    exp["metadata"]["annotations"][ANN + "volume-claim"] = "team-models"
    model = inference_service(exp, admin_config, from_trial=True)["spec"]["predictor"]["model"]
    assert model["storageUri"] == "pvc://team-models"
    assert model["args"][-1].endswith("/experiments/llm-hp-optimization-test/llm-hp-optimization-test-x7k2p")


@pytest.mark.parametrize("change, message", [
    (lambda e: e.pop("status"), "no best trial yet"),
    (lambda e: e["metadata"]["labels"].clear(), "not an LLM tuning Experiment"),
    (lambda e: e["metadata"]["annotations"].pop(ANN + "model"), "names no model"),
    (lambda e: e["metadata"]["annotations"].__setitem__(ANN + "workers", "many"), "bad annotations"),
])
def test_undeployable_experiments_say_why(experiment, admin_config, change, message):
    exp = _succeeded(experiment)
    change(exp)
    with pytest.raises(DeployError, match=message):
        inference_service(exp, admin_config)


def test_classifier_from_trial_is_refused(experiment, admin_config):
    with pytest.raises(DeployError, match="cannot apply a LoRA adapter"):
        inference_service(_succeeded(experiment), admin_config, from_trial=True)


def test_long_names_stay_within_kserve_limits(experiment, admin_config):
    exp = _succeeded(experiment)
    exp["metadata"]["name"] = "x" * 60
    name = inference_service(exp, admin_config)["metadata"]["name"]
    assert len(name) <= 45 and name.startswith("x")


class _Reader:
    """Reads Experiments like KatibClient.get_experiment_dict (dry run: no cluster needed)."""

    namespace = "kubeflow"

    def __init__(self, experiment):
        self.experiment = experiment
        self.calls = []

    def get_experiment_dict(self, name, namespace=None):
        self.calls.append((name, namespace))
        return self.experiment


def test_deploy_best_dry_run_reads_through_the_client(experiment):
    reader = _Reader(_succeeded(experiment, causal=True))
    manifest = deploy_best(reader, "llm-hp-optimization-test", dry_run=True)
    assert reader.calls == [("llm-hp-optimization-test", "kubeflow")]
    assert manifest["kind"] == "InferenceService"


def test_promotion_job_is_a_valid_batch_job(experiment, admin_config):
    import kubernetes_validate

    job = promotion_job(_succeeded(experiment), admin_config)
    kubernetes_validate.validate(job, "1.33", strict=True)
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] == ["python", "-m", "katib_llm.deploy.adapters"]
    args = container["args"]
    assert args[:6] == ["--experiment-dir", "/workspace/experiments/llm-hp-optimization-test",
                        "--best", "llm-hp-optimization-test-x7k2p", "--objective-type", "maximize"]
    assert args.count("--trial") == 3 and "--retain" not in args and "--merge" in args
    assert job["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == \
        "llm-hp-optimization-test-llm-cache"
    experiment["metadata"]["annotations"][ANN + "retain-trials"] = "true"
    assert "--retain" in promotion_job(experiment, admin_config)["spec"]["template"]["spec"]["containers"][0]["args"]


def test_cli_dry_run_prints_the_manifest(experiment, tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(yaml.safe_dump(_succeeded(experiment, causal=True)))
    cli = [sys.executable, "-m", "katib_llm.cli", "deploy", "-f", str(path), "--dry-run"]
    done = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load(done.stdout)["spec"]["predictor"]["model"]["modelFormat"]["name"] == "huggingface"
    job = subprocess.run(cli + ["--promotion-job"], capture_output=True, text=True, timeout=60)
    assert yaml.safe_load(job.stdout)["kind"] == "Job"
    path.write_text(yaml.safe_dump({**experiment, "status": {}}))
    bad = subprocess.run(cli, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr.startswith("error: ") and "Traceback" not in bad.stderr
    missing = subprocess.run([sys.executable, "-m", "katib_llm.cli", "deploy"], capture_output=True, text=True)
    assert missing.returncode == 2 and "EXPERIMENT" in missing.stderr


def test_deploy_best_creates_then_replaces_through_the_kubernetes_api(experiment):
    from katib_llm import KatibClient
    from tests.kube_apiserver import KubeApiServer

    exp = _succeeded(experiment, causal=True)
    with KubeApiServer([exp]) as api:
        client = KatibClient(namespace="kubeflow", client_configuration=api.configuration())
        created = deploy_best(client, "llm-hp-optimization-test")
        assert created["metadata"]["resourceVersion"] == "1"
        stored = api.objects_of("inferenceservices")[("kubeflow", "llm-hp-optimization-test")]
        assert stored["spec"]["predictor"]["model"]["args"][-1].endswith("/experiments/llm-hp-optimization-test/best")
        again = deploy_best(client, "llm-hp-optimization-test")  # exists: replaced, not an error
        assert again["metadata"]["resourceVersion"] == "2"
        assert [m for m, _ in api.requests if "inferenceservices" in _] == ["POST", "POST", "GET", "PUT"]


def test_deploy_best_without_kserve_or_experiment_says_so(experiment):
    from katib_llm import KatibClient
    from tests.kube_apiserver import KubeApiServer

    with KubeApiServer([_succeeded(experiment)], not_installed=["inferenceservices"]) as api:
        client = KatibClient(namespace="kubeflow", client_configuration=api.configuration())
        with pytest.raises(DeployError, match="install KServe"):
            deploy_best(client, "llm-hp-optimization-test")
        with pytest.raises(DeployError, match="kubeflow/missing not found"):
            deploy_best(client, "missing")


def test_client_deploy_best_method(experiment):
    """The SDK's `KatibClient.deploy_best` is the same path as `katib_llm.deploy.deploy_best`."""
    from katib_llm import KatibClient
    from tests.kube_apiserver import KubeApiServer

    with KubeApiServer([_succeeded(experiment, causal=True)]) as api:
        client = KatibClient(namespace="kubeflow", client_configuration=api.configuration())
        manifest = client.deploy_best("llm-hp-optimization-test", dry_run=True)
        assert manifest == deploy_best(client, "llm-hp-optimization-test", dry_run=True)
        assert manifest["kind"] == "InferenceService"
        # The dry run created nothing.
        assert ("kubeflow", "llm-hp-optimization-test") not in api.objects_of("inferenceservices")
        client.deploy_best("llm-hp-optimization-test")
        assert ("kubeflow", "llm-hp-optimization-test") in api.objects_of("inferenceservices")
