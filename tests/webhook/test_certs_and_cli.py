"""``katib-llm certs`` and the commands' input checks (clear errors, no traceback, no half-written files)."""

from __future__ import annotations

import ssl
import stat
import subprocess

import yaml
from cryptography import x509

from .conftest import KATIB_LLM, NAMESPACE, SERVICE, free_port, make_certs


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([KATIB_LLM, *args], capture_output=True, text=True, timeout=60)


def test_certs_have_the_service_names_and_a_private_key(tmp_path):
    out = make_certs(tmp_path / "c")
    cert = x509.load_pem_x509_certificate((out / "tls.crt").read_bytes())
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sans == [SERVICE, f"{SERVICE}.{NAMESPACE}", f"{SERVICE}.{NAMESPACE}.svc",
                    f"{SERVICE}.{NAMESPACE}.svc.cluster.local"]
    assert stat.S_IMODE((out / "tls.key").stat().st_mode) == 0o600
    assert sorted(p.name for p in out.iterdir()) == ["ca.crt", "tls.crt", "tls.key"]  # no temp files left
    ctx = ssl.create_default_context(cafile=str(out / "ca.crt"))  # the chain verifies against the CA
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(out / "tls.crt", out / "tls.key")
    assert ctx.verify_mode == ssl.CERT_REQUIRED


def test_certs_rejects_bad_names():
    result = _run("certs", "--service", "Bad_Name", "--namespace", "ns", "--out", "/tmp/never")
    assert result.returncode == 2 and "--service" in result.stderr and "Traceback" not in result.stderr


def test_webhook_rejects_unusable_inputs_before_starting(tmp_path, certs):
    port = str(free_port())
    result = _run("webhook", "--port", port, "--tls-cert-file", str(certs / "tls.crt"),
                  "--tls-private-key-file", str(certs / "ca.crt"))
    assert result.returncode == 2 and "--tls-private-key-file" in result.stderr and "Traceback" not in result.stderr
    bad = tmp_path / "config.yaml"
    bad.write_text(yaml.safe_dump({"maxWorkers": 0, "nope": 1}))
    result = _run("webhook", "--port", port, "--tls-cert-file", str(certs / "tls.crt"),
                  "--tls-private-key-file", str(certs / "tls.key"), "--config", str(bad))
    assert result.returncode == 2 and "config.maxWorkers" in result.stderr and "config.nope" in result.stderr


def test_reconcile_rejects_bad_lease_timings():
    result = _run("reconcile", "--lease-duration", "2", "--renew-deadline", "5")
    assert result.returncode == 2 and "--lease-duration" in result.stderr


def test_kube_api_without_any_cluster_config_is_a_clear_error(tmp_path, certs):
    import os

    env = dict(os.environ, KUBECONFIG=str(tmp_path / "missing"), HOME=str(tmp_path))
    env.pop("KUBERNETES_SERVICE_HOST", None)
    result = subprocess.run([KATIB_LLM, "webhook", "--port", str(free_port()), "--tls-cert-file", str(certs / "tls.crt"),
                             "--tls-private-key-file", str(certs / "tls.key"), "--kube-api"],
                            capture_output=True, text=True, timeout=60, env=env)
    assert result.returncode == 2 and "--kube-api" in result.stderr and "Traceback" not in result.stderr
