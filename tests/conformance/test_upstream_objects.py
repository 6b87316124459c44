"""The ported checks accept upstream's own objects: a port that denied what upstream ships would
be wrong, not strict. Needs the upstream reference files (tests/reference.py)."""

from __future__ import annotations

import pytest
import yaml

from tests import reference

from .katib_experiment import experiment_errors
from .pytorchjob import pytorchjob_errors
from .schemas import load_examples, substitute
from .trainer import runtime_errors, trainjob_errors

pytestmark = pytest.mark.reference


def _docs(folder: str) -> list[dict]:
    if reference.REFERENCE is None:
        return []
    return [doc for path in sorted(reference.file("trainer-v2", folder).glob("*.yaml"))
            for doc in yaml.safe_load_all(path.read_text()) if isinstance(doc, dict)]


def test_trainers_own_runtimes_pass_the_runtime_webhook():
    runtimes = [d for d in _docs("runtimes") if d["kind"] == "ClusterTrainingRuntime"]
    assert len(runtimes) == 4
    for runtime in runtimes:
        assert runtime_errors(runtime) == [], runtime["metadata"]["name"]


def test_trainers_own_trainjob_examples_pass_the_trainjob_webhook():
    runtimes = {d["metadata"]["name"]: d for d in _docs("runtimes") if d["kind"] == "ClusterTrainingRuntime"}
    jobs = [d for d in _docs("examples") if d["kind"] == "TrainJob"]
    assert len(jobs) == 3 and any(j["spec"].get("runtimePatches") for j in jobs)
    for job in jobs:
        assert trainjob_errors(job, runtimes[job["spec"]["runtimeRef"]["name"]]) == [], job["metadata"]["name"]


def test_katibs_own_examples_pass_katibs_webhook_and_the_pytorchjob_webhook():
    examples = load_examples()
    assert len(examples) > 20
    pytorch = 0
    for path, exp in examples:
        exp = {**exp, "metadata": {"namespace": "kubeflow", **exp["metadata"]}}
        assert experiment_errors(exp) == [], path
        if "trialSpec" not in exp["spec"].get("trialTemplate", {}):
            continue  # a template in a ConfigMap
        job = substitute(exp)
        if job.get("kind") == "PyTorchJob":
            pytorch += 1
            job["metadata"] = {**(job.get("metadata") or {}), "name": f"{exp['metadata']['name']}-x7k2m9qb"}
            assert pytorchjob_errors(job) == [], path
    assert pytorch >= 1
