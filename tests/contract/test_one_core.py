"""One core, four doors: `katib-llm mutate`, the webhook, the local runner and the SDK admit a
labelled Experiment to exactly the same result (one contract test shared by every door)."""

from __future__ import annotations

import base64
import copy
import json
import subprocess
import sys
from pathlib import Path

import jsonpatch
import pytest
import yaml

from tests.builders import review

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = [REPO / "examples" / "bert-lora-experiment.yaml", REPO / "examples" / "quickstart.yaml",
            REPO / "examples" / "bert-lora-trainjob.yaml"]


def _experiment(path: Path) -> dict:
    exp = yaml.safe_load(path.read_text())
    # The local CLI resolves a relative file:// URI against the file; give every door the same
    # absolute one so that they all see the same input.
    ann = exp["metadata"]["annotations"]
    for key, value in ann.items():
        if value.startswith("file://./"):
            ann[key] = "file://" + str((path.parent / value[len("file://./"):]).resolve())
    return exp


def via_cli(exp: dict, values: Path | None = None) -> dict:
    extra = ["--values", str(values)] if values else []
    out = subprocess.run([sys.executable, "-m", "katib_llm.cli", "mutate", "-", *extra], input=yaml.safe_dump(exp),
                         capture_output=True, text=True, check=True)
    return yaml.safe_load(out.stdout)


def via_webhook(exp: dict, values: Path | None = None) -> dict:
    from katib_llm.webhook.app import create_app
    from katib_llm.webhook.sources import ConfigSource

    client = create_app(ConfigSource(str(values) if values else None), None).test_client()
    reply = client.post("/mutate?timeout=10s", json=review(exp)).get_json()["response"]
    assert reply["allowed"] and reply["patchType"] == "JSONPatch"
    return jsonpatch.apply_patch(exp, json.loads(base64.b64decode(reply["patch"])))


def via_local(exp: dict, values: Path | None = None) -> dict:
    from katib_llm.local.runner import admit_for_local

    admitted, _ = admit_for_local(copy.deepcopy(exp), str(values) if values else None)
    return admitted


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_every_door_admits_the_same_experiment(path, tmp_path):
    exp = _experiment(path)
    values = None
    if any(str(v).startswith("file://") for v in exp["metadata"]["annotations"].values()):
        # A cluster admits file:// only under the admin's fileRoots; give every door the same.
        values = tmp_path / "values.yaml"
        values.write_text(yaml.safe_dump({"config": {"fileRoots": [str(path.parent.resolve())]}}))
    from_cli = via_cli(exp, values)
    assert via_webhook(exp, values) == from_cli
    assert via_local(exp, values) == from_cli


def test_sdk_dry_run_equals_mutate_of_what_it_submits():
    """The SDK's dry run is the core's admission of the very Experiment it would submit."""
    from katib_llm import KatibClient, search

    client = KatibClient(namespace="kubeflow")
    kwargs = dict(
        name="one-core", hp_space={"learning_rate": search.double(1e-5, 5e-5, log=True),
                                   "lora_config.r": search.int(4, 16),
                                   "optim": search.categorical(["adamw_torch", "adafactor"])},
        objective_metric_name="eval_accuracy", objective_type="maximize", algorithm_name="tpe",
        max_trial_count=6, parallel_trial_count=2,
        model_provider_parameters={"model_uri": "hf://google-bert/bert-base-cased"},
        dataset_provider_parameters={"repo_id": "yelp_review_full", "split": "train[:300]"},
    )
    admitted = client.tune(**kwargs, dry_run=True)
    # Strip what admission added: the labelled Experiment the SDK submits is its input.
    submitted = {"apiVersion": admitted["apiVersion"], "kind": admitted["kind"], "metadata": admitted["metadata"],
                 "spec": {k: v for k, v in admitted["spec"].items()
                          if k not in ("trialTemplate", "metricsCollectorSpec", "resumePolicy")}}
    assert via_cli(submitted)["spec"]["trialTemplate"] == admitted["spec"]["trialTemplate"]
