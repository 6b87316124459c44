"""Certificate rotation under load: kubelet-style Secret swap, 0 failed requests, no restart."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import yaml

from katib_llm.webhook.certs import Bundle, generate

from tests.builders import EXAMPLE_PATH

from .apiserver_client import ApiserverClient
from .conftest import NAMESPACE, SERVICE, start_server, stop_server

EXAMPLE = EXAMPLE_PATH


def _serial(pem: bytes) -> int:
    from cryptography import x509

    return x509.load_pem_x509_certificate(pem).serial_number


def _secret_version(root: Path, name: str, bundle: Bundle) -> None:
    """Write a Secret volume version dir and point ``..data`` at it atomically, as kubelet does."""
    version = root / name
    version.mkdir()
    for file, data in (("ca.crt", bundle.ca), ("tls.crt", bundle.cert), ("tls.key", bundle.key)):
        (version / file).write_bytes(data)
    tmp_link = root / "..data_tmp"
    tmp_link.symlink_to(name)
    os.replace(tmp_link, root / "..data")


def test_rotation_under_load_fails_no_request(tmp_path):
    old, new = generate(SERVICE, NAMESPACE), generate(SERVICE, NAMESPACE)
    secret = tmp_path / "secret"
    secret.mkdir()
    _secret_version(secret, "..v1", old)
    for file in ("ca.crt", "tls.crt", "tls.key"):
        (secret / file).symlink_to(f"..data/{file}")
    trust = tmp_path / "ca-bundle.crt"  # the caBundle during rotation holds both CAs
    trust.write_bytes(old.ca + new.ca)
    experiment = yaml.safe_load(EXAMPLE.read_text())

    server = start_server(tmp_path, secret)
    failures: list[str] = []
    seen: dict[str, set[int]] = {"before": set(), "after": set()}
    rotated = threading.Event()
    stop = threading.Event()
    counts = [0]
    lock = threading.Lock()

    def load(i: int) -> None:
        client = ApiserverClient(server.port, str(trust), SERVICE, NAMESPACE)
        n = 0
        while not stop.is_set():
            phase = "after" if rotated.is_set() else "before"
            try:
                reply = client.review(experiment)
                if reply.status != 200 or not reply.response["allowed"]:
                    failures.append(f"{reply.status}: {reply.body[:200]!r}")
                seen[phase].add(reply.peer_serial)
            except Exception as exc:  # any transport error is a failed request
                failures.append(f"client {i}: {type(exc).__name__}: {exc}")
            n += 1
            if n % 4 == 0:  # new connections (new handshakes) as well as kept-alive ones
                client.close()
        client.close()
        with lock:
            counts[0] += n

    # A connection opened before the rotation must keep working after it.
    long_lived = ApiserverClient(server.port, str(trust), SERVICE, NAMESPACE)
    try:
        assert long_lived.review(experiment).peer_serial == _serial(old.cert)
        threads = [threading.Thread(target=load, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        time.sleep(1.5)
        _secret_version(secret, "..v2", new)
        rotated.set()
        time.sleep(2.5)
        stop.set()
        for t in threads:
            t.join()
        in_flight = long_lived.review(experiment)
        assert in_flight.status == 200 and in_flight.peer_serial == _serial(old.cert)
        long_lived.close()
        fresh = ApiserverClient(server.port, str(trust), SERVICE, NAMESPACE).review(experiment)
        assert fresh.peer_serial == _serial(new.cert)
    finally:
        stop.set()
        stop_server(server)
    assert failures == [], failures[:5]
    assert counts[0] > 50
    assert _serial(old.cert) in seen["before"]
    assert _serial(new.cert) in seen["after"]
    assert server.proc.returncode == 0
    assert "reloaded TLS certificate" in server.logs()


def test_half_rotated_pair_keeps_the_previous_certificate(tmp_path):
    """A new certificate with the old key (a non-atomic writer) is not loaded; serving continues."""
    from katib_llm.webhook.tls import ReloadingContext

    a, b = generate(SERVICE, NAMESPACE), generate(SERVICE, NAMESPACE)
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert.write_bytes(a.cert)
    key.write_bytes(a.key)
    holder = ReloadingContext(str(cert), str(key))
    first = holder.current()
    cert.write_bytes(b.cert)  # key not replaced yet
    assert holder.current() is first and holder.reloads == 0
    key.write_bytes(b.key)
    assert holder.current() is not first and holder.reloads == 1
