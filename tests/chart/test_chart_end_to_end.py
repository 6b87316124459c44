"""End to end: the chart's rendered certificate and admin config, given to the REAL server.

The chart is rendered (self-signed mode) by the real Helm engine; the Secret and ConfigMap are
written to files as the kubelet projects them; ``katib-llm webhook`` starts with the argv of the
rendered Deployment (only paths, port and bind address changed; ``--kube-api`` is kept and
reaches a stand-in API server on 127.0.0.1 through KUBECONFIG instead of the pod's service
account); then a labelled Experiment is sent as kube-apiserver would, using the
rendered webhook configurations: HTTP/1.1, TLS with SNI ``<service>.<namespace>.svc`` verified
with the rendered ``caBundle``, ``POST <path>?timeout=<timeoutSeconds>s``, AdmissionReview v1.
The patch is applied and the result checked like the cluster would (``tests.conformance.schemas``).
"""

from __future__ import annotations

import base64
import importlib.util
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
import yaml

from tests.conformance.schemas import admitted_errors

from .helpers import REPO, Render, apiserver, render

CLIENT_MODULE = REPO / "tests" / "webhook" / "apiserver_client.py"
EXAMPLE = REPO / "examples" / "bert-lora-experiment.yaml"
KATIB_LLM = str(Path(sys.executable).with_name("katib-llm"))
RUNTIME_IMAGE = "registry.example.com/ml/katib-llm-runtime:0.1.0-e2e"
LAKEFS_IMAGE = "registry.example.com/lakefs-fetch:1.2"
# A custom provider declared by a data scientist in the Experiment's namespace (core.providers).
PROVIDER_CONFIGMAP = {
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "lakefs-provider", "namespace": "kubeflow",
                 "labels": {"llm.katib.kubeflow.org/provider": "true"}},
    "data": {"provider.yaml": yaml.safe_dump({
        "scheme": "lakefs", "image": LAKEFS_IMAGE, "command": ["python", "-m", "lakefs_fetch"],
        "args": ["{uri}", "--out", "{target}"]})},
}
VALUES = {
    "server": {"workers": 1, "threads": 4},  # one process: the machine is shared
    "config": {"images": {"runtime": RUNTIME_IMAGE},
               "credentials": {"hfTokenSecret": "hf-token"},
               "allowedModelSources": ["hf://google-bert/", "hf://yelp_review_full", "lakefs://"]},
}


def _apiserver_client_module() -> Any:
    """The webhook suite's apiserver-faithful client, loaded by path (``webhook`` is also a source dir)."""
    spec = importlib.util.spec_from_file_location("chart_e2e_apiserver_client", CLIENT_MODULE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _project(rendered: Render, root: Path) -> dict[str, Path]:
    """Write the rendered Secret and ConfigMap where the Deployment mounts them (under ``root``)."""
    deployment = rendered.one("Deployment", "katib-llm-webhook")
    pod = deployment["spec"]["template"]["spec"]
    [container] = [c for c in pod["containers"] if c["name"] == "webhook"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts: dict[str, Path] = {}
    for mount in container["volumeMounts"]:
        target = root / mount["mountPath"].lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        volume = volumes[mount["name"]]
        if "secret" in volume:
            secret = rendered.one("Secret", volume["secret"]["secretName"])
            for key, value in secret["data"].items():
                (target / key).write_bytes(base64.b64decode(value))
        elif "configMap" in volume:
            for key, value in rendered.one("ConfigMap", volume["configMap"]["name"])["data"].items():
                (target / key).write_text(value)
        mounts[mount["mountPath"]] = target
    return mounts


def _argv(rendered: Render, mounts: dict[str, Path], port: int) -> list[str]:
    [container] = [c for c in rendered.one("Deployment", "katib-llm-webhook")["spec"]["template"]["spec"]["containers"]
                   if c["name"] == "webhook"]
    argv = []
    for arg in container["command"]:
        for mount_path, local in mounts.items():
            if arg.startswith(mount_path + "/"):
                arg = str(local) + arg[len(mount_path):]
                break
        argv.append(arg)
    assert argv[0] == "katib-llm"
    argv[0] = KATIB_LLM
    argv[argv.index("--port") + 1] = str(port)
    return argv + ["--bind", "127.0.0.1"]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory) -> Iterator[tuple[Render, int, Path, Any]]:
    rendered = render(VALUES)
    root = tmp_path_factory.mktemp("pod")
    mounts = _project(rendered, root)
    port = _free_port()
    argv = _argv(rendered, mounts, port)
    assert "--kube-api" in argv
    api = apiserver([PROVIDER_CONFIGMAP]).__enter__()
    log = root / "webhook.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1", KUBECONFIG=str(api.write_kubeconfig(root / "kubeconfig")))
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, env=env)
    ca_file = root / "caBundle.pem"
    webhook = rendered.one("MutatingWebhookConfiguration")["webhooks"][0]
    ca_file.write_bytes(base64.b64decode(webhook["clientConfig"]["caBundle"]))
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None:
            api.__exit__()
            pytest.fail(f"webhook exited {proc.returncode}:\n{log.read_text()}")
        try:
            ctx = ssl.create_default_context(cafile=str(ca_file))
            with socket.create_connection(("127.0.0.1", port), timeout=2) as raw, \
                    ctx.wrap_socket(raw, server_hostname="katib-llm-webhook.katib-llm.svc") as tls:
                tls.sendall(b"GET /readyz HTTP/1.1\r\nHost: katib-llm-webhook.katib-llm.svc\r\nConnection: close\r\n\r\n")
                if tls.recv(64).startswith(b"HTTP/1.1 200"):
                    break
        except (OSError, ssl.SSLError):
            pass
        if time.monotonic() > deadline:
            proc.terminate()
            api.__exit__()
            pytest.fail(f"webhook not ready in 60 s:\n{log.read_text()}")
        time.sleep(0.2)
    try:
        yield rendered, port, ca_file, _apiserver_client_module()
    finally:
        api.__exit__()
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert "Traceback" not in log.read_text(), log.read_text()


