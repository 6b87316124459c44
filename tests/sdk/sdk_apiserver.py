"""An in-process stand-in for the Kubernetes API server, for SDK tests.

No kube-apiserver can run on our machines, so SDK tests point the real ``kubernetes`` Python
client (a ``kubernetes.client.Configuration`` with ``host=http://127.0.0.1:PORT``) at this small
threaded HTTP server. It speaks the REST endpoints the SDK uses, with the real wire format:

* ``/apis/kubeflow.org/v1beta1/namespaces/{ns}/{experiments|trials|suggestions}[/{name}[/status]]``
* ``/api/v1/namespaces/{ns}/{configmaps|persistentvolumeclaims}[/{name}]``

with create (POST), get / list (``labelSelector``, ``fieldSelector=metadata.name=``) / watch
(``watch=true``, ``timeoutSeconds``, newline-delimited events), replace (PUT), merge or JSON
patch (PATCH) and delete. ``metadata.uid``, ``resourceVersion`` and ``creationTimestamp`` are
assigned, conflicts are 409 and missing objects 404, as ``kubernetes.client.Status``.

When given an admin config, creating a labelled Experiment goes through the admission core
exactly as katib-llm's mutating webhook would (with the provider ConfigMaps of its namespace):
a denial is a 400 naming the webhook, an admission stores the admitted object.

What it does not emulate: authentication/RBAC, Katib's controllers (no trials are created;
tests record statuses themselves), server-side apply, and strategic-merge patches.
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jsonpatch

CUSTOM = {"experiments": "Experiment", "trials": "Trial", "suggestions": "Suggestion"}
CORE = {"configmaps": "ConfigMap", "persistentvolumeclaims": "PersistentVolumeClaim"}
WEBHOOK = "experiment.llm.katib.kubeflow.org"


class Store:
    """Objects by (plural, namespace, name), and the event log watches read."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.events: list[tuple[str, str, str, dict[str, Any]]] = []  # (type, plural, ns, obj)
        self.changed = threading.Condition()
        self.version = 0
        self.requests: list[tuple[str, str]] = []

    def record(self, kind: str, plural: str, ns: str, obj: dict[str, Any]) -> None:
        with self.changed:
            self.events.append((kind, plural, ns, copy.deepcopy(obj)))
            self.changed.notify_all()

    def next_version(self) -> str:
        self.version += 1
        return str(self.version)


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def _matches(obj: dict[str, Any], query: dict[str, list[str]]) -> bool:
    meta = obj.get("metadata", {})
    for selector in query.get("labelSelector", []):
        for term in filter(None, selector.split(",")):
            key, _, value = term.partition("=")
            if (meta.get("labels") or {}).get(key) != value:
                return False
    for selector in query.get("fieldSelector", []):
        for term in filter(None, selector.split(",")):
            key, _, value = term.partition("=")
            if key == "metadata.name" and meta.get("name") != value:
                return False
            if key == "metadata.namespace" and meta.get("namespace") != value:
                return False
    return True


