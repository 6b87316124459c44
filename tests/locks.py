"""The lock files, read the way scripts/lock.py writes them (shared by the lock and field-table tests)."""

from __future__ import annotations

import re

from tests.builders import REPO

LOCKS = REPO / "requirements"
TARGETS = ("test", "local", "webhook", "train", "base")
PIN_LINE = re.compile(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", re.M)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def locked(target: str) -> dict[str, str]:
    """Normalised package name -> version pinned in requirements/<target>.txt."""
    text = (LOCKS / f"{target}.txt").read_text()
    return {normalise(name): version for name, version in PIN_LINE.findall(text)}


def readme_command(marker: str) -> str:
    """The command line after ``<!-- marker -->`` in README.md (as .ci/run extracts the test command)."""
    lines = (REPO / "README.md").read_text().split(f"<!-- {marker} -->", 1)[1].splitlines()
    return next(line for line in lines if line.startswith("python3 "))
