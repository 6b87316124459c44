"""One in-process stand-in for the Kubernetes API server, shared by every test area.

No kube-apiserver can run on our machines, so tests point the real ``kubernetes`` Python client
(and the processes built on it: the webhook, the reconciler, the SDK, Helm's ``lookup``, the
chart's cleanup hook) at this threaded HTTP/1.1 server on 127.0.0.1. It is NOT a Kubernetes API
server: it is one generic store of objects keyed by ``(group/version, resource plural, namespace,
name)`` served on the REST paths the client uses, with the apiserver's wire format.

Paths (``<gv>`` is ``api/v1`` for the core group, else ``apis/<group>/<version>``):

* ``/<gv>/namespaces/<ns>/<plural>`` — ``GET`` list or watch, ``POST`` create;
* ``/<gv>/<plural>`` — ``GET`` list or watch across namespaces (and of cluster-scoped kinds);
* ``/<gv>/[namespaces/<ns>/]<plural>/<name>`` — ``GET``, ``PUT`` (replace), ``PATCH``, ``DELETE``;
* ``.../<name>/status`` — ``PUT``/``PATCH`` of the status subresource (only ``status`` changes);
* discovery: ``/api``, ``/api/v1``, ``/apis``, ``/apis/<group>/<version>`` (what Helm's ``lookup``
  uses to map a kind to its resource).

Semantics, as on a real apiserver:

* create assigns ``metadata.uid``, ``resourceVersion`` (one counter for the whole store) and
  ``creationTimestamp``; an existing name is ``409 AlreadyExists``, a missing name ``422``, a
  body namespace other than the path's ``400``;
* list filters by ``labelSelector`` (``k=v``, ``k==v``, ``k!=v``, ``k``, ``!k``) and
  ``fieldSelector`` (``metadata.name``, ``metadata.namespace``); the list's
  ``metadata.resourceVersion`` is the store's current one;
* watch (``watch=true``) streams newline-delimited JSON events in HTTP chunks until
  ``timeoutSeconds`` (default 30): without ``resourceVersion`` (or with ``"0"``) it starts with an
  ``ADDED`` event per matching object, with one it replays every later event first;
* replace (``PUT``) and merge-patch check ``metadata.resourceVersion`` when the body carries one
  (a stale one is ``409 Conflict``: optimistic concurrency); ``PATCH`` is an RFC 7386 merge patch,
  or an RFC 6902 JSON patch when the Content-Type says ``json-patch``;
* errors are ``kubernetes.client`` ``Status`` objects (404 NotFound, 405, 409, 422, ...).

Test-side knobs: ``tls=True`` (a self-signed certificate for 127.0.0.1; ``ca_file``) and
``token=`` (requests without ``Authorization: Bearer <token>`` get 401) — client-go sends a token
only over TLS; ``fail[(method, plural)] = status`` injects an error answer; ``requests`` logs
``(method, path?query)`` of every HTTP request; ``on_create(plural, hook)`` runs a hook on every
create (admission: it may return a changed object or raise :class:`Rejected`);
``logs[(namespace, pod)]`` is what ``GET .../pods/<name>/log`` answers (a test's kubelet writes it);
``not_installed=`` leaves resources out (404, as without their CRD); ``objects=`` preloads objects
that are "already in the cluster", stored exactly as given (no uid/resourceVersion, no events).
Helpers: :meth:`put`, :meth:`put_status` (what a controller would write), :meth:`objects_of`,
:meth:`count`, :meth:`configuration` and :meth:`write_kubeconfig`.

Not emulated: RBAC (one token or none), schema validation, defaulting, server-side apply,
strategic-merge patches, bookmarks, 410 Gone, garbage collection, controllers (no Trials are
created; tests write statuses themselves).
"""

from __future__ import annotations

import copy
import datetime as dt
import ipaddress
import json
import ssl
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

