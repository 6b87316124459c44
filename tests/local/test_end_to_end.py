"""The main command end to end: a real LoRA fine-tune (tiny BERT) tuned locally, report and best adapter."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.local.local_helpers import tiny_bert_experiment as _experiment

pytestmark = pytest.mark.slow


def test_tune_local_runs_the_real_trainer_and_reports(tmp_path, tiny_model, tiny_dataset):
    # The Experiment file sits next to its data and names it with relative file:// URIs.
    (tmp_path / "data").symlink_to(tiny_dataset)
    (tmp_path / "model").symlink_to(tiny_model)
    exp_file = tmp_path / "exp.yaml"
    exp_file.write_text(yaml.safe_dump(_experiment("file://./model", "file://data")))
    workdir = tmp_path / "run"
    env = {**os.environ, "KATIB_LLM_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "katib_llm.cli", "tune", str(exp_file), "--local",
                           "--workdir", str(workdir)], capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Best trial: e2e-" in proc.stdout and "Optimal hyperparameters: learning_rate=" in proc.stdout
    assert "Traceback" not in proc.stderr

    results = json.loads((workdir / "results.json").read_text())
    assert len(results["trials"]) == 3
    assert {t["state"] for t in results["trials"]} <= {"Succeeded", "EarlyStopped"}
    best = next(t for t in results["trials"] if t["name"] == results["best_trial"])
    assert best["state"] == "Succeeded" and 0.0 <= best["objective"] <= 1.0
    assert results["optimal_hyperparameters"] == best["parameters"]
    assert isinstance(best["parameters"]["lora_config.r"], int)
    for t in results["trials"]:
        assert len(t["metrics"]["eval_accuracy"]) >= 1 and "eval_loss" in t["metrics"]
        if t["state"] == "Succeeded":
            assert len(t["metrics"]["eval_accuracy"]) == 3  # evaluated at steps 2, 4, 6
            assert t["overhead"] is not None and t["trainer_time"] > 0
        log = (workdir / "trials" / t["name"] / "stdout.log").read_text()
        assert "katib-llm-metric eval_accuracy=" in log

    # The admitted trial job ran: initializers then the trainer, inputs on the local volume.
    job = yaml.safe_load((workdir / "trials" / best["name"] / "job.yaml").read_text())
    assert job["kind"] == "PyTorchJob" and job["metadata"]["name"] == best["name"]
    # Download-once: the local cache holds one copy of each input, whatever the trial count.
    assert (tmp_path / "cache").is_dir() and any((tmp_path / "cache").iterdir())

    for name in ("objective.png", "intermediate.png"):
        assert (workdir / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = (workdir / "report.html").read_text()
    # Static figures inline (offline, renders anywhere): no script at all, the trials table.
    assert "<script" not in html and 'src="data:image/png;base64,' in html and "<td>e2e-" in html
    assert (workdir / "report-best-so-far.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best_dir = workdir / "best"
    assert (best_dir / "adapter_config.json").is_file()
    assert json.loads((best_dir / "trial.json").read_text())["trial"] == best["name"]
