"""SIGKILL or Ctrl-C the runner, rerun the same command: it resumes; no trial is lost or run twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from tests.local.local_helpers import TUNE, cheap_experiment

pytestmark = pytest.mark.slow


def _start(exp_file: Path, workdir: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(TUNE + [str(exp_file), "--local", "--workdir", str(workdir), "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def _wait_for(predicate, timeout: float) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("timed out waiting")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is dead for our purpose
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False


def _trial_pids(workdir: Path) -> dict[str, int]:
    pids = {}
    for log in (workdir / "trials").glob("*/stdout.log"):
        for line in log.read_text().splitlines():
            if line.startswith("objective:") and "pid=" in line:
                pids[log.parent.name] = int(line.rsplit("pid=", 1)[1])
    return pids


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT], ids=["SIGKILL", "ctrl-c"])
def test_interrupt_then_rerun_resumes_without_losing_or_repeating_trials(tmp_path, sig):
    """SIGKILL: the trials die with the runner. Ctrl-C: the runner stops them (SIGTERM) itself,
    and a stopped trial must not leave a record the next run reads as its exit."""
    ledger = tmp_path / "ledger"
    exp = cheap_experiment("resume", algorithm="random", settings={"random_state": "9"}, max_trials=6, parallel=2,
                           env={"OBJ_STEPS": "8", "OBJ_SLEEP": "0.15", "OBJ_LEDGER": str(ledger)})
    exp_file = tmp_path / "exp.yaml"
    exp_file.write_text(yaml.safe_dump(exp))
    workdir = tmp_path / "run"
    # The trial is a plain script: skip preloading torch in each of the three runner processes
    # (the warm pool itself is covered by test_end_to_end and the benchmark).
    env = {**os.environ, "KATIB_LLM_PRELOAD": ""}

    first = _start(exp_file, workdir, env)
    # Kill once 2 trials have completed and others are mid-run.
    _wait_for(lambda: ledger.exists() and len(ledger.read_text().splitlines()) >= 2, 90)
    _wait_for(lambda: any(n not in ledger.read_text() for n in _trial_pids(workdir)), 30)
    os.kill(first.pid, sig)
    first.wait(timeout=30)
    # Trials die with the runner (they do not keep running unobserved).
    _wait_for(lambda: not any(_alive(p) for p in _trial_pids(workdir).values()), 10)
    done_before = set(line.split()[0] for line in ledger.read_text().splitlines())
    running = {n: p for n, p in _trial_pids(workdir).items() if n not in done_before}
    assert running, "no trial was running at the kill"

    second = _start(exp_file, workdir, env)
    out, _ = second.communicate(timeout=120)
    assert second.returncode == 0, out
    results = json.loads((workdir / "results.json").read_text())
    names = [t["name"] for t in results["trials"]]
    assert len(names) == 6 and len(set(names)) == 6
    assert all(t["state"] == "Succeeded" for t in results["trials"]), results["trials"]
    completions = [line.split()[0] for line in ledger.read_text().splitlines()]
    assert sorted(completions) == sorted(names)  # each trial completed exactly once
    for t in results["trials"]:
        if t["name"] in running:  # interrupted: run again exactly once
            assert t["attempts"] == 2
            assert (workdir / "trials" / t["name"] / "stdout.attempt1.log").exists()
        if t["name"] in done_before:
            assert t["attempts"] == 1
    # A third run finds nothing to do and changes nothing.
    third = _start(exp_file, workdir, env)
    out, _ = third.communicate(timeout=60)
    assert third.returncode == 0, out
    assert sorted(line.split()[0] for line in ledger.read_text().splitlines()) == sorted(names)


def test_a_trial_interrupted_twice_is_failed_not_retried_forever(tmp_path):
    exp = cheap_experiment("twice", max_trials=1, parallel=1, env={"OBJ_STEPS": "100", "OBJ_SLEEP": "0.1"})
    exp_file = tmp_path / "exp.yaml"
    exp_file.write_text(yaml.safe_dump(exp))
    workdir = tmp_path / "run"
    env = {**os.environ, "KATIB_LLM_PRELOAD": ""}  # nothing heavy to warm for this trial
    log = workdir / "trials" / "twice-000" / "stdout.log"
    for attempt in (1, 2):
        proc = _start(exp_file, workdir, env)
        _wait_for(lambda: log.exists() and "objective:" in log.read_text(), 60)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        pid = _trial_pids(workdir)["twice-000"]
        _wait_for(lambda: not _alive(pid), 10)
        if attempt == 1:
            log.unlink()  # the next run starts a fresh log; wait for that one
    proc = _start(exp_file, workdir, env)
    out, _ = proc.communicate(timeout=60)
    results = json.loads((workdir / "results.json").read_text())
    assert [t["state"] for t in results["trials"]] == ["Failed"]
    assert results["trials"][0]["attempts"] == 2
    assert proc.returncode == 1, out  # the experiment ends without a best trial
