"""Provider and template ConfigMaps read through the (stand-in) Kubernetes API, and what happens
when the API cannot be reached: never a 5xx."""

from __future__ import annotations

import copy

import pytest
import yaml

from katib_llm.core.admit import admit
from katib_llm.core.providers import to_configmap
from katib_llm.webhook.sources import KubeLookup, cluster_inputs

from tests.builders import example

EXAMPLE = example()
PREFIX = "llm.katib.kubeflow.org/"
LAKEFS = {"scheme": "lakefs", "image": "registry.example.com/lakefs-fetch:1.2",
          "command": ["python", "-m", "lakefs_fetch"], "args": ["{uri}", "--out", "{target}"]}


@pytest.fixture
def lookup(standin):
    from kubernetes import client

    return KubeLookup(client.CoreV1Api(client.ApiClient(standin.configuration())), ttl=30)


def _lakefs_experiment() -> dict:
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"][PREFIX + "model"] = "lakefs://repo/main/bert"
    return exp


def test_custom_provider_from_a_labelled_configmap(standin, lookup, admin_config):
    standin.put("configmaps", to_configmap(LAKEFS, "lakefs-provider", "kubeflow"))
    exp = _lakefs_experiment()
    config, configmaps, warnings = cluster_inputs(lookup, exp, "kubeflow", admin_config, 5.0)
    assert warnings == [] and "lakefs" in config.providers
    result = admit(exp, config, configmaps=configmaps)
    assert result.allowed, result.errors
    images = [c["image"] for c in _init_containers(result.experiment)]
    assert "registry.example.com/lakefs-fetch:1.2" in images
    # Cached for the TTL: a second admission does not call the API again.
    calls = standin.count("GET", "configmaps")
    cluster_inputs(lookup, exp, "kubeflow", admin_config, 5.0)
    assert standin.count("GET", "configmaps") == calls


def test_builtin_schemes_need_no_lookup(standin, lookup, admin_config):
    cluster_inputs(lookup, EXAMPLE, "kubeflow", admin_config, 5.0)
    assert standin.requests == []


def test_api_failure_degrades_to_a_denial_naming_the_annotation(standin, lookup, admin_config):
    standin.fail[("GET", "configmaps")] = 403
    exp = _lakefs_experiment()
    config, configmaps, warnings = cluster_inputs(lookup, exp, "kubeflow", admin_config, 5.0)
    assert any("could not be read" in w for w in warnings)
    result = admit(exp, config, configmaps=configmaps)
    assert not result.allowed
    assert any(e.path == f"metadata.annotations[{PREFIX}model]" for e in result.errors), result.errors


def test_foreign_template_configmap_is_read_or_denied_by_field(standin, lookup, admin_config):
    exp = copy.deepcopy(EXAMPLE)
    exp["spec"]["trialTemplate"] = {"configMap": {"configMapName": "team-templates", "configMapNamespace": "kubeflow",
                                                  "templatePath": "job.yaml"},
                                    "primaryContainerName": "training-container"}
    _, configmaps, warnings = cluster_inputs(lookup, exp, "kubeflow", admin_config, 5.0)
    assert configmaps == {} and warnings == []  # not found: the core names the field
    denied = admit(exp, admin_config, configmaps=configmaps)
    assert not denied.allowed and denied.errors[0].path == "spec.trialTemplate.configMap"
    job = admin_config.templates["hf-lora-job"]
    standin.put("configmaps", {"metadata": {"name": "team-templates", "namespace": "kubeflow"},
                               "data": {"job.yaml": yaml.safe_dump(job)}})
    lookup._cache.clear()
    _, configmaps, _ = cluster_inputs(lookup, exp, "kubeflow", admin_config, 5.0)
    assert configmaps[("kubeflow", "team-templates")]["job.yaml"]
    result = admit(exp, admin_config, configmaps=configmaps)
    assert "template.configmap-unavailable" not in {e.code for e in result.errors}

def _init_containers(exp: dict) -> list[dict]:
    out = []

    def walk(node):
        if isinstance(node, dict):
            out.extend(node.get("initContainers") or [])
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)
    walk(exp["spec"]["trialTemplate"]["trialSpec"])
    return out
