"""`katib-llm deploy --local`: a real server on 127.0.0.1 answers with the tuned adapter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
import yaml

from katib_llm.deploy.adapters import TrialResult, promote

from tests.builders import example

ANN = "llm.katib.kubeflow.org/"
pytestmark = pytest.mark.slow


def _workdir(root: Path, model: Path, trial: Path, causal: bool) -> Path:
    """A local run's work dir as the local backend leaves it: experiment.yaml + best/."""
    exp = example()
    exp["metadata"]["name"] = "tiny-gpt" if causal else "tiny-bert"
    exp["metadata"]["annotations"][ANN + "model"] = f"file://{model}"
    exp["metadata"]["annotations"][ANN + "model-class"] = (
        "AutoModelForCausalLM" if causal else "AutoModelForSequenceClassification")
    root.mkdir(parents=True)
    (root / "experiment.yaml").write_text(yaml.safe_dump(exp))
    trials = root / "promote"
    shutil.copytree(trial, trials / "tiny-trial-1")
    promote(trials, [TrialResult("tiny-trial-1", 0.9)])  # the promotion function makes best/
    shutil.move(str(trials / "best"), root / "best")
    return root


class _Server:
    def __init__(self, workdir: Path, cache: Path, *extra: str):
        env = {**os.environ, "KATIB_LLM_CACHE_DIR": str(cache), "OMP_NUM_THREADS": "1"}
        self.proc = subprocess.Popen([sys.executable, "-m", "katib_llm.cli", "deploy", "--local", str(workdir),
                                      "--port", "0", *extra], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("serving "), (line, self.proc.stderr.read() if self.proc.poll() is not None else "")
        self.url = line.rsplit(" on ", 1)[1].strip()  # http://127.0.0.1:PORT/v1/models/NAME
        self.base = self.url.split("/v1/")[0]
        self.name = self.url.rsplit("/", 1)[1]

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=20)


@pytest.fixture(scope="module")
def classifier_server(tuned_classifier, tmp_path_factory):
    model, trial = tuned_classifier
    root = tmp_path_factory.mktemp("serve-cls")
    server = _Server(_workdir(root / "work", model, trial, causal=False), root / "cache")
    yield server, model, trial
    server.close()


def test_readiness_and_predictions_come_from_the_tuned_adapter(classifier_server):
    import torch
    import transformers
    from peft import PeftModel

    server, model, trial = classifier_server
    assert server.name == "tiny-bert"
    assert requests.get(server.url, timeout=10).json() == {"name": "tiny-bert", "ready": True}
    assert requests.get(f"{server.base}/v1/models", timeout=10).json() == {"models": ["tiny-bert"]}
    texts = ["the film was great and lovely", "the film was awful and terrible"]
    reply = requests.post(f"{server.url}:predict", json={"instances": texts}, timeout=30)
    assert reply.status_code == 200, reply.text
    predictions = reply.json()["predictions"]
    assert [set(p) for p in predictions] == [{"label", "label_id", "probabilities"}] * 2
    assert all(abs(sum(p["probabilities"]) - 1) < 1e-4 for p in predictions)
    # The same numbers as base + adapter in this process; different from the base model alone.
    tok = transformers.AutoTokenizer.from_pretrained(str(model))
    batch = tok(texts, padding=True, return_tensors="pt")
    base = transformers.AutoModelForSequenceClassification.from_pretrained(str(model))
    with torch.no_grad():
        plain = torch.softmax(base(**batch).logits, -1).tolist()
        tuned = torch.softmax(PeftModel.from_pretrained(base, str(trial)).eval()(**batch).logits, -1).tolist()
    served = [x for p in predictions for x in p["probabilities"]]
    assert served == pytest.approx([x for row in tuned for x in row], abs=1e-5)
    assert served != pytest.approx([x for row in plain for x in row], abs=1e-5)
    # Objects with a "text" field are instances too.
    objects = requests.post(f"{server.url}:predict", json={"instances": [{"text": texts[0]}]}, timeout=30)
    one = objects.json()["predictions"][0]  # a batch of one: no padding, so equal up to float rounding
    assert (one["label"], one["label_id"]) == (predictions[0]["label"], predictions[0]["label_id"])
    assert one["probabilities"] == pytest.approx(predictions[0]["probabilities"], abs=1e-5)