class ApiServer:
    """Start with :meth:`start`; ``host`` is the URL to put in a kubernetes Configuration."""

    def __init__(self, admin_config: Any = None):
        self.store = Store()
        self.admin_config = admin_config
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def configuration(self) -> Any:
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.host
        return configuration

    def write_kubeconfig(self, directory: Any) -> Any:
        """A kubeconfig file whose current context is this server (plain HTTP, no auth)."""
        from pathlib import Path

        import yaml

        path = Path(directory) / "kubeconfig"
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
            "clusters": [{"name": "stand-in", "cluster": {"server": self.host}}],
            "users": [{"name": "tester", "user": {}}],
            "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "tester",
                                                          "namespace": "kubeflow"}}]}))
        return path

    def start(self) -> "ApiServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    # -- helpers for tests: what Katib's controller would write ---------------------------
    def put_status(self, plural: str, ns: str, name: str, status: dict[str, Any]) -> None:
        with self.store.changed:
            obj = self.store.objects[(plural, ns, name)]
            obj["status"] = copy.deepcopy(status)
            obj["metadata"]["resourceVersion"] = self.store.next_version()
        self.store.record("MODIFIED", plural, ns, obj)

    def _admit(self, ns: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        from katib_llm.core import providers
        from katib_llm.core.admit import admit

        config = self.admin_config
        declarations = []
        for (plural, cm_ns, _), cm in self.store.objects.items():
            if plural == "configmaps" and cm_ns == ns and \
                    (cm["metadata"].get("labels") or {}).get(providers.PROVIDER_LABEL) == "true":
                decl, _errors = providers.from_configmap(cm)
                if decl:
                    declarations.append(decl)
        result = admit(body, config.with_providers(declarations))
        if not result.allowed:
            message = "; ".join(str(e) for e in result.errors)
            return 400, _status(400, "BadRequest",
                                f'admission webhook "{WEBHOOK}" denied the request: {message}')
        return 201, result.experiment

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, and chunked watch streams as kube-apiserver sends

            def log_message(self, *args: Any) -> None:  # keep test output clean
                pass

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _route(self) -> tuple[str, str, str | None, bool, dict[str, list[str]]] | None:
                parts = urlsplit(self.path)
                segs = [s for s in parts.path.split("/") if s]
                query = parse_qs(parts.query)
                if segs[:3] == ["apis", "kubeflow.org", "v1beta1"] and len(segs) >= 6 and segs[3] == "namespaces":
                    rest = segs[4:]
                    kinds = CUSTOM
                elif segs[:2] == ["api", "v1"] and len(segs) >= 5 and segs[2] == "namespaces":
                    rest = segs[3:]
                    kinds = CORE
                else:
                    return None
                ns, plural = rest[0], rest[1]
                if plural not in kinds or len(rest) > 4:
                    return None
                name = rest[2] if len(rest) >= 3 else None
                sub = len(rest) == 4 and rest[3] == "status"
                return plural, ns, name, sub, query

            def _body(self) -> Any:
                length = int(self.headers.get("Content-Length") or 0)
                return json.loads(self.rfile.read(length) or b"null")

            def do_GET(self) -> None:
                route = self._route()
                server.store.requests.append(("GET", self.path))
                if route is None:
                    return self._send(404, _status(404, "NotFound", f"no route {self.path}"))
                plural, ns, name, _, query = route
                if name:
                    obj = server.store.objects.get((plural, ns, name))
                    if obj is None:
                        return self._send(404, _status(404, "NotFound", f'{plural} "{name}" not found'))
                    return self._send(200, obj)
                if query.get("watch", ["false"])[0] in ("true", "1"):
                    return self._watch(plural, ns, query)
                items = [o for (p, n, _), o in sorted(server.store.objects.items())
                         if p == plural and n == ns and _matches(o, query)]
                kind = (CUSTOM | CORE)[plural]
                self._send(200, {"apiVersion": "v1", "kind": f"{kind}List",
                                 "metadata": {"resourceVersion": str(server.store.version)}, "items": items})

            def _watch(self, plural: str, ns: str, query: dict[str, list[str]]) -> None:
                timeout = float(query.get("timeoutSeconds", ["30"])[0])
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                store = server.store
                with store.changed:
                    start = len(store.events)
                    initial = [o for (p, n, _), o in store.objects.items()
                               if p == plural and n == ns and _matches(o, query)]
                    lines = [json.dumps({"type": "ADDED", "object": o}) for o in initial]
                self._write(lines)
                deadline = datetime.now().timestamp() + timeout
                seen = start
                while True:
                    with store.changed:
                        remaining = deadline - datetime.now().timestamp()
                        if remaining <= 0:
                            break
                        if len(store.events) == seen:
                            store.changed.wait(min(remaining, 0.5))
                        new = store.events[seen:]
                        seen = len(store.events)
                    lines = [json.dumps({"type": t, "object": o}) for t, p, n, o in new
                             if p == plural and n == ns and _matches(o, query)]
                    if not self._write(lines):
                        break
                self._write([], end=True)
                self.close_connection = True

            def _write(self, lines: list[str], end: bool = False) -> bool:
                """Send watch events, one chunk per line (a zero chunk ends the stream)."""
                try:
                    for line in lines:
                        data = line.encode() + b"\n"
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    if end:
                        self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()
                    return True
                except (BrokenPipeError, ConnectionResetError):
                    return False

            def do_POST(self) -> None:
                route = self._route()
                server.store.requests.append(("POST", self.path))
                if route is None or route[2] is not None:
                    return self._send(404, _status(404, "NotFound", f"no route {self.path}"))
                plural, ns, _, _, _ = route
                body = self._body()
                if not isinstance(body, dict):
                    return self._send(400, _status(400, "BadRequest", "body must be an object"))
                meta = body.setdefault("metadata", {})
                if meta.get("namespace", ns) != ns:
                    return self._send(400, _status(400, "BadRequest", "the namespace of the object does "
                                                                      "not match the namespace of the request"))
                meta["namespace"] = ns
                name = meta.get("name")
                if not name:
                    return self._send(422, _status(422, "Invalid", "metadata.name: Required value"))
                if plural == "experiments" and server.admin_config is not None:
                    code, result = server._admit(ns, body)
                    if code != 201:
                        return self._send(code, result)
                    body = result
                with server.store.changed:
                    if (plural, ns, name) in server.store.objects:
                        return self._send(409, _status(409, "AlreadyExists", f'{plural} "{name}" already exists'))
                    meta = body["metadata"]
                    meta["uid"] = str(uuid.uuid4())
                    meta["resourceVersion"] = server.store.next_version()
                    meta["creationTimestamp"] = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
                    server.store.objects[(plural, ns, name)] = body
                server.store.record("ADDED", plural, ns, body)
                self._send(201, body)

            def do_PUT(self) -> None:
                self._update(lambda old, body: body)

            def do_PATCH(self) -> None:
                ctype = self.headers.get("Content-Type", "")

                def apply(old: dict[str, Any], body: Any) -> dict[str, Any]:
                    if "json-patch" in ctype:
                        return jsonpatch.apply_patch(old, body)
                    return _merge(copy.deepcopy(old), body)
                self._update(apply)

            def _update(self, apply: Any) -> None:
                route = self._route()
                server.store.requests.append((self.command, self.path))
                if route is None or route[2] is None:
                    return self._send(404, _status(404, "NotFound", f"no route {self.path}"))
                plural, ns, name, sub, _ = route
                body = self._body()
                with server.store.changed:
                    old = server.store.objects.get((plural, ns, name))
                    if old is None:
                        return self._send(404, _status(404, "NotFound", f'{plural} "{name}" not found'))
                    new = apply(old, body)
                    if sub:  # the status subresource changes only status
                        new = {**old, "status": new.get("status")}
                    new["metadata"] = {**new.get("metadata", {}),
                                       **{k: old["metadata"][k] for k in ("uid", "creationTimestamp", "namespace",
                                                                          "name")},
                                       "resourceVersion": server.store.next_version()}
                    server.store.objects[(plural, ns, name)] = new
                server.store.record("MODIFIED", plural, ns, new)
                self._send(200, new)

            def do_DELETE(self) -> None:
                route = self._route()
                server.store.requests.append(("DELETE", self.path))
                if route is None or route[2] is None:
                    return self._send(404, _status(404, "NotFound", f"no route {self.path}"))
                plural, ns, name, _, _ = route
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                with server.store.changed:
                    obj = server.store.objects.pop((plural, ns, name), None)
                if obj is None:
                    return self._send(404, _status(404, "NotFound", f'{plural} "{name}" not found'))
                server.store.record("DELETED", plural, ns, obj)
                self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success", "metadata": {}})

        return Handler


def _merge(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = _merge(target.get(key), value)
    return target