# (group/version, plural) -> (kind, namespaced): the resources this stand-in serves.
RESOURCES: dict[tuple[str, str], tuple[str, bool]] = {
    ("v1", "configmaps"): ("ConfigMap", True),
    ("v1", "secrets"): ("Secret", True),
    ("v1", "services"): ("Service", True),
    ("v1", "persistentvolumeclaims"): ("PersistentVolumeClaim", True),
    ("v1", "events"): ("Event", True),
    ("v1", "namespaces"): ("Namespace", False),
    ("v1", "pods"): ("Pod", True),
    ("coordination.k8s.io/v1", "leases"): ("Lease", True),
    ("kubeflow.org/v1beta1", "experiments"): ("Experiment", True),
    ("kubeflow.org/v1beta1", "trials"): ("Trial", True),
    ("kubeflow.org/v1beta1", "suggestions"): ("Suggestion", True),
    ("serving.kserve.io/v1beta1", "inferenceservices"): ("InferenceService", True),
    ("admissionregistration.k8s.io/v1", "mutatingwebhookconfigurations"): ("MutatingWebhookConfiguration", False),
    ("admissionregistration.k8s.io/v1", "validatingwebhookconfigurations"):
        ("ValidatingWebhookConfiguration", False),
}
REASONS = {400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound", 405: "MethodNotAllowed",
           409: "Conflict", 410: "Expired", 422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
           503: "ServiceUnavailable"}
NO_ROUTE = "the server could not find the requested resource"

Key = tuple[str, str, str, str]  # (group/version, plural, namespace or "" when cluster-scoped, name)
Hook = Callable[[str, dict[str, Any]], "dict[str, Any] | None"]


class Rejected(Exception):
    """Raised by an ``on_create`` hook to answer the create with ``code`` and ``message``."""

    def __init__(self, code: int, message: str, reason: str | None = None):
        super().__init__(message)
        self.code, self.message, self.reason = code, message, reason or REASONS.get(code, "BadRequest")


