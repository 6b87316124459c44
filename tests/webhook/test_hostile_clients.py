"""The real TLS server under hostile clients: slow senders, huge and deep bodies, alias bombs,
many parameters. Every loop is bounded; everything stays on loopback."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
import yaml

from tests.builders import review as build_review
from .conftest import NAMESPACE, SERVICE, Server, start_server, stop_server

EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "bert-lora-experiment.yaml").read_text())
SLOW_CLIENTS = 12
TRICKLE_SECONDS = 8.0  # how long each slow client keeps trickling (bounded)
READ_DEADLINE = 3.0  # the server's per-request read deadline in these tests


def _tls_context(server: Server) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(server.certs / "ca.crt"))
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


def _slow_headers(server: Server, stop: threading.Event) -> None:
    """Complete the TLS handshake, then send an HTTP request one byte a second."""
    request = (b"POST /mutate?timeout=10s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
               b"Content-Length: 2\r\n\r\n{}")
    deadline = time.monotonic() + TRICKLE_SECONDS
    try:
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock = _tls_context(server).wrap_socket(raw, server_hostname=f"{SERVICE}.{NAMESPACE}.svc")
        for byte in request:
            if stop.is_set() or time.monotonic() > deadline:
                break
            sock.sendall(bytes([byte]))
            stop.wait(1.0)
        sock.close()
    except OSError:
        pass  # the server cut us off: that is the point


def _slow_handshake(server: Server, stop: threading.Event) -> None:
    """A TCP connection that trickles the start of a TLS ClientHello, one byte a second."""
    hello = bytes.fromhex("160301") + b"\x02\x00" + b"\x01" * 64
    deadline = time.monotonic() + TRICKLE_SECONDS
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            for byte in hello:
                if stop.is_set() or time.monotonic() > deadline:
                    break
                sock.sendall(bytes([byte]))
                stop.wait(1.0)
    except OSError:
        pass


def _timed_review(server: Server) -> float:
    """Seconds for one normal admission on a fresh connection (a new TLS handshake)."""
    client = server.client(socket_timeout=20.0)
    body = json.dumps(build_review(EXAMPLE)).encode()
    try:
        start = time.perf_counter()
        reply = client.post("/mutate", body)
        elapsed = time.perf_counter() - start
    finally:
        client.close()
    assert reply.status == 200 and reply.response["allowed"], reply.body[:300]
    return elapsed


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory: pytest.TempPathFactory, certs: Path) -> Iterator[Server]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KATIB_LLM_WEBHOOK_READ_DEADLINE", str(READ_DEADLINE))
        srv = start_server(tmp_path_factory.mktemp("hostile"), certs)
    yield srv
    stop_server(srv)


@pytest.mark.parametrize("attack", [_slow_headers, _slow_handshake], ids=["slow-headers", "slow-handshake"])
def test_slow_clients_do_not_delay_a_normal_review(hostile_server: Server, attack) -> None:
    baseline = min(_timed_review(hostile_server) for _ in range(3))
    stop = threading.Event()
    threads = [threading.Thread(target=attack, args=(hostile_server, stop), daemon=True)
               for _ in range(SLOW_CLIENTS)]
    for t in threads:
        t.start()
    try:
        time.sleep(2.5)  # every slow client is connected and trickling
        under_attack = [_timed_review(hostile_server) for _ in range(3)]
    finally:
        stop.set()
        for t in threads:
            t.join(timeout=10)
    delay = max(under_attack) - baseline
    print(f"\n{attack.__name__}: baseline {baseline * 1000:.0f} ms, under {SLOW_CLIENTS} slow clients "
          f"{[round(x * 1000) for x in under_attack]} ms, worst delay {delay * 1000:.0f} ms")
    assert delay < 1.0, f"a normal review was delayed {delay:.2f}s by {SLOW_CLIENTS} slow clients"


@pytest.mark.parametrize("tls_done", [True, False], ids=["after-handshake", "no-handshake"])
def test_an_incomplete_request_is_cut_off_at_the_read_deadline(hostile_server: Server, tls_done: bool) -> None:
    raw = socket.create_connection(("127.0.0.1", hostile_server.port), timeout=READ_DEADLINE + 5)
    sock = _tls_context(hostile_server).wrap_socket(raw, server_hostname=f"{SERVICE}.{NAMESPACE}.svc") \
        if tls_done else raw
    try:
        sock.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\n" if tls_done else b"\x16\x03\x01")
        start = time.monotonic()
        try:
            data = sock.recv(1024)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
        waited = time.monotonic() - start
    finally:
        sock.close()
    assert data == b"" and waited < READ_DEADLINE + 2.5, (data, waited)


@pytest.mark.parametrize("declared", [100_000, 10 * 1024 * 1024, 100 * 1024 * 1024])
def test_a_body_that_never_completes_is_cut_off(hostile_server: Server, declared: int) -> None:
    """Under the limit or over it (drained in the event loop), a body that stops arriving costs
    no thread and is cut off at the deadline; one declared beyond the drain cap is answered 413
    at once."""
    raw = socket.create_connection(("127.0.0.1", hostile_server.port), timeout=READ_DEADLINE + 5)
    sock = _tls_context(hostile_server).wrap_socket(raw, server_hostname=f"{SERVICE}.{NAMESPACE}.svc")
    try:
        sock.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{" % declared)
        start = time.monotonic()
        try:
            data = sock.recv(1024)
        except (ConnectionResetError, ssl.SSLError):
            data = b""
    finally:
        sock.close()
    waited = time.monotonic() - start
    if declared > 48 * 1024 * 1024:
        assert data.startswith(b"HTTP/1.1 413") and waited < 2.0, data
    else:
        assert data == b"" and waited < READ_DEADLINE + 2.5, (data, waited)


def test_an_oversized_upload_gets_its_413_on_a_slow_link(hostile_server: Server) -> None:
    """A 4 MiB body sent in pieces is read to its end in the event loop and answered 413."""
    raw = socket.create_connection(("127.0.0.1", hostile_server.port), timeout=10)
    sock = _tls_context(hostile_server).wrap_socket(raw, server_hostname=f"{SERVICE}.{NAMESPACE}.svc")
    body = b"x" * (4 * 1024 * 1024)
    try:
        sock.sendall(b"POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body))
        for start in range(0, len(body), 512 * 1024):
            sock.sendall(body[start:start + 512 * 1024])
            time.sleep(0.05)
        data = sock.recv(4096)
    finally:
        sock.close()
    assert data.startswith(b"HTTP/1.1 413"), data[:200]


def test_pipelined_requests_on_one_connection_are_all_answered(hostile_server: Server) -> None:
    raw = socket.create_connection(("127.0.0.1", hostile_server.port), timeout=10)
    sock = _tls_context(hostile_server).wrap_socket(raw, server_hostname=f"{SERVICE}.{NAMESPACE}.svc")
    try:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" * 3)
        data, deadline = b"", time.monotonic() + 10
        while data.count(b"HTTP/1.1 200") < 3 and time.monotonic() < deadline:
            chunk = sock.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        sock.close()
    assert data.count(b"HTTP/1.1 200") == 3, data
