"""The admin's rules on the effective trial: every pod shape the trial job will create (user
PyTorchJob with sidecars, batch Job, TrainJob with its own runtimePatches and initializer), not
only the fields the annotations fill in."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from katib_llm.core.effective import pod_shapes
from katib_llm.core.jobkinds import JOB_KINDS
from katib_llm.io import admin_config as load_admin_config
from tests.builders import (PREFIX, admitted, batch_job, container, example, own_trial, pytorchjob, runtime_patch,
                            trainjob)

BASE = "spec.trialTemplate.trialSpec"
GPU = "nvidia.com/gpu"
DENY = {"privilegedTemplates": "deny"}


def errors(result) -> list[tuple[str, str]]:
    return [(e.path, e.code) for e in result.errors]


def admit_job(job: dict, primary: str, values: dict | None = None, **annotations: str):
    exp = own_trial(example(), job, primary)
    exp["metadata"]["annotations"].update({PREFIX + k: v for k, v in annotations.items()})
    return admitted(exp, load_admin_config(values) if values else None)


# --- the walker ------------------------------------------------------------------------------

def test_the_walker_yields_every_pod_shape_with_its_path_and_pod_count():
    job = pytorchjob([container("pytorch")], [container("pytorch"), container("sidecar")], workers=3,
                     elasticPolicy={"maxReplicas": 5})
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["initContainers"] = [container("prep")]
    shapes = list(pod_shapes(JOB_KINDS["PyTorchJob"], job))
    assert [(s.path, s.replicas, s.replicas_path) for s in shapes] == [
        (f"{BASE}.spec.pytorchReplicaSpecs.Master.template.spec", 1, f"{BASE}.spec.pytorchReplicaSpecs.Master.replicas"),
        (f"{BASE}.spec.pytorchReplicaSpecs.Worker.template.spec", 5, f"{BASE}.spec.elasticPolicy.maxReplicas")]
    assert [c.path.rsplit(".", 1)[1] for c in shapes[1].containers] == ["initContainers[0]", "containers[0]",
                                                                       "containers[1]"]


def test_the_walker_sees_a_trainjobs_node_and_every_runtime_patch():
    job = trainjob({"numNodes": 3}, runtimePatches=[
        runtime_patch("example.io/a", {"node": {"volumes": []}, "model-initializer": {"containers": []}}),
        {"manager": "example.io/b"}])
    shapes = list(pod_shapes(JOB_KINDS["TrainJob"], job))
    assert [(s.path, s.replicas, s.worker) for s in shapes] == [
        (f"{BASE}.spec.trainer", 3, True),
        (f"{BASE}.spec.runtimePatches[0].trainingRuntimeSpec.template.spec.replicatedJobs[0].template.spec.template.spec",
         0, False),
        (f"{BASE}.spec.runtimePatches[0].trainingRuntimeSpec.template.spec.replicatedJobs[1].template.spec.template.spec",
         0, False)]
    assert shapes[0].containers[0].resources_key == "resourcesPerNode"


# --- admin caps ------------------------------------------------------------------------------

@pytest.mark.parametrize("job, primary, path, code", [
    # A million Worker replicas in the user's own PyTorchJob.
    (pytorchjob([container("pytorch")], [container("pytorch")], workers=1_000_000), "pytorch",
     f"{BASE}.spec.pytorchReplicaSpecs.Worker.replicas", "workers.cap"),
    # Elastic: the operator scales Worker up to maxReplicas.
    (pytorchjob([container("pytorch")], [container("pytorch")], workers=1, elasticPolicy={"maxReplicas": 100}),
     "pytorch", f"{BASE}.spec.elasticPolicy.maxReplicas", "workers.cap"),
    # 100,000 GPUs on a sidecar container of the Master pod.
    (pytorchjob([container("pytorch"), container("sidecar", gpus=100_000)]), "pytorch",
     f"{BASE}.spec.pytorchReplicaSpecs.Master.template.spec.containers[1].resources.limits[{GPU}]", "gpu.cap"),
    # 8 GPUs each on 16 pods: 128 GPUs per trial.
    (pytorchjob([container("pytorch", gpus=8)], [container("pytorch", gpus=8)], workers=15), "pytorch",
     f"{BASE}.spec.pytorchReplicaSpecs.Worker.template.spec.containers[0].resources.limits[{GPU}]", "gpu.trial-cap"),
    (pytorchjob([container("pytorch")], nprocPerNode="1000"), "pytorch", f"{BASE}.spec.nprocPerNode", "procs.cap"),
    # A Job's parallelism makes pods at once.
    (batch_job({"containers": [container("training")]}, parallelism=1000), "training", f"{BASE}.spec.parallelism",
     "workers.cap"),
    # A sidecar (init container with restartPolicy Always) runs beside the app container: 4 + 6 GPUs.
    (batch_job({"containers": [container("training", gpus=6)],
                "initContainers": [container("proxy", gpus="4", restartPolicy="Always")]}), "training",
     f"{BASE}.spec.template.spec.containers[0].resources.limits[{GPU}]", "gpu.cap"),
    # A one-shot init container alone asking for more than a worker may have.
    (batch_job({"containers": [container("training")], "initContainers": [container("warm", gpus=9)]}), "training",
     f"{BASE}.spec.template.spec.initContainers[0].resources.limits[{GPU}]", "gpu.cap"),
    (trainjob({"numNodes": 1000}), "node", f"{BASE}.spec.trainer.numNodes", "workers.cap"),
    (trainjob({"resourcesPerNode": {"limits": {GPU: "100000"}}}), "node",
     f"{BASE}.spec.trainer.resourcesPerNode.limits[{GPU}]", "gpu.cap"),
    (trainjob({"numNodes": 16, "resourcesPerNode": {"requests": {GPU: 8}}}), "node",
     f"{BASE}.spec.trainer.resourcesPerNode.requests[{GPU}]", "gpu.trial-cap"),
    (trainjob({"numProcPerNode": 1000}), "node", f"{BASE}.spec.trainer.numProcPerNode", "procs.cap"),
], ids=["pytorch-replicas", "pytorch-elastic", "sidecar-gpus", "trial-gpus", "nproc", "job-parallelism",
        "restartable-init-gpus", "init-gpus", "trainjob-nodes", "trainjob-gpus", "trainjob-trial-gpus", "trainjob-procs"])
def test_caps_apply_to_what_the_trial_runs(job, primary, path, code):
    result = admit_job(job, primary)
    assert not result.allowed
    assert (path, code) in errors(result), errors(result)


def test_within_the_caps_a_users_own_shape_is_admitted():
    """16 workers of 4 GPUs = 64 GPUs: exactly at every default cap; an MPIJob launcher is no worker."""
    ok = admit_job(pytorchjob([container("pytorch", gpus=4)], [container("pytorch", gpus=4)], workers=15,
                              nprocPerNode="4"), "pytorch")
    assert ok.allowed, errors(ok)
    mpi = {"apiVersion": "kubeflow.org/v1", "kind": "MPIJob", "spec": {"slotsPerWorker": 4, "mpiReplicaSpecs": {
        "Launcher": {"replicas": 1, "template": {"spec": {"containers": [container("mpi")]}}},
        "Worker": {"replicas": 16, "template": {"spec": {"containers": [container("mpi")]}}}}}}
    assert admit_job(mpi, "mpi").allowed


def test_annotation_caps_are_reported_once_at_the_annotation():
    result = admit_job(pytorchjob([container("pytorch")], [container("pytorch")], workers=3), "pytorch",
                       **{"resources-per-worker": '{"gpu": 99}', "workers": "2"})
    gpu = [(p, c) for p, c in errors(result) if c.startswith("gpu.")]
    assert gpu == [("metadata.annotations[llm.katib.kubeflow.org/resources-per-worker].gpu", "gpu.cap")]


# --- host access -----------------------------------------------------------------------------

HOSTILE_POD = {
    "hostNetwork": True, "hostPID": True,
    "securityContext": {"windowsOptions": {"hostProcess": True}},
    "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
    "containers": [container("training", ports=[{"containerPort": 80, "hostPort": 80}])],
    "initContainers": [container("prep", securityContext={"privileged": True})],
    "ephemeralContainers": [container("debug", securityContext={"capabilities": {"add": ["SYS_ADMIN"]}})],
}
HOSTILE_PATHS = [f"{BASE}.spec.template.spec.{p}" for p in (
    "hostNetwork", "hostPID", "securityContext.windowsOptions.hostProcess", "volumes[0].hostPath",
    "initContainers[0].securityContext.privileged", "containers[0].ports[0].hostPort",
    "ephemeralContainers[0].securityContext.capabilities.add")]


def test_host_access_anywhere_in_a_users_pod_is_denied_when_the_admin_says_so():
    result = admit_job(batch_job(HOSTILE_POD), "training", DENY)
    assert sorted(p for p, c in errors(result) if c == "template.privileged") == sorted(HOSTILE_PATHS)


def test_host_access_is_a_warning_naming_each_field_by_default():
    result = admit_job(batch_job(HOSTILE_POD), "training")
    assert result.allowed, errors(result)
    assert sorted(w.split(": ", 1)[0] for w in result.warnings if "host access" in w) == sorted(HOSTILE_PATHS)


PATCHED = f"{BASE}.spec.runtimePatches[0].trainingRuntimeSpec.template.spec.replicatedJobs[0].template.spec.template.spec"


def test_a_trainjobs_own_runtime_patches_cannot_get_host_access():
    """A hostPath / and a privileged node container in the user's runtimePatches."""
    job = trainjob(runtimePatches=[runtime_patch("example.io/platform-team", {"node": {
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
        "containers": [{"name": "node", "securityContext": {"privileged": True},
                        "volumeMounts": [{"name": "root", "mountPath": "/host"}]}]}})])
    denied = admit_job(job, "node", DENY)
    assert sorted(p for p, c in errors(denied) if c == "template.privileged") == [
        f"{PATCHED}.containers[0].securityContext.privileged", f"{PATCHED}.volumes[0].hostPath"]
    warned = admit_job(job, "node")
    assert warned.allowed and sum("host access" in w for w in warned.warnings) == 2


