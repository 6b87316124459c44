"""The admin config file is re-read when it changes (ConfigMap remount), and a bad one is not taken."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import yaml

from tests.builders import example

from .conftest import start_server, stop_server

EXAMPLE = example()


def _replace(path: Path, text: str) -> None:
    """Atomic, like kubelet's symlink swap on a ConfigMap volume (never a half-written file)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _workers_allowed(client) -> bool:
    return client.review(copy.deepcopy(EXAMPLE)).response["allowed"]


def test_config_change_is_picked_up_without_restart(tmp_path, certs):
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"maxWorkers": 16}))
    # One worker: each worker process reloads on its own, and a worker that never saw the good
    # file keeps the config it started with, so the "last good config" assertion needs one worker.
    server = start_server(tmp_path, certs, "--config", str(config), workers=1)
    try:
        client = server.client()
        assert _workers_allowed(client)  # the example asks for 4 workers
        _replace(config, yaml.safe_dump({"maxWorkers": 2}))
        deadline = time.monotonic() + 10
        while _workers_allowed(client) and time.monotonic() < deadline:
            time.sleep(0.3)
        time.sleep(1.2)  # each worker process checks the file at most once a second
        denied = client.review(copy.deepcopy(EXAMPLE)).response
        assert denied["allowed"] is False and "workers" in denied["status"]["message"]
        _replace(config, "maxWorkers: [not, a, number]\n")  # a bad upgrade: keep the last good config
        time.sleep(1.5)
        for _ in range(4):  # fresh connections too
            assert client.review(copy.deepcopy(EXAMPLE)).response["allowed"] is False
            client.close()
        assert client.get("/readyz").status == 200
    finally:
        stop_server(server)
    assert "not reloaded, keeping the previous one" in server.logs()
