"""A Kubeflow Trainer v2 TrainJob trial run locally: the emulated katib-llm runtime runs the
initializer steps the admitted TrainJob asks for (download once into the shared cache), then the
``node`` container's command (a real LoRA fine-tune of a tiny BERT) with ``spec.trainer.env``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from katib_llm.core import trainjob

pytestmark = pytest.mark.slow


def _experiment() -> dict:
    return {
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
        "metadata": {"name": "tj", "namespace": "default",
                     "labels": {"llm.katib.kubeflow.org/tune": "true"},
                     "annotations": {
                         "llm.katib.kubeflow.org/trial-template": "hf-lora-trainjob",
                         "llm.katib.kubeflow.org/model": "file://./model",
                         "llm.katib.kubeflow.org/dataset": "file://./data",
                         "llm.katib.kubeflow.org/queue": "gpu-trials",
                         "llm.katib.kubeflow.org/dataset-config": json.dumps(
                             {"eval_split": "test", "max_length": 12, "num_labels": 2}),
                         "llm.katib.kubeflow.org/training-args": json.dumps(
                             {"max_steps": 4, "eval_strategy": "steps", "eval_steps": 2, "logging_strategy": "no",
                              "per_device_train_batch_size": 8, "per_device_eval_batch_size": 16}),
                         "llm.katib.kubeflow.org/lora-config": json.dumps(
                             {"lora_alpha": 8, "target_modules": ["query", "value"]}),
                     }},
        "spec": {
            "objective": {"type": "maximize", "objectiveMetricName": "eval_accuracy"},
            "algorithm": {"algorithmName": "random", "algorithmSettings": [{"name": "random_state", "value": "1"}]},
            "maxTrialCount": 2, "parallelTrialCount": 1,
            "parameters": [
                {"name": "learning_rate", "parameterType": "double",
                 "feasibleSpace": {"min": "1e-4", "max": "1e-2", "distribution": "logUniform"}},
                {"name": "lora_config.r", "parameterType": "int", "feasibleSpace": {"min": "2", "max": "8"}},
            ],
        },
    }


def test_trainjob_trials_run_locally_and_download_once(tmp_path, tiny_model, tiny_dataset):
    (tmp_path / "data").symlink_to(tiny_dataset)
    (tmp_path / "model").symlink_to(tiny_model)
    exp_file = tmp_path / "exp.yaml"
    exp_file.write_text(yaml.safe_dump(_experiment()))
    workdir = tmp_path / "run"
    env = {**os.environ, "KATIB_LLM_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "katib_llm.cli", "tune", str(exp_file), "--local",
                           "--workdir", str(workdir)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr

    results = json.loads((workdir / "results.json").read_text())
    assert [t["state"] for t in results["trials"]] == ["Succeeded", "Succeeded"]
    downloaded = []
    for t in results["trials"]:
        assert len(t["metrics"]["eval_accuracy"]) == 2  # evaluated at steps 2 and 4
        trial_dir = workdir / "trials" / t["name"]
        job = yaml.safe_load((trial_dir / "job.yaml").read_text())
        assert job["kind"] == "TrainJob" and job["spec"]["runtimeRef"]["name"] == "katib-llm-lora"
        assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu-trials"
        # The hyperparameters Katib substituted reached the trainer through spec.trainer.env.
        hparams = json.loads({e["name"]: e["value"] for e in job["spec"]["trainer"]["env"]}["KATIB_LLM_HPARAMS"])
        assert float(hparams["learning_rate"]) == pytest.approx(t["parameters"]["learning_rate"])
        steps = json.loads((trial_dir / "steps.json").read_text())
        assert [(s["container"], s["init"], s["exit_code"]) for s in steps] == [
            ("dataset-initializer", True, 0), ("model-initializer", True, 0), (trainjob.NODE, False, 0)]
        log = (trial_dir / "stdout.log").read_text()
        assert "katib-llm-metric eval_accuracy=" in log
        summaries = [json.loads(line) for line in log.splitlines() if line.startswith('{"kind": ')]
        assert sorted(s["kind"] for s in summaries) == ["dataset", "model"]
        downloaded.append({s["kind"]: s["downloaded"] for s in summaries})
    # Once per experiment: the first trial fetched, the second found both in the cache.
    assert downloaded == [{"dataset": True, "model": True}, {"dataset": False, "model": False}]