@pytest.mark.parametrize("template", ["hf-lora-pytorchjob", "hf-lora-job", "hf-lora-mpijob", "hf-lora-trainjob"])
def test_our_own_templates_pass_every_rule_under_the_strictest_configuration(template):
    strict = {**DENY, "maxResourcesPerWorker": {"cpu": "5", "memory": "10G"}, "fileRoots": [],
              "kueue": {"localQueue": "gpu-trials", "enforce": True},
              "allowedModelSources": ["hf://google-bert/", "hf://yelp_review_full"]}
    annotations = {"trial-template": template, **({"workers": "1"} if template == "hf-lora-job" else {})}
    result = admitted(example(annotations=annotations), load_admin_config(strict))
    assert result.allowed, errors(result)
    assert not [w for w in result.warnings if "host access" in w]


# --- storage allow-lists on a TrainJob's own initializer ---------------------------------------

@pytest.mark.parametrize("values, uri, code", [
    ({}, "file:///etc", "uri.file-not-allowed"),
    ({"fileRoots": ["/mnt/models"]}, "file:///mnt/other", "uri.file-not-allowed"),
    ({"allowedModelSources": ["hf://google-bert/"]}, "hf://evil-org/model", "uri.not-allowed"),
    ({}, "hf://../../etc", "uri.hf-repo"),
])
def test_a_trainjobs_own_initializer_uris_obey_the_allow_lists(values, uri, code):
    job = trainjob(initializer={"dataset": {"storageUri": uri}})
    exp = own_trial(example(), job, "node")
    exp["metadata"]["annotations"].pop("llm.katib.kubeflow.org/dataset")
    result = admitted(exp, load_admin_config(values) if values else None)
    assert (f"{BASE}.spec.initializer.dataset.storageUri", code) in errors(result), errors(result)


