"""A labelled Experiment sent the way kube-apiserver sends it, against the real gunicorn server."""

from __future__ import annotations

import copy
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from tests.builders import EXAMPLE_PATH, example
from tests.conformance.schemas import admitted_errors

from .apiserver_client import apply_patch

PREFIX = "llm.katib.kubeflow.org/"


@pytest.fixture(scope="module")
def experiment() -> dict:
    return example()


def test_labelled_experiment_is_admitted_with_a_patch_that_applies_and_passes(client, experiment):
    reply = client.review(experiment)
    assert reply.status == 200 and reply.headers["content-type"].startswith("application/json")
    response = reply.response
    assert response["allowed"] is True and response["patchType"] == "JSONPatch"
    admitted = apply_patch(reply.request["request"]["object"], response)
    assert admitted_errors(admitted) == []
    # The validating webhook accepts what the mutating one produced, and re-mutating is a no-op.
    assert client.review(admitted, path="/validate").response["allowed"] is True
    again = client.review(admitted).response
    assert again["allowed"] is True and "patch" not in again


def test_trainjob_experiment_is_admitted_over_tls_and_stable(client):
    """Kubeflow Trainer v2 trials through the real server: patched, valid (Katib and the TrainJob
    CRD when the reference is present), accepted by /validate, and a second /mutate is a no-op."""
    exp = yaml.safe_load((EXAMPLE_PATH.parent / "bert-lora-trainjob.yaml").read_text())
    reply = client.review(exp)
    assert reply.response["allowed"] is True
    admitted = apply_patch(reply.request["request"]["object"], reply.response)
    assert admitted["spec"]["trialTemplate"]["trialSpec"]["kind"] == "TrainJob"
    assert admitted_errors(admitted) == []
    assert client.review(admitted, path="/validate").response["allowed"] is True
    assert "patch" not in client.review(admitted).response


def test_malformed_experiment_is_denied_naming_the_field(client, experiment):
    bad = copy.deepcopy(experiment)
    bad["metadata"]["annotations"][PREFIX + "resources-per-worker"] = '{"gpu": 99}'
    bad["spec"]["parameters"][0]["feasibleSpace"] = {"min": "0.1", "max": "0.01"}
    for path in ("/mutate", "/validate"):
        response = client.review(bad, path=path).response
        assert response["allowed"] is False and "patch" not in response
        status = response["status"]
        assert status["code"] == 403
        fields = {c["field"] for c in status["details"]["causes"]}
        assert f"metadata.annotations[{PREFIX}resources-per-worker].gpu" in fields
        assert any(f.startswith("spec.parameters[0]") for f in fields), fields
        assert f"metadata.annotations[{PREFIX}resources-per-worker].gpu" in status["message"]


def test_katib_rule_is_left_to_the_validating_phase(client, experiment):
    """As kube-apiserver chains them: /mutate patches, /validate (on the final object) denies."""
    bad = copy.deepcopy(experiment)
    bad["spec"]["maxFailedTrialCount"] = bad["spec"]["maxTrialCount"] + 1
    mutated = client.review(bad)
    assert mutated.response["allowed"] is True and "patch" in mutated.response
    stored = apply_patch(mutated.request["request"]["object"], mutated.response)
    verdict = client.review(stored, path="/validate").response
    assert verdict["allowed"] is False
    assert [c["field"] for c in verdict["status"]["details"]["causes"]] == ["spec.maxFailedTrialCount"]


def test_unlabelled_experiment_passes_untouched(client, experiment):
    plain = copy.deepcopy(experiment)
    del plain["metadata"]["labels"]
    for path in ("/mutate", "/validate"):
        response = client.review(plain, path=path).response
        assert response == {"uid": response["uid"], "allowed": True}


def test_update_and_dry_run_and_delete(client, experiment):
    admitted = apply_patch(client.review(experiment).request["request"]["object"], client.review(experiment).response)
    changed = copy.deepcopy(admitted)
    changed["spec"]["maxTrialCount"] = 60
    reply = client.review(changed, operation="UPDATE", old=admitted)
    assert reply.response["allowed"] is True
    dry = client.review(experiment, dry_run=True).response
    wet = client.review(experiment).response
    assert dry["allowed"] and dry["patch"] == wet["patch"]
    gone = client.review(None, operation="DELETE", old=admitted).response
    assert gone["allowed"] is True and "patch" not in gone


@pytest.mark.parametrize("body, status, words", [
    (b"not json", 400, "not JSON"),
    (b"[1, 2]", 400, "JSON object"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1beta1", "kind": "AdmissionReview", "request": {}}).encode(),
     400, "admissionReviewVersions"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview"}).encode(), 400, "request"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                 "request": {"uid": "u", "operation": "CREATE"}}).encode(), 400, "request.object"),
    (json.dumps({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                 "request": {"uid": "", "operation": "CREATE", "object": {}}}).encode(), 400, "request.uid"),
])
def test_malformed_reviews_get_a_4xx_naming_the_problem(client, body, status, words):
    reply = client.post("/mutate", body)
    assert reply.status == status
    assert words in reply.json["message"]


def test_oversized_body_is_413_not_5xx(client, experiment):
    big = copy.deepcopy(experiment)
    big["metadata"]["annotations"]["padding"] = "x" * (3 * 1024 * 1024)
    from tests.builders import review

    reply = client.post("/mutate", json.dumps(review(big)).encode())
    assert reply.status == 413 and "3 MiB" in reply.json["message"]
    client.close()


def test_timeout_query_is_honoured_and_checked(client, experiment):
    from tests.builders import review

    body = json.dumps(review(experiment)).encode()
    assert client.post("/mutate", body, query="timeout=1500ms").status == 200
    bad = client.post("/mutate", body, query="timeout=soon")
    assert bad.status == 400 and "timeout" in bad.json["message"]


def test_health_ready_and_metrics(client, experiment):
    assert client.get("/healthz").status == 200
    assert client.get("/readyz").status == 200
    client.review(experiment)
    text = client.get("/metrics").body.decode()
    assert 'katib_llm_webhook_requests_total{endpoint="mutate",outcome="allowed"}' in text
    assert "katib_llm_webhook_request_seconds_bucket" in text


def test_many_concurrent_apiserver_clients(server, experiment):
    def one_client(i: int) -> list[str]:
        c = server.client()
        problems = []
        try:
            for _ in range(4):
                reply = c.review(experiment)
                if reply.status != 200 or not reply.response["allowed"]:
                    problems.append(f"client {i}: {reply.status} {reply.body[:200]!r}")
        finally:
            c.close()
        return problems

    with ThreadPoolExecutor(32) as pool:
        problems = [p for ps in pool.map(one_client, range(32)) for p in ps]
    assert problems == []


def test_tls_is_verified_for_the_service_name_and_at_least_1_2(server):
    import ssl
    import warnings

    good = server.client()
    assert good.get("/healthz").status == 200
    assert good._conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    good.close()
    from .apiserver_client import ApiserverClient

    wrong = ApiserverClient(server.port, str(server.certs / "ca.crt"), "katib-llm-webhook", "other-namespace")
    with pytest.raises(ssl.SSLCertVerificationError):
        wrong.get("/healthz")
    wrong.close()
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname = False
    old.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():  # TLS 1.1 is deprecated: that is the point of the check
        warnings.simplefilter("ignore", DeprecationWarning)
        old.maximum_version = ssl.TLSVersion.TLSv1_1
    import socket

    with socket.create_connection(("127.0.0.1", server.port)) as raw, pytest.raises(ssl.SSLError):
        old.wrap_socket(raw, server_hostname=good.host).do_handshake()
