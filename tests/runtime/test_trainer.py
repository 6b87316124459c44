"""Real LoRA fine-tuning on CPU with tiny models: metrics Katib can parse, adapter, metrics.json."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from katib_llm.core.metrics import METRICS_FILTER, parse_metrics
from katib_llm.runtime.trainer import main

from tests.runtime.runtime_helpers import ADAPTER_FILES


def _env(model: Path, data: Path, out: Path, **extra: str) -> dict[str, str]:
    return {"KATIB_LLM_MODEL_DIR": str(model), "KATIB_LLM_DATASET_DIR": str(data), "KATIB_LLM_OUTPUT_DIR": str(out),
            "KATIB_LLM_NUM_THREADS": "1", **extra}


def _check_outputs(out: Path, stdout: str, names: list[str], evals: int) -> dict:
    observations = parse_metrics(stdout.splitlines(), names, [METRICS_FILTER])
    for name in names:
        values = [o.value for o in observations if o.name == name]
        assert len(values) >= evals, (name, values, stdout[-2000:])
        assert all(float(v) == float(v) for v in values)  # numbers, not 'unavailable'
    assert all(o.timestamp.endswith("Z") for o in observations)
    assert {p.name for p in out.iterdir()} == ADAPTER_FILES  # only the adapter (and metrics.json)
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA"
    return json.loads((out / "metrics.json").read_text())


def test_sequence_classification_trial_as_a_process(tiny_bert, sentiment_dir, tmp_path):
    out = tmp_path / "trial"
    env = {**os.environ, **_env(tiny_bert, sentiment_dir, out,
                                KATIB_LLM_MODEL_CLASS="AutoModelForSequenceClassification",
                                KATIB_LLM_HPARAMS=json.dumps({"learning_rate": "0.001", "num_train_epochs": "2",
                                                              "per_device_train_batch_size": "8",
                                                              "lora_config.r": "4", "warmup_ratio": "0.1"}),
                                KATIB_LLM_METRICS_FILE=str(tmp_path / "metrics.log"))}
    done = subprocess.run([sys.executable, "-m", "katib_llm.runtime.trainer"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = _check_outputs(out, done.stdout, ["eval_loss", "eval_accuracy", "epoch", "train_step"], evals=2)
    assert 0.0 <= metrics["final"]["eval_accuracy"] <= 1.0 and metrics["final"]["epoch"] == 2.0
    _check_train_metrics(done.stdout, "AutoModelForSequenceClassification")
    assert len(metrics["history"]) == 2  # one per epoch: intermediate values for early stopping
    assert metrics["settings"]["training_args"]["warmup_steps"] == 0.1
    assert metrics["settings"]["lora_config"]["r"] == 4
    # The metrics file carries the same lines the collector reads from stdout.
    from_file = parse_metrics((tmp_path / "metrics.log").read_text().splitlines(), ["eval_accuracy"], [METRICS_FILTER])
    assert len(from_file) == 2


def test_causal_lm_trial_reports_loss_and_perplexity(tiny_gpt2, tmp_path, capsys):
    from tests.runtime.runtime_helpers import sentiment_rows, write_jsonl

    data = write_jsonl(tmp_path / "text", [{"text": r["text"]} for r in sentiment_rows(24)], name="corpus.json")
    out = tmp_path / "trial"
    args = ["--model-class", "AutoModelForCausalLM", "--hparams", '{"learning_rate": "5e-3", "max_steps": "4"}',
            "--training-args", '{"eval_strategy": "steps", "eval_steps": 2, "logging_steps": 2}',
            "--dataset-config", '{"eval_fraction": 0.25, "max_length": 32}']
    assert main(args, _env(tiny_gpt2, data, out)) == 0
    stdout = capsys.readouterr().out
    metrics = _check_outputs(out, stdout, ["eval_loss", "eval_perplexity", "eval_accuracy"], evals=2)
    final = metrics["final"]
    assert final["eval_perplexity"] == pytest.approx(__import__("math").exp(final["eval_loss"]))
    assert 0.0 <= final["eval_accuracy"] <= 1.0  # next-token accuracy, as transformers' run_clm.py reports it
    _check_train_metrics(stdout, "AutoModelForCausalLM")


def _check_train_metrics(stdout: str, model_class: str) -> None:
    """What Trainer.train() reports is printed once, at the end; every printed name is one the
    admission's "never printed" rule knows (core.metrics.trainer_metrics)."""
    from katib_llm.core.metrics import MARKER, trainer_metrics

    train = ["train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos", "train_loss"]
    observed = parse_metrics(stdout.splitlines(), train, [METRICS_FILTER])
    assert sorted(o.name for o in observed) == sorted(train), stdout[-2000:]
    printed = {line.split(MARKER + " ")[1].split("=")[0] for line in stdout.splitlines() if MARKER + " " in line}
    assert printed - {"train_step"} <= set(trainer_metrics(model_class)), printed - set(trainer_metrics(model_class))