def _client(deployed, kind: str):
    rendered, port, ca_file, module = deployed
    webhook = rendered.one(kind)["webhooks"][0]
    service = webhook["clientConfig"]["service"]
    client = module.ApiserverClient(port, str(ca_file), service["name"], service["namespace"],
                                    timeout=f"{webhook['timeoutSeconds']}s")
    return client, service["path"], module


def test_rendered_chart_admits_a_labelled_example_as_the_apiserver_sends_it(deployed):
    experiment = yaml.safe_load(EXAMPLE.read_text())
    mutate, mutate_path, module = _client(deployed, "MutatingWebhookConfiguration")
    validate, validate_path, _ = _client(deployed, "ValidatingWebhookConfiguration")
    try:
        reply = mutate.review(experiment, path=mutate_path)
        assert reply.status == 200, reply.body
        response = reply.response
        assert response["allowed"] is True and response["patchType"] == "JSONPatch"
        admitted = module.apply_patch(reply.request["request"]["object"], response)
        assert admitted_errors(admitted) == []
        # The server used the chart's admin ConfigMap, not built-in defaults.
        text = yaml.safe_dump(admitted)
        assert RUNTIME_IMAGE in text and "ghcr.io/katib-llm/katib-llm-runtime" not in text
        assert "hf-token" in text
        assert validate.review(admitted, path=validate_path).response["allowed"] is True
        # Reinvocation (reinvocationPolicy IfNeeded) changes nothing.
        assert "patch" not in mutate.review(admitted, path=mutate_path).response
    finally:
        mutate.close()
        validate.close()


def test_rendered_admin_config_denies_a_source_it_does_not_allow(deployed):
    experiment = yaml.safe_load(EXAMPLE.read_text())
    experiment["metadata"]["annotations"]["llm.katib.kubeflow.org/model"] = "hf://someone-else/model"
    client, path, _ = _client(deployed, "ValidatingWebhookConfiguration")
    try:
        response = client.review(experiment, path=path).response
    finally:
        client.close()
    assert response["allowed"] is False
    assert "not an allowed source" in response["status"]["message"] and "hf://google-bert/" in response["status"]["message"]


def test_custom_provider_configmap_is_read_through_kube_api(deployed):
    """--kube-api (granted ConfigMap get/list by the chart's ClusterRole) finds the provider."""
    experiment = yaml.safe_load(EXAMPLE.read_text())
    experiment["metadata"]["annotations"]["llm.katib.kubeflow.org/model"] = "lakefs://models/bert-base-cased"
    client, path, module = _client(deployed, "MutatingWebhookConfiguration")
    try:
        reply = client.review(experiment, path=path)
    finally:
        client.close()
    response = reply.response
    assert response["allowed"] is True, response
    admitted = module.apply_patch(reply.request["request"]["object"], response)
    assert admitted_errors(admitted) == []
    init_images = [c["image"] for spec in admitted["spec"]["trialTemplate"]["trialSpec"]["spec"]["pytorchReplicaSpecs"].values()
                   for c in spec["template"]["spec"].get("initContainers", [])]
    assert LAKEFS_IMAGE in init_images, init_images


def test_helm_test_hook_script_passes_against_the_server(deployed):
    rendered, port, ca_file, _ = deployed
    pod = rendered.one("Pod")
    [container] = pod["spec"]["containers"]
    env = {e["name"]: e["value"] for e in container["env"]}
    env.update(SERVICE_PORT=str(port), CA_FILE=str(ca_file), CONNECT_HOST="127.0.0.1")
    assert container["command"][:2] == ["python", "-c"]
    result = subprocess.run([sys.executable, "-c", container["command"][2]], env={**os.environ, **env},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "/healthz -> 200" in result.stdout


def test_metrics_endpoint_the_service_monitor_scrapes(deployed):
    client, _, _ = _client(deployed, "MutatingWebhookConfiguration")
    try:
        reply = client.get("/metrics")
    finally:
        client.close()
    assert reply.status == 200 and b"katib_llm_webhook_requests_total" in reply.body
