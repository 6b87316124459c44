"""A stand-in kube-apiserver on 127.0.0.1 (HTTPS) for Helm's ``lookup``, the hook and the webhook.

It serves what Helm's ``lookup`` needs for core/v1 objects: discovery of ``/api/v1`` (to map a
kind to its resource) and ``GET /api/v1/namespaces/<ns>/<resource>/<name>``; and ``DELETE`` of
cluster-scoped webhook configurations (``/apis/admissionregistration.k8s.io/v1/...``), answering
the stored object, a ``Status`` or a Kubernetes ``Status`` 404; and ``GET`` of namespaced lists
with an equality ``labelSelector`` (what the webhook's ``--kube-api`` reads). Requests must carry the bearer token. Every
request path is recorded so tests can assert what Helm asked for. It serves TLS with its own
certificate (client-go sends a bearer token only over TLS), which the client verifies.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

TOKEN = "chart-tests-token"
RESOURCES = {"Secret": "secrets", "ConfigMap": "configmaps", "Service": "services"}
CLUSTER_RESOURCES = {"MutatingWebhookConfiguration": "mutatingwebhookconfigurations",
                     "ValidatingWebhookConfiguration": "validatingwebhookconfigurations"}


def object_path(obj: dict[str, Any]) -> str | None:
    """The REST path of ``obj``, or None for kinds this stand-in does not serve."""
    kind, meta = obj["kind"], obj["metadata"]
    if kind in RESOURCES:
        return f"/api/v1/namespaces/{meta['namespace']}/{RESOURCES[kind]}/{meta['name']}"
    if kind in CLUSTER_RESOURCES:
        return f"/apis/{obj['apiVersion']}/{CLUSTER_RESOURCES[kind]}/{meta['name']}"
    return None


class FakeApiserver:
    """Holds objects by (resource, namespace, name); start with ``with FakeApiserver(objs) as api``."""

    def __init__(self, objects: list[dict[str, Any]] = ()) -> None:
        self.objects = {object_path(o): o for o in objects if object_path(o)}
        self.requests: list[str] = []  # "GET /path?query", "DELETE /path"
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _authorized(self) -> bool:
                api.requests.append(f"{self.command} {self.path}")
                if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                    self._send(401, _status(401, "Unauthorized"))
                    return False
                return True

            def do_DELETE(self) -> None:  # noqa: N802 (http.server naming)
                if not self._authorized():
                    return
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)  # DeleteOptions
                path = self.path.split("?", 1)[0].rstrip("/")
                obj = api.objects.pop(path, None)
                if obj is None:
                    name = path.rsplit("/", 1)[-1]
                    return self._send(404, _status(404, f'"{name}" not found', "NotFound"))
                return self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success",
                                        "details": {"name": obj["metadata"]["name"]}})

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                if not self._authorized():
                    return
                path = self.path.split("?", 1)[0].rstrip("/")
                if path == "/api":
                    return self._send(200, {"kind": "APIVersions", "versions": ["v1"]})
                if path == "/api/v1":
                    return self._send(200, {"kind": "APIResourceList", "groupVersion": "v1", "resources": [
                        {"name": res, "singularName": kind.lower(), "namespaced": True, "kind": kind,
                         "verbs": ["get", "list"]} for kind, res in RESOURCES.items()]})
                if path in api.objects:
                    return self._send(200, api.objects[path])
                if path.startswith("/api/v1/namespaces/") and path.count("/") == 5:
                    return self._send(200, api.list_namespaced(path, self.path.partition("?")[2]))
                if path.startswith("/api/v1/namespaces/") and path.count("/") == 6:
                    _, _, _, _, _, resource, name = path.split("/")
                    return self._send(404, _status(404, f'{resource} "{name}" not found', "NotFound"))
                return self._send(404, _status(404, "the server could not find the requested resource", "NotFound"))

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._dir = tempfile.TemporaryDirectory(prefix="fake-apiserver-")
        self.ca_file = _write_certs(Path(self._dir.name))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(Path(self._dir.name) / "tls.crt", Path(self._dir.name) / "tls.key")
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def list_namespaced(self, path: str, query: str) -> dict[str, Any]:
        """A ``<Kind>List`` of the stored objects under ``path``, filtered by an equality labelSelector."""
        from urllib.parse import parse_qs

        selector = parse_qs(query).get("labelSelector", [""])[0]
        wanted = dict(term.split("=", 1) for term in selector.split(",") if "=" in term)
        items = [o for p, o in self.objects.items() if p.rsplit("/", 1)[0] == path
                 and wanted.items() <= ((o["metadata"].get("labels") or {}).items())]
        kind = next((k for k, r in RESOURCES.items() if path.endswith("/" + r)), "Object")
        return {"kind": f"{kind}List", "apiVersion": "v1", "metadata": {"resourceVersion": "1"}, "items": items}

    def kubeconfig(self, path: Path) -> Path:
        """A kubeconfig for this server (for clients that read one, e.g. the kubernetes package)."""
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "fake",
            "clusters": [{"name": "fake", "cluster": {"server": self.url, "certificate-authority": self.ca_file}}],
            "users": [{"name": "fake", "user": {"token": TOKEN}}],
            "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "fake"}}]}))
        return path

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> "FakeApiserver":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._dir.cleanup()


def _status(code: int, message: str, reason: str = "Unauthorized") -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "message": message,
            "reason": reason, "code": code}


def _write_certs(out: Path) -> str:
    """A self-signed serving certificate for IP 127.0.0.1; returns the CA file (the cert itself)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake-apiserver")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (out / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out / "tls.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    return str(out / "tls.crt")
