"""Download once: parallel initializers, a killed download, a second experiment (fake HF hub)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.runtime.runtime_helpers import run_initializer, tree_digest


def _bytes_of(hub, repo_type: str, repo_id: str) -> int:
    return sum(len(v) for v in hub.repos[(repo_type, repo_id)].files.values())


def _settled(hub) -> int:
    """Bytes served once the dead client's connection has been torn down on the server side."""
    last, stable_since = -1, time.monotonic()
    while time.monotonic() - stable_since < 0.5:
        if hub.bytes_served != last:
            last, stable_since = hub.bytes_served, time.monotonic()
        time.sleep(0.05)
    return last


def test_eight_parallel_initializers_download_exactly_once(hub, tiny_bert, tmp_path):
    hub.chunk_delay = 0.01  # ~0.7 s per copy, so the eight processes overlap
    cache = tmp_path / "cache"
    procs = [subprocess.Popen([sys.executable, "-m", "katib_llm.runtime.storage_initializer", "model",
                               "hf://tiny/bert", "--target", str(tmp_path / f"trial-{i}" / "model"),
                               "--cache-dir", str(cache)], env=dict(os.environ),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(8)]
    results = [(p.wait(timeout=180), p.stdout.read(), p.stderr.read()) for p in procs]
    assert all(rc == 0 for rc, _, _ in results), [err for _, _, err in results]
    summaries = [json.loads(out.strip().splitlines()[-1]) for _, out, _ in results]
    assert sum(s["downloaded"] for s in summaries) == 1
    assert hub.bytes_served == _bytes_of(hub, "model", "tiny/bert")
    expected = tree_digest(tiny_bert)
    for i in range(8):
        target = tmp_path / f"trial-{i}" / "model"
        assert target.is_symlink() and tree_digest(target) == expected
    assert len(list((cache / "entries").iterdir())) == 1
    assert list((cache / "partial").iterdir()) == []


def test_killed_download_is_never_served_and_the_next_initializer_recovers(hub, tiny_bert, tmp_path):
    hub.chunk_delay = 0.05  # ~3.6 s for the 4.7 MB model: time to kill it mid-way
    cache, target = tmp_path / "cache", tmp_path / "inputs" / "model"
    victim = subprocess.Popen([sys.executable, "-m", "katib_llm.runtime.storage_initializer", "model",
                               "hf://tiny/bert", "--target", str(target), "--cache-dir", str(cache)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while hub.bytes_served < 1_000_000 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert victim.poll() is None, "initializer finished before it could be killed"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=10)
    assert not target.exists()
    assert not (cache / "entries").exists() or list((cache / "entries").iterdir()) == []
    assert list((cache / "partial").iterdir()), "the killed download should have left a partial folder"

    served_before = _settled(hub)
    hub.chunk_delay = 0.0
    result = run_initializer("model", "hf://tiny/bert", "--target", str(target), "--cache-dir", str(cache))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["downloaded"] is True
    assert tree_digest(target) == tree_digest(tiny_bert)  # no corrupt file
    assert list((cache / "partial").iterdir()) == []  # the killed one's leftovers are swept
    assert hub.bytes_served - served_before == _bytes_of(hub, "model", "tiny/bert")


def test_second_experiment_with_the_same_cache_downloads_nothing(hub, tmp_path):
    cache = tmp_path / "cache"
    first = run_initializer("dataset", "hf://tiny-sent?split=train[:10]", "--target",
                            str(tmp_path / "exp1" / "data"), "--cache-dir", str(cache))
    assert first.returncode == 0, first.stderr
    hub.reset_counters()
    second = run_initializer("dataset", "hf://tiny-sent?split=train[:20]", "--target",
                             str(tmp_path / "exp2" / "data"), "--cache-dir", str(cache))
    assert second.returncode == 0, second.stderr
    assert hub.bytes_served == 0
    assert not any("/resolve/" in path for _, path, _ in hub.requests)
    assert json.loads(second.stdout.splitlines()[-1])["downloaded"] is False
    assert (tmp_path / "exp2" / "data" / "train.jsonl").read_bytes() == \
        (tmp_path / "exp1" / "data" / "train.jsonl").read_bytes()


def test_relinking_a_target_swaps_it_atomically(hub, tmp_path):
    cache, target = tmp_path / "cache", tmp_path / "inputs" / "x"
    assert run_initializer("model", "hf://tiny/bert", "--target", str(target), "--cache-dir", str(cache)).returncode == 0
    first = os.readlink(target)
    assert not Path(first).is_absolute()  # relative: valid wherever the volume is mounted
    assert run_initializer("dataset", "hf://tiny-sent", "--target", str(target), "--cache-dir", str(cache)).returncode == 0
    assert os.readlink(target) != first and (target / "train.jsonl").is_file()
    assert [p.name for p in target.parent.iterdir()] == ["x"]  # no temp links left behind
