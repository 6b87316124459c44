"""Fixtures for the chart tests: one default render shared by the module that asks for it."""

from __future__ import annotations

import pytest

from .helpers import Render, render


@pytest.fixture(scope="session")
def default_render() -> Render:
    return render()
