"""The table of mistakes (tests/contract_mistakes.py) through the core and the CLI: every mistake is
denied naming its field, with no traceback, and no denial echoes a secret."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.contract_mistakes import MISTAKES, SECRET_MISTAKES, errors_of
from katib_llm.core.admit import admit, validate
from katib_llm.core.errors import format_errors

IDS = [m.id for m in MISTAKES]


@pytest.mark.parametrize("mistake", MISTAKES, ids=IDS)
def test_admit_and_validate_name_the_field(mistake, admin_config):
    exp = mistake.experiment()
    for result in (admit(exp, admin_config), validate(exp, admin_config),
                   admit(exp, admin_config, katib_checks=False)):
        assert not result.allowed
        assert (mistake.path, mistake.code) in errors_of(result), format_errors(result.errors)
        if mistake.secret:
            assert mistake.secret not in format_errors(result.errors) + "".join(result.warnings)


@pytest.mark.parametrize("mistake", SECRET_MISTAKES, ids=[m.id for m in SECRET_MISTAKES])
def test_a_credential_denial_carries_only_credential_errors(mistake, admin_config):
    result = admit(mistake.experiment(), admin_config)
    assert {e.code for e in result.errors} <= {"credential.value", "credential.key", "env.credential"}


def _name(doc: dict) -> str:
    meta = doc["metadata"]
    return meta.get("name") or meta["generateName"]


@pytest.mark.parametrize("command", ["validate", "mutate"])
def test_the_cli_denies_every_mistake_naming_the_field(command, tmp_path):
    """One run of ``katib-llm validate|mutate`` over all mistakes as one multi-document file."""
    docs = [m.experiment() for m in MISTAKES]
    path = tmp_path / "mistakes.yaml"
    path.write_text(yaml.safe_dump_all(docs, allow_unicode=True))
    run = subprocess.run([sys.executable, "-m", "katib_llm.cli", command, str(path)], capture_output=True, text=True)
    assert run.returncode == 1
    assert "Traceback" not in run.stderr, run.stderr
    assert run.stdout.strip() in ("", "[]"), run.stdout  # nothing admitted
    denied = {line.split(": ", 2)[1]: line for line in run.stderr.splitlines() if line.startswith("denied: ")}
    for mistake, doc in zip(MISTAKES, docs):
        line = denied[_name(doc)]
        assert f"{mistake.path}: " in line and f"[{mistake.code}]" in line, line
    for mistake in SECRET_MISTAKES:
        assert mistake.secret not in run.stdout + run.stderr
