"""The locked environment (requirements/<target>.txt, written by ``python3 scripts/lock.py``):
complete, hashed, one version per package, the CPU torch, consistent with pyproject.toml, and
what the README's commands and the Dockerfile install."""

from __future__ import annotations

import re
import tomllib

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

from tests.builders import REPO
from tests.locks import LOCKS, TARGETS, locked, normalise, readme_command

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
TARGET_EXTRA = {"test": "test", "local": "local", "webhook": "webhook", "train": "train", "base": None}
RELOCK = "re-lock with: python3 scripts/lock.py"


def declared(extra: str | None) -> list[Requirement]:
    """What installing katib-llm (with ``extra``) asks for, katib-llm's own extras expanded."""
    out = [Requirement(r) for r in PYPROJECT["dependencies"]]
    todo = [extra] if extra else []
    while todo:
        for text in PYPROJECT["optional-dependencies"][todo.pop()]:
            req = Requirement(text)
            if normalise(req.name) == "katib-llm":
                todo += sorted(req.extras)
            else:
                out.append(req)
    return out


def test_the_targets_are_the_lock_files():
    assert sorted(p.stem for p in LOCKS.glob("*.txt")) == sorted(TARGETS) == sorted(TARGET_EXTRA)


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_every_entry_is_pinned_with_hashes(target):
    """pip installs a hashed file only when every entry has ``==`` and a hash; nothing by URL or path."""
    text = (LOCKS / f"{target}.txt").read_text()
    entries = re.split(r"\n(?=[^\s#])", text.split("\n", 3)[3])
    assert len(entries) == len(locked(target)) > 10
    for entry in entries:
        head = entry.split("\\")[0].strip()
        assert re.fullmatch(r"[A-Za-z0-9._-]+==[A-Za-z0-9.+!-]+( ;.*)?", head), head
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), head
    requirements = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    assert not [line for line in requirements if "@" in line or line.startswith(("-e", "--"))]


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_the_lock_holds_what_pyproject_declares(target):
    """Each declared dependency of the target is locked at a version its range accepts (torch aside
    in the images' locks: the Dockerfile installs it from its own index)."""
    pins = locked(target)
    problems = []
    for req in declared(TARGET_EXTRA[target]):
        name = normalise(req.name)
        if name == "torch" and name not in pins and target == "train":
            continue
        if name not in pins:
            problems.append(f"{req} is not locked")
        elif not req.specifier.contains(Version(pins[name]), prereleases=True):
            problems.append(f"{req}: locked {pins[name]}")
    assert not problems, f"{problems}: {RELOCK}"


def test_one_version_per_package_across_the_locks():
    test = locked("test")
    for target in TARGETS:
        pins = locked(target)
        assert set(pins) <= set(test), f"{target}.txt holds packages the test lock does not: {RELOCK}"
        assert {n: v for n, v in pins.items() if test[n] != v} == {}, RELOCK


def test_torch_is_the_cpu_wheel_and_nothing_cuda_is_locked():
    for target in TARGETS:
        names = set(locked(target))
        assert not {n for n in names if n.startswith("nvidia-") or n in ("triton", "pytorch-triton")}, target
    for target in ("test", "local"):
        assert locked(target)["torch"] == "2.13.0+cpu", target
    for target in ("train", "webhook", "base"):
        assert "torch" not in locked(target), target
    # The runtime image installs torch from its index at the lock's version.
    dockerfile = (REPO / "Dockerfile").read_text()
    assert f"ARG TORCH_VERSION={Version(locked('test')['torch']).public}" in dockerfile


def test_the_readme_commands_install_through_the_lock():
    for marker, target in (("main-command", "local"), ("test-command", "test")):
        line = readme_command(marker)
        assert line.startswith("python3 -m venv .venv && ")
        assert f".venv/bin/pip install --require-hashes -r requirements/{target}.txt && " in line
        assert ".venv/bin/pip install --no-deps --no-build-isolation -e . && " in line
        assert "torch" not in line, "torch comes from the lock"


def test_every_image_installs_its_lock_and_the_wheel_without_dependencies():
    dockerfile = (REPO / "Dockerfile").read_text()
    stages = dict(re.findall(r"^FROM \S+ AS (\S+)\n(.*?)(?=^FROM |\Z)", dockerfile, flags=re.M | re.S))
    for stage, target in (("webhook", "webhook"), ("earlystopping", "base"), ("runtime", "train")):
        body = stages[stage]
        assert f"COPY requirements/{target}.txt /wheels/requirements.txt" in body, stage
        assert "pip install --require-hashes -r /wheels/requirements.txt" in body, stage
        assert "pip install --no-deps /wheels/katib_llm-*.whl" in body and "pip check" in body, stage
    assert "pip install --require-hashes -r requirements/base.txt" in stages["wheel"]
    assert "--no-build-isolation" in stages["wheel"]


def test_ci_checks_the_installed_environment_against_the_lock():
    ci = (REPO / ".ci" / "run").read_text()
    assert ".venv/bin/python scripts/lock.py --check test" in ci and ".venv/bin/pip check" in ci
