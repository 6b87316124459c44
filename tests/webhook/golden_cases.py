"""The golden admission cases: an AdmissionReview in, the exact response out.

``tests/webhook/golden/<case>.request.json`` is the review kube-apiserver sends (built here from
``tests.builders`` with a fixed uid), ``<case>.response.json`` the exact AdmissionReview the
``/mutate`` endpoint answers, and ``<case>.patch.json`` its JSONPatch decoded for reading.
tests/webhook/test_golden.py sends each request to the real gunicorn server over TLS and runs its
object through ``katib-llm mutate``; both must agree with the files.

Regenerate after an intended change of admission, then review the diff:

    PYTHONPATH=src python -m tests.webhook.golden_cases

It answers with the webhook's own Flask app in-process (the code gunicorn serves, with the chart's
default admin configuration); the test then proves the served answers identical.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, Callable

from tests.builders import admitted, example, experiment, parameter, review

GOLDEN = Path(__file__).resolve().parent / "golden"


def _default_template() -> dict[str, Any]:
    """The project's example: no trial template, so the admin's default one is injected."""
    return review(example(), uid="00000000-0000-4000-8000-000000000001")


def _denial() -> dict[str, Any]:
    """Resources that are not JSON and a model source no provider serves: one denial, both fields."""
    exp = experiment("bad-annotations", annotations={"resources-per-worker": "{gpu: 2}"}, model="ftp://models/bert")
    return review(exp, uid="00000000-0000-4000-8000-000000000002")


def _unlabelled() -> dict[str, Any]:
    """An Experiment without the tune label: not ours, allowed untouched."""
    exp = experiment("plain-katib", labelled=False,
                     trialTemplate={"primaryContainerName": "training",
                                    "trialParameters": [{"name": "lr", "reference": "learning_rate"}],
                                    "trialSpec": {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {
                                        "spec": {"restartPolicy": "Never", "containers": [{
                                            "name": "training", "image": "registry.local/train:1",
                                            "command": ["python", "train.py", "--lr=${trialParameters.lr}"]}]}}}}})
    return review(exp, uid="00000000-0000-4000-8000-000000000003")


def _update() -> dict[str, Any]:
    """An UPDATE raising maxTrialCount of an already admitted Experiment: nothing left to add."""
    old = admitted(example()).experiment
    new = json.loads(json.dumps(old))
    new["spec"]["maxTrialCount"] = 60
    return review(new, "UPDATE", old=old, uid="00000000-0000-4000-8000-000000000004")


def _user_trial_spec() -> dict[str, Any]:
    """A user's own trialSpec (a batch Job): katib-llm adds the downloads and the shared volume."""
    exp = experiment(
        "own-trial", parameters=[parameter("learning_rate"), parameter("lora_config.r", "int", "4", "16")],
        trialTemplate={
            "primaryContainerName": "training",
            "trialParameters": [{"name": "learningRate", "reference": "learning_rate"},
                                {"name": "loraR", "reference": "lora_config.r"}],
            "trialSpec": {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "training", "image": "registry.local/my-trainer:3",
                                "command": ["python", "/app/train.py", "--learning-rate=${trialParameters.learningRate}",
                                            "--lora-r=${trialParameters.loraR}"]}]}}}},
        })
    return review(exp, uid="00000000-0000-4000-8000-000000000005")


def _relative_file_uri() -> dict[str, Any]:
    """A dataset named by a relative file:// URI (the quickstart's form): the webhook denies it;
    ``katib-llm mutate --local`` resolves it against the file's folder and admits it."""
    exp = experiment("relative-file", dataset="file://examples/data/sentiment")
    return review(exp, uid="00000000-0000-4000-8000-000000000006")


def _file_outside_roots() -> dict[str, Any]:
    """A model under no folder of ``config.fileRoots`` (none by default): denied on a cluster,
    where file:// would read the node's disk; ``--local`` allows any folder of this machine."""
    exp = experiment("etc-passwd", model="file:///etc/passwd")
    return review(exp, uid="00000000-0000-4000-8000-000000000007")


def _local_only_annotation() -> dict[str, Any]:
    """The ``objectives`` annotation, which only the local backend runs: denied by the webhook."""
    exp = experiment("two-objectives", annotations={"objectives": "eval_accuracy:maximize,eval_runtime:minimize"},
                     objective={"type": "maximize", "objectiveMetricName": "eval_accuracy",
                                "additionalMetricNames": ["eval_runtime"]})
    return review(exp, uid="00000000-0000-4000-8000-000000000008")


CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "default-template": _default_template,
    "denial": _denial,
    "unlabelled": _unlabelled,
    "update": _update,
    "user-trial-spec": _user_trial_spec,
    "relative-file-uri": _relative_file_uri,
    "file-outside-roots": _file_outside_roots,
    "local-only-annotation": _local_only_annotation,
}
# Cases the webhook denies and ``katib-llm mutate --local`` admits (as ``tune --local`` would).
LOCAL_ONLY = ("relative-file-uri", "file-outside-roots", "local-only-annotation")


def read(case: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(request, expected response) of a golden case."""
    return (json.loads((GOLDEN / f"{case}.request.json").read_text()),
            json.loads((GOLDEN / f"{case}.response.json").read_text()))


def decoded_patch(response: dict[str, Any]) -> list[dict[str, Any]] | None:
    patch = response["response"].get("patch")
    return None if patch is None else json.loads(base64.b64decode(patch))


def _write(path: Path, doc: Any) -> None:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False) + "\n")


def main() -> None:
    from katib_llm.webhook.app import create_app
    from katib_llm.webhook.sources import ConfigSource

    client = create_app(ConfigSource(None)).test_client()
    GOLDEN.mkdir(exist_ok=True)
    for case, build in CASES.items():
        request = build()
        reply = client.post("/mutate?timeout=10s", data=json.dumps(request), content_type="application/json")
        assert reply.status_code == 200, reply.data
        _write(GOLDEN / f"{case}.request.json", request)
        _write(GOLDEN / f"{case}.response.json", reply.json)
        patch = decoded_patch(reply.json)
        (GOLDEN / f"{case}.patch.json").unlink(missing_ok=True)
        if patch is not None:
            _write(GOLDEN / f"{case}.patch.json", patch)
        print(f"{case}: allowed={reply.json['response']['allowed']} patch ops={len(patch or [])}")


if __name__ == "__main__":
    main()