def test_an_allowed_initializer_uri_is_admitted():
    job = trainjob(initializer={"dataset": {"storageUri": "file:///mnt/models/data"}})
    exp = own_trial(example(), job, "node")
    exp["metadata"]["annotations"].pop("llm.katib.kubeflow.org/dataset")
    result = admitted(exp, load_admin_config({"fileRoots": ["/mnt/models"]}))
    assert not [e for e in result.errors if e.path.endswith("storageUri")], errors(result)


# --- CPU and memory caps ---------------------------------------------------------------------

CAPPED = {"maxResourcesPerWorker": {"cpu": "16", "memory": "64Gi"}}


@pytest.mark.parametrize("job, primary, path", [
    (batch_job({"containers": [container("training", resources={"requests": {"cpu": "100"}})]}), "training",
     f"{BASE}.spec.template.spec.containers[0].resources.requests[cpu]"),
    (pytorchjob([container("pytorch")], [container("pytorch"), container("cache", resources={
        "limits": {"memory": "1Ti"}})], workers=2), "pytorch",
     f"{BASE}.spec.pytorchReplicaSpecs.Worker.template.spec.containers[1].resources.limits[memory]"),
    (trainjob({"resourcesPerNode": {"limits": {"cpu": "64000m"}}}), "node",
     f"{BASE}.spec.trainer.resourcesPerNode.limits[cpu]"),
])
def test_cpu_and_memory_caps_apply_to_every_pod(job, primary, path):
    result = admit_job(job, primary, CAPPED)
    assert (path, "resources.cap") in errors(result), errors(result)


