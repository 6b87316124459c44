"""The pure AdmissionReview layer: decoding errors name the field; responses built from core results."""

from __future__ import annotations

import base64
import json

import pytest

from katib_llm.core.admit import AdmissionResult
from katib_llm.core.errors import FieldError
from katib_llm.webhook.reviews import (MAX_BODY_BYTES, ReviewError, build_response, parse_review,
                                       parse_timeout)
from tests.builders import review as admission_review


def _body(**request) -> bytes:
    base = admission_review({"apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
                         "metadata": {"name": "e", "namespace": "ns"}, "spec": {}})
    base["request"].update(request)
    return json.dumps(base).encode()


def test_parse_a_review_like_the_apiserver_sends():
    review = parse_review(_body(dryRun=True))
    assert review.operation == "CREATE" and review.dry_run and review.is_experiment
    assert review.namespace == "ns" and review.experiment["metadata"]["name"] == "e"


@pytest.mark.parametrize("change, field", [
    ({"uid": 7}, "request.uid"),
    ({"operation": "PATCH"}, "request.operation"),
    ({"object": "x"}, "request.object"),
    ({"object": None}, "request.object"),
    ({"operation": "UPDATE", "oldObject": None}, "request.oldObject"),
    ({"dryRun": "yes"}, "request.dryRun"),
])
def test_bad_request_fields_are_named(change, field):
    with pytest.raises(ReviewError) as info:
        parse_review(_body(**change))
    assert info.value.status == 400 and info.value.message.startswith(field)


def test_oversize_is_413():
    with pytest.raises(ReviewError) as info:
        parse_review(b" " * (MAX_BODY_BYTES + 1))
    assert info.value.status == 413


def test_patch_only_when_something_changes_and_only_when_mutating():
    patch = [{"op": "add", "path": "/spec/x", "value": 1}]
    changed = AdmissionResult(True, {}, patch, ["note"])
    out = build_response("u1", changed, mutating=True)["response"]
    assert out["patchType"] == "JSONPatch" and json.loads(base64.b64decode(out["patch"])) == patch
    assert out["warnings"] == ["note"] and out["uid"] == "u1"
    assert "patch" not in build_response("u1", changed, mutating=False)["response"]
    unchanged = build_response("u2", AdmissionResult(True, {}, []), mutating=True)
    assert unchanged == {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                         "response": {"uid": "u2", "allowed": True}}


def test_denial_carries_code_message_and_causes():
    err = FieldError("metadata.annotations[llm.katib.kubeflow.org/workers]", "workers.cap", "at most 16")
    out = build_response("u3", AdmissionResult(False, {}, [], [], [err]), mutating=True)["response"]
    assert out["allowed"] is False and "patch" not in out
    assert out["status"]["code"] == 403 and err.path in out["status"]["message"]
    assert out["status"]["details"]["causes"] == [{"field": err.path, "reason": "workers.cap", "message": "at most 16"}]


@pytest.mark.parametrize("raw, seconds", [(None, 10.0), ("10s", 10.0), ("1500ms", 1.5), ("1m", 30.0),
                                          ("2s500ms", 2.5)])
def test_timeout_parsing(raw, seconds):
    assert parse_timeout(raw) == seconds


@pytest.mark.parametrize("raw", ["10", "s", "-1s", "0s", "10sx", "1e3s"])
def test_bad_timeouts(raw):
    with pytest.raises(ReviewError) as info:
        parse_timeout(raw)
    assert info.value.status == 400 and "timeout" in info.value.message
