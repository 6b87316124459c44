"""Property-based fuzzing of request bodies against the running server: never a 5xx, never a crash."""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katib_llm.core import contract
from tests.builders import example, review
from tests.conformance.schemas import admitted_errors

from .apiserver_client import apply_patch, check_envelope

EXAMPLE = example()
# Every annotation the contract knows (new ones are fuzzed as soon as they exist) and one it does not.
ANNOTATIONS = sorted(contract.KNOWN_ANNOTATIONS) + ["not-a-katib-llm-annotation"]
SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                           HealthCheck.function_scoped_fixture])

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**40, 2**40) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)
annotation_values = st.one_of(
    st.text(max_size=40), json_values.map(json.dumps), st.sampled_from(
        ["hf://a/b", "s3://bucket/p", "lakefs://x", "hf://", "://", "4", "-1", "0", "1e9", "true", "{}", "[]",
         '{"gpu": 2}', '{"gpu": "x"}', "hf://yelp_review_full?split=train[:3000]"]))


def _paths(obj, prefix=()):
    """Every (path) into a JSON object, for targeted replacement."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, prefix + (i,))


ALL_PATHS = [p for p in _paths(EXAMPLE) if p]
# What kube-apiserver guarantees before admission: apiVersion, kind and a well-formed ObjectMeta
# (string annotation values). Only the spec is free-form (Katib's CRD carries no schema).
SPEC_PATHS = [p for p in ALL_PATHS if p[0] == "spec"]


def same_type(value):
    """A replacement of the same JSON type. Katib's own mutating webhook runs before ours and
    decodes the Experiment into Go structs, so a type-mismatched spec never reaches us on a cluster."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.integers(-3, 10**6)
    if isinstance(value, float):
        return st.floats(-1e6, 1e6, allow_nan=False)
    if isinstance(value, str):
        return st.text(max_size=20) | st.sampled_from(["", "0", "-1", "1e-05", "abc", "maximize", "minimize",
                                                       "int", "double", "categorical", "discrete", "random"])
    return st.just(value)


@st.composite
def mutated_experiments(draw, plausible: bool):
    exp = copy.deepcopy(EXAMPLE)
    for name in draw(st.lists(st.sampled_from(ANNOTATIONS), max_size=4)):
        exp["metadata"]["annotations"][contract.PREFIX + name] = draw(annotation_values)
    for path in draw(st.lists(st.sampled_from(SPEC_PATHS if plausible else ALL_PATHS), max_size=3)):
        target = exp
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = draw(same_type(target[path[-1]]) if plausible else json_values)
        except (KeyError, IndexError, TypeError):
            continue
    return exp


def _check(client, body: bytes, request: dict | None = None, recheck: bool = False, path: str = "/mutate") -> None:
    reply = client.post(path, body)
    assert reply.status < 500, (reply.status, reply.body[:500])
    assert reply.status in (200, 400, 413), reply.status
    if reply.status == 200:
        answer = reply.json
        if request is not None:
            check_envelope(request, answer)
        status = answer["response"].get("status") or {}
        assert status.get("code") != 500, status  # the core failed on this input: a bug
        if recheck and answer["response"]["allowed"] and "patch" in answer["response"]:
            # As kube-apiserver: the mutated object then goes through the validating webhook;
            # what both admit must pass every cluster check.
            admitted = apply_patch(request["request"]["object"], answer["response"])
            old = request["request"].get("oldObject")
            follow = review(admitted, request["request"]["operation"], old, request["request"]["dryRun"])
            verdict = client.post("/validate", json.dumps(follow).encode())
            assert verdict.status == 200, verdict.status
            check_envelope(follow, verdict.json)
            if verdict.json["response"]["allowed"]:
                assert admitted_errors(admitted) == []
            else:
                assert verdict.json["response"]["status"]["details"]["causes"], verdict.json
    else:
        assert reply.json["message"]


@SETTINGS
@given(st.binary(max_size=300) | json_values.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bodies(client, body):
    _check(client, body)


@SETTINGS
@given(st.dictionaries(st.sampled_from(["uid", "kind", "resource", "operation", "namespace", "object", "oldObject",
                                         "dryRun", "userInfo"]), json_values, max_size=9))
def test_arbitrary_review_requests(client, request_fields):
    body = {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request_fields}
    _check(client, json.dumps(body).encode())


@SETTINGS
@given(mutated_experiments(plausible=False), st.sampled_from(["CREATE", "UPDATE"]), st.booleans(),
       st.sampled_from(["/mutate", "/validate"]))
def test_mangled_experiments(client, experiment, operation, dry_run, path):
    request = review(experiment, operation, EXAMPLE if operation == "UPDATE" else None, dry_run)
    _check(client, json.dumps(request).encode(), request, path=path)


@SETTINGS
@given(mutated_experiments(plausible=True), st.sampled_from(["CREATE", "UPDATE"]), st.booleans())
def test_admitted_mutations_pass_the_cluster_checks(client, experiment, operation, dry_run):
    """Whatever the server admits from an apiserver-plausible object applies and passes the checks."""
    request = review(experiment, operation, EXAMPLE if operation == "UPDATE" else None, dry_run)
    _check(client, json.dumps(request).encode(), request, recheck=True)
