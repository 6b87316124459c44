"""A trial's metrics are a function of its inputs: the process it runs in does not matter.

torch seeds its generator differently in every process, and the model (a new classification
head, LoRA's A matrices) is built before ``Trainer`` seeds; the trainer seeds first. Each run
below starts from a different RNG state in ``random``, numpy and torch, as a new process (or a
warm pool's child forked from a different forkserver) would.
"""

from __future__ import annotations

import json
import random

import numpy as np
import torch

from katib_llm.runtime.trainer import main


def _history(model, data, out, rng_state: int, **training_args) -> list[dict]:
    random.seed(rng_state)
    np.random.seed(rng_state)
    torch.manual_seed(rng_state)
    env = {"KATIB_LLM_MODEL_DIR": str(model), "KATIB_LLM_DATASET_DIR": str(data), "KATIB_LLM_OUTPUT_DIR": str(out),
           "KATIB_LLM_NUM_THREADS": "1",
           "KATIB_LLM_HPARAMS": json.dumps({"learning_rate": "0.01", "max_steps": "4", "lora_config.r": "4"}),
           "KATIB_LLM_TRAINING_ARGS": json.dumps({"eval_strategy": "steps", "eval_steps": 2,
                                                   "per_device_train_batch_size": 8, **training_args}),
           "KATIB_LLM_DATASET_CONFIG": json.dumps({"eval_fraction": 0.25, "max_length": 16})}
    assert main([], env) == 0
    return [{k: h[k] for k in ("eval_loss", "eval_accuracy")}
            for h in json.loads((out / "metrics.json").read_text())["history"]]


def test_same_trial_from_different_rng_states_gives_identical_metrics(tiny_bert, sentiment_dir, tmp_path, capsys):
    first = _history(tiny_bert, sentiment_dir, tmp_path / "a", rng_state=1)
    second = _history(tiny_bert, sentiment_dir, tmp_path / "b", rng_state=2)
    assert len(first) == 2 and first == second


def test_the_seed_training_argument_changes_the_trial(tiny_bert, sentiment_dir, tmp_path, capsys):
    """The random seed makes runs identical, not a model that does not learn."""
    default = _history(tiny_bert, sentiment_dir, tmp_path / "a", rng_state=1)
    other = _history(tiny_bert, sentiment_dir, tmp_path / "b", rng_state=1, seed=7)
    assert default[-1]["eval_loss"] != other[-1]["eval_loss"]
