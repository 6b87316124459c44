"""Golden admission pairs (tests/webhook/golden/, built by tests/webhook/golden_cases.py): each
reviewed AdmissionReview sent to the real gunicorn server over TLS must get exactly the recorded
response, and ``katib-llm mutate`` / ``validate`` without flags on its object must give the same
answer (the same admitted object and patch, or the same denial). ``--local`` previews the local
runner instead: it admits the cases in ``LOCAL_ONLY`` that the webhook denies. Regenerate after an intended change: ``PYTHONPATH=src python -m tests.webhook.golden_cases``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from tests.builders import REPO
from tests.conformance.schemas import admitted_errors
from tests.webhook.golden_cases import CASES, GOLDEN, LOCAL_ONLY, decoded_patch, read

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


def cli(*args: str, stdin: str) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "katib_llm.cli", *args], input=stdin,
                         capture_output=True, text=True, cwd=REPO)
    assert "Traceback" not in out.stderr, out.stderr
    return out


@pytest.mark.parametrize("case", sorted(CASES))
def test_mutate_cli_admits_the_same_object(case):
    request, expected = read(case)
    obj = request["request"]["object"]
    out = cli("mutate", "-", stdin=yaml.safe_dump(obj))
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


@pytest.mark.parametrize("case", sorted(CASES))
def test_mutate_patch_and_validate_answer_as_the_webhook(case):
    """``mutate --patch`` prints the webhook's very patch; ``validate`` says valid exactly when it admits."""
    request, expected = read(case)
    stdin = yaml.safe_dump(request["request"]["object"])
    response = expected["response"]
    patched = cli("mutate", "--patch", "-", stdin=stdin)
    valid = cli("validate", "-", stdin=stdin)
    assert (patched.returncode, valid.returncode) == ((0, 0) if response["allowed"] else (1, 1))
    if response["allowed"]:
        (patch,) = list(yaml.safe_load_all(patched.stdout))
        assert patch == (decoded_patch(expected) or [])


@pytest.mark.parametrize("case", LOCAL_ONLY)
def test_local_preview_admits_what_only_the_local_runner_runs(case):
    """The webhook denies these; ``--local`` answers as ``tune --local`` admits (stdin: relative
    file:// URIs resolve against the working directory, here the repository)."""
    request, expected = read(case)
    obj = request["request"]["object"]
    assert expected["response"]["allowed"] is False
    out = cli("mutate", "--local", "-", stdin=yaml.safe_dump(obj))
    assert out.returncode == 0, out.stderr
    (admitted,) = list(yaml.safe_load_all(out.stdout))
    annotations = admitted["metadata"]["annotations"]
    if case == "relative-file-uri":
        assert annotations["llm.katib.kubeflow.org/dataset"] == f"file://{REPO / 'examples' / 'data' / 'sentiment'}"
        assert "resolved against" in out.stderr
    assert cli("validate", "--local", "-", stdin=yaml.safe_dump(obj)).returncode == 0
    # Without --local the same object is denied with the webhook's message, and a file:// denial
    # points at --local.
    plain = cli("validate", "-", stdin=yaml.safe_dump(obj))
    assert plain.returncode == 1
    if case != "local-only-annotation":
        assert "`--local` previews `katib-llm tune --local`" in plain.stderr


def test_local_preview_refuses_configmaps():
    """The local runner reads no ConfigMaps: ``--local --configmap`` is an error, not a silent drop."""
    request, _ = read("default-template")
    out = cli("mutate", "--local", "--configmap", "-", "-", stdin=yaml.safe_dump(request["request"]["object"]))
    assert out.returncode == 2 and "--configmap" in out.stderr and out.stdout == ""