def status(code: int, message: str, reason: str | None = None, **details: Any) -> dict[str, Any]:
    """A ``kubernetes.client`` ``Status`` body (``Failure`` unless ``code`` is 2xx)."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": "Success" if code < 300 else "Failure", "code": code}
    if code >= 300:
        body.update(reason=reason or REASONS.get(code, "Unknown"), message=message)
    if details:
        body["details"] = details
    return body


class KubeApiServer:
    """The store and its HTTP server; ``start()``/``stop()``, or use it as a context manager."""

    def __init__(self, objects: Iterable[dict[str, Any]] = (), *, tls: bool = False, token: str | None = None,
                 not_installed: Iterable[str] = ()) -> None:
        gone = set(not_installed)
        self.resources = {k: v for k, v in RESOURCES.items() if k[1] not in gone}
        self.objects: dict[Key, dict[str, Any]] = {}
        self.events: list[tuple[int, str, Key, dict[str, Any]]] = []  # (resourceVersion, type, key, object)
        self.requests: list[tuple[str, str]] = []  # (method, path with query) of every HTTP request
        self.fail: dict[tuple[str, str], int] = {}  # (method, plural) -> HTTP status to answer instead
        self.hooks: dict[str, Hook] = {}  # plural -> on-create hook
        self.logs: dict[tuple[str, str], str] = {}  # (namespace, pod) -> what GET .../pods/<name>/log answers
        self.token = token
        self.version = 0
        self.changed = threading.Condition(threading.RLock())
        self._stopping = threading.Event()
        for obj in objects:
            gv, plural = self._resource_of(obj)
            meta = obj["metadata"]
            namespaced = self.resources[(gv, plural)][1]
            self.objects[(gv, plural, meta.get("namespace", "") if namespaced else "", meta["name"])] = obj
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._httpd.daemon_threads = True
        self._httpd.block_on_close = False
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.ca_file: str | None = None
        if tls:
            self._tmp = tempfile.TemporaryDirectory(prefix="kube-apiserver-")
            self.ca_file = _write_certs(Path(self._tmp.name))
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(Path(self._tmp.name) / "tls.crt", Path(self._tmp.name) / "tls.key")
            self._httpd.socket = ctx.wrap_socket(self._httpd.socket, server_side=True)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)

    # -- lifecycle and client configuration ------------------------------------------------
    @property
    def url(self) -> str:
        return f"{'https' if self.ca_file else 'http'}://127.0.0.1:{self._httpd.server_address[1]}"

    host = url

    def start(self) -> "KubeApiServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        with self.changed:
            self.changed.notify_all()
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
        if self._tmp:
            self._tmp.cleanup()

    def __enter__(self) -> "KubeApiServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def configuration(self) -> Any:
        """A ``kubernetes.client.Configuration`` for this server (CA and token when set)."""
        from kubernetes import client

        configuration = client.Configuration()
        configuration.host = self.url
        if self.ca_file:
            configuration.ssl_ca_cert = self.ca_file
        if self.token:
            configuration.api_key = {"authorization": f"Bearer {self.token}"}
        return configuration

    def write_kubeconfig(self, path: str | Path, namespace: str = "kubeflow") -> Path:
        """Write a kubeconfig whose current context is this server; ``path`` is the file, or a
        directory to hold one named ``kubeconfig``. Returns the file's path."""
        path = Path(path)
        if path.is_dir():
            path = path / "kubeconfig"
        cluster: dict[str, Any] = {"server": self.url}
        if self.ca_file:
            cluster["certificate-authority"] = self.ca_file
        path.write_text(json.dumps({
            "apiVersion": "v1", "kind": "Config", "current-context": "stand-in",
            "clusters": [{"name": "stand-in", "cluster": cluster}],
            "users": [{"name": "tester", "user": {"token": self.token} if self.token else {}}],
            "contexts": [{"name": "stand-in", "context": {"cluster": "stand-in", "user": "tester",
                                                          "namespace": namespace}}]}))
        return path

    # -- test-side helpers ------------------------------------------------------------------
    def on_create(self, plural: str, hook: Hook) -> None:
        """Run ``hook(namespace, object)`` on every create of ``plural`` (before the name is checked
        for conflicts, as admission runs): it returns the object to store (None: unchanged) or
        raises :class:`Rejected`."""
        self.hooks[plural] = hook

    def put(self, plural: str, obj: dict[str, Any]) -> dict[str, Any]:
        """Create ``obj`` as a client would (hooks run, an event is sent); returns the stored object."""
        meta = obj.get("metadata") or {}
        code, body = self.create(self._group_version(plural, obj), plural, meta.get("namespace", "default"), obj)
        if code != 201:
            raise AssertionError(f"creating {plural} {meta.get('name')}: {code} {body['message']}")
        return body

    def put_status(self, plural: str, namespace: str, name: str, new_status: dict[str, Any]) -> dict[str, Any]:
        """Set an object's status as its controller would (a new resourceVersion, a MODIFIED event)."""
        with self.changed:
            key = self._key(self._group_version(plural), plural, namespace, name)
            obj = {**copy.deepcopy(self.objects[key]), "status": copy.deepcopy(new_status)}
            obj["metadata"]["resourceVersion"] = self._next_version()
            self._store(key, obj, "MODIFIED")
            return obj

    def objects_of(self, plural: str) -> dict[tuple[str, str], dict[str, Any]]:
        """The stored objects of one resource, by (namespace, name) ("" namespace: cluster-scoped)."""
        with self.changed:
            return {(ns, name): o for (_, p, ns, name), o in self.objects.items() if p == plural}

    def count(self, method: str, plural: str) -> int:
        """How many ``method`` requests touched ``plural``."""
        return sum(1 for m, p in self.requests if m == method and f"/{plural}" in urlsplit(p).path)

    # -- the store -----------------------------------------------------------------------------
    def _group_version(self, plural: str, obj: dict[str, Any] | None = None) -> str:
        if obj and obj.get("apiVersion"):
            return obj["apiVersion"]
        return next(gv for gv, p in self.resources if p == plural)

    def _resource_of(self, obj: dict[str, Any]) -> tuple[str, str]:
        return next((gv, p) for (gv, p), (kind, _) in self.resources.items()
                    if gv == obj["apiVersion"] and kind == obj["kind"])

    def _key(self, gv: str, plural: str, namespace: str | None, name: str) -> Key:
        return gv, plural, namespace or "", name

    def _next_version(self) -> str:
        self.version += 1
        return str(self.version)

    def _store(self, key: Key, obj: dict[str, Any] | None, event: str, old: dict[str, Any] | None = None) -> None:
        """Write (or, with None, delete) an object and record its watch event; caller holds the lock."""
        if obj is None:
            self.objects.pop(key, None)
        else:
            self.objects[key] = obj
        shown = obj if obj is not None else old
        self.events.append((int(shown["metadata"].get("resourceVersion") or self.version), event, key, shown))
        self.changed.notify_all()

    def create(self, gv: str, plural: str, namespace: str | None, body: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(body, dict):
            return 400, status(400, "the body must be an object")
        obj = copy.deepcopy(body)
        meta = obj.setdefault("metadata", {})
        if namespace is not None:
            if meta.get("namespace", namespace) != namespace:
                return 400, status(400, "the namespace of the provided object does not match the namespace "
                                        "sent on the request")
            meta["namespace"] = namespace
        if not meta.get("name"):
            return 422, status(422, "metadata.name: Required value")
        if plural in self.hooks:
            try:
                obj = self.hooks[plural](namespace or "", obj) or obj
            except Rejected as exc:
                return exc.code, status(exc.code, exc.message, exc.reason)
            meta = obj["metadata"]
        kind = self.resources[(gv, plural)][0]
        obj.setdefault("apiVersion", gv)
        obj.setdefault("kind", kind)
        with self.changed:
            key = self._key(gv, plural, namespace, meta["name"])
            if key in self.objects:
                return 409, status(409, f'{_qualified(gv, plural)} "{meta["name"]}" already exists', "AlreadyExists",
                                   name=meta["name"], kind=plural)
            meta.update(uid=str(uuid.uuid4()), resourceVersion=self._next_version(),
                        creationTimestamp=dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
            self._store(key, obj, "ADDED")
            return 201, copy.deepcopy(obj)

    def update(self, gv: str, plural: str, namespace: str | None, name: str, body: Any,
               apply: Callable[[dict[str, Any], Any], dict[str, Any]], subresource: bool) -> tuple[int, dict[str, Any]]:
        """Replace or patch: ``apply(old, body)`` gives the new object."""
        with self.changed:
            key = self._key(gv, plural, namespace, name)
            old = self.objects.get(key)
            if old is None:
                return 404, _not_found(gv, plural, name)
            sent = ((body.get("metadata") or {}).get("resourceVersion") if isinstance(body, dict) else None)
            if sent and sent != old["metadata"].get("resourceVersion"):
                return 409, status(409, f'Operation cannot be fulfilled on {_qualified(gv, plural)} "{name}": the '
                                        "object has been modified; please apply your changes to the latest "
                                        "version and try again", "Conflict")
            try:
                new = apply(copy.deepcopy(old), copy.deepcopy(body))
            except Exception as exc:  # a JSON patch that does not apply
                return 422, status(422, f"the patch does not apply: {exc}")
            if not isinstance(new, dict):
                return 400, status(400, "the body must be an object")
            if subresource:  # the status subresource changes only status
                new = {**copy.deepcopy(old), "status": new.get("status")}
            new.setdefault("apiVersion", old.get("apiVersion", gv))
            new.setdefault("kind", old.get("kind", self.resources[(gv, plural)][0]))
            kept = {k: old["metadata"][k] for k in ("uid", "creationTimestamp", "namespace", "name")
                    if k in old["metadata"]}
            new["metadata"] = {**(new.get("metadata") or {}), **kept, "resourceVersion": self._next_version()}
            self._store(key, new, "MODIFIED")
            return 200, copy.deepcopy(new)

    def delete(self, gv: str, plural: str, namespace: str | None, name: str) -> tuple[int, dict[str, Any]]:
        with self.changed:
            key = self._key(gv, plural, namespace, name)
            old = self.objects.get(key)
            if old is None:
                return 404, _not_found(gv, plural, name)
            gone = copy.deepcopy(old)
            gone["metadata"]["resourceVersion"] = self._next_version()
            self._store(key, None, "DELETED", gone)
            return 200, status(200, "", name=name, kind=plural, uid=old["metadata"].get("uid"))

    def listing(self, gv: str, plural: str, namespace: str | None, query: dict[str, list[str]]) -> dict[str, Any]:
        with self.changed:
            items = [copy.deepcopy(o) for k, o in sorted(self.objects.items())
                     if _selected(k, o, gv, plural, namespace, query)]
            return {"apiVersion": gv, "kind": f"{self.resources[(gv, plural)][0]}List",
                    "metadata": {"resourceVersion": str(self.version)}, "items": items}

    # -- discovery -------------------------------------------------------------------------------
    def discovery(self, segs: list[str]) -> dict[str, Any] | None:
        versions = sorted({gv for gv, _ in self.resources})
        if segs == ["api"]:
            return {"kind": "APIVersions", "versions": ["v1"]}
        if segs == ["apis"]:
            groups = [{"name": gv.split("/")[0], "versions": [{"groupVersion": gv, "version": gv.split("/")[1]}],
                       "preferredVersion": {"groupVersion": gv, "version": gv.split("/")[1]}}
                      for gv in versions if "/" in gv]
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}
        gv = "v1" if segs == ["api", "v1"] else "/".join(segs[1:]) if len(segs) == 3 and segs[0] == "apis" else None
        if gv not in versions:
            return None
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": [
            {"name": plural, "singularName": kind.lower(), "namespaced": namespaced, "kind": kind,
             "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]}
            for (g, plural), (kind, namespaced) in sorted(self.resources.items()) if g == gv]}