@pytest.mark.parametrize("path, body, status, fragment", [
    ("{url}:predict", b"{not json", 400, "not valid JSON"),
    ("{url}:predict", b"[1, 2]", 400, "JSON object"),
    ("{url}:predict", {"inputs": ["x"]}, 400, 'missing "instances"'),
    ("{url}:predict", {"instances": "x"}, 400, "non-empty list"),
    ("{url}:predict", {"instances": []}, 400, "non-empty list"),
    ("{url}:predict", {"instances": ["ok", 3]}, 400, "instances[1]"),
    ("{url}:predict", {"instances": ["x"] * 65}, 400, "at most 64"),
    ("{url}:predict", {"instances": ["x"], "parameters": 5}, 400, '"parameters" must be an object'),
    ("{base}/v1/models/other:predict", {"instances": ["x"]}, 404, "'other' not found"),
    ("{base}/v1/completions", {"prompt": "x"}, 400, "needs a causal LM"),
    ("{base}/v2/nothing", {}, 404, "no such path"),
])
def test_bad_requests_get_a_clear_4xx(classifier_server, path, body, status, fragment):
    server = classifier_server[0]
    url = path.format(url=server.url, base=server.base)
    kwargs = {"data": body, "headers": {"Content-Type": "application/json"}} if isinstance(body, bytes) else {"json": body}
    reply = requests.post(url, timeout=30, **kwargs)
    assert reply.status_code == status and fragment in reply.json()["error"], reply.text
    assert requests.get(server.url, timeout=10).status_code == 200  # still serving


def test_causal_lm_answers_completions_and_predict(tuned_causal, tmp_path):
    model, trial = tuned_causal
    server = _Server(_workdir(tmp_path / "work", model, trial, causal=True), tmp_path / "cache", "--name", "gen")
    try:
        assert server.name == "gen"
        reply = requests.post(f"{server.base}/v1/completions",
                              json={"model": "gen", "prompt": ["the film was", "it was"], "max_tokens": 4}, timeout=60)
        assert reply.status_code == 200, reply.text
        body = reply.json()
        assert body["object"] == "text_completion" and [c["index"] for c in body["choices"]] == [0, 1]
        assert all(isinstance(c["text"], str) for c in body["choices"])
        predict = requests.post(f"{server.url}:predict", json={"instances": ["the film was"],
                                                               "parameters": {"max_new_tokens": 4}}, timeout=60)
        assert predict.status_code == 200 and predict.json()["predictions"] == [body["choices"][0]["text"]]
        bad = requests.post(f"{server.base}/v1/completions", json={"prompt": "x", "max_tokens": 10_000}, timeout=30)
        assert bad.status_code == 400 and "max_tokens" in bad.json()["error"]
        for body, fragment in (({"prompt": 7}, '"prompt" must be a string'), ({"prompt": ["ok", ""]}, "prompt[1]"),
                               ({"prompt": "x", "max_tokens": True}, "max_tokens")):
            reply = requests.post(f"{server.base}/v1/completions", json=body, timeout=30)
            assert reply.status_code == 400 and fragment in reply.json()["error"], reply.text
        wrong = requests.post(f"{server.base}/v1/completions", json={"model": "other", "prompt": "x"}, timeout=30)
        assert wrong.status_code == 400 and "'gen'" in wrong.json()["error"]
    finally:
        server.close()


