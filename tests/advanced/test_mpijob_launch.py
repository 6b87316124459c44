"""The MPIJob launcher script, run for real: Katib's rewrite, mpirun's ranks, a 2-rank LoRA trial.

Emulated: mpirun (``fake_mpirun.py``: one process per hostfile slot with Open MPI's rank
variables), kubectl (prints 127.0.0.1 for worker 0) and the paths /etc/mpi/hostfile and
/opt/kube/kubectl (the operator mounts them; here they point into a temp dir). Real: the
launcher script from trial-templates/hf-lora-mpijob.yaml as admitted, Katib's StdOut rewrite of
it, the trainer in 2 processes on gloo, and the metric lines Katib would parse.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from katib_llm.core.admit import admit
from katib_llm.core.metrics import METRICS_FILTER, parse_metrics

from tests.conformance.schemas import substitute

ANN = "llm.katib.kubeflow.org/"
HERE = Path(__file__).resolve().parent


def katib_stdout_rewrite(container: dict, log: Path, marker: Path) -> list[str]:
    """Katib's StdOut collector: the script keeps its text, output goes to its log, then a marker."""
    argv = [str(x) for x in container["command"] + container.get("args", [])]
    if argv[:2] in (["sh", "-c"], ["bash", "-c"]):
        argv = argv[2:]
    return ["sh", "-c", " ".join(argv) + f" 1>{log} 2>&1 && echo completed > {marker}"]


def _free_port() -> int:
    import socket

    with socket.socket() as s:  # other tests on this machine may hold the default port
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_rank_trial_through_the_mpijob_launcher(experiment, admin_config, tuned_classifier, tmp_path):
    from tests.advanced.tuned import sentiment

    model, _ = tuned_classifier
    data = sentiment(tmp_path / "data")
    ann = experiment["metadata"]["annotations"]
    ann.update({ANN + "trial-template": "hf-lora-mpijob", ANN + "workers": "1", ANN + "procs-per-worker": "2",
                ANN + "resources-per-worker": '{"cpu": 2, "memory": "4Gi"}',
                ANN + "dataset-config": '{"max_length": 32, "eval_fraction": 0.25}'})
    result = admit(experiment, admin_config)
    assert result.allowed, result.errors
    job = substitute(result.experiment, {"learning_rate": "0.005", "per_device_train_batch_size": "8",
                                         "num_train_epochs": "1", "weight_decay": "0.0", "lora_config.r": "4"})
    specs = job["spec"]["mpiReplicaSpecs"]
    launcher = specs["Launcher"]["template"]["spec"]["containers"][0]
    worker = specs["Worker"]["template"]["spec"]["containers"][0]

    # What the operator provides: hostfile (slots = slotsPerWorker), kubectl, the rsh agent env.
    hostfile = tmp_path / "hostfile"
    hostfile.write_text(f"trial-abc123-worker-0 slots={job['spec']['slotsPerWorker']}\n")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    kubectl = bin_dir / "kubectl"
    kubectl.write_text('#!/bin/sh\n[ "$3" = trial-abc123-worker-0 ] && echo 127.0.0.1\n')
    (bin_dir / "mpirun").write_text(f'#!/bin/sh\nexec {sys.executable} {HERE / "fake_mpirun.py"} "$@"\n')
    (bin_dir / "python").write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    script = launcher["args"][0]
    assert "MASTER_PORT=29500" in script
    launcher = {**launcher, "args": [script.replace("/etc/mpi/hostfile", str(hostfile))
                                     .replace("/opt/kube/kubectl", str(kubectl))
                                     .replace("MASTER_PORT=29500", f"MASTER_PORT={_free_port()}")]}

    # Ranks run with the worker container's env (kubectl exec), paths mapped to this machine.
    env = {e["name"]: e["value"] for e in worker["env"]}
    out = tmp_path / "trial"
    env.update(KATIB_LLM_MODEL_DIR=str(model), KATIB_LLM_DATASET_DIR=str(data), KATIB_LLM_OUTPUT_DIR=str(out),
               KATIB_LLM_NUM_THREADS="1", OMP_NUM_THREADS="1", OMPI_MCA_orte_default_hostfile=str(hostfile),
               PATH=f"{bin_dir}:/usr/bin:/bin", HOME=str(tmp_path))
    log, marker = tmp_path / "metrics.log", tmp_path / "done.pid"
    argv = katib_stdout_rewrite(launcher, log, marker)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0 and marker.read_text().strip() == "completed", (done.stderr, log.read_text()[-3000:])
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["world_size"] == 2
    lines = log.read_text().splitlines()
    accuracy = parse_metrics(lines, ["eval_accuracy"], [METRICS_FILTER])
    assert len(accuracy) == 1  # rank 0 alone prints metrics
    assert (out / "adapter_model.safetensors").is_file()
