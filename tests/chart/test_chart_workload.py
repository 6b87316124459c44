"""Deployment, PodDisruptionBudget, Service and RBAC: what an admin's cluster policy will check."""

from __future__ import annotations

import pytest

from .helpers import render
from .scenarios import SCENARIOS

WEBHOOK_ARGV = ["katib-llm", "webhook", "--port", "8443",
                "--tls-cert-file", "/etc/katib-llm/tls/tls.crt",
                "--tls-private-key-file", "/etc/katib-llm/tls/tls.key",
                "--config", "/etc/katib-llm/config/config.yaml"]


def _pod(rendered):
    return rendered.one("Deployment", "katib-llm-webhook")["spec"]["template"]["spec"]


def _containers(rendered):
    return {c["name"]: c for c in _pod(rendered)["containers"]}


def test_deployment_defaults(default_render):
    deployment = default_render.one("Deployment", "katib-llm-webhook")
    assert deployment["spec"]["replicas"] == 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    containers = _containers(default_render)
    assert set(containers) == {"webhook"}  # the reconciler has its own Deployment
    webhook = containers["webhook"]
    assert webhook["image"] == "ghcr.io/katib-llm/katib-llm-webhook:0.1.0"
    assert webhook["command"][:len(WEBHOOK_ARGV)] == WEBHOOK_ARGV  # docs/webhook.md contract
    assert "--kube-api" in webhook["command"]
    assert webhook["ports"] == [{"name": "https", "containerPort": 8443, "protocol": "TCP"}]
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        assert webhook[probe]["httpGet"] == {"path": path, "port": "https", "scheme": "HTTPS"}
    assert webhook["resources"]["requests"] and webhook["resources"]["limits"]
    recon_deployment = default_render.one("Deployment", "katib-llm-reconciler")
    assert recon_deployment["spec"]["replicas"] == 1
    [reconciler] = recon_deployment["spec"]["template"]["spec"]["containers"]
    assert reconciler["command"][:2] == ["katib-llm", "reconcile"]
    assert reconciler["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert {e["name"] for e in reconciler["env"]} >= {"POD_NAME", "POD_NAMESPACE"}
    assert reconciler["resources"]["requests"] and reconciler["resources"]["limits"]
    # The webhook Service and PDB never select the reconciler's pods.
    recon_labels = recon_deployment["spec"]["template"]["metadata"]["labels"]
    assert not default_render.one("Service")["spec"]["selector"].items() <= recon_labels.items()
    # The Service targets the HTTPS port by name.
    service = default_render.one("Service")
    assert service["spec"]["ports"][0]["targetPort"] == "https"
    assert service["spec"]["selector"].items() <= deployment["spec"]["template"]["metadata"]["labels"].items()


@pytest.mark.parametrize("scenario", ["defaults", "non-default"])
def test_pod_security_restricted(scenario):
    rendered = render(SCENARIOS[scenario])
    for deployment in rendered.find("Deployment"):
        _check_restricted(deployment["spec"]["template"]["spec"])
    for hook_pod in (rendered.one("Pod")["spec"], rendered.one("Job")["spec"]["template"]["spec"]):
        assert hook_pod["securityContext"]["runAsNonRoot"] is True
        assert hook_pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
        sc = hook_pod["containers"][0]["securityContext"]
        assert sc["capabilities"] == {"drop": ["ALL"]} and sc["allowPrivilegeEscalation"] is False
        assert sc["readOnlyRootFilesystem"] is True


def _check_restricted(pod):
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["securityContext"]["runAsUser"] != 0
    assert not pod.get("hostNetwork") and not pod.get("hostPID") and not pod.get("hostIPC")
    for container in pod["containers"]:
        sc = container["securityContext"]
        assert sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"] == {"drop": ["ALL"]}
        assert sc["readOnlyRootFilesystem"] is True
        assert sc["runAsNonRoot"] is True
        assert sc["seccompProfile"] == {"type": "RuntimeDefault"}
        assert all(p["containerPort"] > 1024 for p in container.get("ports", []))
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert set(volumes) <= {"tls", "config", "tmp"} and "hostPath" not in str(volumes)
    # Rotated certificates reach the server only through whole-directory mounts (no subPath).
    assert not any("subPath" in m for c in pod["containers"] for m in c["volumeMounts"])


def test_anti_affinity_and_pdb(default_render):
    affinity = _pod(default_render)["affinity"]["podAntiAffinity"]
    [term] = affinity["preferredDuringSchedulingIgnoredDuringExecution"]
    selector = default_render.one("Deployment", "katib-llm-webhook")["spec"]["selector"]["matchLabels"]
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    pdb = default_render.one("PodDisruptionBudget")
    assert pdb["spec"] == {"minAvailable": 1, "selector": {"matchLabels": selector}}


def test_non_default_workload_values():
    rendered = render(SCENARIOS["non-default"])
    deployment = rendered.one("Deployment", "katib-llm-webhook")
    pod = _pod(rendered)
    assert deployment["spec"]["replicas"] == 3
    assert "requiredDuringSchedulingIgnoredDuringExecution" in pod["affinity"]["podAntiAffinity"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert pod["nodeSelector"] == {"node-role.kubernetes.io/control-plane": ""}
    assert pod["tolerations"][0]["key"] == "node-role.kubernetes.io/control-plane"
    meta = deployment["spec"]["template"]["metadata"]
    assert meta["annotations"]["example.com/team"] == "ml-platform" and meta["labels"]["example.com/tier"] == "admission"
    [webhook] = pod["containers"]  # reconciler disabled
    assert webhook["image"] == "registry.example.com/ml/katib-llm-webhook@sha256:" + "ab" * 32
    assert webhook["imagePullPolicy"] == "Always"
    assert "--kube-api" not in webhook["command"]
    assert webhook["command"][-2:] == ["--bind", "0.0.0.0"]
    argv = webhook["command"]
    assert argv[argv.index("--port") + 1] == "10250" and argv[argv.index("--workers") + 1] == "3"
    assert webhook["env"] == [{"name": "HTTPS_PROXY", "value": "http://proxy.example.com:3128"}]
    assert rendered.one("PodDisruptionBudget")["spec"]["minAvailable"] == "50%"
    # Neither the reconciler nor --kube-api: the pods need no API access at all.
    assert pod["automountServiceAccountToken"] is False
    assert not rendered.find("ClusterRole", "katib-llm-webhook") and not rendered.find("Role")


def test_single_replica_renders_no_pdb():
    assert not render({"replicas": 1}).find("PodDisruptionBudget")


def _granted(role):
    return {(g, r, v) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]
            for v in rule["verbs"]}


def test_rbac_is_least_privilege_and_split(default_render):
    """The network-facing webhook reads ConfigMaps and nothing else; only the reconciler's own
    ServiceAccount may watch Experiments, create claims and hold the Lease."""
    webhook_sa = default_render.one("ServiceAccount", "katib-llm-webhook")["metadata"]["name"]
    reconciler_sa = default_render.one("ServiceAccount", "katib-llm-reconciler")["metadata"]["name"]
    assert webhook_sa != reconciler_sa
    assert _granted(default_render.one("ClusterRole", "katib-llm-webhook")) == {
        ("", "configmaps", "get"), ("", "configmaps", "list")}
    assert _granted(default_render.one("ClusterRole", "katib-llm-reconciler")) == {
        ("kubeflow.org", "experiments", "get"), ("kubeflow.org", "experiments", "list"),
        ("kubeflow.org", "experiments", "watch"), ("kubeflow.org", "experiments", "patch"),
        ("kubeflow.org", "trials", "list"), ("", "events", "create"),
        ("", "persistentvolumeclaims", "get"), ("", "persistentvolumeclaims", "create")}
    role = default_render.one("Role")
    assert role["metadata"] == {**role["metadata"], "name": "katib-llm-reconciler", "namespace": "katib-llm"}
    assert _granted(role) == {("coordination.k8s.io", "leases", v) for v in ("get", "create", "update")}
    for obj in default_render.find("ClusterRole") + default_render.find("Role"):
        for rule in obj["rules"]:
            assert "secrets" not in rule["resources"] and "*" not in rule["resources"] + rule["verbs"]
    bindings = {b["metadata"]["name"]: b for b in default_render.find("ClusterRoleBinding") + default_render.find("RoleBinding")
                if b["metadata"]["name"] in ("katib-llm-webhook", "katib-llm-reconciler")}
    for binding in bindings.values():
        sa = webhook_sa if binding["roleRef"]["name"] == "katib-llm-webhook" else reconciler_sa
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": sa, "namespace": "katib-llm"}]
    assert _pod(default_render)["serviceAccountName"] == webhook_sa
    recon_pod = default_render.one("Deployment", "katib-llm-reconciler")["spec"]["template"]["spec"]
    assert recon_pod["serviceAccountName"] == reconciler_sa


def test_namespace_filter_reaches_the_reconciler():
    rendered = render(SCENARIOS["non-default"] | {"reconciler": {"enabled": True}})
    [container] = rendered.one("Deployment", "katib-llm-reconciler")["spec"]["template"]["spec"]["containers"]
    argv = container["command"]
    excluded = {argv[i + 1] for i, a in enumerate(argv) if a == "--exclude-namespace"}
    assert excluded == {"kube-system", "katib-llm", "kubeflow", "istio-system"}
    assert argv[argv.index("--namespace-label") + 1] == "llm.katib.kubeflow.org/enabled=true"
    # Reading namespace labels needs Namespace get, granted only then.
    assert ("", "namespaces", "get") in _granted(rendered.one("ClusterRole", "katib-llm-reconciler"))
    assert ("", "namespaces", "get") not in _granted(render().one("ClusterRole", "katib-llm-reconciler"))


def test_config_change_rolls_the_pods():
    a = render()
    b = render({"config": {"maxWorkers": 4}})
    key = "checksum/config"
    assert a.one("Deployment", "katib-llm-webhook")["spec"]["template"]["metadata"]["annotations"][key] != \
        b.one("Deployment", "katib-llm-webhook")["spec"]["template"]["metadata"]["annotations"][key]


def test_helm_test_hook_checks_healthz_through_the_service(default_render):
    pod = default_render.one("Pod")
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    env = {e["name"]: e["value"] for e in pod["spec"]["containers"][0]["env"]}
    assert env["SERVICE_HOST"] == "katib-llm-webhook.katib-llm.svc" and env["SERVICE_PORT"] == "443"
    assert "/healthz" in pod["spec"]["containers"][0]["command"][-1]
    [volume] = pod["spec"]["volumes"]
    assert volume["secret"]["secretName"] == default_render.one("Secret")["metadata"]["name"]
    assert not render({"tests": {"enabled": False}}).find("Pod")
    # existingSecret mode: the CA comes from the ConfigMap rendered from the caBundle value.
    rendered = render(SCENARIOS["existing-secret"])
    [volume] = rendered.one("Pod")["spec"]["volumes"]
    assert rendered.one("ConfigMap", volume["configMap"]["name"])["data"]["ca.crt"]


def test_a_pdb_that_would_block_every_drain_is_refused():
    from helm_python import HelmError

    with pytest.raises(HelmError, match=r"podDisruptionBudget.minAvailable \(2\) must be below replicas \(2\)"):
        render({"podDisruptionBudget": {"minAvailable": 2}})
    assert render({"replicas": 3, "podDisruptionBudget": {"minAvailable": 2}}).one("PodDisruptionBudget")
