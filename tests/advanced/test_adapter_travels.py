"""The best adapter of a local run loads on another machine: a copy in another directory, a fresh
process, the base model found by its Hub id (a Hugging Face Hub stand-in, then offline from the
Hugging Face cache), the dataset's label names; and the deploy predictor answers with them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.advanced.tuned import NEGATIVE, POSITIVE, tiny_model
from tests.builders import experiment as build_experiment
from tests.builders import parameter
from tests.runtime.fakehub import FakeHub

pytestmark = pytest.mark.slow
LABELS = ["negative", "neutral", "positive"]  # string labels: ids by sorted name, as the trainer maps them
REPO = "katib-llm-test/tiny-bert"

LOAD = """
import json, sys
import torch
from peft import AutoPeftModelForSequenceClassification
from transformers import AutoConfig, AutoTokenizer

path = sys.argv[1]
config = AutoConfig.from_pretrained(path)
model = AutoPeftModelForSequenceClassification.from_pretrained(
    path, num_labels=config.num_labels, id2label=config.id2label, label2id=config.label2id,
    ignore_mismatched_sizes=True).eval()  # the base's own head (2 labels here) is replaced by the adapter's
tokenizer = AutoTokenizer.from_pretrained(path)
with torch.no_grad():
    logits = model(**tokenizer(sys.argv[2:], padding=True, return_tensors="pt")).logits
print(json.dumps({"labels": [model.config.id2label[int(i)] for i in logits.argmax(-1)],
                  "logits": logits.tolist(), "base": model.peft_config["default"].base_model_name_or_path}))
"""


def _dataset(dest: Path) -> Path:
    dest.mkdir(parents=True)
    rows = []
    for i in range(36):
        label = LABELS[i % 3]
        words = {"negative": NEGATIVE, "positive": POSITIVE, "neutral": ["plain", "average"]}[label]
        rows.append({"text": f"the film was {words[i % len(words)]}", "label": label})
    (dest / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return dest


@pytest.fixture(scope="module")
def tuned(tmp_path_factory):
    """A local run whose base model comes from the Hub stand-in (hf://), 3 string labels."""
    from katib_llm.local import run_experiment

    root = tmp_path_factory.mktemp("travel")
    hub = FakeHub().start()
    repo = hub.add_dir("model", REPO, tiny_model(root / "bert", causal=False))
    env = {"HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1", "HF_HOME": str(root / "hf-home-run")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        exp = build_experiment(
            "travel", model=f"hf://{REPO}", dataset=f"file://{_dataset(root / 'data')}",
            annotations={"trial-template": "hf-lora-job", "training-args": '{"max_steps": 4}',
                         "dataset-config": '{"max_length": 16, "eval_fraction": 0.25}'},
            algorithm={"algorithmName": "random"}, maxTrialCount=1, parallelTrialCount=1,
            parameters=[parameter("learning_rate", "double", "0.001", "0.01")])
        result = run_experiment(exp, root / "run", progress=False, cache_dir=root / "cache", seed=1)
        yield root, result, repo, hub
    finally:
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
        hub.stop()


def _load(adapter: Path, env: dict[str, str], texts: list[str]) -> dict:
    done = subprocess.run([sys.executable, "-c", LOAD, str(adapter), *texts], capture_output=True, text=True,
                          timeout=300, cwd=adapter.parent, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_the_promoted_adapter_records_its_source_tokenizer_and_labels(tuned):
    root, result, repo, _ = tuned
    best = root / "run" / "best"
    assert result.condition == "Succeeded" and (best / "adapter_model.safetensors").is_file()
    adapter = json.loads((best / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == REPO and adapter["revision"] == repo.sha  # not a volume path
    config = json.loads((best / "config.json").read_text())
    assert config["id2label"] == {"0": "negative", "1": "neutral", "2": "positive"}
    assert config["label2id"] == {"negative": 0, "neutral": 1, "positive": 2}
    assert (best / "tokenizer.json").is_file() and (best / "tokenizer_config.json").is_file()
    meta = json.loads((best / "katib-llm.json").read_text())
    assert meta == {"base_model": {"uri": f"hf://{REPO}", "revision": repo.sha},
                    "model_class": "AutoModelForSequenceClassification", "labels": LABELS}
    assert str(root) not in (best / "adapter_config.json").read_text()


def test_a_copy_loads_in_a_fresh_process_from_the_hub_then_offline(tuned, tmp_path):
    root, _, _, hub = tuned
    elsewhere = tmp_path / "another-machine" / "adapter"
    shutil.copytree(root / "run" / "best", elsewhere)
    texts = ["the film was great", "the film was awful", "the film was plain"]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "KATIB_LLM_"))}
    home = {"HF_HOME": str(tmp_path / "hf-home"), "HF_HUB_DISABLE_TELEMETRY": "1"}
    online = _load(elsewhere, {**base_env, **home, "HF_ENDPOINT": hub.url}, texts)
    assert online["base"] == REPO and set(online["labels"]) <= set(LABELS) and len(online["logits"][0]) == 3
    # Offline: the base model from this machine's Hugging Face cache (filled by the load above).
    offline = _load(elsewhere, {**base_env, **home, "HF_HUB_OFFLINE": "1"}, texts)
    assert offline["labels"] == online["labels"]
    flat = [x for row in online["logits"] for x in row]
    assert [x for row in offline["logits"] for x in row] == pytest.approx(flat, abs=1e-5)
    # The same model as the one the run tuned (the head came from the adapter, not a fresh init).
    import torch

    served = _predictor(root).predict(texts)
    assert [a["label"] for a in served] == online["labels"]
    probs = torch.softmax(torch.tensor(online["logits"]), -1).tolist()
    assert [x for p in served for x in p["probabilities"]] == pytest.approx([x for row in probs for x in row], abs=1e-5)


def _predictor(root: Path):
    from katib_llm.deploy.model import Predictor
    from katib_llm.deploy.server import resolve

    local = resolve(root / "run", cache_dir=root / "cache")
    return Predictor.load(local.model_dir, local.adapter_dir, local.model_class)


def test_the_deploy_predictor_answers_with_the_label_names(tuned):
    root, _, _, _ = tuned
    answers = _predictor(root).predict(["the film was great", "the film was awful"])
    assert all(a["label"] in LABELS and len(a["probabilities"]) == 3 for a in answers)
