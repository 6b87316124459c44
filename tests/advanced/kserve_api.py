"""A Kubernetes API stand-in for deploy tests: Katib Experiments (read) and KServe
InferenceServices (create, get, replace), over real HTTP on 127.0.0.1 with the API's wire format
(201 on create, 409 AlreadyExists, 404 NotFound, resourceVersion checked on replace).

Not emulated: authentication, KServe's own validation and controllers. ``kserve=False`` answers
404 for the InferenceService resource, as a cluster without KServe's CRD does.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_PATH = re.compile(r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)(?:/(?P<name>[^/?]+))?")


class KubeApi:
    def __init__(self, experiments: dict[tuple[str, str], dict[str, Any]], kserve: bool = True):
        self.experiments = experiments
        self.kserve = kserve
        self.isvcs: dict[tuple[str, str], dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, code: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _status(self, code: int, reason: str, message: str) -> None:
                self._send(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                  "reason": reason, "message": message, "code": code})

            def _route(self, method: str) -> None:
                api.requests.append((method, self.path))
                m = _PATH.match(self.path)
                if not m:
                    return self._status(404, "NotFound", "the server could not find the requested resource")
                ns, plural, name = m["ns"], m["plural"], m["name"]
                body = None
                if method in ("POST", "PUT"):
                    body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if (m["group"], plural) == ("kubeflow.org", "experiments") and method == "GET":
                    exp = api.experiments.get((ns, name))
                    if exp is None:
                        return self._status(404, "NotFound", f'experiments.kubeflow.org "{name}" not found')
                    return self._send(200, exp)
                if (m["group"], m["version"], plural) != ("serving.kserve.io", "v1beta1", "inferenceservices") \
                        or not api.kserve:
                    return self._status(404, "NotFound", "the server could not find the requested resource")
                if method == "POST":
                    key = (ns, body["metadata"]["name"])
                    if key in api.isvcs:
                        return self._status(409, "AlreadyExists", f'inferenceservices "{key[1]}" already exists')
                    body["metadata"]["resourceVersion"] = "1"
                    api.isvcs[key] = body
                    return self._send(201, body)
                current = api.isvcs.get((ns, name))
                if current is None:
                    return self._status(404, "NotFound", f'inferenceservices "{name}" not found')
                if method == "GET":
                    return self._send(200, current)
                if method == "PUT":
                    if body["metadata"].get("resourceVersion") != current["metadata"]["resourceVersion"]:
                        return self._status(409, "Conflict", "the object has been modified")
                    body["metadata"]["resourceVersion"] = str(int(current["metadata"]["resourceVersion"]) + 1)
                    api.isvcs[(ns, name)] = body
                    return self._send(200, body)
                return self._status(405, "MethodNotAllowed", method)

            def do_GET(self) -> None:  # noqa: N802
                self._route("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._route("POST")

            def do_PUT(self) -> None:  # noqa: N802
                self._route("PUT")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> "KubeApi":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    def configuration(self) -> Any:
        from kubernetes import client

        config = client.Configuration()
        config.host = f"http://127.0.0.1:{self.server.server_address[1]}"
        return config