def _qualified(gv: str, plural: str) -> str:
    return plural if "/" not in gv else f"{plural}.{gv.split('/')[0]}"


def _not_found(gv: str, plural: str, name: str) -> dict[str, Any]:
    return status(404, f'{_qualified(gv, plural)} "{name}" not found', name=name, kind=plural)


def _selected(key: Key, obj: dict[str, Any], gv: str, plural: str, namespace: str | None,
              query: dict[str, list[str]]) -> bool:
    return key[:2] == (gv, plural) and (namespace is None or key[2] == namespace) and _matches(obj, query)


def _matches(obj: dict[str, Any], query: dict[str, list[str]]) -> bool:
    """Equality-based ``labelSelector`` and ``metadata.name``/``metadata.namespace`` ``fieldSelector``."""
    meta = obj.get("metadata") or {}
    labels = meta.get("labels") or {}
    for selector in query.get("labelSelector", []):
        for term in filter(None, (t.strip() for t in selector.split(","))):
            if "!=" in term:
                key, _, value = term.partition("!=")
                ok = labels.get(key) != value
            elif "=" in term:
                key, _, value = term.replace("==", "=").partition("=")
                ok = labels.get(key) == value
            else:
                ok = (term[1:] not in labels) if term.startswith("!") else term in labels
            if not ok:
                return False
    fields = {"metadata.name": meta.get("name"), "metadata.namespace": meta.get("namespace")}
    for selector in query.get("fieldSelector", []):
        for term in filter(None, selector.split(",")):
            key, _, value = term.replace("==", "=").partition("=")
            if key in fields and fields[key] != value:
                return False
    return True


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if not isinstance(target, dict):
        target = {}
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = merge_patch(target.get(key), value)
    return target


