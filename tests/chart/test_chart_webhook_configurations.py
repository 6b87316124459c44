"""The MutatingWebhookConfiguration and ValidatingWebhookConfiguration, field by field."""

from __future__ import annotations

import pytest
from cryptography import x509

from .helpers import ca_bundle_pem, render, secret_pem
from .scenarios import ADMIN_CA_PEM, SCENARIOS

# Katib's MutatingWebhookConfiguration name (kubeflow/katib manifests/v1beta1/components/webhook/webhooks.yaml).
KATIB_CONFIGURATION = "katib.kubeflow.org"
KINDS = ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")


def _webhook(rendered, kind):
    [webhook] = rendered.one(kind)["webhooks"]
    return webhook


@pytest.mark.reference
def test_katib_reference_names_its_configuration_as_we_assume():
    import yaml

    from tests import reference

    docs = list(yaml.safe_load_all(reference.file("katib", "trial-templates", "webhooks.yaml").read_text()))
    assert {d["metadata"]["name"] for d in docs if d["kind"] == "MutatingWebhookConfiguration"} == {KATIB_CONFIGURATION}


def test_our_mutating_configuration_is_called_after_katibs(default_render):
    # kube-apiserver orders mutating webhook configurations by name (Go string order = bytes).
    ours = default_render.one("MutatingWebhookConfiguration")["metadata"]["name"]
    assert ours == "llm.katib.kubeflow.org"
    assert sorted([ours, KATIB_CONFIGURATION], key=lambda n: n.encode()) == [KATIB_CONFIGURATION, ours]


@pytest.mark.parametrize("name", ["katib.kubeflow.org", "aaa-llm", "katib.kubeflow.or", "a.katib.kubeflow.org"])
def test_a_configuration_name_sorting_before_katibs_is_refused(name):
    from helm_python import HelmError

    with pytest.raises(HelmError, match="must sort after"):
        render({"webhook": {"configurationName": name}})


def test_a_name_sorting_after_katibs_is_accepted():
    rendered = render({"webhook": {"configurationName": "katib.kubeflow.org-llm"}})
    assert rendered.one("MutatingWebhookConfiguration")["metadata"]["name"] == "katib.kubeflow.org-llm"


@pytest.mark.parametrize("kind, path", list(zip(KINDS, ("/mutate", "/validate"))))
def test_defaults(default_render, kind, path):
    webhook = _webhook(default_render, kind)
    service = default_render.one("Service")
    assert webhook["clientConfig"]["service"] == {
        "name": service["metadata"]["name"], "namespace": "katib-llm", "path": path,
        "port": service["spec"]["ports"][0]["port"]}
    assert webhook["rules"] == [{"apiGroups": ["kubeflow.org"], "apiVersions": ["v1beta1"],
                                 "operations": ["CREATE", "UPDATE"], "resources": ["experiments"],
                                 "scope": "Namespaced"}]
    if kind == "MutatingWebhookConfiguration":
        assert webhook["objectSelector"] == {"matchLabels": {"llm.katib.kubeflow.org/tune": "true"}}
    else:  # any value of the label reaches /validate, which denies one other than "true"
        assert webhook["objectSelector"] == {"matchExpressions": [
            {"key": "llm.katib.kubeflow.org/tune", "operator": "Exists"}]}
    assert webhook["namespaceSelector"] == {"matchExpressions": [
        {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "katib-llm"]}]}
    assert webhook["failurePolicy"] == "Fail"
    assert webhook["timeoutSeconds"] == 10
    assert webhook["sideEffects"] == "None"
    assert webhook["admissionReviewVersions"] == ["v1"]
    assert webhook["matchPolicy"] == "Equivalent"
    if kind == "MutatingWebhookConfiguration":
        assert webhook["reinvocationPolicy"] == "IfNeeded"
    else:
        assert "reinvocationPolicy" not in webhook


def test_the_label_selector_is_the_core_contract(default_render):
    from katib_llm.core.contract import LABEL, LABEL_VALUE

    assert _webhook(default_render, KINDS[0])["objectSelector"]["matchLabels"] == {LABEL: LABEL_VALUE}
    assert _webhook(default_render, KINDS[1])["objectSelector"]["matchExpressions"] == [
        {"key": LABEL, "operator": "Exists"}]


@pytest.mark.parametrize("value, reaches_validate, reaches_mutate", [
    ("true", True, True), ("True", True, False), ("yes", True, False), ("", True, False), (None, False, False)])