def test_the_annotation_is_capped_at_the_annotation_once():
    result = admit_job(pytorchjob([container("pytorch")]), "pytorch", CAPPED,
                       **{"resources-per-worker": '{"cpu": 32, "memory": "16Gi"}'})
    assert [(p, c) for p, c in errors(result) if c == "resources.cap"] == [
        ("metadata.annotations[llm.katib.kubeflow.org/resources-per-worker].cpu", "resources.cap")]
    assert admit_job(pytorchjob([container("pytorch")]), "pytorch", CAPPED,
                     **{"resources-per-worker": '{"cpu": 16, "memory": "64Gi"}'}).allowed


@pytest.mark.parametrize("bad", [{"cpu": "lots"}, {"memory": 5}])
def test_a_bad_resource_cap_is_a_config_error(bad):
    from katib_llm.core.config import load_config

    _, problems = load_config({"maxResourcesPerWorker": bad})
    assert [e.path for e in problems] == [f"config.maxResourcesPerWorker.{next(iter(bad))}"]


def _parametrized_uri(values: list[str], uri: str = "hf://${trialParameters.source}") -> dict:
    exp = own_trial(example(), trainjob(initializer={"model": {"storageUri": uri}}), "node")
    exp["metadata"]["annotations"].pop("llm.katib.kubeflow.org/model")
    exp["spec"]["parameters"].append({"name": "source", "parameterType": "categorical",
                                      "feasibleSpace": {"list": values}})
    exp["spec"]["trialTemplate"]["trialParameters"].append({"name": "source", "reference": "source"})
    return exp


def test_every_value_of_a_parameter_in_an_initializer_uri_obeys_the_allow_lists():
    allowed = load_admin_config({"allowedModelSources": ["hf://google-bert/", "hf://yelp_review_full"]})
    ok = admitted(_parametrized_uri(["google-bert/bert-base-cased", "google-bert/bert-large-cased"]), allowed)
    assert not [e for e in ok.errors if e.path.endswith("storageUri")], errors(ok)
    bad = admitted(_parametrized_uri(["google-bert/bert-base-cased", "evil-org/model"]), allowed)
    assert (f"{BASE}.spec.initializer.model.storageUri", "uri.not-allowed") in errors(bad)
    unbounded = admitted(_parametrized_uri(["a/b"], "hf://${trialParameters.source}/${trialParameters.lr}"), allowed)
    assert (f"{BASE}.spec.initializer.model.storageUri", "uri.form") in errors(unbounded)


