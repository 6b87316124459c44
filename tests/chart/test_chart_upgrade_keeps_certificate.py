"""Self-signed mode keeps its certificate across upgrades (Helm ``lookup`` of the existing Secret).

Emulated: `helm upgrade` is rendered by the real Helm engine with a cluster connection
(``helm_python.Config.render``: ``lookup`` is live) pointed at a stand-in API server on 127.0.0.1
(HTTPS, bearer token) that holds the Secret the install rendered. Not emulated: Helm's release storage and the
three-way merge that applies the result.
"""

from __future__ import annotations

import copy

import helm_python as helm
import pytest

from tests.kube_apiserver import KubeApiServer

from .helpers import CHART, TOKEN, apiserver, ca_bundle_pem, render, secret_pem

SECRET_PATH = "/api/v1/namespaces/katib-llm/secrets/katib-llm-webhook-tls"


@pytest.fixture
def helm_home(tmp_path, monkeypatch):
    for var in ("HELM_CACHE_HOME", "HELM_CONFIG_HOME", "HELM_DATA_HOME"):
        monkeypatch.setenv(var, str(tmp_path / var.lower()))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))


def upgrade(api: KubeApiServer, values=None):
    with helm.Config(kube_apiserver=api.url, kube_token=TOKEN, kube_ca_file=api.ca_file,
                     namespace="katib-llm") as cfg, \
            helm.Chart.load(CHART) as chart:
        return render(values, chart=chart, config=cfg, upgrade=True)


def _bundles(rendered):
    return {ca_bundle_pem(rendered.one(kind)["webhooks"][0])
            for kind in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")}


def test_upgrade_reuses_the_installed_certificate(helm_home):
    installed = render()
    secret = installed.one("Secret")
    with apiserver([secret]) as api:
        upgraded = upgrade(api, {"replicas": 3})
    assert "GET " + SECRET_PATH in [f"{m} {p}".split("?")[0] for m, p in api.requests], api.requests
    assert upgraded.one("Deployment", "katib-llm-webhook")["spec"]["replicas"] == 3
    assert upgraded.one("Secret")["data"] == secret["data"]
    assert _bundles(upgraded) == {secret_pem(secret)["ca.crt"]}


def test_two_installs_generate_different_certificates():
    a, b = render().one("Secret"), render().one("Secret")
    assert a["data"]["tls.key"] != b["data"]["tls.key"]  # so the reuse above is not a coincidence


def test_upgrade_without_the_secret_generates_a_consistent_new_one(helm_home):
    with apiserver([]) as api:
        upgraded = upgrade(api)
    assert "GET " + SECRET_PATH in [f"{m} {p}".split("?")[0] for m, p in api.requests]
    pem = secret_pem(upgraded.one("Secret"))
    assert _bundles(upgraded) == {pem["ca.crt"]}


def test_an_incomplete_secret_is_replaced_not_half_reused(helm_home):
    broken = copy.deepcopy(render().one("Secret"))
    del broken["data"]["ca.crt"]
    with apiserver([broken]) as api:
        upgraded = upgrade(api)
    data = upgraded.one("Secret")["data"]
    assert data["tls.crt"] != broken["data"]["tls.crt"] and set(data) == {"ca.crt", "tls.crt", "tls.key"}
    assert _bundles(upgraded) == {secret_pem(upgraded.one("Secret"))["ca.crt"]}
