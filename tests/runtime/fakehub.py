"""A small Hugging Face Hub stand-in on 127.0.0.1, for ``HF_ENDPOINT``.

Implements what ``huggingface_hub`` 2.x ``snapshot_download`` calls (read from its source):

* ``GET /api/{models|datasets}/{repo}/revision/{rev}``  → repo info with the commit ``sha``
* ``GET /api/{models|datasets}/{repo}/tree/{rev}?recursive=true``  → file listing (size, oid, lfs)
* ``HEAD``/``GET /{repo}/resolve/{rev}/{path}`` and ``/datasets/{repo}/resolve/{rev}/{path}``
  → file metadata headers (``X-Repo-Commit``, ``ETag``, ``Content-Length``) and bodies

It counts the file-body bytes it serves, can require a bearer token per repo (401/403 like the
Hub), and can serve slowly (to kill a client mid-download).
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit


@dataclass
class Repo:
    files: dict[str, bytes]
    token: str | None = None
    sha: str = ""
    refs: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        digest = hashlib.sha1()
        for name in sorted(self.files):
            digest.update(name.encode() + b"\0" + hashlib.sha1(self.files[name]).digest())
        self.sha = digest.hexdigest()
        self.refs.setdefault("main", self.sha)


class FakeHub:
    """Start with ``start()``; ``url`` goes into HF_ENDPOINT; ``bytes_served`` counts bodies."""

    def __init__(self, chunk_delay: float = 0.0, chunk_size: int = 64 * 1024) -> None:
        self.repos: dict[tuple[str, str], Repo] = {}
        self.chunk_delay = chunk_delay
        self.chunk_size = chunk_size
        self.bytes_served = 0
        self.requests: list[tuple[str, str, int]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    # -- content -------------------------------------------------------------------------
    def add(self, repo_type: str, repo_id: str, files: dict[str, bytes], token: str | None = None) -> Repo:
        repo = Repo(files=files, token=token)
        self.repos[(repo_type, repo_id)] = repo
        return repo

    def add_dir(self, repo_type: str, repo_id: str, folder: Path, token: str | None = None) -> Repo:
        files = {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
        return self.add(repo_type, repo_id, files, token)

    def reset_counters(self) -> None:
        with self._lock:
            self.bytes_served = 0
            self.requests.clear()

    # -- server --------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> "FakeHub":
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_HEAD(self) -> None:  # noqa: N802
                hub._handle(self, head=True)

            def do_GET(self) -> None:  # noqa: N802
                hub._handle(self, head=False)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    # -- routing -------------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler, head: bool) -> None:
        path = unquote(urlsplit(req.path).path)
        status = 404
        try:
            if path.startswith("/api/models/") or path.startswith("/api/datasets/"):
                status = self._api(req, path, head)
            elif "/resolve/" in path:
                status = self._resolve(req, path, head)
            else:
                status = self._error(req, 404, "EntryNotFound", "no such endpoint", head)
        except (BrokenPipeError, ConnectionResetError):
            status = -1
        finally:
            with self._lock:
                self.requests.append((req.command, path, status))

    def _repo(self, req: BaseHTTPRequestHandler, repo_type: str, repo_id: str, head: bool) -> Repo | int:
        repo = self.repos.get((repo_type, repo_id))
        if repo is None:
            return self._error(req, 404, "RepoNotFound", f"Repository Not Found for url: {repo_id}", head)
        if repo.token is not None:
            auth = req.headers.get("Authorization", "")
            if not auth:
                return self._error(req, 401, "RepoNotFound", "Invalid credentials in Authorization header", head)
            if auth != f"Bearer {repo.token}":
                return self._error(req, 403, "GatedRepo", "Access to this repo is restricted", head)
        return repo

    def _api(self, req: BaseHTTPRequestHandler, path: str, head: bool) -> int:
        repo_type = "model" if path.startswith("/api/models/") else "dataset"
        rest = path.split("/", 3)[3]
        for op in ("/revision/", "/tree/"):
            if op in rest:
                repo_id, _, tail = rest.partition(op)
                break
        else:
            return self._error(req, 404, "EntryNotFound", "unsupported api call", head)
        repo = self._repo(req, repo_type, repo_id, head)
        if isinstance(repo, int):
            return repo
        rev = tail.split("/", 1)[0]
        sha = repo.refs.get(rev, rev if rev == repo.sha else None)
        if sha is None:
            return self._error(req, 404, "RevisionNotFound", f"Invalid rev id: {rev}", head)
        if op == "/revision/":
            body = {"id": repo_id, "sha": sha, "private": repo.token is not None,
                    "siblings": [{"rfilename": name} for name in sorted(repo.files)]}
        else:
            body = [{"type": "file", "path": name, "size": len(data), "oid": hashlib.sha1(data).hexdigest(),
                     **({"lfs": {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                                 "pointerSize": 134}} if name.endswith(".safetensors") else {})}
                    for name, data in sorted(repo.files.items())]
        return self._json(req, 200, body, head)

    def _resolve(self, req: BaseHTTPRequestHandler, path: str, head: bool) -> int:
        before, _, after = path.partition("/resolve/")
        repo_type, repo_id = ("dataset", before[len("/datasets/"):]) if before.startswith("/datasets/") \
            else ("model", before.lstrip("/"))
        repo = self._repo(req, repo_type, repo_id, head)
        if isinstance(repo, int):
            return repo
        rev, _, name = after.partition("/")
        sha = repo.refs.get(rev, rev if rev == repo.sha else None)
        if sha is None:
            return self._error(req, 404, "RevisionNotFound", f"Invalid rev id: {rev}", head)
        data = repo.files.get(name)
        if data is None:
            return self._error(req, 404, "EntryNotFound", f"{name} not found", head)
        etag = hashlib.sha256(data).hexdigest() if name.endswith(".safetensors") else hashlib.sha1(data).hexdigest()
        req.send_response(200)
        req.send_header("Content-Type", "application/octet-stream")
        req.send_header("Content-Length", str(len(data)))
        req.send_header("ETag", f'"{etag}"')
        req.send_header("X-Repo-Commit", sha)
        req.end_headers()
        if not head:
            for start in range(0, len(data), self.chunk_size):
                chunk = data[start:start + self.chunk_size]
                req.wfile.write(chunk)
                req.wfile.flush()
                with self._lock:
                    self.bytes_served += len(chunk)
                if self.chunk_delay:
                    time.sleep(self.chunk_delay)
        return 200

    @staticmethod
    def _json(req: BaseHTTPRequestHandler, status: int, body: object, head: bool) -> int:
        data = json.dumps(body).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        if not head:
            req.wfile.write(data)
        return status

    def _error(self, req: BaseHTTPRequestHandler, status: int, code: str, message: str, head: bool) -> int:
        data = json.dumps({"error": message}).encode()
        req.send_response(status)
        req.send_header("Content-Type", "application/json")
        req.send_header("X-Error-Code", code)
        req.send_header("X-Error-Message", message)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        if not head:
            req.wfile.write(data)
        return status
