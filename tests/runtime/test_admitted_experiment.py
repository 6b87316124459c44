"""End to end through the contract: the pod an admitted Experiment gives, run here for real.

``admit()`` builds the trial job for a labelled Experiment, ``tests.conformance.schemas.substitute()`` turns
it into the job Katib's controller would create; we then run the master pod's init containers
(storage initializers against the fake hub) and its primary container with exactly that env and
command — joined with spaces under ``sh -c`` as Katib's pod webhook rewrites it (kubeflow/katib#2587).
"""

from __future__ import annotations

import copy
import json
import os
import shlex
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from katib_llm.core.admit import admit
from katib_llm.core.jobkinds import job_kind
from katib_llm.core.metrics import METRICS_FILTER, parse_metrics

from tests.builders import example
from tests.conformance.schemas import substitute
from tests.runtime.runtime_helpers import ADAPTER_FILES

VALUES = {"learning_rate": "0.002", "per_device_train_batch_size": "8", "num_train_epochs": "2",
          "weight_decay": "0.01", "lora_config.r": "8", "optim": "adamw_torch",
          "lora_config.target_modules": "query,value", "warmup_ratio": "0.1"}


def _experiment() -> dict:
    exp = example()
    exp = copy.deepcopy(exp)
    ann = exp["metadata"]["annotations"]
    ann.update({"llm.katib.kubeflow.org/model": "hf://tiny/bert",
                "llm.katib.kubeflow.org/dataset": "hf://tiny-sent?split=train[:40]",
                "llm.katib.kubeflow.org/workers": "1", "llm.katib.kubeflow.org/procs-per-worker": "1",
                "llm.katib.kubeflow.org/resources-per-worker": '{"cpu": 1, "memory": "2Gi"}'})
    exp["spec"]["parameters"] += [
        {"name": "optim", "parameterType": "categorical", "feasibleSpace": {"list": ["adamw_torch", "adafactor"]}},
        {"name": "lora_config.target_modules", "parameterType": "categorical",
         "feasibleSpace": {"list": ["query,value", "query,key,value"]}},
        {"name": "warmup_ratio", "parameterType": "double", "feasibleSpace": {"min": "0.0", "max": "0.2"}},
    ]
    return exp


def _localize(value: str, workspace: Path) -> str:
    return value.replace("/workspace", str(workspace))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_admitted_master_pod_runs_for_real_under_katibs_sh_c_rewrite(admin_config, hub, tmp_path):
    result = admit(_experiment(), admin_config)
    assert result.allowed, result.errors
    job = substitute(result.experiment, VALUES)
    pods = dict(job_kind(job).pod_templates(job))
    master = next(t for name, t in pods.items() if "aster" in str(name)) if len(pods) > 1 else next(iter(pods.values()))
    spec = master["spec"]
    workspace = tmp_path / "workspace"
    base_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                "HF_ENDPOINT": hub.url, "PET_MASTER_PORT": str(_free_port()), "KATIB_LLM_NUM_THREADS": "1"}

    # 1. The init containers, exactly as admitted (volume path moved to a tmp dir).
    for init in spec["initContainers"]:
        argv = [_localize(str(a), workspace) for a in init["command"] + init.get("args", [])]
        assert argv[:3] == ["python", "-m", "katib_llm.runtime.storage_initializer"]
        done = subprocess.run([sys.executable] + argv[1:], env=base_env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr

    # 2. The primary container, as Katib's pod webhook re-runs it: sh -c "<command args joined>".
    (container,) = [c for c in spec["containers"] if c["name"] == result.experiment["spec"]["trialTemplate"][
        "primaryContainerName"]]
    env = {e["name"]: _localize(e["value"], workspace) for e in container["env"]}
    argv = [str(a) for a in container["command"] + container.get("args", [])]
    joined = " ".join(argv)
    assert shlex.split(joined) == argv  # the join loses nothing: no JSON or spaces in argv
    log = tmp_path / "metrics.log"
    done = subprocess.run(["sh", "-c", f"{joined} 1>{log} 2>&1"], env={**base_env, **env}, timeout=600)
    output = log.read_text()
    assert done.returncode == 0, output[-3000:]

    # 3. What Katib's StdOut collector would record, and what the trial wrote.
    observations = parse_metrics(output.splitlines(), ["eval_accuracy", "eval_loss"], [METRICS_FILTER])
    assert len([o for o in observations if o.name == "eval_accuracy"]) == 2  # one per epoch
    out = Path(env["KATIB_LLM_OUTPUT_DIR"])
    assert out.name == "trial-abc123"
    assert {p.name for p in out.iterdir()} == ADAPTER_FILES
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["hyperparameters"] == VALUES  # every hyperparameter intact
    typed = metrics["settings"]
    assert typed["training_args"]["learning_rate"] == 0.002
    assert typed["training_args"]["per_device_train_batch_size"] == 8
    assert typed["training_args"]["warmup_steps"] == 0.1 and "warmup_ratio" not in typed["training_args"]
    assert sorted(typed["lora_config"]["target_modules"]) == ["query", "value"]
    assert typed["lora_config"]["lora_alpha"] == 8  # fixed settings from the lora-config annotation
    adapter = json.loads((out / "adapter_config.json").read_text())
    assert adapter["r"] == 8 and sorted(adapter["target_modules"]) == ["query", "value"]
