"""The cluster emulation (tests/conformance/schemas.py) can fail, and its two sources agree.

With the upstream reference files, admitted Experiments are checked against Katib's swagger and
trial jobs against the PyTorchJob CRD; without them (a bare clone) against the same field sets
taken from kubeflow-katib's and kubeflow-training's API models plus kubernetes-validate's pod
template schema. Both must reject the same kinds of mistakes; where both are at hand, the model
field sets must equal the swagger's.
"""

from __future__ import annotations

import json

import pytest

from tests import reference
from tests.builders import admitted, example
from tests.conformance.schemas import admitted_errors, job_errors, substitute
from tests.model_schemas import katib_models, model_errors, training_models


def _admitted_experiment() -> dict:
    result = admitted(example())
    assert result.allowed, result.errors
    return result.experiment


def test_the_example_passes_both_sources():
    exp = _admitted_experiment()
    assert admitted_errors(exp) == []
    assert model_errors(exp, "V1beta1Experiment", "<root>", katib_models()) == []
    job = substitute(exp)
    assert model_errors({k: v for k, v in job.items() if k != "status"}, "KubeflowOrgV1PyTorchJob", "PyTorchJob",
                        training_models()) == []


def test_model_check_rejects_unknown_fields_wrong_types_and_missing_required():
    exp = _admitted_experiment()
    exp["spec"]["maxTrialCounts"] = 3  # a typo Katib's Go decoding would drop
    exp["spec"]["parallelTrialCount"] = "2"
    exp["spec"]["trialTemplate"]["retain"] = "yes"
    exp["status"] = {"conditions": [{"reason": "no type, no status"}]}
    errors = model_errors(exp, "V1beta1Experiment", "<root>", katib_models())
    assert any("spec.maxTrialCounts: unknown field of V1beta1ExperimentSpec" in e for e in errors), errors
    assert any("spec.parallelTrialCount: expected int" in e for e in errors), errors
    assert any("spec.trialTemplate.retain: expected bool" in e for e in errors), errors
    assert any("conditions[0].type: required" in e for e in errors), errors


def test_cluster_check_rejects_a_dropped_field_whatever_the_source():
    exp = _admitted_experiment()
    exp["spec"]["algorithm"]["algorithmSetting"] = []
    assert any(e.startswith("schema: ") and "algorithmSetting" in e for e in admitted_errors(exp))


def test_trial_job_check_rejects_a_bad_pytorchjob_whatever_the_source():
    job = substitute(_admitted_experiment())
    job["spec"]["pytorchReplicaSpecs"]["Master"]["replicas"] = "one"
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["env"] = {"A": "b"}
    errors = job_errors(job)
    assert any("Master.replicas" in e for e in errors), errors
    assert any("containers.0.env" in e for e in errors), errors


@pytest.mark.reference
def test_katib_model_field_sets_equal_the_swagger():
    """Every Katib v1beta1 type an Experiment holds: the same JSON keys in kubeflow-katib's models
    as in Katib's swagger (pkg/apis/v1beta1/swagger.json), each with a matching JSON type."""
    swagger = json.loads(reference.file("katib", "crds", "swagger.json").read_text())["definitions"]
    models = katib_models().module
    json_type = {"str": "string", "int": "integer", "bool": "boolean", "float": "number"}
    compared = 0
    for name, definition in swagger.items():
        if not name.startswith("v1beta1.") or "properties" not in definition:
            continue
        model = getattr(models, "V1beta1" + name.split(".", 1)[1])
        assert set(model.attribute_map.values()) == set(definition["properties"]), name
        for attr, key in model.attribute_map.items():
            expected = json_type.get(model.openapi_types[attr])
            if expected:
                assert definition["properties"][key].get("type") == expected, f"{name}.{key}"
        compared += 1
    assert compared >= 25