@pytest.mark.slow
def test_two_process_torchrun_trial_on_gloo(tiny_bert, sentiment_dir, tmp_path):
    out = tmp_path / "trial"
    env = {**os.environ, **_env(tiny_bert, sentiment_dir, out,
                                KATIB_LLM_HPARAMS='{"num_train_epochs": "1", "per_device_train_batch_size": "4"}'),
           "OMP_NUM_THREADS": "1"}
    torchrun = str(Path(sys.executable).with_name("torchrun"))
    with socket.socket() as sock:  # torchrun's static rendezvous hangs with --master-port=0
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    done = subprocess.run([torchrun, "--nproc-per-node=2", f"--master-port={port}", "--master-addr=127.0.0.1", "-m", "katib_llm.runtime.trainer"],
                          env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    metrics = _check_outputs(out, done.stdout, ["eval_loss", "eval_accuracy"], evals=1)
    assert metrics["world_size"] == 2
    # Only the main process prints metrics: one line per metric per evaluation, not two.
    assert len(parse_metrics(done.stdout.splitlines(), ["eval_accuracy"], [METRICS_FILTER])) == 1


@pytest.mark.parametrize("change, message", [
    ({"KATIB_LLM_HPARAMS": '{"learning_rate": '}, "KATIB_LLM_HPARAMS is not valid JSON"),
    ({"KATIB_LLM_HPARAMS": '{"learning_rat": "1e-5"}'}, "unknown hyperparameter 'learning_rat'"),
    ({"KATIB_LLM_HPARAMS": '{"per_device_train_batch_size": "eight"}'}, "per_device_train_batch_size takes a"),
    ({"KATIB_LLM_MODEL_DIR": "/nonexistent/model"}, "KATIB_LLM_MODEL_DIR /nonexistent/model holds no model"),
    ({"KATIB_LLM_OUTPUT_DIR": ""}, "KATIB_LLM_OUTPUT_DIR is not set"),
    ({"KATIB_LLM_MODEL_CLASS": "AutoModelForMagic"}, "KATIB_LLM_MODEL_CLASS 'AutoModelForMagic' is not supported"),
    ({"KATIB_LLM_DATASET_CONFIG": '{"txt_column": "x"}'}, "unknown key(s) ['txt_column']"),
    ({"KATIB_LLM_DATASET_CONFIG": '{"text_column": "body"}'}, "lacks column(s) ['body']"),
    ({"KATIB_LLM_DATASET_DIR": "/nonexistent/data"}, "KATIB_LLM_DATASET_DIR /nonexistent/data is not a directory"),
    ({"KATIB_LLM_DATASET_SPLIT": "validation"}, "validation"),
])
def test_bad_input_exits_2_with_one_clear_line(tiny_bert, sentiment_dir, tmp_path, capsys, change, message):
    out = tmp_path / "trial"
    env = {**_env(tiny_bert, sentiment_dir, out), **change}
    assert main([], env) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("katib-llm trainer: error: ") and message in err[0], err
    assert not out.exists() or not any(out.iterdir())  # nothing half-written


def test_unknown_option_is_one_line(capsys):
    assert main(["--learning-rate", "1e-5"], {}) == 2
    assert "unrecognized arguments: --learning-rate" in capsys.readouterr().err


def test_katib_llm_train_subcommand_calls_the_same_entrypoint(tiny_bert, tmp_path, capsys, monkeypatch):
    from katib_llm.cli.main import main as cli

    for name in ("KATIB_LLM_DATASET_DIR", "KATIB_LLM_OUTPUT_DIR", "KATIB_LLM_HPARAMS"):
        monkeypatch.delenv(name, raising=False)
    assert cli(["train", "--model-dir", str(tiny_bert), "--dataset-dir", str(tmp_path / "none"),
                "--output-dir", str(tmp_path / "out"), "--hparams", '{"lora_config.r": "x"}']) == 2
    err = capsys.readouterr().err
    assert "hyperparameter lora_config.r takes a number" in err, err
