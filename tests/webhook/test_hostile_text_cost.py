"""Through the real TLS webhook: a review carrying 30 KB values shaped to make a backtracking
credential pattern slow (which once held a worker ~35 s per review, denying every labelled
Experiment in the cluster under failurePolicy: Fail) is answered at once, with the same verdict
as the core."""

from __future__ import annotations

import json
import time

import pytest

from tests.builders import admitted, batch_job, container, example, own_trial, review

HOSTILE = {"passw": "passw" * 6_000, "keyish": "key" * 10_000, "word": "a" * 30_000}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_hostile_30_kb_value_is_answered_at_once(client, name):
    text = HOSTILE[name]
    exp = own_trial(example(annotations={"training-args": json.dumps({"run_name": text})}),
                    batch_job({"containers": [container("training", args=[text])]}), "training")
    body = json.dumps(review(exp)).encode()
    started = time.perf_counter()
    reply = client.post("/validate", body, query="timeout=10s")
    elapsed = time.perf_counter() - started
    assert reply.status == 200
    assert elapsed < 2.0, elapsed  # the former patterns took ~20 s (keyish) to minutes (passw) here
    core = admitted(exp)
    assert reply.json["response"]["allowed"] is core.allowed
