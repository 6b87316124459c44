"""Cost is part of the contract: any request under the body cap is answered quickly.

An Experiment filled up to the webhook's body cap with the adversarial strings of
tests/hostile.py (in parameter names, categorical values, metrics formats, foreign annotations,
our annotations) gets its AdmissionReview answer in well under a second on one core. A check that
were quadratic in its input would take minutes here.
"""

from __future__ import annotations

import json
import time

import pytest

from katib_llm.webhook.reviews import MAX_BODY_BYTES
from tests.builders import example, review
from tests.hostile import adversarial_texts

SECONDS = 1.0


@pytest.fixture(scope="module")
def webhook():
    from katib_llm.webhook.app import create_app
    from katib_llm.webhook.sources import ConfigSource

    return create_app(ConfigSource(None), None).test_client()


def _fill(exp: dict, place) -> bytes:
    """The review of ``exp`` with adversarial strings put by ``place(exp, i, text)`` until the
    body is as close to the cap as it gets."""
    texts = adversarial_texts()
    body = json.dumps(review(exp)).encode()
    i = 0
    while True:
        trial = json.loads(json.dumps(exp))
        place(trial, i, texts[i % len(texts)])
        candidate = json.dumps(review(trial)).encode()
        if len(candidate) > MAX_BODY_BYTES or i >= 400:
            return body
        exp, body, i = trial, candidate, i + 1


def _parameters(exp: dict, i: int, text: str) -> None:
    exp["spec"]["parameters"] = exp["spec"]["parameters"][:99] + [
        {"name": text[:5000], "parameterType": "categorical", "feasibleSpace": {"list": [text[:20000]] * 3}}]


def _foreign_annotations(exp: dict, i: int, text: str) -> None:
    exp["metadata"]["annotations"][f"example.com/note-{i}"] = text


def _metrics_formats(exp: dict, i: int, text: str) -> None:
    source = exp["spec"].setdefault("metricsCollectorSpec", {}).setdefault("source", {})
    source.setdefault("filter", {}).setdefault("metricsFormat", []).append(text)


def _names(exp: dict, i: int, text: str) -> None:
    exp["metadata"]["name"] = text
    exp["spec"]["objective"].setdefault("additionalMetricNames", []).append(text)


@pytest.mark.parametrize("place", [_parameters, _foreign_annotations, _metrics_formats, _names],
                         ids=lambda f: f.__name__.strip("_"))
def test_a_request_at_the_body_cap_is_answered_in_well_under_a_second(webhook, place):
    body = _fill(example(), place)
    assert len(body) > MAX_BODY_BYTES // 2
    started = time.perf_counter()
    reply = webhook.post("/mutate?timeout=10s", data=body, content_type="application/json")
    seconds = time.perf_counter() - started
    assert reply.status_code == 200 and "allowed" in reply.get_json()["response"]
    assert seconds < SECONDS, f"{len(body)} bytes answered in {seconds:.2f} s"


def test_a_30_kb_value_of_our_annotation_is_answered_in_well_under_a_second(webhook):
    """30 KB of letters: a run a backtracking credential pattern rescans from every position."""
    exp = example(annotations={"queue": "a" * 30_000})
    started = time.perf_counter()
    reply = webhook.post("/mutate?timeout=10s", json=review(exp))
    assert reply.status_code == 200 and reply.get_json()["response"]["allowed"] is False
    assert time.perf_counter() - started < SECONDS
