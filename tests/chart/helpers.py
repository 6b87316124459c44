"""Render the chart with the real Helm engine (helm-python-sdk: Helm v4 in-process) and index it."""

from __future__ import annotations

import base64
import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import helm_python as helm
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "katib-llm"
RELEASE, NAMESPACE = "katib-llm", "katib-llm"
# Kubernetes minors every render is validated against (kubernetes-validate ships 1.25-1.37).
KUBE_VERSIONS = ("1.32", "1.33", "1.34")
# The bearer token the API server stand-in wants (client-go sends a token only over TLS).
TOKEN = "chart-tests-token"
# Objects of CRDs that are not part of Kubernetes: checked structurally, not by kubernetes-validate.
CRD_KINDS = {("cert-manager.io/v1", "Issuer"), ("cert-manager.io/v1", "Certificate"),
             ("monitoring.coreos.com/v1", "ServiceMonitor"),
             ("trainer.kubeflow.org/v1alpha1", "ClusterTrainingRuntime")}


@dataclass
class Render:
    """One `helm template`: the manifests by template path and the parsed objects."""

    manifests: dict[str, str]
    objects: list[dict[str, Any]]
    notes: str

    def find(self, kind: str, name: str | None = None) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)]

    def one(self, kind: str, name: str | None = None) -> dict[str, Any]:
        found = self.find(kind, name)
        assert len(found) == 1, f"expected one {kind} {name or ''}, got {[o['metadata']['name'] for o in found]}"
        return found[0]

    def kinds(self) -> set[str]:
        return {o["kind"] for o in self.objects}


def parse(manifests: dict[str, str]) -> Render:
    objects: list[dict[str, Any]] = []
    notes = ""
    for path, text in sorted(manifests.items()):
        if path.endswith("NOTES.txt"):
            notes = text
            continue
        for doc in yaml.safe_load_all(text):
            if doc is not None:
                assert isinstance(doc, dict) and doc.get("kind"), f"{path}: not a Kubernetes object: {doc!r}"
                objects.append(doc)
    return Render(manifests, objects, notes)


def render(values: dict[str, Any] | None = None, *, name: str = RELEASE, namespace: str = NAMESPACE,
           chart: Any = None, config: Any = None, upgrade: bool = False) -> Render:
    """Render like `helm install` (or, with ``config``, like `helm upgrade` against that API server)."""
    values = copy.deepcopy(values) if values else None
    if config is not None:
        return parse(config.render(chart, values, name=name, namespace=namespace,
                                   is_install=not upgrade, is_upgrade=upgrade, revision=2 if upgrade else 1))
    with helm.Chart.load(CHART) as loaded:
        return parse(loaded.render(values, name=name, namespace=namespace, is_install=True, revision=1))


def secret_pem(secret: dict[str, Any]) -> dict[str, str]:
    return {k: base64.b64decode(v).decode() for k, v in secret["data"].items()}


def ca_bundle_pem(webhook: dict[str, Any]) -> str:
    return base64.b64decode(webhook["clientConfig"]["caBundle"]).decode()


def dump_yaml(obj: Any) -> str:
    return yaml.safe_dump(obj, sort_keys=False)


def apiserver(objects: list[dict[str, Any]] = ()) -> Any:
    """The shared API server stand-in (tests/kube_apiserver.py) as Helm's ``lookup``, the cleanup
    hook and the webhook reach it: HTTPS with its own CA and a bearer token, holding ``objects``."""
    from tests.kube_apiserver import KubeApiServer

    return KubeApiServer(objects, tls=True, token=TOKEN)
