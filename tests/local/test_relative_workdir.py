"""The README's main command as a user types it: `katib-llm tune FILE --local` from the folder
that holds the file, with the default relative work dir (runs/<name>) and a relative cache dir.
Trials run in their own folders, so every path handed to them must be absolute."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import yaml

from tests.local.local_helpers import tiny_bert_experiment as _experiment

pytestmark = pytest.mark.slow


def test_default_relative_workdir(tmp_path, tiny_model, tiny_dataset):
    (tmp_path / "data").symlink_to(tiny_dataset)
    exp = _experiment(f"file://{tiny_model}", "file://./data")
    exp["spec"].update(maxTrialCount=2, parallelTrialCount=1)
    exp["spec"].pop("earlyStopping")
    (tmp_path / "exp.yaml").write_text(yaml.safe_dump(exp))
    env = {**os.environ, "KATIB_LLM_CACHE_DIR": "cache"}
    proc = subprocess.run([sys.executable, "-m", "katib_llm.cli", "tune", "exp.yaml", "--local", "--no-progress"],
                          cwd=tmp_path, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads((tmp_path / "runs" / "e2e" / "results.json").read_text())
    assert [t["state"] for t in results["trials"]] == ["Succeeded", "Succeeded"]
    assert not list((tmp_path / "runs" / "e2e" / "trials").glob("*/runs")), "a path resolved inside a trial dir"
    assert (tmp_path / "cache").is_dir() and (tmp_path / "runs" / "e2e" / "best" / "adapter_config.json").is_file()
