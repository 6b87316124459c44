"""Fixtures: generated certificates and the REAL ``katib-llm webhook`` (gunicorn) on a free port."""

from __future__ import annotations

import os
import socket
import ssl
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from tests.kube_apiserver import KubeApiServer

from .apiserver_client import ApiserverClient

REPO = Path(__file__).resolve().parents[2]
KATIB_LLM = str(Path(sys.executable).with_name("katib-llm"))
SERVICE, NAMESPACE = "katib-llm-webhook", "katib-llm"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def make_certs(out: Path) -> Path:
    subprocess.run([KATIB_LLM, "certs", "--service", SERVICE, "--namespace", NAMESPACE, "--out", str(out)],
                   check=True, capture_output=True, text=True)
    return out


@dataclass
class Server:
    port: int
    certs: Path
    proc: subprocess.Popen
    log: Path

    def client(self, **kw: object) -> ApiserverClient:
        return ApiserverClient(self.port, str(self.certs / "ca.crt"), SERVICE, NAMESPACE, **kw)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")


def start_server(tmp: Path, certs: Path, *extra: str, workers: int = 2, threads: int = 4) -> Server:
    port = free_port()
    log = tmp / f"webhook-{port}.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [KATIB_LLM, "webhook", "--port", str(port), "--bind", "127.0.0.1",
             "--tls-cert-file", str(certs / "tls.crt"), "--tls-private-key-file", str(certs / "tls.key"),
             "--workers", str(workers), "--threads", str(threads), "--noop-endpoint", *extra],
            stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(port, certs, proc, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"webhook exited {proc.returncode}:\n{server.logs()}")
        try:
            client = server.client()
            ok = client.get("/readyz").status == 200
            client.close()
            if ok:
                return server
        except (OSError, ssl.SSLError):
            time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"webhook did not become ready:\n{server.logs()}")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        server.proc.wait()


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_certs(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, certs: Path) -> Iterator[Server]:
    """One shared gunicorn webhook for tests that do not change its files."""
    srv = start_server(tmp_path_factory.mktemp("webhook"), certs)
    yield srv
    stop_server(srv)
    assert "Traceback" not in srv.logs(), srv.logs()


@pytest.fixture
def client(server: Server) -> Iterator[ApiserverClient]:
    c = server.client()
    yield c
    c.close()


@pytest.fixture
def standin() -> Iterator[KubeApiServer]:
    """A fresh Kubernetes API server stand-in (tests/kube_apiserver.py) per test."""
    with KubeApiServer() as api:
        yield api
