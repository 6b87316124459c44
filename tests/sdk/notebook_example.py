"""The proposal's example as a notebook, executed in a real ipykernel (nbclient) against a
Hugging Face Hub stand-in: the same cells the tests check and docs/sdk.md's screenshots show.

The example's model and dataset are swapped for a tiny BERT and a small sentiment set the
stand-in serves (hf://katib-llm-test/...); everything else is the proposal's call with the
local backend.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.advanced.tuned import NEGATIVE, POSITIVE, tiny_model
from tests.runtime.fakehub import FakeHub

MODEL_REPO = "katib-llm-test/tiny-bert"
DATASET_REPO = "katib-llm-test/sentiment-small"
TYPO = "katib-llm-test/sentiment-smal"

SETUP = f'''\
import transformers
from peft import LoraConfig
from kubeflow.storage_initializer.hugging_face import (
    HuggingFaceModelParams, HuggingFaceDatasetParams, HuggingFaceTrainerParams)

import katib_llm as katib
from katib_llm import KatibClient, TrainingClient

katib_client = KatibClient(backend="local")

def objective(exp_name, dataset="{DATASET_REPO}"):
    result = TrainingClient().train(
        name=exp_name,
        model_provider_parameters=HuggingFaceModelParams(
            model_uri="hf://{MODEL_REPO}",
            transformer_type=transformers.AutoModelForSequenceClassification),
        dataset_provider_parameters=HuggingFaceDatasetParams(repo_id=dataset),
        trainer_parameters=HuggingFaceTrainerParams(
            training_parameters=transformers.TrainingArguments(
                output_dir="test_trainer", save_strategy="no", eval_strategy="steps", eval_steps=2,
                max_steps=4, disable_tqdm=True, log_level="info"),
            lora_config=LoraConfig(r=8, lora_alpha=8, lora_dropout=0.1, bias="none")))
    return result.metrics

hp_space = {{
    "learning_rate": katib.search.double(min=1e-03, max=1e-02),
    "lora_config.r": katib.search.int(min=4, max=8),
}}
'''

TYPO_CELLS = [f'''\
try:
    katib_client.tune(name="typo", hp_space=hp_space, objective=objective("typo", dataset="{TYPO}"),
                      objective_metric_name="eval_accuracy", objective_type="maximize",
                      algorithm_name="random", max_trial_count=4, parallel_trial_count=1)
except katib.ExperimentFailed as exc:
    failure = exc
print(failure)''', "failure.experiment"]

SUCCESS_CELLS = ['''\
exp = katib_client.tune(name="sentiment", hp_space=hp_space, objective=objective("sentiment"),
                        objective_metric_name="eval_accuracy", objective_type="maximize",
                        algorithm_name="random", max_trial_count=3, parallel_trial_count=1)
exp''', 'katib_client.report("sentiment")', 'katib_client.trials_dataframe("sentiment")',
                 'katib_client.wait_for_experiment_condition("sentiment", progress=False)', '''\
import torch
from peft import AutoPeftModelForSequenceClassification

path = katib_client.download_best_adapter("sentiment", "adapters/best")
labels = transformers.AutoConfig.from_pretrained(path)
model = AutoPeftModelForSequenceClassification.from_pretrained(
    path, num_labels=labels.num_labels, id2label=labels.id2label, label2id=labels.label2id,
    ignore_mismatched_sizes=True)
tokenizer = transformers.AutoTokenizer.from_pretrained(path)
with torch.no_grad():
    logits = model(**tokenizer(["the film was great", "the film was awful"], padding=True,
                               return_tensors="pt")).logits
print(model.peft_config["default"].base_model_name_or_path, sorted(labels.label2id),
      [model.config.id2label[int(i)] for i in logits.argmax(-1)])''']


def sentiment_repo(dest: Path, n: int = 40) -> Path:
    """Short reviews labelled "negative" / "positive" (string labels: the names travel)."""
    dest.mkdir(parents=True, exist_ok=True)
    rows = [{"text": f"the film was {(POSITIVE if i % 2 == 0 else NEGATIVE)[i % 6]}",
             "label": "positive" if i % 2 == 0 else "negative"} for i in range(n)]
    (dest / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return dest


def start_hub(root: Path) -> FakeHub:
    hub = FakeHub().start()
    hub.add_dir("model", MODEL_REPO, tiny_model(root / "tiny-bert", causal=False))
    hub.add_dir("dataset", DATASET_REPO, sentiment_repo(root / "sentiment"))
    return hub


def execute(cells: list[str], root: Path, hub: FakeHub, timeout: int = 900) -> Any:
    """Run SETUP + ``cells`` in a fresh ipykernel with ``root`` as its directory; the executed notebook."""
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in [SETUP, *cells]])
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(root / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1",
           "KATIB_LLM_CACHE_DIR": str(root / "cache"), "KUBECONFIG": str(root / "no-kubeconfig")}
    env.pop("HF_TOKEN", None)
    client = NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(root)}})
    try:
        client.execute(env=env)
    finally:
        nbformat.write(notebook, str(root / "example.ipynb"))  # for a look after a failure, and the docs
    return notebook


def outputs(cell: Any, kind: str, output_type: str = "execute_result") -> list[str]:
    """The cell's ``output_type`` outputs (``execute_result``: its value; ``display_data``: e.g.
    the live view) of MIME type ``kind`` (``text/plain``, ``text/html``), or its ``stream``
    text (``kind="stream"``)."""
    if kind == "stream":  # what the cell printed (stderr holds libraries' progress bars)
        return [out["text"] for out in cell.get("outputs", [])
                if out.get("output_type") == "stream" and out.get("name") == "stdout"]
    return [out["data"][kind] for out in cell.get("outputs", [])
            if out.get("output_type") == output_type and kind in (out.get("data") or {})]