def test_a_work_dir_without_a_best_adapter_is_a_clear_error(tmp_path):
    (tmp_path / "experiment.yaml").write_text("kind: Experiment\n")
    cli = [sys.executable, "-m", "katib_llm.cli", "deploy", "--local"]
    done = subprocess.run(cli + [str(tmp_path), "--port", "0"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1 and "holds no adapter" in done.stderr and "Traceback" not in done.stderr
    empty = subprocess.run(cli + [str(tmp_path / "nope")], capture_output=True, text=True, timeout=120)
    assert empty.returncode == 1 and "no experiment.yaml" in empty.stderr


def test_merged_model_for_kserve_predicts_like_base_plus_adapter(classifier_server, tmp_path):
    """KServe's Hugging Face backend serves best/merged: it must equal base + adapter."""
    import torch
    import transformers

    from katib_llm.deploy.adapters import main as promote_main

    server, model, trial = classifier_server
    exp = tmp_path / "experiments" / "tiny-bert"
    shutil.copytree(trial, exp / "tiny-trial-1")
    assert promote_main(["--experiment-dir", str(exp), "--trial", "tiny-trial-1", "--merge",
                         "--model-dir", str(model), "--model-class", "AutoModelForSequenceClassification"]) == 0
    merged_dir = exp / "best" / "merged"
    assert (merged_dir / "config.json").is_file() and not list(merged_dir.glob("adapter_*"))
    texts = ["the film was great and lovely", "the film was awful and terrible"]
    merged = transformers.AutoModelForSequenceClassification.from_pretrained(str(merged_dir)).eval()
    tok = transformers.AutoTokenizer.from_pretrained(str(merged_dir))
    with torch.no_grad():
        probs = torch.softmax(merged(**tok(texts, padding=True, return_tensors="pt")).logits, -1).tolist()
    served = requests.post(f"{server.url}:predict", json={"instances": texts}, timeout=30).json()["predictions"]
    assert [x for row in probs for x in row] == pytest.approx(
        [x for p in served for x in p["probabilities"]], abs=1e-5)


def test_end_to_end_local_run_promote_and_serve(tmp_path):
    """The local backend tunes, promote_local prunes, `deploy --local` serves its best adapter."""
    from katib_llm.deploy import promote_local
    from katib_llm.local import run_experiment
    from tests.advanced.tuned import sentiment, tiny_model
    from tests.builders import experiment as build_experiment
    from tests.builders import parameter

    model = tiny_model(tmp_path / "bert", causal=False)
    data = sentiment(tmp_path / "data")
    exp = build_experiment(
        "tiny-e2e", model=f"file://{model}", dataset=f"file://{data}",
        annotations={"trial-template": "hf-lora-job", "training-args": '{"max_steps": 3}',
                     "dataset-config": '{"max_length": 32, "eval_fraction": 0.25}'},
        algorithm={"algorithmName": "random"}, maxTrialCount=2, parallelTrialCount=1,
        parameters=[parameter("learning_rate", "double", "0.001", "0.01")])
    work, cache = tmp_path / "run", tmp_path / "cache"
    result = run_experiment(exp, work, progress=False, cache_dir=cache, seed=1)
    assert result.best is not None and len(result.trials) == 2
    experiments = work / "volume" / "experiments" / "tiny-e2e"
    # run_experiment promoted the best adapter and pruned the other trial (no retain-trials) ...
    assert result.artifacts["promoted"] == experiments / "best"
    assert sorted(p.name for p in experiments.iterdir()) == sorted(["best", result.best.name])
    # ... and promoting again is idempotent.
    promoted = promote_local(result)
    assert promoted.trial == result.best.name and promoted.pruned == []
    assert sorted(p.name for p in experiments.iterdir()) == sorted(["best", result.best.name])
    server = _Server(work, cache)
    try:
        assert server.name == "tiny-e2e"
        reply = requests.post(f"{server.url}:predict", json={"instances": ["the film was great"]}, timeout=30)
        assert reply.status_code == 200 and len(reply.json()["predictions"][0]["probabilities"]) == 2
    finally:
        server.close()
