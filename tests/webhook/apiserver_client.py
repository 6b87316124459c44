"""An admission client that behaves like kube-apiserver calling a webhook Service.

What it reproduces: HTTP/1.1 over TLS 1.2+, the server certificate verified against the
webhook configuration's ``caBundle`` for the host name ``<service>.<namespace>.svc`` (sent as
SNI and Host while the TCP connection goes to 127.0.0.1, where the Service would route),
``POST <path>?timeout=10s`` with ``Content-Type: application/json``, an AdmissionReview v1
request with ``uid``, ``kind``, ``resource``, ``requestKind``, ``requestResource``, ``name``,
``namespace``, ``operation``, ``userInfo``, ``object``, ``oldObject``, ``dryRun`` and
``options``; connections kept alive and reused. What it does not: the apiserver's
reinvocation policy and its ordering of several webhooks.
"""

from __future__ import annotations

import base64
import copy
import http.client
import json
import socket
import ssl
from dataclasses import dataclass, field
from typing import Any

import jsonpatch

from tests.builders import review


class _ServiceConnection(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1:port, but TLS (SNI, verification) and Host use the Service's DNS name."""

    def __init__(self, service_host: str, port: int, context: ssl.SSLContext, timeout: float):
        super().__init__(service_host, port, context=context, timeout=timeout)
        self._ctx = context

    def connect(self) -> None:
        raw = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self._ctx.wrap_socket(raw, server_hostname=self.host)


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes
    request: dict[str, Any] | None = None
    peer_serial: int | None = None

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def response(self) -> dict[str, Any]:
        return self.json["response"]


@dataclass
class ApiserverClient:
    port: int
    ca_file: str
    service: str = "katib-llm-webhook"
    namespace: str = "katib-llm"
    timeout: str = "10s"
    socket_timeout: float = 15.0
    _conn: _ServiceConnection | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.context = ssl.create_default_context(cafile=self.ca_file)
        self.context.minimum_version = ssl.TLSVersion.TLSv1_2
        self.context.set_alpn_protocols(["http/1.1"])

    @property
    def host(self) -> str:
        return f"{self.service}.{self.namespace}.svc"

    def _connection(self) -> _ServiceConnection:
        if self._conn is None:
            self._conn = _ServiceConnection(self.host, self.port, self.context, self.socket_timeout)
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def post(self, path: str, body: bytes, query: str | None = None,
             content_type: str = "application/json") -> Reply:
        """POST on the kept-alive connection (one reconnect if the server closed it while idle)."""
        url = f"{path}?{query if query is not None else 'timeout=' + self.timeout}"
        for attempt in (0, 1):
            conn = self._connection()
            try:
                conn.request("POST", url, body=body, headers={
                    "Content-Type": content_type, "Accept": "application/json, */*"})
                resp = conn.getresponse()
                data = resp.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # Idle keep-alive connection closed by the server: Go's transport retries too.
                self.close()
                if attempt:
                    raise
                continue
            serial = None
            if conn.sock is not None:
                from cryptography import x509

                serial = x509.load_der_x509_certificate(conn.sock.getpeercert(binary_form=True)).serial_number
            if resp.getheader("Connection", "").lower() == "close":
                self.close()
            return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data, peer_serial=serial)
        raise AssertionError("unreachable")

    def get(self, path: str) -> Reply:
        conn = self._connection()
        conn.request("GET", path)
        resp = conn.getresponse()
        return Reply(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())

    def review(self, obj: dict[str, Any] | None, path: str = "/mutate", operation: str = "CREATE",
               old: dict[str, Any] | None = None, dry_run: bool = False) -> Reply:
        """Send one AdmissionReview as kube-apiserver builds it; checks the envelope it gets back."""
        request = review(obj, operation, old, dry_run)
        reply = self.post(path, json.dumps(request).encode())
        reply.request = request
        if reply.status == 200:
            check_envelope(request, reply.json)
        return reply


def check_envelope(request: dict[str, Any], reply: dict[str, Any]) -> None:
    """What kube-apiserver insists on before it uses a webhook's answer."""
    assert reply.get("apiVersion") == "admission.k8s.io/v1", reply
    assert reply.get("kind") == "AdmissionReview", reply
    response = reply["response"]
    assert response["uid"] == request["request"]["uid"], "response.uid must echo request.uid"
    assert isinstance(response["allowed"], bool)
    if "patch" in response:
        assert response.get("patchType") == "JSONPatch"
    if not response["allowed"]:
        assert isinstance(response["status"]["code"], int) and response["status"]["message"]


def apply_patch(obj: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """The object as the apiserver stores it after this webhook: ``obj`` with the patch applied."""
    if "patch" not in response:
        return copy.deepcopy(obj)
    patch = json.loads(base64.b64decode(response["patch"]))
    return jsonpatch.apply_patch(obj, patch)