def test_selectors_select_as_kube_apiserver_would(default_render, value, reaches_validate, reaches_mutate):
    """Label selector semantics (k8s.io/apimachinery labels.Selector): matchLabels is equality,
    Exists matches any value, an absent label matches neither."""
    from katib_llm.core.contract import LABEL

    labels = {} if value is None else {LABEL: value}

    def selects(selector):
        equal = all(labels.get(k) == v for k, v in (selector.get("matchLabels") or {}).items())
        exists = all(e["key"] in labels for e in selector.get("matchExpressions") or [] if e["operator"] == "Exists")
        return equal and exists

    assert selects(_webhook(default_render, KINDS[1])["objectSelector"]) is reaches_validate
    assert selects(_webhook(default_render, KINDS[0])["objectSelector"]) is reaches_mutate


def test_self_signed_ca_bundle_verifies_the_serving_certificate(default_render):
    pem = secret_pem(default_render.one("Secret"))
    assert default_render.one("Secret")["type"] == "kubernetes.io/tls"
    service = default_render.one("Service")
    host = f"{service['metadata']['name']}.{service['metadata']['namespace']}.svc"
    for kind in KINDS:
        assert ca_bundle_pem(_webhook(default_render, kind)) == pem["ca.crt"]
    ca = x509.load_pem_x509_certificate(pem["ca.crt"].encode())
    cert = x509.load_pem_x509_certificate(pem["tls.crt"].encode())
    cert.verify_directly_issued_by(ca)
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert host in sans and f"{host}.cluster.local" in sans


def test_non_default_values_reach_both_configurations():
    rendered = render(SCENARIOS["non-default"])
    for kind in KINDS:
        webhook = _webhook(rendered, kind)
        assert webhook["failurePolicy"] == "Ignore"
        assert webhook["timeoutSeconds"] == 30
        assert webhook["sideEffects"] == "NoneOnDryRun"
        assert webhook["clientConfig"]["service"]["port"] == 9443
        assert webhook["namespaceSelector"] == {
            "matchLabels": {"llm.katib.kubeflow.org/enabled": "true"},
            "matchExpressions": [{"key": "kubernetes.io/metadata.name", "operator": "NotIn",
                                  "values": ["kube-system", "katib-llm", "kubeflow", "istio-system"]}]}


def test_cert_manager_mode_injects_the_ca_instead_of_a_bundle():
    rendered = render(SCENARIOS["cert-manager"])
    serving = [c for c in rendered.find("Certificate") if not c["spec"].get("isCA")]
    assert len(serving) == 1
    cert = serving[0]
    service = rendered.one("Service")
    host = f"{service['metadata']['name']}.katib-llm.svc"
    assert host in cert["spec"]["dnsNames"]
    volume = next(v for v in rendered.one("Deployment", "katib-llm-webhook")["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls")
    assert volume["secret"]["secretName"] == cert["spec"]["secretName"]
    for kind in KINDS:
        obj = rendered.one(kind)
        assert obj["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == f"katib-llm/{cert['metadata']['name']}"
        assert "caBundle" not in obj["webhooks"][0]["clientConfig"]


def test_existing_secret_mode_uses_the_given_secret_and_bundle():
    rendered = render(SCENARIOS["existing-secret"])
    for kind in KINDS:
        assert ca_bundle_pem(_webhook(rendered, kind)) == ADMIN_CA_PEM
        assert "annotations" not in rendered.one(kind)["metadata"]
    volume = next(v for v in rendered.one("Deployment", "katib-llm-webhook")["spec"]["template"]["spec"]["volumes"] if v["name"] == "tls")
    assert volume["secret"]["secretName"] == "corp-webhook-tls"
    assert rendered.one("ConfigMap", "katib-llm-webhook-ca")["data"]["ca.crt"].strip() == ADMIN_CA_PEM.strip()


@pytest.mark.parametrize("certificates, words", [
    ({"mode": "existingSecret", "existingSecret": {"caBundle": "Zm9v"}}, "certificates.existingSecret.name is required"),
    ({"mode": "existingSecret", "existingSecret": {"name": "tls"}}, "certificates.existingSecret.caBundle is required"),
])
def test_existing_secret_mode_fails_fast_without_its_inputs(certificates, words):
    from helm_python import HelmError

    with pytest.raises(HelmError, match=words):
        render({"certificates": certificates})


@pytest.mark.parametrize("flag, kind", [("mutating", "MutatingWebhookConfiguration"),
                                        ("validating", "ValidatingWebhookConfiguration")])
def test_each_configuration_can_be_disabled(flag, kind):
    rendered = render({"webhook": {flag: False}})
    assert not rendered.find(kind) and len(rendered.find(
        ({*KINDS} - {kind}).pop())) == 1
