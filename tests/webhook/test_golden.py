"""Golden admission pairs (tests/webhook/golden/, built by tests/webhook/golden_cases.py): each
reviewed AdmissionReview sent to the real gunicorn server over TLS must get exactly the recorded
response, and ``katib-llm mutate`` on its object must admit the same object (or deny it with the
same message). Regenerate after an intended change: ``PYTHONPATH=src python -m tests.webhook.golden_cases``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.builders import REPO
from tests.conformance.schemas import admitted_errors
from tests.webhook.golden_cases import CASES, GOLDEN, decoded_patch, read

from .apiserver_client import apply_patch

REGENERATE = "regenerate with: PYTHONPATH=src python -m tests.webhook.golden_cases (then review the diff)"
DENIED = "katib-llm denied the Experiment: "


def test_every_case_has_its_files_and_no_stray_ones():
    expected = {f"{c}.{part}.json" for c in CASES for part in ("request", "response")}
    found = {p.name for p in GOLDEN.glob("*.json")}
    assert expected <= found, REGENERATE
    assert {n for n in found - expected if not n.endswith(".patch.json")} == set()


@pytest.mark.parametrize("case", sorted(CASES))
def test_request_is_what_the_case_builds(case):
    """The recorded request is the case's current definition (an admission change that alters an
    input, e.g. the admitted object an UPDATE starts from, shows here first)."""
    request, _ = read(case)
    assert request == CASES[case](), REGENERATE


@pytest.mark.parametrize("case", sorted(CASES))
def test_server_answers_exactly_the_golden_response(client, case):
    request, expected = read(case)
    reply = client.post("/mutate", json.dumps(request).encode())
    assert reply.status == 200, reply.body
    assert reply.json == expected, REGENERATE
    patch_file = GOLDEN / f"{case}.patch.json"
    patch = decoded_patch(expected)
    assert (json.loads(patch_file.read_text()) if patch_file.exists() else None) == patch, REGENERATE


@pytest.mark.parametrize("case", sorted(CASES))
def test_mutate_cli_admits_the_same_object(case):
    request, expected = read(case)
    obj = request["request"]["object"]
    out = subprocess.run([sys.executable, "-m", "katib_llm.cli", "mutate", "-"], input=yaml.safe_dump(obj),
                         capture_output=True, text=True, cwd=REPO)
    assert "Traceback" not in out.stderr, out.stderr
    response = expected["response"]
    if response["allowed"]:
        assert out.returncode == 0, out.stderr
        (admitted,) = list(yaml.safe_load_all(out.stdout))
        assert admitted == apply_patch(obj, response)
        if obj["metadata"].get("labels"):
            assert admitted_errors(admitted) == []
    else:
        assert out.returncode == 1 and out.stdout == ""
        assert response["status"]["message"].startswith(DENIED)
        assert f"denied: {obj['metadata']['name']}: {response['status']['message'][len(DENIED):]}" in out.stderr
