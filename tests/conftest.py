"""Shared fixtures and the ``reference`` marker.

Test helpers are modules of the ``tests`` package: ``tests.builders`` (Experiments, admission
reviews, admitted results), ``tests.conformance.schemas`` (what a cluster would enforce),
``tests.kube_apiserver`` (the Kubernetes API server stand-in), ``tests.reference`` (where the
upstream reference files are).

Tests marked ``reference`` compare with byte-identical upstream files (tests/reference.py). When
those are absent, as in a bare clone, they are skipped and the run says so in one line.
"""

from __future__ import annotations

import pytest

from tests import reference


_SKIPPED: list[str] = []


@pytest.fixture(scope="session")
def admin_config():
    """The admin configuration with chart defaults and the shipped templates."""
    from katib_llm.io import admin_config as load

    return load(None)


def pytest_report_header(config: pytest.Config) -> str:
    return f"katib-llm {reference.describe()}"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if reference.AVAILABLE:
        return
    skip = pytest.mark.skip(reason=f"needs the {reference.describe()}")
    for item in items:
        if item.get_closest_marker("reference"):
            item.add_marker(skip, append=False)  # before an empty parameter set's own skip
            _SKIPPED.append(item.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    if _SKIPPED:
        terminalreporter.write_line(
            f"katib-llm: {len(_SKIPPED)} test(s) that compare with upstream's own files ({reference.WHAT}) "
            f"were skipped: {reference.describe()}; set {reference.ENV} to run them")
