"""Shared fixtures. Test helpers live in tests/katib_checks.py (schemas, Katib rules)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from katib_checks import SHARED  # noqa: E402


@pytest.fixture(scope="session")
def admin_config():
    """The admin configuration with chart defaults and the shipped templates."""
    from katib_llm.io import admin_config as load

    return load(None)


def pytest_report_header(config):
    return f"katib-llm reference contracts: {SHARED} ({'found' if SHARED.exists() else 'MISSING'})"
