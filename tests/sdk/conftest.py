"""SDK fixtures: the shared Kubernetes API server stand-in (tests/kube_apiserver.py), running
katib-llm's admission on Experiment create as the mutating webhook would, and a client for it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.kube_apiserver import KubeApiServer, Rejected


WEBHOOK = "experiment.llm.katib.kubeflow.org"


def admission(server: KubeApiServer, admin_config: Any):
    """An on-create hook: the admission core with the provider ConfigMaps of the namespace; a
    denial is a 400 naming the webhook, an admission stores the admitted object."""
    from katib_llm.core import providers
    from katib_llm.core.admit import admit

    def hook(namespace: str, experiment: dict[str, Any]) -> dict[str, Any]:
        declarations = []
        for (cm_ns, _), cm in server.objects_of("configmaps").items():
            if cm_ns == namespace and (cm["metadata"].get("labels") or {}).get(providers.PROVIDER_LABEL) == "true":
                decl, _errors = providers.from_configmap(cm)
                if decl:
                    declarations.append(decl)
        result = admit(experiment, admin_config.with_providers(declarations))
        if not result.allowed:
            message = "; ".join(str(e) for e in result.errors)
            raise Rejected(400, f'admission webhook "{WEBHOOK}" denied the request: {message}')
        return result.experiment

    return hook


@pytest.fixture
def apiserver(admin_config):
    """A fresh API server (with katib-llm's admission on Experiment create) per test."""
    server = KubeApiServer()
    server.on_create("experiments", admission(server, admin_config))
    with server:
        yield server


@pytest.fixture
def client(apiserver):
    from katib_llm import KatibClient

    return KatibClient(namespace="kubeflow", client_configuration=apiserver.configuration())
