"""The chart's security posture: NetworkPolicies, and the pod security of what the webhook
injects with the configuration and templates the chart ships (rendered by the real Helm engine,
admitted by the core)."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml

from katib_llm.core.admit import admit
from katib_llm.core.config import load_config
from katib_llm.core.jobkinds import job_kind

from .helpers import REPO, render
from .scenarios import SCENARIOS

EXAMPLE = yaml.safe_load((REPO / "examples" / "bert-lora-experiment.yaml").read_text())
RESTRICTED = {"runAsNonRoot": True, "allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
              "seccompProfile": {"type": "RuntimeDefault"}}


def _pod_labels(rendered, name):
    return rendered.one("Deployment", name)["spec"]["template"]["metadata"]["labels"]


def test_webhook_networkpolicy_defaults(default_render):
    policy = default_render.one("NetworkPolicy", "katib-llm-webhook")
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= _pod_labels(default_render, "katib-llm-webhook").items()
    assert not selector.items() <= _pod_labels(default_render, "katib-llm-reconciler").items()
    assert policy["spec"]["policyTypes"] == ["Ingress"]
    [rule] = policy["spec"]["ingress"]  # no metrics rule: the ServiceMonitor is off
    assert rule["ports"] == [{"protocol": "TCP", "port": 8443}]
    assert rule["from"] == [{"ipBlock": {"cidr": "0.0.0.0/0"}}, {"ipBlock": {"cidr": "::/0"}}]
    reconciler = default_render.one("NetworkPolicy", "katib-llm-reconciler")
    assert reconciler["spec"]["ingress"] == [] and reconciler["spec"]["policyTypes"] == ["Ingress"]
    assert reconciler["spec"]["podSelector"]["matchLabels"].items() <= \
        _pod_labels(default_render, "katib-llm-reconciler").items()


def test_webhook_networkpolicy_narrowed_peers_and_metrics_scraper():
    rendered = render(SCENARIOS["non-default"])
    policy = rendered.one("NetworkPolicy", "katib-llm-webhook")
    api_rule, metrics_rule = policy["spec"]["ingress"]
    assert api_rule == {"ports": [{"protocol": "TCP", "port": 10250}], "from": [{"ipBlock": {"cidr": "10.0.0.0/24"}}]}
    assert metrics_rule["ports"] == [{"protocol": "TCP", "port": 10250}]
    assert metrics_rule["from"] == [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
    assert not rendered.find("NetworkPolicy", "katib-llm-reconciler")  # reconciler disabled there
    assert not render({"networkPolicy": {"enabled": False}}).find("NetworkPolicy")


def test_an_empty_peer_list_is_refused_by_the_schema():
    from helm_python import HelmError

    with pytest.raises(HelmError, match="apiServerPeers"):
        render({"networkPolicy": {"apiServerPeers": []}})


def _chart_config(rendered):
    """The AdminConfig the webhook builds from the rendered ConfigMaps (config and templates)."""
    values = yaml.safe_load(rendered.one("ConfigMap", "katib-llm-config")["data"]["config.yaml"])
    templates = {key.removesuffix(".yaml"): yaml.safe_load(text)
                 for key, text in rendered.one("ConfigMap", "katib-llm-trial-templates")["data"].items()}
    config, errors = load_config(values, templates)
    assert errors == []
    return config


def _pod_specs(exp):
    job = exp["spec"]["trialTemplate"]["trialSpec"]
    return [tmpl["spec"] for _, tmpl in job_kind(job).pod_templates(job)]


@pytest.mark.parametrize("template", ["hf-lora-pytorchjob", "hf-lora-job", "hf-lora-mpijob"])
def test_injected_and_shipped_containers_run_restricted(default_render, template):
    config = _chart_config(default_render)
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"]["llm.katib.kubeflow.org/trial-template"] = template
    if template == "hf-lora-job":
        exp["metadata"]["annotations"]["llm.katib.kubeflow.org/workers"] = "1"  # a Job runs one pod
    result = admit(exp, config)
    assert result.allowed, result.errors
    inits = 0
    for pod in _pod_specs(result.experiment):
        for container in pod.get("initContainers", []) + pod["containers"]:
            assert RESTRICTED.items() <= container["securityContext"].items(), (template, container["name"])
            assert not container["securityContext"].get("privileged")
        inits += len(pod.get("initContainers", []))
        assert pod["securityContext"]["fsGroup"] == 1000  # the shared volume is writable by the non-root user
        assert not any(pod.get(k) for k in ("hostNetwork", "hostPID", "hostIPC"))
        assert "hostPath" not in str(pod.get("volumes"))
    assert inits >= 2  # model and dataset initializers were injected


def _one_worker():
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"]["llm.katib.kubeflow.org/workers"] = "1"
    return exp


def _privileged_user_template():
    exp = _one_worker()
    exp["spec"]["trialTemplate"] = {
        "primaryContainerName": "training-container",
        "trialSpec": {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": {
            "hostNetwork": True, "restartPolicy": "Never",
            "volumes": [{"name": "host", "hostPath": {"path": "/"}}],
            "containers": [{"name": "training-container", "image": "ghcr.io/katib-llm/katib-llm-runtime:0.1.0",
                            "command": ["python", "-m", "katib_llm.runtime.trainer"],
                            "securityContext": {"privileged": True}}]}}}}}
    return exp


def test_a_privileged_user_template_is_warned_about_by_default(default_render):
    result = admit(_privileged_user_template(), _chart_config(default_render))
    assert result.allowed, result.errors
    warned = "\n".join(result.warnings)
    for what in ("hostNetwork", "hostPath", "privileged"):
        assert what in warned, result.warnings


def test_a_privileged_user_template_is_denied_when_the_admin_says_so():
    rendered = render(SCENARIOS["non-default"])  # privilegedTemplates: deny
    config = _chart_config(rendered)
    exp = _privileged_user_template()
    exp["metadata"]["annotations"]["llm.katib.kubeflow.org/model"] = "hf://google-bert/bert-base-cased"
    result = admit(exp, config)
    assert not result.allowed
    denied = {e.path for e in result.errors if e.code == "template.privileged"}
    base = "spec.trialTemplate.trialSpec.spec.template.spec"
    assert denied == {f"{base}.hostNetwork", f"{base}.volumes[0].hostPath",
                      f"{base}.containers[0].securityContext.privileged"}


def test_file_uris_follow_the_admins_file_roots(default_render):
    exp = _one_worker()
    exp["metadata"]["annotations"]["llm.katib.kubeflow.org/dataset"] = "file:///mnt/models/data"
    denied = admit(exp, _chart_config(default_render))
    assert [e.code for e in denied.errors] == ["uri.file-not-allowed"]
    allowed = render(SCENARIOS["non-default"])  # fileRoots: [/mnt/models]
    exp["metadata"]["annotations"]["llm.katib.kubeflow.org/model"] = "hf://google-bert/bert-base-cased"
    assert admit(exp, _chart_config(allowed)).allowed
    exp["metadata"]["annotations"]["llm.katib.kubeflow.org/dataset"] = "file:///mnt/modelsX/data"
    assert "uri.file-not-allowed" in [e.code for e in admit(exp, _chart_config(allowed)).errors]
