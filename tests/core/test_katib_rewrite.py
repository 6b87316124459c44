"""kubeflow/katib#2587: with the StdOut metrics collector, Katib's pod webhook re-runs the primary container as
``sh -c "<command and args joined by spaces>"``. Our hyperparameters travel in env vars, and the
argv we admit survives the join; a user argv that would not survive is flagged."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import pytest

from katib_llm.core.admit import admit
from katib_llm.core.jobkinds import job_kind

from tests.builders import example
from tests.conformance.schemas import substitute

EXAMPLE = example()
ARGV_PRINTER = "import json, sys; print(json.dumps(sys.argv[1:]))"


def katib_rewrite(container: dict) -> list[str]:
    """What Katib's StdOut collector does to the primary container (pkg/webhook/v1beta1/pod)."""
    argv = [str(x) for x in (container.get("command") or []) + (container.get("args") or [])]
    if argv[:2] in (["sh", "-c"], ["bash", "-c"]):
        argv = argv[2:]
    return ["sh", "-c", " ".join(argv) + " 1>/dev/null 2>&1 || true"]


def run_through_shell(argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """Run ``argv`` joined by spaces under ``sh -c`` with a stand-in for the program; return what
    the program received (argv and our env)."""
    script = " ".join([sys.executable, "-c", "'" + ARGV_PRINTER + "'"] + argv[1:])
    dump_env = "import json, os; print(json.dumps({k: v for k, v in os.environ.items() if k.startswith('KATIB_LLM')}))"
    out = subprocess.run(["sh", "-c", script + f" && {sys.executable} -c \"{dump_env}\""], env={**env, "PATH": "/usr/bin:/bin"},
                         capture_output=True, text=True, check=True).stdout.splitlines()
    return json.loads(out[0]), json.loads(out[1])


@pytest.mark.parametrize("values", [
    {"learning_rate": "3e-05", "lora_config.r": "16", "optim": "adamw_torch"},
    {"learning_rate": "0.0001", "lora_config.r": "8", "optim": "adafactor"},
])
def test_argv_and_hparams_survive_the_rewrite(values, admin_config):
    exp = copy.deepcopy(EXAMPLE)
    exp["spec"]["parameters"].append({"name": "optim", "parameterType": "categorical",
                                      "feasibleSpace": {"list": ["adamw_torch", "adafactor"]}})
    result = admit(exp, admin_config)
    assert result.allowed, result.errors
    assert not [w for w in result.warnings if "sh -c" in w]
    job = substitute(result.experiment, values)
    for _, tmpl in job_kind(job).pod_templates(job):  # master and workers alike
        (container,) = [c for c in tmpl["spec"]["containers"] if c["name"] == "pytorch"]
        env = {e["name"]: e["value"] for e in container["env"]}
        argv = [str(x) for x in container["command"] + container.get("args", [])]
        received_argv, received_env = run_through_shell(argv, env)
        assert received_argv == argv[1:]
        assert received_env == env
        hparams = json.loads(received_env["KATIB_LLM_HPARAMS"])
        assert {k: hparams[k] for k in values} == values


def test_rewrite_breaks_quoted_json_args_and_we_warn(admin_config):
    """The katib#2587 pattern: a JSON arg in literal quotes is word-split on the master."""
    exp = copy.deepcopy(EXAMPLE)
    exp["spec"]["trialTemplate"] = {
        "primaryContainerName": "pytorch",
        "trialParameters": [{"name": "lr", "reference": "learning_rate"}],
        "trialSpec": {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "pytorch", "image": "x",
                            "command": ["python", "-m", "katib_llm.runtime.trainer",
                                        '--training_parameters', '{"lr": "${trialParameters.lr}", "x": 1}']}]}}}},
    }
    for name in ("workers", "procs-per-worker"):
        del exp["metadata"]["annotations"]["llm.katib.kubeflow.org/" + name]
    result = admit(exp, admin_config)
    assert result.allowed, result.errors
    flagged = [w for w in result.warnings if "command[4]" in w]
    assert flagged and "katib#2587" in flagged[0]
    job = substitute(result.experiment)
    container = job["spec"]["template"]["spec"]["containers"][0]
    argv = [str(x) for x in container["command"]]
    received, _ = run_through_shell(argv, {})
    assert received != argv[1:]  # the shell really does split it: the warning is earned
