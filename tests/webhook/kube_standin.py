"""A stand-in for the few kube-apiserver REST endpoints the webhook and the reconciler use.

NOT a Kubernetes API server: an in-process HTTP/1.1 server that speaks, with the real
kubernetes Python client on the other side, exactly these calls:

* ``GET /apis/kubeflow.org/v1beta1/experiments`` — list (with ``labelSelector`` ``k=v``) and
  watch (``watch=true``, ``resourceVersion``, ``timeoutSeconds``; chunked JSON lines);
* ``GET|POST /api/v1/namespaces/{ns}/persistentvolumeclaims[/{name}]``;
* ``GET|POST|PUT /apis/coordination.k8s.io/v1/namespaces/{ns}/leases[/{name}]`` with
  resourceVersion optimistic concurrency (a stale PUT gets 409, as on a real apiserver);
* ``GET /api/v1/namespaces/{ns}/configmaps[/{name}]`` (list with ``labelSelector``).

Objects get ``uid``, ``resourceVersion`` and ``creationTimestamp`` like the apiserver assigns.
What it does not do: authentication, admission, schema validation, field selectors, bookmarks,
garbage collection. ``fail`` injects error statuses per (method, resource) for failure tests.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

ROUTES = [
    (re.compile(r"^/apis/kubeflow\.org/v1beta1/experiments$"), "experiments", False),
    (re.compile(r"^/apis/kubeflow\.org/v1beta1/namespaces/(?P<ns>[^/]+)/experiments$"), "experiments", True),
    (re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/persistentvolumeclaims(?:/(?P<name>[^/]+))?$"),
     "persistentvolumeclaims", True),
    (re.compile(r"^/apis/coordination\.k8s\.io/v1/namespaces/(?P<ns>[^/]+)/leases(?:/(?P<name>[^/]+))?$"),
     "leases", True),
    (re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/configmaps(?:/(?P<name>[^/]+))?$"), "configmaps", True),
]
KINDS = {"experiments": ("kubeflow.org/v1beta1", "Experiment"),
         "persistentvolumeclaims": ("v1", "PersistentVolumeClaim"),
         "leases": ("coordination.k8s.io/v1", "Lease"), "configmaps": ("v1", "ConfigMap")}


class KubeStandIn:
    """In-memory objects + an event log; serve with :meth:`start`."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[tuple[str, str], dict[str, Any]]] = {k: {} for k in KINDS}
        self.events: list[tuple[int, str, dict[str, Any]]] = []  # (rv, type, experiment)
        self.requests: list[tuple[str, str]] = []  # (method, path) of every call
        self.fail: dict[tuple[str, str], int] = {}  # (method, resource) -> HTTP status to answer
        self._rv = 100
        self._cond = threading.Condition()
        self._server: ThreadingHTTPServer | None = None

    # --- test-side helpers -------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "KubeStandIn":
        standin = self

        class Handler(_Handler):
            store = standin

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def kubeconfig(self) -> str:
        return json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "standin",
            "clusters": [{"name": "standin", "cluster": {"server": self.url}}],
            "users": [{"name": "test", "user": {"token": "stand-in"}}],
            "contexts": [{"name": "standin", "context": {"cluster": "standin", "user": "test"}}]})

    def put(self, resource: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create an object as a client would (e.g. ``kubectl apply`` of an Experiment)."""
        return self.create(resource, obj["metadata"].get("namespace", "default"), obj)[1]

    def count(self, method: str, resource: str) -> int:
        return sum(1 for m, p in self.requests if m == method and f"/{resource}" in p)

    # --- store ---------------------------------------------------------------------------
    def _next_rv(self) -> str:
        self._rv += 1
        return str(self._rv)

    def create(self, resource: str, ns: str, obj: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._cond:
            obj = copy.deepcopy(obj)
            meta = obj.setdefault("metadata", {})
            name = meta.get("name")
            if not name:
                return 422, _status(422, "Invalid", "metadata.name: Required value")
            if (ns, name) in self.objects[resource]:
                return 409, _status(409, "AlreadyExists", f'{resource} "{name}" already exists')
            api_version, kind = KINDS[resource]
            obj.setdefault("apiVersion", api_version)
            obj.setdefault("kind", kind)
            meta.update(namespace=ns, uid=str(uuid.uuid4()), resourceVersion=self._next_rv(),
                        creationTimestamp=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
            self.objects[resource][(ns, name)] = obj
            if resource == "experiments":
                self.events.append((int(meta["resourceVersion"]), "ADDED", copy.deepcopy(obj)))
                self._cond.notify_all()
            return 201, copy.deepcopy(obj)

    def replace(self, resource: str, ns: str, name: str, obj: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._cond:
            current = self.objects[resource].get((ns, name))
            if current is None:
                return 404, _status(404, "NotFound", f'{resource} "{name}" not found')
            sent = (obj.get("metadata") or {}).get("resourceVersion")
            if sent and sent != current["metadata"]["resourceVersion"]:
                return 409, _status(409, "Conflict", f'Operation cannot be fulfilled on {resource} "{name}": '
                                                     "the object has been modified; please apply your changes "
                                                     "to the latest version and try again")
            obj = copy.deepcopy(obj)
            obj["metadata"].update(uid=current["metadata"]["uid"], resourceVersion=self._next_rv(),
                                   creationTimestamp=current["metadata"]["creationTimestamp"], namespace=ns)
            self.objects[resource][(ns, name)] = obj
            return 200, copy.deepcopy(obj)

    def listing(self, resource: str, ns: str | None, selector: str | None) -> dict[str, Any]:
        items = [copy.deepcopy(o) for (n, _), o in sorted(self.objects[resource].items())
                 if (ns is None or n == ns) and _matches(o, selector)]
        api_version, kind = KINDS[resource]
        return {"apiVersion": api_version, "kind": f"{kind}List", "metadata": {"resourceVersion": str(self._rv)},
                "items": items}


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code, "reason": reason,
            "message": message, "metadata": {}}


def _matches(obj: dict[str, Any], selector: str | None) -> bool:
    if not selector:
        return True
    labels = (obj.get("metadata") or {}).get("labels") or {}
    for term in selector.split(","):
        key, _, value = term.partition("=")
        if labels.get(key) != value:
            return False
    return True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    store: KubeStandIn

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[str, str | None, str | None, dict[str, list[str]]] | None:
        url = urlparse(self.path)
        for pattern, resource, namespaced in ROUTES:
            m = pattern.match(url.path)
            if m:
                groups = m.groupdict()
                return resource, groups.get("ns"), groups.get("name"), parse_qs(url.query)
        return None

    def _body(self) -> dict[str, Any]:
        return json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")

    def _handle(self, method: str) -> None:
        store = self.store
        store.requests.append((method, self.path))
        route = self._route()
        if route is None:
            self._send(404, _status(404, "NotFound", f"the server could not find the requested resource {self.path}"))
            return
        resource, ns, name, query = route
        body = self._body() if method in ("POST", "PUT") else None
        if (method, resource) in store.fail:
            code = store.fail[(method, resource)]
            self._send(code, _status(code, "Forbidden" if code == 403 else "InternalError", "injected failure"))
            return
        if method == "GET" and query.get("watch", ["false"])[0] in ("true", "1", "True"):
            self._watch(query)
        elif method == "GET" and name is None:
            self._send(200, store.listing(resource, ns, (query.get("labelSelector") or [None])[0]))
        elif method == "GET":
            obj = store.objects[resource].get((ns, name))
            self._send(200, obj) if obj else self._send(404, _status(404, "NotFound", f'{resource} "{name}" not found'))
        elif method == "POST" and name is None:
            self._send(*store.create(resource, ns or "default", body))
        elif method == "PUT" and name is not None:
            self._send(*store.replace(resource, ns or "default", name, body))
        else:
            self._send(405, _status(405, "MethodNotAllowed", "not supported by the stand-in"))

    def _watch(self, query: dict[str, list[str]]) -> None:
        store = self.store
        since = int((query.get("resourceVersion") or ["0"])[0] or 0)
        selector = (query.get("labelSelector") or [None])[0]
        deadline = time.monotonic() + float((query.get("timeoutSeconds") or ["30"])[0])
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            while time.monotonic() < deadline:
                with store._cond:
                    pending = [e for e in store.events if e[0] > since]
                    if not pending:
                        store._cond.wait(timeout=min(0.5, max(0.0, deadline - time.monotonic())))
                        continue
                for rv, kind, obj in pending:
                    since = rv
                    if _matches(obj, selector):
                        line = json.dumps({"type": kind, "object": obj}).encode() + b"\n"
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                        self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_GET(self) -> None:  # noqa: N802
        self._handle("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")
