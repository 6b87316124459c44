"""Bounded cost per request, against the real TLS server (with the Kubernetes API stand-in for
referenced ConfigMaps): alias bombs, foreign namespaces, many parameters, huge and deep bodies,
operations we do not judge."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.kube_apiserver import KubeApiServer

from tests.builders import review as build_review
from .conftest import Server, start_server, stop_server

EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "bert-lora-experiment.yaml").read_text())
NS = EXAMPLE["metadata"]["namespace"]


def alias_bomb(levels: int = 8) -> str:
    """The classic "billion laughs": 9 ** levels strings from about 1.6 KB of YAML."""
    lines = ['l0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]")
    lines.append(f"apiVersion: batch/v1\nkind: Job\nspec: {{template: {{spec: {{containers: [{{name: c, args: *l{levels}}}]}}}}}}")
    return "\n".join(lines)


@pytest.fixture(scope="module")
def api() -> Iterator[KubeApiServer]:
    with KubeApiServer() as standin:
        yield standin


@pytest.fixture(scope="module")
def kube_server(tmp_path_factory: pytest.TempPathFactory, certs: Path, api: KubeApiServer) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("bounded")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KUBECONFIG", str(api.write_kubeconfig(tmp / "kubeconfig")))
        srv = start_server(tmp, certs, "--kube-api")
    yield srv
    stop_server(srv)
    assert "Traceback" not in srv.logs(), srv.logs()


def _referencing(name: str, namespace: str, path: str = "job.yaml") -> dict:
    exp = copy.deepcopy(EXAMPLE)
    exp["spec"]["trialTemplate"] = {"configMap": {"configMapName": name, "configMapNamespace": namespace,
                                                  "templatePath": path},
                                    "primaryContainerName": "c"}
    return exp


def _causes(reply) -> set[str]:
    return {c["reason"] for c in reply.response["status"]["details"]["causes"]}


def test_alias_bomb_in_a_referenced_template_is_denied_small_and_fast(kube_server, api):
    bomb = alias_bomb()
    assert len(bomb) < 2000
    api.put("configmaps", {"metadata": {"name": "bomb", "namespace": NS}, "data": {"job.yaml": bomb}})
    client = kube_server.client()
    try:
        for endpoint in ("/mutate", "/validate"):
            start = time.perf_counter()
            reply = client.review(_referencing("bomb", NS), path=endpoint)
            elapsed = time.perf_counter() - start
            assert reply.status == 200 and not reply.response["allowed"]
            assert "template.yaml-refused" in _causes(reply), reply.body[:500]
            assert "alias" in reply.response["status"]["message"] or "anchor" in reply.response["status"]["message"]
            assert len(reply.body) < 10_000 and elapsed < 2.0, (len(reply.body), elapsed)
    finally:
        client.close()


def test_template_configmap_of_another_namespace_is_never_read(kube_server, api):
    api.put("configmaps", {"metadata": {"name": "theirs", "namespace": "other-team"},
                           "data": {"job.yaml": "apiVersion: batch/v1\nkind: Job\n"}})
    before = [p for _, p in api.requests if "/namespaces/other-team/" in p]
    client = kube_server.client()
    try:
        reply = client.review(_referencing("theirs", "other-team"))
    finally:
        client.close()
    assert not reply.response["allowed"] and "template.configmap-namespace" in _causes(reply)
    assert [p for _, p in api.requests if "/namespaces/other-team/" in p] == before


def test_twenty_thousand_parameters_cost_a_denial_not_seconds(kube_server):
    exp = copy.deepcopy(EXAMPLE)
    exp["spec"]["parameters"] = [{"name": f"learning_rat{i}", "parameterType": "double",
                                  "feasibleSpace": {"min": "0.1", "max": "0.2"}} for i in range(20_000)]
    client = kube_server.client()
    try:
        start = time.perf_counter()
        reply = client.review(exp)
        elapsed = time.perf_counter() - start
    finally:
        client.close()
    assert reply.status == 200 and not reply.response["allowed"]
    assert _causes(reply) == {"parameters.too-many"}
    assert elapsed < 3.0, elapsed


def test_near_miss_names_under_the_cap_list_bounded_errors(kube_server):
    exp = copy.deepcopy(EXAMPLE)
    exp["spec"]["parameters"] = [{"name": f"learning_rat{i}", "parameterType": "double",
                                  "feasibleSpace": {"min": "0.1", "max": "0.2"}} for i in range(100)]
    client = kube_server.client()
    try:
        reply = client.review(exp)
    finally:
        client.close()
    causes = reply.response["status"]["details"]["causes"]
    assert len(causes) == 51 and causes[-1]["reason"] == "errors.truncated"
    assert sum("did you mean" in c["message"] for c in causes) == 10


def test_huge_and_deep_bodies_get_4xx_and_the_server_keeps_answering(kube_server):
    client = kube_server.client()
    try:
        huge = client.post("/mutate", b'{"x": "' + b"a" * (4 * 1024 * 1024) + b'"}')
        assert huge.status == 413
        deep = client.post("/mutate", b"[" * 200_000 + b"]" * 200_000)
        assert deep.status == 400 and b"not JSON" in deep.body
        for depth in (1000, 5000):  # around orjson's nesting limit (1024) and far past it
            review = build_review(EXAMPLE)
            review["request"]["object"]["spec"]["deep"] = "MARK"
            body = json.dumps(review).replace('"MARK"', '{"a": ' * depth + "1" + "}" * depth)
            start = time.perf_counter()
            reply = client.post("/mutate", body.encode())
            assert time.perf_counter() - start < 3.0
            if reply.status == 200:  # parsed: the core denies it by depth, before any recursive walk
                assert reply.response["status"]["details"]["causes"][0]["reason"] == "experiment.depth"
            else:
                assert reply.status == 400, reply.body[:300]
        assert client.review(EXAMPLE).response["allowed"]
    finally:
        client.close()


@pytest.mark.parametrize("operation", ["DELETE", "CONNECT"])
@pytest.mark.parametrize("endpoint", ["/mutate", "/validate"])
def test_operations_we_do_not_judge_are_allowed_untouched(kube_server, operation, endpoint):
    client = kube_server.client()
    try:
        review = build_review(None if operation == "DELETE" else EXAMPLE, operation=operation,
                              old=EXAMPLE if operation == "DELETE" else None)
        reply = client.post(endpoint, json.dumps(review).encode())
    finally:
        client.close()
    assert reply.status == 200
    response = reply.json["response"]
    assert response["allowed"] is True and "patch" not in response and "patchType" not in response
