"""The admin's storage allow-lists enforced again by the storage initializer at run time: given as
arguments (the injected init containers and the chart runtime's initializer steps carry them),
checked before anything is read or downloaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from katib_llm.core import trainjob
from katib_llm.io import admin_config
from tests.builders import admitted, example

MODULE = trainjob.INITIALIZER_COMMAND[2]


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", MODULE, *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})}, timeout=120)


@pytest.fixture
def folder(tmp_path):
    data = tmp_path / "models" / "tiny"
    data.mkdir(parents=True)
    (data / "config.json").write_text("{}")
    return data


def test_file_uris_outside_the_roots_are_refused_before_reading(folder, tmp_path):
    common = ["--target", str(tmp_path / "t"), "--cache-dir", str(tmp_path / "c")]
    refused = _run("model", f"file://{folder}", *common, "--file-roots", "[]")
    assert refused.returncode == 2
    assert "allow-list" in refused.stderr and "config.fileRoots" in refused.stderr
    assert not (tmp_path / "c").exists()
    elsewhere = _run("model", f"file://{folder}", *common, "--file-roots", json.dumps([str(tmp_path / "other")]))
    assert elsewhere.returncode == 2 and "not under an allowed folder" in elsewhere.stderr
    allowed = _run("model", f"file://{folder}", *common, "--file-roots", json.dumps([str(tmp_path / "models")]))
    assert allowed.returncode == 0, allowed.stderr
    assert (tmp_path / "t" / "config.json").read_text() == "{}"


def test_sources_outside_the_allowed_prefixes_are_refused_before_any_request(tmp_path):
    # No network here: the refusal must come before the Hub is asked.
    proc = _run("model", "hf://evil-org/model", "--target", str(tmp_path / "t"), "--cache-dir", str(tmp_path / "c"),
                "--allowed-sources", json.dumps(["hf://google-bert/"]))
    assert proc.returncode == 2 and "not an allowed source" in proc.stderr, proc.stderr


def test_from_env_keeps_the_policy_arguments(folder, tmp_path):
    """A TrainJob sets its initializer's STORAGE_URI and env, never its args: file:///etc is refused."""
    env = {trainjob.ENV_KIND: "dataset", trainjob.ENV_URI: "file:///etc", trainjob.ENV_TARGET: str(tmp_path / "t"),
           trainjob.ENV_CACHE: str(tmp_path / "c")}
    proc = _run("--from-env", "--allowed-sources", "[]", "--file-roots", "[]", env=env)
    assert proc.returncode == 2 and "config.fileRoots" in proc.stderr, proc.stderr


@pytest.mark.parametrize("bad", ["{}", "[1]", "not json"])
def test_a_malformed_policy_is_a_one_line_usage_error(bad, tmp_path):
    proc = _run("model", "hf://a/b", "--target", str(tmp_path / "t"), "--cache-dir", str(tmp_path / "c"),
                "--file-roots", bad)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def _init_args(result) -> list[list[str]]:
    master = result.experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["pytorchReplicaSpecs"]["Master"]
    return [c["args"] for c in master["template"]["spec"]["initContainers"]]


def test_the_injected_init_containers_carry_the_admins_lists():
    values = {"allowedModelSources": ["hf://google-bert/", "hf://yelp_review_full", "file:///mnt/models/"],
              "fileRoots": ["/mnt/models"]}
    result = admitted(example(annotations={"model": "file:///mnt/models/bert"}), admin_config(values))
    assert result.allowed, result.errors
    model, dataset = _init_args(result)
    assert json.loads(model[model.index("--allowed-sources") + 1]) == values["allowedModelSources"]
    assert json.loads(model[model.index("--file-roots") + 1]) == ["/mnt/models"]
    assert "--file-roots" not in dataset  # an hf:// URI reads no folder
    refused = _run(*model[:1], "file:///etc", *model[2:])  # the same arguments refuse another folder
    assert refused.returncode == 2 and "not under an allowed folder" in refused.stderr, refused.stderr


def test_without_restrictions_the_init_containers_are_unchanged():
    assert all("--allowed-sources" not in args and "--file-roots" not in args for args in _init_args(admitted(example())))
