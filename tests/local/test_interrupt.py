"""After a kernel interrupt: the process lives on (as a Jupyter kernel does), its run is dead.

A real interpreter runs ``tune()`` on the local backend and gets SIGINT (what Jupyter's
"interrupt kernel" sends) while a trial runs; in the same process it then reads the run back
(the interrupted trial is ``Interrupted``, not ``Running``), calls
``wait_for_experiment_condition`` (it raises at once instead of waiting out its timeout) and
resumes with the same call, which prints nothing but its result. A changed search space under
the same name is refused with what changed, and ``overwrite=True`` starts over.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from katib_llm import KatibClient, search
from katib_llm.local import LocalRunError

REPO = Path(__file__).resolve().parents[2]

KERNEL = """
import json, sys, time
from katib_llm import KatibClient, search
from katib_llm.sdk.errors import ExperimentInterrupted

def objective(parameters):
    import time
    for step in range(3):
        time.sleep(1.0)
        print(f"score={parameters['x'] * (step + 1)}", flush=True)
    return {"score": parameters["x"] * 3}

client = KatibClient(backend="local", workdir=sys.argv[1], progress=False)
def tune():
    return client.tune(name="interrupted", objective=objective, parameters={"x": search.double(0.0, 1.0)},
                       objective_metric_name="score", max_trial_count=2, parallel_trial_count=1)
try:
    tune()
    print("NOT INTERRUPTED", flush=True)
except KeyboardInterrupt:
    print("INTERRUPTED", flush=True)
frame = client.trials_dataframe("interrupted")
print("STATES " + json.dumps(list(frame["state"])), flush=True)
print("REASON " + json.dumps(list(frame["stop_reason"])), flush=True)
start = time.monotonic()
try:
    client.wait_for_experiment_condition("interrupted", timeout=60, progress=False)
except ExperimentInterrupted as exc:
    print("WAIT %.1f %s" % (time.monotonic() - start, exc), flush=True)
print("RESUME-BEGIN", flush=True)
sys.stderr.write("RESUME-BEGIN\\n")
result = tune()
sys.stderr.write("RESUME-END\\n")
print("RESUMED " + json.dumps([t.state for t in result.trials]) + " " + result.condition, flush=True)
"""


def test_a_kernel_interrupt_leaves_interrupted_trials_a_quick_wait_and_a_silent_resume(tmp_path):
    script = tmp_path / "kernel.py"
    script.write_text(KERNEL)
    workdir = tmp_path / "run"
    env = {**os.environ, "KATIB_LLM_PRELOAD": "",
           "PYTHONPATH": os.pathsep.join([str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])}
    proc = subprocess.Popen([sys.executable, str(script), str(workdir)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    log = workdir / "trials" / "interrupted-000" / "stdout.log"
    deadline = time.monotonic() + 120
    while not (log.exists() and "score=" in log.read_text()):  # the first trial is running
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=180)
    lines = {line.split(" ", 1)[0]: line.split(" ", 1)[1] if " " in line else "" for line in out.splitlines()}
    assert "INTERRUPTED" in lines, out + err
    assert json.loads(lines["STATES"]) == ["Interrupted"], out + err
    assert json.loads(lines["REASON"])[0].startswith("TrialInterrupted: its run stopped before it finished")
    seconds, message = lines["WAIT"].split(" ", 1)
    assert float(seconds) < 5, out  # not the 60 s timeout
    assert "the run stopped before the Experiment ended" in message and "resumes it" in message
    assert json.loads(lines["RESUMED"].rsplit(" ", 1)[0]) == ["Succeeded", "Succeeded"], out + err
    assert lines["RESUMED"].endswith("Succeeded")
    resume_err = err.split("RESUME-BEGIN\n", 1)[1].split("RESUME-END\n", 1)[0]
    assert resume_err == "", resume_err  # no Optuna warning (or anything else) printed by the resume


def objective(parameters):
    return {"score": parameters["x"]}


def test_a_journal_lock_left_by_an_interrupted_write_is_cleared_silently(tmp_path):
    """An interrupt inside an Optuna journal write leaves its lock (a symlink beside the journal);
    the next run used to wait 30 s for it and print Optuna's two lock warnings."""
    from tests.local.local_helpers import TUNE, cheap_experiment
    import yaml

    exp_file = tmp_path / "exp.yaml"
    exp_file.write_text(yaml.safe_dump(cheap_experiment("jlock", max_trials=2, parallel=1)))
    workdir = tmp_path / "run"
    env = {**os.environ, "KATIB_LLM_PRELOAD": ""}
    args = TUNE + [str(exp_file), "--local", "--workdir", str(workdir), "--no-progress"]
    first = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert first.returncode == 0, first.stderr
    (workdir / "study.journal.lock").symlink_to(workdir / "study.journal")  # as an interrupted write leaves it
    start = time.monotonic()
    again = subprocess.run(args, capture_output=True, text=True, timeout=120, env=env)
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert time.monotonic() - start < 25  # not Optuna's 30 s grace period
    assert not (workdir / "study.journal.lock").exists()


def test_a_changed_search_space_says_what_changed_and_overwrite_starts_over(tmp_path, monkeypatch):
    monkeypatch.setenv("KATIB_LLM_PRELOAD", "")
    client = KatibClient(backend="local", workdir=str(tmp_path / "run"), progress=False)

    def tune(high: float, **kw):
        return client.tune(name="space", objective=objective, parameters={"x": search.double(0.0, high)},
                           objective_metric_name="score", max_trial_count=1, parallel_trial_count=1, **kw)

    assert tune(1.0).condition == "Succeeded"
    with pytest.raises(LocalRunError) as caught:
        tune(2.0)
    message = str(caught.value)
    assert "holds a run of a changed spec" in message
    assert 'spec.parameters[0].feasibleSpace.max: "1.0" -> "2.0"' in message, message
    assert "overwrite=True" in message and "--overwrite" in message
    result = tune(2.0, overwrite=True)
    assert result.condition == "Succeeded" and [t.name for t in result.trials] == ["space-000"]
    assert 0.0 <= result.trials[0].parameters["x"] <= 2.0
