"""SDK fixtures: an in-process Kubernetes API server stand-in and a client pointed at it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from sdk_apiserver import ApiServer  # noqa: E402


@pytest.fixture
def apiserver(admin_config):
    """A fresh API server (with katib-llm's admission on Experiment create) per test."""
    server = ApiServer(admin_config).start()
    yield server
    server.stop()


@pytest.fixture
def client(apiserver):
    from katib_llm import KatibClient

    return KatibClient(namespace="kubeflow", client_configuration=apiserver.configuration())