def _handler_for(server: KubeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_Handler):
        api = server

    return Handler


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, and chunked watch streams as kube-apiserver sends
    api: KubeApiServer

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass

    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _send_text(self, text: str) -> None:
        data = text.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        api, method = self.api, self.command
        api.requests.append((method, self.path))
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # always read: keep-alive
        if api.token and self.headers.get("Authorization") != f"Bearer {api.token}":
            return self._send(401, status(401, "Unauthorized"))
        url = urlsplit(self.path)
        segs = [s for s in url.path.split("/") if s]
        query = parse_qs(url.query)
        if method == "GET" and (found := api.discovery(segs)) is not None:
            return self._send(200, found)
        route = _route(api, segs)
        if route is None:
            return self._send(404, status(404, NO_ROUTE))
        gv, plural, ns, name, sub = route
        if (method, plural) in api.fail:
            code = api.fail[(method, plural)]
            return self._send(code, status(code, "injected failure"))
        try:
            body = json.loads(raw) if raw else None
        except ValueError as exc:
            return self._send(400, status(400, f"the body is not JSON: {exc}"))
        if method == "GET" and name is None and query.get("watch", ["false"])[0] in ("true", "1", "True"):
            return self._watch(gv, plural, ns, query)
        if method == "GET" and name is None:
            return self._send(200, api.listing(gv, plural, ns, query))
        if method == "GET" and sub and segs[-1] == "log":
            return self._send_text(api.logs.get((ns or "", name))) if (ns or "", name) in api.logs \
                else self._send(404, _not_found(gv, plural, name))
        if method == "GET":
            obj = api.objects.get(api._key(gv, plural, ns, name))
            return self._send(200, obj) if obj is not None else self._send(404, _not_found(gv, plural, name))
        namespaced = api.resources[(gv, plural)][1]
        if method == "POST" and name is None and (ns is not None or not namespaced):
            return self._send(*api.create(gv, plural, ns, body))
        if method == "PUT" and name is not None:
            return self._send(*api.update(gv, plural, ns, name, body, lambda old, new: new, sub))
        if method == "PATCH" and name is not None:
            json_patch = "json-patch" in self.headers.get("Content-Type", "")
            return self._send(*api.update(gv, plural, ns, name, body, _json_patch if json_patch else merge_patch, sub))
        if method == "DELETE" and name is not None and not sub:
            return self._send(*api.delete(gv, plural, ns, name))
        return self._send(405, status(405, f"{method} {url.path} is not supported by the stand-in"))

    def _watch(self, gv: str, plural: str, ns: str | None, query: dict[str, list[str]]) -> None:
        api = self.api
        deadline = time.monotonic() + float((query.get("timeoutSeconds") or ["30"])[0])
        since = (query.get("resourceVersion") or [""])[0]
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        with api.changed:
            if since in ("", "0"):  # current state first, then what changes
                pending = [("ADDED", copy.deepcopy(o)) for k, o in sorted(api.objects.items())
                           if _selected(k, o, gv, plural, ns, query)]
                seen = len(api.events)
            else:
                pending, seen = [], next((i for i, e in enumerate(api.events) if e[0] > int(since)), len(api.events))
        while self._write(pending) and not api._stopping.is_set():
            with api.changed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                if len(api.events) == seen:
                    api.changed.wait(min(remaining, 0.5))
                pending = [(kind, o) for _, kind, k, o in api.events[seen:] if _selected(k, o, gv, plural, ns, query)]
                seen = len(api.events)
        self._write([], end=True)
        self.close_connection = True

    def _write(self, events: list[tuple[str, dict[str, Any]]], end: bool = False) -> bool:
        """Send watch events, one chunk per line (a zero chunk ends the stream); False once the
        client has gone."""
        try:
            for kind, obj in events:
                line = json.dumps({"type": kind, "object": obj}).encode() + b"\n"
                self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
            if end:
                self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
            return True
        except OSError:  # BrokenPipe, ConnectionReset, SSL errors
            return False


