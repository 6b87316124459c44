"""The proposal's example needs no more than its own imports: in a fresh virtual environment
with the plain install of this checkout plus what the example imports (transformers, and peft,
which brings torch: peft imports it), without katib-llm's [train]/[local] extras, its dry run
and its cluster submit work; the local backend names the extra it needs in one line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = Path(__file__).resolve().parent / "data" / "proposal_example.py"
pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]


def _run(venv: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "python"), *args], capture_output=True, text=True, timeout=900,
                          **kwargs)


@pytest.fixture(scope="module")
def venv(tmp_path_factory):
    """python -m venv (no system site packages), then pip: this checkout, transformers, peft.
    torch is pinned to the CPU wheel so peft's dependency never pulls a CUDA build."""
    root = tmp_path_factory.mktemp("plain-venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(root)], check=True, timeout=300)
    done = _run(root, "-m", "pip", "install", "--quiet", str(REPO), "transformers", "peft", "torch==2.13.0",
                env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})
    assert done.returncode == 0, done.stderr[-3000:]
    return root


def _env(tmp: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return {**env, "KUBECONFIG": str(tmp / "no-kubeconfig"), **extra}


def test_the_venv_has_no_extra(venv, tmp_path):
    listing = _run(venv, "-m", "pip", "list", "--format=freeze").stdout.lower()
    installed = {line.split("==")[0] for line in listing.splitlines()}
    assert {"katib-llm", "transformers", "peft", "torch"} <= installed
    assert not installed & {"datasets", "matplotlib", "flask", "gunicorn", "boto3"}
    where = _run(venv, "-c", "import katib_llm; print(katib_llm.__file__)", cwd="/", env=_env(tmp_path)).stdout
    assert where.startswith(str(venv))  # the installed package, not this checkout


def test_the_example_dry_run(venv, tmp_path):
    done = _run(venv, str(EXAMPLE), "--dry-run", cwd=tmp_path, env=_env(tmp_path))
    assert done.returncode == 0, done.stderr[-3000:]
    result, extras = done.stdout.strip().splitlines()[-2:]
    assert result == "<Experiment llm-hp-optimization-test: DryRun> None"
    assert extras == "[]"  # nothing of the extras was imported


def test_the_example_submits_to_the_cluster_stand_in(venv, apiserver, tmp_path):
    kubeconfig = apiserver.write_kubeconfig(tmp_path)
    done = _run(venv, str(EXAMPLE), cwd=tmp_path, env=_env(tmp_path, KUBECONFIG=str(kubeconfig)))
    assert done.returncode == 0, done.stderr[-3000:]
    result, extras = done.stdout.strip().splitlines()[-2:]
    assert result.startswith("<Experiment llm-hp-optimization-test: ") and result.endswith(" None")
    assert extras == "[]"
    assert ("kubeflow", "llm-hp-optimization-test") in apiserver.objects_of("experiments")


def test_the_local_backend_names_its_extra_in_one_line(venv, tmp_path):
    code = ("from katib_llm import KatibClient, search\n"
            "def objective(parameters):\n"
            "    return {'loss': parameters['x']}\n"
            "KatibClient(backend='local').tune(name='x', objective=objective, hp_space={'x': search.double(0, 1)},\n"
            "    objective_metric_name='loss', max_trial_count=1)\n")
    (tmp_path / "local_run.py").write_text(code)  # a file: the function's source is shipped
    done = _run(venv, "local_run.py", cwd=tmp_path, env=_env(tmp_path))
    assert done.returncode == 1
    last = done.stderr.strip().splitlines()[-1]
    assert "needs the [local] extra (missing: matplotlib)" in last and "pip install 'katib-llm[local]'" in last
