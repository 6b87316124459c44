"""The local backend runs from wherever Python runs: a script with or without the ``__main__``
guard, ``python -c``, a script piped on stdin. Each case is a real interpreter process.

Before: a script without the guard ran its run again inside every trial (multiprocessing
re-imports the caller's main module in each forkserver child), whose trials then failed on the
work-dir lock; a script on stdin had every trial fail opening ``<stdin>``, and both runs still
ended "Succeeded".
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.local.local_helpers import cheap_experiment

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    paths = [str(REPO), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
    return {**os.environ, "PYTHONPATH": os.pathsep.join(paths), "KATIB_LLM_PRELOAD": ""}


def _run_experiment_code(workdir: Path, name: str) -> str:
    """Top-level code, no guard: one run of the cheap Experiment, then one RESULT line."""
    exp = cheap_experiment(name, max_trials=2, parallel=1)
    return textwrap.dedent(f"""\
        import json
        from katib_llm.local import run_experiment
        result = run_experiment(json.loads({json.dumps(json.dumps(exp))}), {str(workdir)!r},
                                progress=False, report=False)
        print("RESULT", result.condition, json.dumps([t.state for t in result.trials]), flush=True)
        """)


def _check(proc: subprocess.CompletedProcess) -> None:
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    assert lines == ['RESULT Succeeded ["Succeeded", "Succeeded"]'], proc.stdout + proc.stderr  # ran once
    assert "another run is using" not in proc.stderr and "<stdin>" not in proc.stderr, proc.stderr


def test_a_script_without_the_main_guard_runs_once(tmp_path):
    script = tmp_path / "tune_it.py"
    script.write_text(_run_experiment_code(tmp_path / "run", "noguard"))
    _check(subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180,
                          env=_env(), cwd=tmp_path))


def test_a_script_piped_on_stdin_runs(tmp_path):
    code = _run_experiment_code(tmp_path / "run", "stdin")
    _check(subprocess.run([sys.executable, "-"], input=code, capture_output=True, text=True, timeout=180,
                          env=_env(), cwd=tmp_path))


def test_python_dash_c_runs(tmp_path):
    _check(subprocess.run([sys.executable, "-c", _run_experiment_code(tmp_path / "run", "dashc")],
                          capture_output=True, text=True, timeout=180, env=_env(), cwd=tmp_path))


FUNCTION_SCRIPT = """\
from katib_llm import KatibClient, search

def objective(parameters):
    return {"score": 1.0 - (parameters["x"] - 0.3) ** 2}

result = KatibClient(backend="local", progress=False).tune(
    name="fnscript", objective=objective, parameters={"x": search.double(0.0, 1.0)},
    objective_metric_name="score", max_trial_count=2, parallel_trial_count=1, workdir=%r)
print("RESULT", result.condition, [t.state for t in result.trials], flush=True)
"""


@pytest.mark.parametrize("how", ["file", "stdin"])
def test_a_function_objective_from_a_script_without_guard(tmp_path, how):
    """In a file the function's source is read and the run succeeds once; piped on stdin there
    is no source to ship, and tune() says so before any trial starts."""
    code = FUNCTION_SCRIPT % str(tmp_path / "run")
    if how == "file":
        (tmp_path / "fn.py").write_text(code)
        proc = subprocess.run([sys.executable, "fn.py"], capture_output=True, text=True, timeout=180,
                              env=_env(), cwd=tmp_path)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert [line for line in proc.stdout.splitlines() if line.startswith("RESULT")] == \
            ["RESULT Succeeded ['Succeeded', 'Succeeded']"], proc.stdout + proc.stderr
        return
    proc = subprocess.run([sys.executable, "-"], input=code, capture_output=True, text=True, timeout=180,
                          env=_env(), cwd=tmp_path)
    assert proc.returncode == 1 and "RESULT" not in proc.stdout
    assert "objective: the function's source is not available" in proc.stderr, proc.stderr
    assert "define it in a file or notebook cell" in proc.stderr
    assert not (tmp_path / "run").exists()  # nothing started


def test_an_ipython_session_runs_a_function_objective(tmp_path):
    """IPython (the shell Jupyter kernels run): cells typed in a session, piped to its stdin; the
    function's source comes from IPython's cell cache."""
    pytest.importorskip("IPython")
    code = FUNCTION_SCRIPT % str(tmp_path / "run")
    proc = subprocess.run([sys.executable, "-m", "IPython", "--quick", "--no-banner", "--colors=NoColor"],
                          input=code, capture_output=True, text=True, timeout=180, env=_env(), cwd=tmp_path)
    assert "RESULT Succeeded ['Succeeded', 'Succeeded']" in proc.stdout, proc.stdout + proc.stderr
    assert proc.stdout.count("RESULT ") == 1
