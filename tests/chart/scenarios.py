"""Values sets the chart is rendered with: the defaults, each certificate mode, non-default values."""

from __future__ import annotations

import base64

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import datetime


def _ca_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "admin-ca")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM).decode()


ADMIN_CA_PEM = _ca_pem()

SCENARIOS: dict[str, dict] = {
    "defaults": {},
    "cert-manager": {"certificates": {"mode": "certManager"}},
    "cert-manager-cluster-issuer": {"certificates": {"mode": "certManager", "certManager": {
        "issuerRef": {"name": "corp-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"}}}},
    "existing-secret": {"certificates": {"mode": "existingSecret", "existingSecret": {
        "name": "corp-webhook-tls", "caBundle": base64.b64encode(ADMIN_CA_PEM.encode()).decode()}}},
    "non-default": {
        "replicas": 3,
        "image": {"repository": "registry.example.com/ml/katib-llm-webhook", "tag": "0.1.0-rc1",
                  "digest": "sha256:" + "ab" * 32, "pullPolicy": "Always"},
        "imagePullSecrets": [{"name": "regcred"}],
        "podAntiAffinity": "hard",
        "priorityClassName": "system-cluster-critical",
        "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
        "podAnnotations": {"example.com/team": "ml-platform"},
        "podLabels": {"example.com/tier": "admission"},
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy.example.com:3128"}],
        "server": {"workers": 3, "threads": 8, "kubeApi": False, "extraArgs": ["--bind", "0.0.0.0"]},
        "reconciler": {"enabled": False},
        "podDisruptionBudget": {"minAvailable": "50%"},
        "webhook": {"failurePolicy": "Ignore", "timeoutSeconds": 30, "sideEffects": "NoneOnDryRun",
                    "excludeNamespaces": ["kubeflow", "istio-system"],
                    "namespaceMatchLabels": {"llm.katib.kubeflow.org/enabled": "true"}},
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "service": {"port": 9443, "targetPort": 10250},
        "config": {
            "defaultTemplate": "hf-lora-job",
            "images": {"runtime": "registry.example.com/ml/katib-llm-runtime:0.1.0-rc1", "pullPolicy": "Always"},
            "gpu": {"resourceName": "amd.com/gpu", "maxPerWorker": 4, "maxPerTrial": 16},
            "placement": {"nodeSelector": {"example.com/gpu": "a100"},
                          "tolerations": [{"key": "example.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]},
            "storage": {"size": "200Gi", "storageClassName": "cephfs", "accessModes": ["ReadWriteMany"]},
            "allowedModelSources": ["hf://google-bert/", "s3://models/"],
            "providers": {"lakefs": {"image": "registry.example.com/lakefs-fetch:1.2",
                                     "command": ["python", "-m", "lakefs_fetch"],
                                     "args": ["{uri}", "--out", "{target}"], "secret": "lakefs-credentials"}},
            "credentials": {"hfTokenSecret": "hf-token", "s3Secret": "s3-credentials"},
            "metricsCollector": "File",
        },
    },
}
