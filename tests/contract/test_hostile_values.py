"""Every door denies a hostile value the same way: core admission, the webhook, `katib-llm mutate`,
the local runner's admission and the SDK's tune(dry_run=True) give the same denial code at the
same field path, with no traceback and no 5xx (the hostile values: tests/hostile.py)."""

from __future__ import annotations

import copy
import subprocess
import sys
import time

import pytest
import yaml

from katib_llm.core import contract
from katib_llm.core.errors import AdmissionDenied
from tests.builders import admitted, example, review
from tests.hostile import ANNOTATION_CASES, Case

IDS = [c.id for c in ANNOTATION_CASES]


def _experiment(case: Case) -> dict:
    return example(annotations={case.annotation: case.value})


def _expected(case: Case) -> tuple[str, str]:
    path = contract.annotation_path(case.annotation) + (f".{case.key}" if case.key else "")
    return path, case.code


def _pairs(errors) -> set[tuple[str, str]]:
    return {(e.path, e.code) for e in errors}


@pytest.mark.parametrize("case", ANNOTATION_CASES, ids=IDS)
def test_core_admission(case):
    started = time.perf_counter()
    result = admitted(_experiment(case))
    assert not result.allowed
    assert _expected(case) in _pairs(result.errors), result.errors
    assert time.perf_counter() - started < 5


@pytest.fixture(scope="module")
def webhook():
    from katib_llm.webhook.app import create_app
    from katib_llm.webhook.sources import ConfigSource

    return create_app(ConfigSource(None), None).test_client()


@pytest.mark.parametrize("case", ANNOTATION_CASES, ids=IDS)
def test_webhook(case, webhook):
    reply = webhook.post("/mutate?timeout=10s", json=review(_experiment(case)))
    assert reply.status_code == 200
    response = reply.get_json()["response"]
    assert response["allowed"] is False and response["status"]["code"] == 403
    path, code = _expected(case)
    assert f"{path}: " in response["status"]["message"] and f"[{code}]" in response["status"]["message"]


@pytest.mark.parametrize("case", ANNOTATION_CASES, ids=IDS)
def test_local_runner_admission(case):
    from katib_llm.local.runner import admit_for_local

    with pytest.raises(AdmissionDenied) as denied:
        admit_for_local(copy.deepcopy(_experiment(case)), None)
    assert _expected(case) in _pairs(denied.value.errors), denied.value.errors


def test_mutate_cli_gives_the_same_denials(tmp_path):
    """`katib-llm mutate` over one YAML stream holding every case (one process per case would
    take minutes): each document's denial names the same field and code."""
    docs = []
    for i, case in enumerate(ANNOTATION_CASES):
        doc = _experiment(case)
        doc["metadata"]["name"] = f"case-{i}"
        docs.append(doc)
    stream = tmp_path / "hostile.yaml"
    stream.write_text(yaml.safe_dump_all(docs))
    out = subprocess.run([sys.executable, "-m", "katib_llm.cli", "mutate", str(stream)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 1 and out.stdout == ""
    assert "Traceback" not in out.stderr
    lines = {line.split(": ", 2)[1]: line for line in out.stderr.splitlines() if line.startswith("denied: ")}
    for i, case in enumerate(ANNOTATION_CASES):
        path, code = _expected(case)
        line = lines[f"case-{i}"]
        assert f"{path}: " in line and f"[{code}]" in line, (case.id, line[:500])


SDK_CASES = [c for c in ANNOTATION_CASES if c.sdk]


@pytest.mark.parametrize("case", SDK_CASES, ids=[c.id for c in SDK_CASES])
def test_sdk_tune_names_the_argument(case):
    from katib_llm import KatibClient, TrainingClient, search
    from katib_llm.sdk.errors import ArgumentDenied

    objective = TrainingClient().train(
        model_provider_parameters={"model_uri": "hf://google-bert/bert-base-cased",
                                   "transformer_type": "AutoModelForSequenceClassification"},
        dataset_provider_parameters={"repo_id": "yelp_review_full", "split": "train[:3000]"}).metrics
    with pytest.raises(ArgumentDenied) as denied:
        KatibClient(namespace="kubeflow").tune(
            name="hostile", hp_space={"learning_rate": search.double(min=1e-05, max=5e-05)}, objective=objective,
            objective_metric_name="eval_accuracy", max_trial_count=2, dry_run=True, **case.sdk)
    (argument,) = case.sdk
    assert denied.value.argument.startswith(argument), denied.value
    assert contract.BY_NAME[case.annotation].argument == argument
    error = denied.value.errors[0]
    assert error.code == case.code and error.path.startswith(contract.annotation_path(case.annotation)), error


@pytest.mark.parametrize("argument, value, code", [
    ("objectives", {"eval_loss": "minimize"}, "objectives.local-only"),
    ("objectives", {"eval_loss": "sideways"}, "objectives.format"),
    ("objectives", {"train_loss": "minimize"}, "objectives.metric"),
    ("warm_start_from", "runs/earlier", "warm-start.local-only"),
    ("warm_start_from", ["runs/a\x00"], "warm-start.reference"),
])
def test_sdk_local_only_arguments_are_denied_for_a_cluster_naming_the_argument(argument, value, code):
    from katib_llm import KatibClient, TrainingClient, search
    from katib_llm.sdk.errors import ArgumentDenied

    objective = TrainingClient().train(model_provider_parameters={"model_uri": "hf://google-bert/bert-base-cased"},
                                       dataset_provider_parameters={"repo_id": "yelp_review_full"}).metrics
    with pytest.raises(ArgumentDenied) as denied:
        KatibClient(namespace="kubeflow").tune(
            name="local-only", hp_space={"learning_rate": search.double(min=1e-05, max=5e-05)}, objective=objective,
            objective_metric_name="eval_accuracy", additional_metric_names=["eval_loss"], max_trial_count=2,
            dry_run=True, **{argument: value})
    assert denied.value.argument == argument and denied.value.errors[0].code == code
