"""Function objectives: tune() ships the source, the trial runtime runs it in a real process."""

from __future__ import annotations

import json
import os
import subprocess
import sys


from katib_llm import KatibClient, search
from katib_llm.core.metrics import parse_metrics
from katib_llm.runtime.function_trial import pip_command, typed

from tests.conformance.schemas import admitted_errors, substitute


def objective(parameters):
    import math

    loss = (parameters["x"] - 2) ** 2 + (0 if parameters["kind"] == "good" else 1)
    return {"loss": loss, "score": math.exp(-loss), "steps": parameters["steps"]}


def failing(parameters):
    raise RuntimeError("diverged at lr=" + str(parameters["lr"]))


def _admitted(fn, hp_space, **kwargs):
    exp = KatibClient(namespace="kubeflow").tune(
        name="fn-trial", objective=fn, hp_space=hp_space, objective_metric_name="loss",
        objective_type="minimize", max_trial_count=3, dry_run=True, **kwargs)
    assert admitted_errors(exp) == []
    return exp


def _run_trial(exp, values, extra_env=None):
    job = substitute(exp, values)
    container = job["spec"]["template"]["spec"]["containers"][0]
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "SYSTEMROOT")}
    env.update({e["name"]: e["value"] for e in container["env"] if "value" in e})
    env.update(extra_env or {})
    argv = [sys.executable if a == "python" else a for a in container["command"] + container.get("args", [])]
    return subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120)


def test_function_trial_runs_and_prints_collectable_metrics():
    exp = _admitted(objective, {"x": search.double(-4, 4), "kind": search.categorical(["good", "bad"]),
                                "steps": search.int(1, 100)}, additional_metric_names=["score", "steps"])
    done = _run_trial(exp, {"x": "2.5", "kind": "good", "steps": "40"})
    assert done.returncode == 0, done.stderr
    mc = exp["spec"]["metricsCollectorSpec"]
    filters = mc.get("source", {}).get("filter", {}).get("metricsFormat")
    observed = {o.name: float(o.value) for o in parse_metrics(done.stdout.splitlines(),
                                                             ["loss", "score", "steps"], filters)}
    assert observed["loss"] == 0.25 and observed["steps"] == 40.0
    assert abs(observed["score"] - 0.7788007830714049) < 1e-12


def test_failing_function_exits_non_zero_with_its_message():
    exp = _admitted(failing, {"lr": search.double(0.1, 1.0)})
    done = _run_trial(exp, {"lr": "0.5"})
    assert done.returncode == 1
    assert "the objective raised RuntimeError: diverged at lr=0.5" in done.stderr


def test_bad_inputs_exit_2_with_a_clear_message():
    exp = _admitted(objective, {"x": search.double(-4, 4), "kind": search.categorical(["good"]),
                                "steps": search.int(1, 3)})
    done = _run_trial(exp, {"x": "1"}, {"KATIB_LLM_FUNCTION": "not-base64!"})
    assert done.returncode == 2 and "KATIB_LLM_FUNCTION must be base64" in done.stderr
    done = _run_trial(exp, {"x": "1"}, {"KATIB_LLM_HPARAMS": "[1, 2]"})
    assert done.returncode == 2 and "KATIB_LLM_HPARAMS must be a JSON dict" in done.stderr


def test_packages_are_installed_first_and_a_failed_install_fails_the_trial():
    exp = _admitted(objective, {"x": search.double(-4, 4), "kind": search.categorical(["good"]),
                                "steps": search.int(1, 3)},
                    packages_to_install=["./no-such-project-dir/"], pip_index_url="https://pypi.example/simple")
    ann = exp["metadata"]["annotations"]
    assert json.loads(ann["llm.katib.kubeflow.org/pip-index-urls"]) == ["https://pypi.example/simple"]
    # A local path that does not exist: pip fails at once, without any network access.
    done = _run_trial(exp, {"x": "1", "kind": "good", "steps": "2"}, {"PIP_NO_INDEX": "1"})
    assert done.returncode == 2
    assert "installing ./no-such-project-dir/ failed" in done.stderr


def test_pip_command_and_typing():
    cmd = pip_command(["numpy==2.*"], ["https://a/simple", "https://b/simple"])
    assert cmd[1:4] == ["-m", "pip", "install"]
    assert cmd[-5:] == ["--index-url", "https://a/simple", "--extra-index-url", "https://b/simple", "numpy==2.*"]
    assert [typed(v) for v in ("16", "3e-05", "0.5", "-2", "adamw_torch", "1e5x", "true")] == [
        16, 3e-05, 0.5, -2, "adamw_torch", "1e5x", "true"]