def _json_patch(old: dict[str, Any], patch: Any) -> dict[str, Any]:
    import jsonpatch

    return jsonpatch.apply_patch(old, patch)


def _route(api: KubeApiServer, segs: list[str]) -> tuple[str, str, str | None, str | None, bool] | None:
    """(group/version, plural, namespace or None, name or None, status subresource) of a path."""
    if segs[:2] == ["api", "v1"]:
        gv, rest = "v1", segs[2:]
    elif len(segs) >= 3 and segs[0] == "apis":
        gv, rest = f"{segs[1]}/{segs[2]}", segs[3:]
    else:
        return None
    ns = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        ns, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3 or (gv, rest[0]) not in api.resources:
        return None
    plural, name = rest[0], rest[1] if len(rest) > 1 else None
    sub = len(rest) == 3
    if sub and rest[2] not in ("status", "log") or (sub and rest[2] == "log" and plural != "pods"):
        return None
    namespaced = api.resources[(gv, plural)][1]
    if (ns is not None and not namespaced) or (namespaced and ns is None and name is not None):
        return None
    return gv, plural, ns, name, sub


def _write_certs(out: Path) -> str:
    """A self-signed serving certificate for IP 127.0.0.1; returns the CA file (the cert itself)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver-stand-in")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(minutes=1))
            .not_valid_after(now + dt.timedelta(hours=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    (out / "tls.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (out / "tls.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                    serialization.NoEncryption()))
    return str(out / "tls.crt")
