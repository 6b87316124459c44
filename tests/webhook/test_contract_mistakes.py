"""The table of mistakes (tests/contract_mistakes.py) through the real TLS webhook: every mistake is
denied by /validate and /mutate naming its field (a cause with field = path, reason = code),
always HTTP 200 and never an internal error, and no response carries a secret."""

from __future__ import annotations

import json

import pytest

from tests.contract_mistakes import MISTAKES

from tests.builders import review as build_review


@pytest.mark.parametrize("endpoint", ["/validate", "/mutate"])
def test_every_mistake_is_denied_naming_the_field(client, endpoint):
    for mistake in MISTAKES:
        exp = mistake.experiment()
        try:
            json.dumps(exp, allow_nan=False)
        except ValueError:  # YAML's .inf: kube-apiserver's JSON cannot carry it; the server refuses such a body
            reply = client.post(endpoint, json.dumps(build_review(exp)).encode(), query="timeout=10s")
            assert reply.status == 400, (mistake.id, reply.status)
            continue
        reply = client.post(endpoint, json.dumps(build_review(exp)).encode(), query="timeout=10s")
        assert reply.status == 200, (mistake.id, reply.status, reply.body[:300])
        response = reply.json["response"]
        assert response["allowed"] is False, mistake.id
        assert response["status"]["code"] == 403, (mistake.id, response["status"])
        causes = {(c["field"], c["reason"]) for c in response["status"]["details"]["causes"]}
        assert (mistake.path, mistake.code) in causes, (mistake.id, causes)
        if mistake.secret:
            assert mistake.secret.encode() not in reply.body, mistake.id
            assert json.dumps(mistake.secret)[1:-1].encode() not in reply.body, mistake.id


def test_a_wrong_label_value_without_our_annotations_is_left_alone(client):
    """Exists selects every Experiment with the label; only those carrying our annotations are denied."""
    exp = MISTAKES[0].experiment()
    exp["metadata"]["labels"]["llm.katib.kubeflow.org/tune"] = "false"
    exp["metadata"]["annotations"] = {}
    reply = client.post("/validate", json.dumps(build_review(exp)).encode(), query="timeout=10s")
    assert reply.status == 200 and reply.json["response"]["allowed"] is True