# --- hostile shapes: a denial or an admission, never a crash ------------------------------------

_LEAF = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(allow_nan=True),
                  st.text(max_size=12), st.sampled_from(["100000", "1e30", "\u0663", "auto", "${trialParameters.lr}"]))
_ANY = st.recursive(_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                   st.dictionaries(st.text(max_size=8), inner, max_size=3)),
                    max_leaves=12)
_KEYS = ["replicas", "template", "spec", "containers", "initContainers", "resources", "limits", "requests", GPU,
         "cpu", "memory", "securityContext", "privileged", "capabilities", "add", "ports", "hostPort", "volumes",
         "hostPath", "hostNetwork", "windowsOptions", "hostProcess", "restartPolicy", "nprocPerNode",
         "elasticPolicy", "maxReplicas", "trainer", "numNodes", "resourcesPerNode", "numProcPerNode",
         "runtimePatches", "trainingRuntimeSpec", "replicatedJobs", "initializer", "model", "storageUri", "env"]
_SHAPED = st.recursive(_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                      st.dictionaries(st.sampled_from(_KEYS), inner, max_size=4)),
                       max_leaves=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(["PyTorchJob", "Job", "MPIJob", "TrainJob"]), spec=_SHAPED, extra=_ANY)
def test_any_shape_of_a_users_job_gets_a_verdict_never_a_crash(kind, spec, extra):
    version = {"Job": "batch/v1", "TrainJob": "trainer.kubeflow.org/v1alpha1"}.get(kind, "kubeflow.org/v1")
    job = {"apiVersion": version, "kind": kind, "spec": spec if isinstance(spec, dict) else {"x": spec},
           "metadata": {"labels": {"x": "y"}}}
    for values in (None, {**DENY, "maxResourcesPerWorker": {"cpu": "4", "memory": "1Gi"}}):
        result = admitted(own_trial(example(), job, "node" if kind == "TrainJob" else "pytorch"),
                          load_admin_config(values) if values else None)
        assert result.allowed is not bool(result.errors)


@pytest.mark.parametrize("parameter, allowed", [
    ({"parameterType": "int", "feasibleSpace": {"min": "1", "max": "100000"}}, False),
    ({"parameterType": "categorical", "feasibleSpace": {"list": ["1", "2", "9"]}}, False),
    ({"parameterType": "discrete", "feasibleSpace": {"list": ["1", "2", "4"]}}, True),
    ({"parameterType": "int", "feasibleSpace": {"min": "1", "max": "8"}}, True),
])
def test_a_trial_parameter_in_a_gpu_quantity_counts_as_its_largest_value(parameter, allowed):
    exp = own_trial(example(), batch_job({"containers": [container("training", gpus="${trialParameters.gpus}")]}),
                    "training")
    exp["spec"]["parameters"].append({"name": "gpus", **parameter})
    exp["spec"]["trialTemplate"]["trialParameters"].append({"name": "gpus", "reference": "gpus"})
    result = admitted(exp)
    path = f"{BASE}.spec.template.spec.containers[0].resources.limits[{GPU}]"
    assert ((path, "gpu.cap") not in errors(result)) is allowed, errors(result)


def test_a_quantity_with_an_unbounded_placeholder_is_denied():
    job = batch_job({"containers": [container("training", gpus="${trialParameters.missing}")]})
    result = admitted(own_trial(example(), job, "training"))
    assert (f"{BASE}.spec.template.spec.containers[0].resources.limits[{GPU}]", "gpu.cap") in errors(result)
