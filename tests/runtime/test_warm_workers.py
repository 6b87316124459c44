"""Warm workers: preimport() then fork, as the local backend runs trials (a fresh interpreter per trial costs seconds of imports)."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_preimport_starts_no_threads_so_workers_can_fork():
    code = ("import threading, sys; from katib_llm.runtime.trainer import preimport; preimport(); "
            "assert {'torch', 'transformers', 'peft', 'datasets'} <= set(sys.modules); "
            "print(threading.active_count())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "1"


WARM_WORKER = """
import json, os, sys
from katib_llm.runtime.trainer import main, preimport
preimport()
sys.argv = ["katib-llm", "tune", "experiment.yaml", "--local"]  # the parent's argv, not the trial's
env = json.loads(os.environ["TRIAL_ENV"])
pid = os.fork()
if pid == 0:
    os._exit(main(None, env))
_, status = os.waitpid(pid, 0)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def test_forked_warm_worker_runs_a_trial_after_preimport(tiny_bert, sentiment_dir, tmp_path):
    """The local backend's pattern: import once, fork, run main(argv=None, environ) in the child."""
    trial_env = {"KATIB_LLM_MODEL_DIR": str(tiny_bert), "KATIB_LLM_DATASET_DIR": str(sentiment_dir),
                 "KATIB_LLM_OUTPUT_DIR": str(tmp_path / "trial"), "KATIB_LLM_NUM_THREADS": "1",
                 "KATIB_LLM_HPARAMS": '{"max_steps": "2", "learning_rate": "1e-3"}'}
    done = subprocess.run([sys.executable, "-c", WARM_WORKER], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "TRIAL_ENV": json.dumps(trial_env)})
    assert done.returncode == 0, done.stderr[-2000:]
    assert "katib-llm-metric eval_accuracy=" in done.stdout
    assert (tmp_path / "trial" / "adapter_model.safetensors").is_file()
