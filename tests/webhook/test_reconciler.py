"""The PVC reconciler against the Kubernetes API stand-in (tests/kube_apiserver.py)."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from pathlib import Path

import pytest
import yaml

from katib_llm.webhook.reconciler import VolumeReconciler
from katib_llm.webhook.sources import ConfigSource

from tests.builders import example
from tests.kube_apiserver import KubeApiServer

from .conftest import KATIB_LLM, free_port


@pytest.fixture
def apis(standin):
    from kubernetes import client

    api = client.ApiClient(standin.configuration())
    yield client.CustomObjectsApi(api), client.CoreV1Api(api)
    api.close()


def _config_file(tmp_path: Path) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"storage": {"size": "20Gi", "storageClassName": "nfs-rwx",
                                                "accessModes": ["ReadWriteMany"]}}))
    return str(path)


def test_creates_the_claim_with_owner_and_admin_storage(standin, apis, tmp_path):
    exp = standin.put("experiments", example("bert-a"))
    reconciler = VolumeReconciler(*apis, ConfigSource(_config_file(tmp_path)))
    assert reconciler.reconcile(exp) == "created"
    pvc = standin.objects_of("persistentvolumeclaims")[("kubeflow", "bert-a-llm-cache")]
    assert pvc["spec"] == {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "20Gi"}},
                           "storageClassName": "nfs-rwx"}
    owner = pvc["metadata"]["ownerReferences"][0]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("Experiment", "bert-a", exp["metadata"]["uid"])
    assert reconciler.reconcile(exp) == "exists"
    assert standin.count("POST", "persistentvolumeclaims") == 1


def test_retain_named_claim_and_unlabelled(standin, apis):
    reconciler = VolumeReconciler(*apis, ConfigSource(None))
    kept = standin.put("experiments", example("kept", {"retain-volume": "true"}))
    assert reconciler.reconcile(kept) == "created"
    claims = standin.objects_of("persistentvolumeclaims")
    assert "ownerReferences" not in claims[("kubeflow", "kept-llm-cache")]["metadata"]
    own = standin.put("experiments", example("own", {"volume-claim": "my-claim"}))
    plain = example("plain")
    del plain["metadata"]["labels"]
    assert reconciler.reconcile(own) == "skipped"
    assert reconciler.reconcile(standin.put("experiments", plain)) == "skipped"
    assert standin.count("POST", "persistentvolumeclaims") == 1


def test_api_errors_are_reported_not_raised(standin, apis):
    reconciler = VolumeReconciler(*apis, ConfigSource(None))
    exp = standin.put("experiments", example("denied"))
    standin.fail[("POST", "persistentvolumeclaims")] = 403
    assert reconciler.reconcile(exp) == "failed"
    del standin.fail[("POST", "persistentvolumeclaims")]
    assert reconciler.reconcile(exp) == "created"  # a failure is not remembered as done


def test_list_then_watch_picks_up_new_experiments(standin, apis):
    standin.put("experiments", example("before"))
    reconciler = VolumeReconciler(*apis, ConfigSource(None), watch_timeout=2)
    stop = threading.Event()
    thread = threading.Thread(target=reconciler.run, args=(stop,), daemon=True)
    thread.start()
    try:
        _wait(lambda: ("kubeflow", "before-llm-cache") in standin.objects_of("persistentvolumeclaims"))
        standin.put("experiments", example("after"))
        _wait(lambda: ("kubeflow", "after-llm-cache") in standin.objects_of("persistentvolumeclaims"))
        assert any("watch=true" in p for _, p in standin.requests)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()


def _wait(cond, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise AssertionError("condition not met in time")


def _replica(standin: KubeApiServer, tmp_path: Path, identity: str) -> subprocess.Popen:
    kubeconfig = standin.write_kubeconfig(tmp_path / "kubeconfig")
    log = (tmp_path / f"{identity}.log").open("wb")
    return subprocess.Popen(
        [KATIB_LLM, "reconcile", "--kubeconfig", str(kubeconfig), "--lease-namespace", "katib-llm",
         "--identity", identity, "--health-port", str(free_port()), "--lease-duration", "4",
         "--renew-deadline", "3", "--retry-period", "1", "--watch-timeout", "3"],
        stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ, PYTHONUNBUFFERED="1"))


@pytest.mark.slow
def test_two_replicas_one_leader_and_failover(standin, tmp_path):
    """Two real ``katib-llm reconcile`` processes: only the Lease holder writes; when it dies the
    other takes over and keeps creating claims."""
    replicas = {name: _replica(standin, tmp_path, name) for name in ("replica-a", "replica-b")}
    try:
        standin.put("experiments", example("exp-1"))
        _wait(lambda: ("kubeflow", "exp-1-llm-cache") in standin.objects_of("persistentvolumeclaims"))
        lease = standin.objects_of("leases")[("katib-llm", "katib-llm-reconciler")]
        leader = lease["spec"]["holderIdentity"]
        assert leader in replicas and lease["spec"]["leaseDurationSeconds"] == 4
        time.sleep(2)  # both replicas alive; the follower must not have written
        assert standin.count("POST", "persistentvolumeclaims") == 1
        replicas[leader].terminate()
        replicas[leader].wait(timeout=15)
        follower = next(n for n in replicas if n != leader)
        _wait(lambda: standin.objects_of("leases")[("katib-llm", "katib-llm-reconciler")]["spec"]["holderIdentity"]
              == follower)
        standin.put("experiments", example("exp-2"))
        _wait(lambda: ("kubeflow", "exp-2-llm-cache") in standin.objects_of("persistentvolumeclaims"))
        assert replicas[follower].poll() is None
    finally:
        for proc in replicas.values():
            if proc.poll() is None:
                proc.terminate()
                proc.wait(timeout=15)
    logs = "".join((tmp_path / f"{n}.log").read_text() for n in replicas)
    assert "Traceback" not in logs, logs


def test_a_bad_item_is_skipped_and_the_rest_get_their_claims(standin, apis, caplog):
    standin.put("experiments", example("good-a"))
    standin.put("experiments", example("bad"))
    for obj in standin.objects.values():  # a stored object the client cannot build a claim for
        if obj["metadata"]["name"] == "bad":
            obj["metadata"]["uid"] = ["not", "a", "uid"]
    standin.put("experiments", example("good-b"))
    reconciler = VolumeReconciler(*apis, ConfigSource(None))
    reconciler._list()
    claims = standin.objects_of("persistentvolumeclaims")
    assert {("kubeflow", "good-a-llm-cache"), ("kubeflow", "good-b-llm-cache")} <= set(claims)
    assert ("kubeflow", "bad-llm-cache") not in claims
    assert any("skipping Experiment kubeflow/bad" in r.getMessage() for r in caplog.records)
    assert reconciler.reconcile_safely("not an object") == "failed"


def test_the_webhooks_namespace_filter_is_honoured():
    from kubernetes import client

    namespaces = [{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
                  for name, labels in (("kubeflow", {"llm.katib.kubeflow.org/enabled": "true"}), ("team-b", {}))]
    excluded = example("in-excluded")
    excluded["metadata"]["namespace"] = "skip-me"
    unlabelled = example("in-team-b")
    unlabelled["metadata"]["namespace"] = "team-b"
    served = example("in-kubeflow")
    with KubeApiServer(objects=namespaces) as standin:
        api = client.ApiClient(standin.configuration())
        reconciler = VolumeReconciler(client.CustomObjectsApi(api), client.CoreV1Api(api), ConfigSource(None),
                                      exclude_namespaces=("skip-me",),
                                      namespace_labels=(("llm.katib.kubeflow.org/enabled", "true"),))
        outcomes = [reconciler.reconcile(standin.put("experiments", e)) for e in (excluded, unlabelled, served)]
        claims = set(standin.objects_of("persistentvolumeclaims"))
        api.close()
    assert outcomes == ["skipped", "skipped", "created"]
    assert claims == {("kubeflow", "in-kubeflow-llm-cache")}
