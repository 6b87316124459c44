"""The ClusterTrainingRuntime for Kubeflow Trainer v2 TrainJob trials (trainerV2.enabled).

Rendered by the real Helm engine, validated against the v2.3.0 ClusterTrainingRuntime CRD (values
and structural pruning), and checked against what the core admits: the initializer and node
commands are the ones the core and the local runner assume. Trainer's own webhook rules on the
runtime and on the TrainJobs admitted for it are ported in tests/conformance/trainer.py.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from tests.conformance.schemas import substitute
from tests.conformance.trainer_crds import crd_schema, object_errors, pruned_fields

from katib_llm.core import trainjob
from katib_llm.core.admit import admit
from katib_llm.core.config import load_config
from katib_llm.io import load_templates

from .helpers import render
from .scenarios import SCENARIOS

EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "bert-lora-experiment.yaml").read_text())


@pytest.fixture(scope="module")
def enabled():
    return render(SCENARIOS["trainer-v2"])


def _runtime(rendered) -> dict:
    return rendered.one("ClusterTrainingRuntime")


def _pods(runtime: dict) -> dict[str, dict]:
    return {r["name"]: r["template"]["spec"]["template"]["spec"] for r in runtime["spec"]["template"]["spec"]["replicatedJobs"]}


def test_not_rendered_unless_enabled(default_render):
    """Clusters with only the v1 training-operator have no Trainer CRDs: nothing of it renders."""
    assert not default_render.find("ClusterTrainingRuntime")


def test_runtime_is_valid_against_the_crd(enabled):
    runtime = _runtime(enabled)
    assert runtime["apiVersion"] == "trainer.kubeflow.org/v1alpha1"
    assert runtime["metadata"]["name"] == "katib-llm-lora-gpu"  # config.trainerV2.runtimeName
    assert object_errors(runtime, "ClusterTrainingRuntime") == []


def test_default_values_runtime_is_valid_too():
    runtime = _runtime(render({"trainerV2": {"enabled": True}}))
    assert runtime["metadata"]["name"] == "katib-llm-lora"
    assert object_errors(runtime, "ClusterTrainingRuntime") == []
    assert "resources" not in _pods(runtime)["model-initializer"]["containers"][0]


def test_steps_run_what_the_core_and_local_runner_assume(enabled):
    runtime = _runtime(enabled)
    rjobs = runtime["spec"]["template"]["spec"]["replicatedJobs"]
    assert [r["name"] for r in rjobs] == ["dataset-initializer", "model-initializer", "node"]
    # A JobSet step names one predecessor; the first step none.
    assert "dependsOn" not in rjobs[0]
    assert rjobs[1]["dependsOn"] == [{"name": "dataset-initializer", "status": "Complete"}]
    assert rjobs[2]["dependsOn"] == [{"name": "model-initializer", "status": "Complete"}]
    image = SCENARIOS["trainer-v2"].get("config", {}).get("images", {}).get("runtime") or load_config()[0].runtime_image
    pods = _pods(runtime)
    for kind, name in trainjob.INITIALIZERS.items():
        (c,) = pods[name]["containers"]
        assert c["name"] == name and c["image"] == image
        assert c["command"] == trainjob.INITIALIZER_COMMAND
        config_values = SCENARIOS["trainer-v2"].get("config", {})
        assert c["args"] == ["--allowed-sources", json.dumps(config_values.get("allowedModelSources", [])),
                             "--file-roots", json.dumps(config_values.get("fileRoots", []))]
        assert c["env"] == [{"name": trainjob.ENV_KIND, "value": kind}]
        assert c["resources"] == SCENARIOS["trainer-v2"]["trainerV2"]["initializerResources"]
        assert c["securityContext"]["allowPrivilegeEscalation"] is False
        assert pods[name]["securityContext"]["fsGroup"] == 1000  # the shared volume is writable by uid 1000
    (node,) = pods["node"]["containers"]
    assert node["name"] == "node" and node["command"] == trainjob.NODE_COMMAND and node["image"] == image
    assert runtime["spec"]["mlPolicy"] == {"numNodes": 1, "torch": {}}


def test_the_admins_trainjob_runs_this_runtime_in_its_queue(enabled):
    """The TrainJob admitted with these values names this runtime and the team's queue. What
    Trainer's TrainJob webhook checks of it against this runtime (initializer mounts, patch
    targets, env, manager) is in tests/conformance (test_emitted, chart-config subjects)."""
    values = SCENARIOS["trainer-v2"]["config"]
    config, errors = load_config(values, load_templates())
    assert not errors
    result = admit(copy.deepcopy(EXAMPLE), config)  # the admin's default kind: hf-lora-trainjob
    assert result.allowed, result.errors
    job = substitute(result.experiment)
    assert job["spec"]["runtimeRef"]["name"] == _runtime(enabled)["metadata"]["name"]
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu-trials"
    assert object_errors(job, "TrainJob") == []


def test_prune_check_sees_a_field_the_runtime_crd_lacks(enabled):
    runtime = copy.deepcopy(_runtime(enabled))
    runtime["spec"]["template"]["spec"]["replicatedJobs"][2]["steps"] = 3
    assert pruned_fields(runtime, crd_schema("ClusterTrainingRuntime")) == [
        "spec.template.spec.replicatedJobs[2].steps"]


def test_trainer_values_are_closed():
    with pytest.raises(Exception, match="enable"):
        render({"trainerV2": {"enable": True}})
    with pytest.raises(Exception, match="localQueue"):
        render({"config": {"kueue": {"localQueue": "Not A Queue"}}})


def test_notes_say_what_was_installed_and_warn(enabled):
    assert "ClusterTrainingRuntime katib-llm-lora-gpu is installed" in enabled.notes
    assert "LocalQueue gpu-trials" in enabled.notes
    warned = render({"config": {"defaultTemplate": "hf-lora-trainjob"}})
    assert "WARNING: config.defaultTemplate is hf-lora-trainjob but trainerV2.enabled is false" in warned.notes
