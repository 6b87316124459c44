"""The Dockerfile, checked without a container engine (none exists here; the images are unbuilt).

We check its structure (targets, non-root user, no ENTRYPOINT, image names the core and chart
use) and build the wheel from the exact build context ``.dockerignore`` leaves, the way the
``wheel`` stage does.
"""

from __future__ import annotations

import fnmatch
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from katib_llm.core.config import DEFAULT_RUNTIME_IMAGE

from tests.conformance.schemas import REPO

DOCKERFILE = (REPO / "Dockerfile").read_text()


def _stages() -> dict[str, str]:
    parts = re.split(r"^FROM\s+", DOCKERFILE, flags=re.M)[1:]
    out = {}
    for part in parts:
        header, _, body = part.partition("\n")
        name = header.split(" AS ")[-1].strip() if " AS " in header else header.strip()
        out[name] = body
    return out


def test_targets_are_non_root_and_run_explicit_commands():
    stages = _stages()
    assert {"base", "wheel", "webhook", "runtime"} <= set(stages)
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE
    assert not re.search(r"^ENTRYPOINT", DOCKERFILE, flags=re.M)
    for target in ("webhook", "runtime"):
        assert re.search(r"^USER 1000:1000$", stages[target], flags=re.M), target
    assert 'CMD ["katib-llm", "webhook"' in stages["webhook"]
    assert "torch" not in stages["webhook"]
    assert "ARG TORCH_INDEX_URL=" in stages["runtime"] and "requirements/train.txt" in stages["runtime"]
    image, _, tag = DEFAULT_RUNTIME_IMAGE.rpartition(":")
    assert f"--target runtime -t {DEFAULT_RUNTIME_IMAGE}" in DOCKERFILE
    assert f"--target webhook -t {image.replace('runtime', 'webhook')}:{tag}" in DOCKERFILE
    docs = (REPO / "docs" / "runtime.md").read_text()
    assert DEFAULT_RUNTIME_IMAGE in docs and "katib-llm-webhook:0.1.0" in docs


def test_earlystopping_target_serves_katibs_port_without_torch():
    """Katib starts the early-stopping image with no command: its CMD must be the service, on 6788
    (Katib's DefaultEarlyStoppingPort), and the chart's default image must be what it builds."""
    import yaml

    stage = _stages()["earlystopping"]
    assert re.search(r"^USER 1000:1000$", stage, flags=re.M)
    assert 'CMD ["katib-llm", "earlystopping", "--port", "6788"]' in stage and "torch" not in stage
    values = yaml.safe_load((REPO / "charts" / "katib-llm" / "values.yaml").read_text())
    repo = values["earlyStopping"]["successivehalving"]["image"]["repository"]
    assert f"--target earlystopping -t {repo}:" in DOCKERFILE


def _ignored(rel: str, patterns: list[str]) -> bool:
    parts = rel.split("/")
    for pattern in patterns:
        bare = pattern.removeprefix("**/")
        if fnmatch.fnmatch(rel, pattern) or any(fnmatch.fnmatch(p, bare) for p in parts) \
                or fnmatch.fnmatch(parts[0], pattern):
            return True
    return False


@pytest.mark.slow
def test_wheel_builds_from_the_docker_build_context(tmp_path):
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    context = tmp_path / "context"
    for path in REPO.rglob("*"):
        rel = path.relative_to(REPO).as_posix()
        if _ignored(rel, patterns) or not (path.is_symlink() or path.is_file()):
            continue
        (context / rel).parent.mkdir(parents=True, exist_ok=True)
        # As docker's COPY does: a link stays a link (src/katib_llm/trial_templates -> trial-templates/).
        shutil.copy2(path, context / rel, follow_symlinks=False)
    assert not (context / "tests").exists() and not (context / ".venv").exists()
    # The stages install the lock files from the context (tests/contract/test_lock.py).
    assert {p.name for p in (context / "requirements").glob("*.txt")} >= {"base.txt", "webhook.txt", "train.txt"}
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                           "--wheel-dir", str(tmp_path / "wheels"), str(context)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (wheel,) = (tmp_path / "wheels").glob("katib_llm-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for needed in ("katib_llm/runtime/trainer.py", "katib_llm/runtime/storage_initializer.py",
                   "katib_llm/runtime/provider_hf.py", "katib_llm/core/data/training_arguments.json",
                   "katib_llm/trial_templates/hf-lora-pytorchjob.yaml", "katib_llm/cli/main.py"):
        assert needed in names, needed
