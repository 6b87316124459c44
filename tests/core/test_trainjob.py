"""Kubeflow Trainer v2: TrainJob trials (the shipped hf-lora-trainjob template and a user's own
TrainJob) admitted into complete trials, valid against the v2.3.0 TrainJob CRD with no field the
API server would prune, accepted by Katib's rules, unchanged by a second admission."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from tests.conformance.schemas import admitted_errors, substitute
from tests.conformance.trainer_crds import object_errors

from katib_llm.core import trainjob
from katib_llm.core.admit import admit
from katib_llm.core.config import load_config
from katib_llm.io import load_templates

EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "bert-lora-experiment.yaml").read_text())
A = "llm.katib.kubeflow.org/"
CLAIM = "llm-hp-optimization-test-llm-cache"


def template_experiment(**annotations: str) -> dict:
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"][A + "trial-template"] = "hf-lora-trainjob"
    exp["metadata"]["annotations"].update({A + k: v for k, v in annotations.items()})
    return exp


def own_experiment(runtime: str = "katib-llm-lora") -> dict:
    """A user's own TrainJob: their image and command, lr as a CLI flag, another manager's patch."""
    exp = copy.deepcopy(EXAMPLE)
    exp["spec"]["parameters"] = [p for p in exp["spec"]["parameters"] if p["name"] == "learning_rate"]
    exp["spec"]["trialTemplate"] = {
        "primaryContainerName": "node",
        "trialParameters": [{"name": "lr", "reference": "learning_rate", "description": "learning rate"}],
        "trialSpec": {
            "apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob",
            "spec": {
                "runtimeRef": {"name": runtime},
                "trainer": {"image": "registry.example.com/team/lora:1.2",
                            "command": ["torchrun", "-m", "katib_llm.runtime.trainer", "--learning_rate=${trialParameters.lr}"],
                            "env": [{"name": "PYTHONUNBUFFERED", "value": "1"}]},
                "runtimePatches": [{"manager": "example.io/platform-team", "trainingRuntimeSpec": {"template": {
                    "metadata": {"labels": {"team": "ml-platform"}}}}}],
            },
        },
    }
    return exp


def job_of(exp: dict) -> dict:
    return exp["spec"]["trialTemplate"]["trialSpec"]


def our_patch(job: dict) -> dict:
    assert trainjob.MANAGER == "llm.katib.kubeflow.org/katib-llm"  # immutable once written: never rename it
    (entry,) = [p for p in job["spec"]["runtimePatches"] if p["manager"] == trainjob.MANAGER]
    return entry


def patched_pods(job: dict) -> dict[str, dict]:
    rjobs = our_patch(job)["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    return {r["name"]: r["template"]["spec"]["template"]["spec"] for r in rjobs}


def test_shipped_template_gets_the_full_contract(admin_config):
    result = admit(template_experiment(), admin_config)
    assert result.allowed, result.errors
    tt = result.experiment["spec"]["trialTemplate"]
    assert tt["primaryContainerName"] == "node"
    # Katib's TrainJob conditions and the primary pod: the first node of the node replicated job.
    assert tt["successCondition"] == 'status.conditions.#(type=="Complete")#|#(status=="True")#'
    assert tt["failureCondition"] == 'status.conditions.#(type=="Failed")#|#(status=="True")#'
    assert tt["primaryPodLabels"] == {"jobset.sigs.k8s.io/replicatedjob-name": "node",
                                      "batch.kubernetes.io/job-completion-index": "0"}
    spec = job_of(result.experiment)["spec"]
    assert spec["runtimeRef"] == {"apiGroup": "trainer.kubeflow.org", "kind": "ClusterTrainingRuntime",
                                  "name": "katib-llm-lora"}
    trainer = spec["trainer"]
    assert (trainer["numNodes"], trainer["numProcPerNode"]) == (4, 2)  # workers, procs-per-worker
    assert trainer["command"] == ["torchrun", "-m", "katib_llm.runtime.trainer"]
    assert trainer["image"] == admin_config.runtime_image
    assert trainer["resourcesPerNode"]["limits"] == {"cpu": "5", "memory": "10G", "nvidia.com/gpu": "2"}
    env = {e["name"]: e["value"] for e in trainer["env"]}
    assert set(json.loads(env["KATIB_LLM_HPARAMS"])) == {p["name"] for p in result.experiment["spec"]["parameters"]}
    # Downloads by the runtime's initializer steps, into the experiment's volume.
    for kind in ("model", "dataset"):
        init = spec["initializer"][kind]
        assert init["storageUri"] == EXAMPLE["metadata"]["annotations"][A + kind]
        init_env = {e["name"]: e["value"] for e in init["env"]}
        assert init_env[trainjob.ENV_TARGET] == env[f"KATIB_LLM_{kind.upper()}_DIR"]
        assert init_env[trainjob.ENV_CACHE] == "/workspace/cache"
        assert "secretRef" not in init  # no credentials configured
    pods = patched_pods(job_of(result.experiment))
    assert list(pods) == ["dataset-initializer", "model-initializer", "node"]
    for name, pod in pods.items():
        # Trainer v2.3.0 requires the initializers of the merged runtime to mount a volume named initializer.
        assert pod["volumes"] == [{"name": "initializer", "persistentVolumeClaim": {"claimName": CLAIM}}]
        assert pod["containers"] == [{"name": name, "volumeMounts": [{"name": "initializer", "mountPath": "/workspace"}]}]
    assert not any(w for w in result.warnings if "sh -c" in w or "command" in w), result.warnings
    assert admitted_errors(result.experiment) == []


@pytest.mark.parametrize("build", [template_experiment, own_experiment], ids=["template", "own"])
def test_admitted_trainjob_is_valid_and_nothing_is_pruned(build, admin_config):
    result = admit(build(), admin_config)
    assert result.allowed, result.errors
    assert admitted_errors(result.experiment) == []  # Katib's schema and rules
    job = substitute(result.experiment)  # the TrainJob Katib's controller creates
    assert object_errors(job, "TrainJob") == []


@pytest.mark.parametrize("build", [template_experiment, own_experiment], ids=["template", "own"])
def test_second_admission_changes_nothing(build, admin_config):
    first = admit(build(), admin_config)
    second = admit(first.experiment, admin_config)
    assert second.allowed and second.patch == []
    assert second.experiment == first.experiment
    assert [p["manager"] for p in job_of(second.experiment)["spec"].get("runtimePatches", [])].count(trainjob.MANAGER) == 1


def test_users_own_trainjob_keeps_command_image_and_other_patches(admin_config):
    exp = own_experiment()
    before = copy.deepcopy(job_of(exp)["spec"])
    result = admit(exp, admin_config)
    assert result.allowed, result.errors
    spec = job_of(result.experiment)["spec"]
    assert spec["trainer"]["command"] == before["trainer"]["command"]
    assert spec["trainer"]["image"] == before["trainer"]["image"]
    assert spec["runtimePatches"][0] == before["runtimePatches"][0]  # another manager's entry, untouched
    assert [p["manager"] for p in spec["runtimePatches"]] == ["example.io/platform-team", trainjob.MANAGER]
    env = {e["name"]: e["value"] for e in spec["trainer"]["env"]}
    assert env["PYTHONUNBUFFERED"] == "1"
    assert json.loads(env["KATIB_LLM_HPARAMS"]) == {"learning_rate": "${trialParameters.lr}"}
    assert (spec["trainer"]["numNodes"], spec["trainer"]["numProcPerNode"]) == (4, 2)
    assert set(spec["initializer"]) == {"model", "dataset"}
    assert spec["runtimeRef"] == {"name": "katib-llm-lora"}  # kept as written (API defaults apply)


def test_own_trainjob_without_runtime_ref_gets_ours(admin_config):
    exp = own_experiment()
    del job_of(exp)["spec"]["runtimeRef"]
    result = admit(exp, admin_config)
    assert result.allowed, result.errors
    assert job_of(result.experiment)["spec"]["runtimeRef"]["name"] == "katib-llm-lora"


def test_foreign_runtime_without_downloads_gets_volume_on_node_only(admin_config):
    """Upstream's torch-distributed runtime with the user's own script and an existing claim."""
    exp = own_experiment(runtime="torch-distributed")
    for name in ("model", "dataset"):
        del exp["metadata"]["annotations"][A + name]
    exp["metadata"]["annotations"][A + "volume-claim"] = "team-data"
    job_of(exp)["spec"]["trainer"]["command"] = ["python3", "/opt/train.py", "--lr=${trialParameters.lr}"]
    result = admit(exp, admin_config)
    assert result.allowed, result.errors
    job = job_of(result.experiment)
    assert "initializer" not in job["spec"]
    assert list(patched_pods(job)) == ["node"]  # the only step every runtime has
    assert patched_pods(job)["node"]["volumes"][0]["persistentVolumeClaim"] == {"claimName": "team-data"}
    assert object_errors(substitute(result.experiment), "TrainJob") == []


def test_foreign_runtime_asked_to_download_is_denied(admin_config):
    result = admit(own_experiment(runtime="torch-distributed"), admin_config)
    assert not result.allowed
    assert {(e.path, e.code) for e in result.errors} == {
        ("spec.trialTemplate.trialSpec.spec.runtimeRef.name", "trainjob.runtime")}


def test_custom_provider_is_denied_for_trainjob():
    config, errors = load_config({"providers": {"gcs": {"image": "example.com/gcs-fetch:1", "command": ["fetch"],
                                                        "args": ["{uri}", "{target}"]}}}, load_templates())
    assert not errors
    exp = template_experiment(model="gcs://bucket/models/bert")
    result = admit(exp, config)
    assert not result.allowed
    assert [(e.path, e.code) for e in result.errors] == [(f"metadata.annotations[{A}model]", "trainjob.provider")]


def test_credentials_only_by_secret_reference():
    config, errors = load_config({"credentials": {"hfTokenSecret": "hf-token"}}, load_templates())
    assert not errors
    result = admit(template_experiment(), config)
    assert result.allowed, result.errors
    init = job_of(result.experiment)["spec"]["initializer"]
    assert init["model"]["secretRef"] == {"name": "hf-token"}
    assert "HF_TOKEN" not in json.dumps(result.experiment)


def test_gpu_placement_goes_to_the_node_step_only():
    toleration = {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
    config, errors = load_config({"placement": {"nodeSelector": {"pool": "a100"}, "tolerations": [toleration]}},
                                 load_templates())
    assert not errors
    result = admit(template_experiment(), config)
    pods = patched_pods(job_of(result.experiment))
    assert pods["node"]["nodeSelector"] == {"pool": "a100"} and pods["node"]["tolerations"] == [toleration]
    assert "nodeSelector" not in pods["model-initializer"] and "tolerations" not in pods["dataset-initializer"]
    assert object_errors(substitute(result.experiment), "TrainJob") == []


def test_admin_default_kind_is_trainjob():
    config, errors = load_config({"defaultTemplate": "hf-lora-trainjob"}, load_templates())
    assert not errors
    result = admit(copy.deepcopy(EXAMPLE), config)
    assert result.allowed, result.errors
    assert job_of(result.experiment)["kind"] == "TrainJob"


def test_config_names_the_runtime():
    config, errors = load_config({"trainerV2": {"runtimeName": "lora-gpu"}}, load_templates())
    assert not errors
    result = admit(template_experiment(), config)
    assert job_of(result.experiment)["spec"]["runtimeRef"]["name"] == "lora-gpu"
    _, errors = load_config({"trainerV2": {"runtimeName": "Not_A_Name"}})
    assert [e.path for e in errors] == ["config.trainerV2.runtimeName"]


def test_hyperparameters_survive_katibs_rewrite_of_the_node_container(admin_config):
    """Katib's StdOut collector re-runs the primary container as ``sh -c "<argv joined>"``
    (katib#2587): the node container's argv comes from spec.trainer; hyperparameters travel in
    spec.trainer.env, which the rewrite leaves alone."""
    result = admit(template_experiment(), admin_config)
    values = {"learning_rate": "3e-05", "lora_config.r": "16"}
    job = substitute(result.experiment, values)
    trainer = job["spec"]["trainer"]
    argv = [str(x) for x in trainer["command"] + trainer.get("args", [])]
    env = {e["name"]: e["value"] for e in trainer["env"]}
    printer = "import json, os, sys; print(json.dumps([sys.argv[1:], os.environ[\"KATIB_LLM_HPARAMS\"]]))"
    script = " ".join([sys.executable, "-c", "'" + printer + "'"] + argv[1:])  # argv joined as Katib does
    out = subprocess.run(["sh", "-c", script], env={**env, "PATH": "/usr/bin:/bin"}, capture_output=True,
                         text=True, check=True).stdout
    received_argv, received_hparams = json.loads(out)
    assert received_argv == argv[1:]
    assert {k: json.loads(received_hparams)[k] for k in values} == values


def test_the_prune_check_can_fail(admin_config):
    """A runtimePatches container may not set image or command (v2.3.0 schema): such a field is
    pruned by the API server, and the check reports it."""
    result = admit(template_experiment(), admin_config)
    job = substitute(result.experiment)
    node = patched_pods(job)["node"]
    node["containers"][0]["image"] = "x"
    node["hostNetwork"] = True
    job["spec"]["trainer"]["replicas"] = 2
    assert sorted(object_errors(job, "TrainJob")) == [
        "pruned: spec.runtimePatches[0].trainingRuntimeSpec.template.spec.replicatedJobs[2].template.spec.template.spec.containers[0].image",
        "pruned: spec.runtimePatches[0].trainingRuntimeSpec.template.spec.replicatedJobs[2].template.spec.template.spec.hostNetwork",
        "pruned: spec.trainer.replicas",
    ]


@pytest.mark.parametrize("path, value", [
    (("spec",), "x"), (("spec", "trainer"), []), (("spec", "trainer", "env"), {"A": "1"}),
    (("spec", "trainer", "command"), "torchrun -m x"), (("spec", "initializer"), "hf://a/b"),
    (("spec", "initializer", "model"), []), (("spec", "initializer", "dataset", "env"), "X=1"),
    (("spec", "runtimePatches"), {"manager": "x"}), (("spec", "runtimeRef"), "katib-llm-lora"),
    (("metadata", "labels"), ["a"]),
])
def test_malformed_trainjob_is_denied_naming_the_field(path, value, admin_config):
    exp = own_experiment()
    node = job_of(exp)
    for key in path[:-1]:
        node = node.setdefault(key, {}) if isinstance(node.get(key), dict) or key not in node else node[key]
    node[path[-1]] = value
    result = admit(exp, admin_config)  # never raises
    assert not result.allowed
    assert ("spec.trialTemplate.trialSpec." + ".".join(path), "template.type") in {(e.path, e.code) for e in result.errors}


@pytest.mark.parametrize("value", ["²", "٣", "1²"])
def test_non_ascii_digits_are_denied_not_crashed(value, admin_config):
    """str.isdigit() accepts superscripts and other scripts' digits that int() rejects."""
    result = admit(template_experiment(workers=value), admin_config)
    assert [(e.path, e.code) for e in result.errors] == [(f"metadata.annotations[{A}workers]", "annotation.int")]


def test_missing_reference_skips_with_the_path(tmp_path):
    from tests.conformance.trainer_crds import reference_file

    with pytest.raises(pytest.skip.Exception, match="reference data not found: .*absent.yaml"):
        reference_file(tmp_path / "absent.yaml")


def test_shipped_trainjob_example_is_admitted_valid(admin_config):
    exp = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "bert-lora-trainjob.yaml").read_text())
    result = admit(exp, admin_config)
    assert result.allowed, result.errors
    assert admitted_errors(result.experiment) == []  # includes the TrainJob CRD check
    job = job_of(result.experiment)
    assert job["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "gpu-trials"
    assert (job["spec"]["trainer"]["numNodes"], job["spec"]["trainer"]["numProcPerNode"]) == (2, 2)


def test_users_other_resources_per_node_stay(admin_config):
    exp = own_experiment()
    job_of(exp)["spec"]["trainer"]["resourcesPerNode"] = {"limits": {"ephemeral-storage": "20Gi", "cpu": "1"}}
    result = admit(exp, admin_config)
    per_node = job_of(result.experiment)["spec"]["trainer"]["resourcesPerNode"]
    assert per_node["limits"] == {"ephemeral-storage": "20Gi", "cpu": "5", "memory": "10G", "nvidia.com/gpu": "2"}
    assert per_node["requests"] == {"cpu": "5", "memory": "10G", "nvidia.com/gpu": "2"}
    assert admit(result.experiment, admin_config).patch == []


def test_primary_container_of_a_trainjob_is_node(admin_config):
    exp = own_experiment()
    exp["spec"]["trialTemplate"]["primaryContainerName"] = "pytorch"
    result = admit(exp, admin_config)
    assert [(e.path, e.code) for e in result.errors] == [("spec.trialTemplate.primaryContainerName", "template.primary")]


def test_own_trainjob_without_runtime_or_command_runs_our_trainer_and_is_checked(admin_config):
    """No runtimeRef: ours, whose node runs the trainer, so parameters must be trainer fields."""
    exp = own_experiment()
    del job_of(exp)["spec"]["runtimeRef"]
    del job_of(exp)["spec"]["trainer"]["command"]
    exp["spec"]["parameters"][0]["name"] = "learnin_rate"
    exp["spec"]["trialTemplate"]["trialParameters"] = []  # the core wires them (a user's own are free-form)
    result = admit(exp, admin_config)
    assert ("spec.parameters[0].name", "parameter.unknown") in {(e.path, e.code) for e in result.errors}
