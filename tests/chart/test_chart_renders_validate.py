"""Every rendered object is a valid Kubernetes object for three minor versions.

Kubernetes-native kinds are validated by kubernetes-validate (the OpenAPI schemas of Kubernetes
1.32, 1.33 and 1.34, strict: unknown fields are errors). cert-manager and Prometheus Operator
objects are CRD-backed, so kubernetes-validate has no schema for them: they are checked
structurally here (required fields, references that must resolve to other rendered objects).
"""

from __future__ import annotations

import re

import kubernetes_validate
import pytest

from .helpers import CRD_KINDS, KUBE_VERSIONS, NAMESPACE, Render, render
from .scenarios import SCENARIOS

CLUSTER_SCOPED = {"ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration", "ClusterTrainingRuntime",
                  "ValidatingWebhookConfiguration"}
DNS1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@pytest.fixture(scope="module", params=sorted(SCENARIOS) + ["other-namespace"])
def scenario(request) -> tuple[str, Render]:
    if request.param == "other-namespace":
        return request.param, render({"config": {"templatesConfigMap": {"namespace": "ml-system"}}},
                                     name="tuning", namespace="ml-system")
    return request.param, render(SCENARIOS[request.param])


def test_supported_versions_are_shipped_by_kubernetes_validate():
    shipped = {kubernetes_validate.utils.major_minor(v) for v in kubernetes_validate.utils.all_versions()}
    assert set(KUBE_VERSIONS) <= shipped, shipped


@pytest.mark.parametrize("version", KUBE_VERSIONS)
def test_every_native_object_validates_strictly(scenario, version):
    name, rendered = scenario
    native = [o for o in rendered.objects if (o["apiVersion"], o["kind"]) not in CRD_KINDS]
    assert len(native) >= 10, f"{name}: only {len(native)} objects rendered"
    failures = []
    for obj in native:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message} at {list(exc.caught.absolute_path)}")
        except kubernetes_validate.SchemaNotFoundError:
            failures.append(f"{obj['kind']} {obj['apiVersion']}: no schema in Kubernetes {version}")
    assert not failures, f"{name} on {version}:\n" + "\n".join(failures)


def test_names_namespaces_and_labels(scenario):
    name, rendered = scenario
    seen = set()
    for obj in rendered.objects:
        meta = obj["metadata"]
        key = (obj["kind"], meta.get("namespace"), meta["name"])
        assert key not in seen, f"{name}: duplicate {key}"
        seen.add(key)
        assert DNS1123_SUBDOMAIN.match(meta["name"]) and len(meta["name"]) <= 63, meta["name"]
        if obj["kind"] in CLUSTER_SCOPED:
            assert "namespace" not in meta, f"{obj['kind']} is cluster-scoped"
        else:
            expected = "ml-system" if name == "other-namespace" else NAMESPACE
            assert meta.get("namespace") == expected, f"{obj['kind']}/{meta['name']} namespace"
        assert meta["labels"]["app.kubernetes.io/managed-by"] == "Helm"
        assert meta["labels"]["app.kubernetes.io/part-of"] == "katib-llm"


def _check_certificate(cert: dict, rendered: Render) -> None:
    spec = cert["spec"]
    assert spec["secretName"] and spec["issuerRef"]["name"]
    assert spec["dnsNames"] if not spec.get("isCA") else spec["commonName"]
    for field in ("duration", "renewBefore"):
        if field in spec:
            assert re.fullmatch(r"(\d+(\.\d+)?(h|m|s|ms))+", spec[field]), spec[field]
    ref = spec["issuerRef"]
    if ref.get("kind", "Issuer") == "Issuer" and ref["name"] != "corp-ca":
        issuer = rendered.one("Issuer", ref["name"])  # must resolve to a rendered Issuer
        assert issuer["metadata"]["namespace"] == cert["metadata"]["namespace"]


def test_crd_objects_are_structurally_sound(scenario):
    name, rendered = scenario
    for issuer in rendered.find("Issuer"):
        assert issuer["apiVersion"] == "cert-manager.io/v1"
        assert len(set(issuer["spec"]) & {"selfSigned", "ca", "acme", "vault", "venafi"}) == 1
        if "ca" in issuer["spec"]:
            ca_cert = [c for c in rendered.find("Certificate") if c["spec"]["secretName"] == issuer["spec"]["ca"]["secretName"]]
            assert len(ca_cert) == 1 and ca_cert[0]["spec"]["isCA"] is True
    for cert in rendered.find("Certificate"):
        assert cert["apiVersion"] == "cert-manager.io/v1"
        _check_certificate(cert, rendered)
    for sm in rendered.find("ServiceMonitor"):
        service = rendered.one("Service")
        assert sm["apiVersion"] == "monitoring.coreos.com/v1"
        assert sm["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
        assert sm["spec"]["namespaceSelector"]["matchNames"] == [service["metadata"]["namespace"]]
        [endpoint] = sm["spec"]["endpoints"]
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        assert endpoint["path"] == "/metrics" and endpoint["scheme"] == "https"
        tls = endpoint["tlsConfig"]
        assert tls["serverName"] == f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
        assert "insecureSkipVerify" not in tls
        assert tls["ca"]["secret"]["key"] == "ca.crt"
    if name == "non-default":
        assert rendered.find("ServiceMonitor")[0]["metadata"]["labels"]["release"] == "prometheus"


def test_each_certificate_mode_renders_its_own_objects():
    kinds = {name: render(values).kinds() for name, values in SCENARIOS.items()
             if name in ("defaults", "cert-manager", "cert-manager-cluster-issuer", "existing-secret")}
    assert "Secret" in kinds["defaults"] and not {"Issuer", "Certificate"} & kinds["defaults"]
    assert {"Issuer", "Certificate"} <= kinds["cert-manager"] and "Secret" not in kinds["cert-manager"]
    assert "Issuer" not in kinds["cert-manager-cluster-issuer"] and "Certificate" in kinds["cert-manager-cluster-issuer"]
    assert not {"Secret", "Issuer", "Certificate"} & kinds["existing-secret"]


@pytest.mark.parametrize("version", KUBE_VERSIONS[:1])
def test_the_validation_is_strict_enough_to_catch_a_misplaced_field(default_render, version):
    import copy

    deployment = copy.deepcopy(default_render.one("Deployment", "katib-llm-webhook"))
    deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFS"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, version, strict=True)
    webhook = copy.deepcopy(default_render.one("MutatingWebhookConfiguration"))
    # (The OpenAPI schema types fields but has no enums: failurePolicy values are asserted elsewhere.)
    webhook["webhooks"][0]["timeoutSeconds"] = "10s"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(webhook, version, strict=True)
