"""Each conformance check fails on a hand-made object that breaks its upstream rule, with
upstream's own error message: a check that cannot fail proves nothing."""

from __future__ import annotations

import copy

import pytest

from katib_llm.core.metrics import METRICS_FILTER

from . import katib_collector as collector
from . import subjects
from .katib_experiment import defaulter_changes, experiment_errors
from .podsecurity import restricted_errors
from .pytorchjob import pytorchjob_errors
from .trainer import merged_runtime, runtime_errors, strategic_merge, trainjob_errors


# --- Kubeflow Trainer v2.3.0 ---------------------------------------------------------------

def _runtime():
    return copy.deepcopy(subjects.runtimes()[0][1])


def _trainjob(**patch_pod):
    """A TrainJob on the chart's runtime with a dataset, patched like katib-llm patches it."""
    pod = {"volumes": [{"name": "initializer", "persistentVolumeClaim": {"claimName": "c"}}],
           "containers": [{"name": "dataset-initializer", "volumeMounts": [{"name": "initializer", "mountPath": "/workspace"}]}]}
    pod.update(patch_pod)
    return {"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob", "metadata": {"name": "t"},
            "spec": {"runtimeRef": {"name": _runtime()["metadata"]["name"]},
                     "initializer": {"dataset": {"storageUri": "hf://x"}},
                     "runtimePatches": [{"manager": "llm.katib.kubeflow.org/katib-llm", "trainingRuntimeSpec": {"template": {"spec": {
                         "replicatedJobs": [{"name": "dataset-initializer", "template": {"spec": {"template": {"spec": pod}}}}]}}}}]}}


def test_a_trainjob_patched_like_ours_passes():
    assert trainjob_errors(_trainjob(), _runtime()) == []


def test_initializer_mount_under_another_name_is_denied():
    """The mount katib-llm used before (katib-llm-storage) is what kubeflow/trainer#3714 rejects."""
    job = _trainjob(volumes=[{"name": "katib-llm-storage", "persistentVolumeClaim": {"claimName": "c"}}],
                    containers=[{"name": "dataset-initializer", "volumeMounts": [{"name": "katib-llm-storage", "mountPath": "/workspace"}]}])
    assert trainjob_errors(job, _runtime()) == [
        "spec.runtimeRef: Invalid value: must have volumeMount with name - initializer in container "
        "dataset-initializer of the dataset-initializer job"]


def test_initializer_on_a_runtime_without_its_step_is_denied():
    runtime = _runtime()
    steps = runtime["spec"]["template"]["spec"]["replicatedJobs"]
    steps[:] = [r for r in steps if r["name"] != "model-initializer"]
    job = _trainjob()
    job["spec"]["initializer"]["model"] = {"storageUri": "hf://m"}
    assert trainjob_errors(job, runtime) == [
        "spec.runtimeRef: Invalid value: must have model-initializer job when trainJob is configured with input modelConfig"]
    steps[0]["template"]["spec"]["template"]["spec"]["containers"][0]["name"] = "fetch"
    del job["spec"]["runtimePatches"], job["spec"]["initializer"]["model"]
    assert trainjob_errors(job, runtime) == [
        "spec.runtimeRef: Invalid value: must have container with name - dataset-initializer in the dataset-initializer job"]


def test_patch_naming_a_missing_job_or_container_is_denied():
    mounted = {"name": "dataset-initializer", "volumeMounts": [{"name": "initializer", "mountPath": "/workspace"}]}
    job = _trainjob(containers=[mounted, {"name": "sidecar"}])
    assert trainjob_errors(job, _runtime()) == [
        "spec.runtimePatches: Invalid value: must not have container that doesn't exist in the runtime job dataset-initializer"]
    job["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"].append(
        {"name": "launcher", "template": {"spec": {"template": {"spec": {"containers": [{"name": "launcher"}]}}}}})
    assert ("spec.runtimePatches: Invalid value: must not have replicated job that doesn't exist in the runtime job "
            "template") in trainjob_errors(job, _runtime())


def test_env_in_an_initializer_or_node_patch_is_denied():
    job = _trainjob(containers=[{"name": "dataset-initializer", "env": [{"name": "A", "value": "1"}],
                                 "volumeMounts": [{"name": "initializer", "mountPath": "/workspace"}]}])
    assert trainjob_errors(job, _runtime()) == [
        "spec.runtimePatches: Invalid value: must not have envs for the dataset-initializer, model-initializer, node containers"]


@pytest.mark.parametrize("manager", ["katib-llm", "Katib.IO/x", "llm.katib.kubeflow.org/"])
def test_a_manager_that_is_not_a_domain_prefixed_path_is_denied(manager):
    job = _trainjob()
    job["spec"]["runtimePatches"][0]["manager"] = manager
    (error,) = trainjob_errors(job, _runtime())
    assert error.startswith("spec.runtimePatches.manager: Invalid value")


def test_runtime_patches_are_immutable_while_the_trainjob_runs():
    old, new = _trainjob(), _trainjob(nodeSelector={"pool": "a100"})
    assert trainjob_errors(new, _runtime(), old=old) == [
        "spec.runtimePatches: Forbidden: RuntimePatches can only be modified when the TrainJob is suspended before or after the update"]
    new["spec"]["suspend"] = True
    assert trainjob_errors(new, _runtime(), old=old) == []
    assert trainjob_errors(new, _runtime(), old=old, active_replicated_jobs=("node",)) == [
        "spec.runtimePatches: Forbidden: RuntimePatches cannot be modified when the JobSet's ReplicatedJob node is still active"]


def test_runtime_patches_merge_like_a_strategic_merge_patch():
    """Lists with a merge key merge item by item (containers by name, mounts by mountPath), other
    lists are replaced, null deletes; replicated jobs keep the runtime's order."""
    base = {"containers": [{"name": "a", "image": "i", "volumeMounts": [{"name": "x", "mountPath": "/p"}]}],
            "tolerations": [{"key": "k"}], "nodeName": "n"}
    patch = {"containers": [{"name": "a", "volumeMounts": [{"name": "y", "mountPath": "/p"}, {"name": "z", "mountPath": "/q"}]},
                            {"name": "b"}], "tolerations": [{"key": "t"}], "nodeName": None}
    assert strategic_merge(base, patch) == {
        "containers": [{"name": "a", "image": "i", "volumeMounts": [{"name": "y", "mountPath": "/p"}, {"name": "z", "mountPath": "/q"}]},
                       {"name": "b"}], "tolerations": [{"key": "t"}]}
    job = _trainjob()
    entry = job["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]
    entry.insert(0, {"name": "node", "template": {"spec": {"template": {"spec": {"nodeSelector": {"pool": "a"}}}}}})
    merged = merged_runtime(_runtime(), job)
    assert [r["name"] for r in merged["replicatedJobs"]] == ["dataset-initializer", "model-initializer", "node"]
    assert merged["replicatedJobs"][2]["template"]["spec"]["template"]["spec"]["nodeSelector"] == {"pool": "a"}


def test_runtime_webhook_denies_a_step_without_its_container_or_with_replicas():
    runtime = _runtime()
    node = runtime["spec"]["template"]["spec"]["replicatedJobs"][2]
    node["replicas"] = 2
    node["template"]["spec"]["template"]["spec"]["containers"][0]["name"] = "trainer"
    assert runtime_errors(runtime) == [
        "spec.template.spec.replicatedJobs[2].replicas: Invalid value: 2: always must be 1",
        "spec.template.spec.replicatedJobs[2].template.spec.template.spec.containers: Invalid value: "
        "must contain the required container for the ancestor: trainer"]


# --- Pod Security "restricted" -------------------------------------------------------------

def test_pod_security_restricted_names_each_missing_setting():
    """The chart runtime's containers before this check: allowPrivilegeEscalation and drop ALL only."""
    pod = {"volumes": [{"name": "initializer", "persistentVolumeClaim": {"claimName": "c"}}],
           "containers": [{"name": "node", "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
                           "volumeMounts": [{"name": "initializer", "mountPath": "/workspace"}]}]}
    assert restricted_errors(pod, "initializer") == [
        "runAsNonRoot != true (pod or container 'node' must set securityContext.runAsNonRoot=true)",
        "seccompProfile (pod or container 'node' must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")",
        "the pod mounts 'initializer' without securityContext.fsGroup: the non-root user cannot write it"]
    pod["hostNetwork"] = True
    pod["volumes"].append({"name": "h", "hostPath": {"path": "/"}})
    assert restricted_errors(pod)[:2] == ["hostNetwork=true", "restricted volume types (volume 'h' uses ['hostPath'])"]


# --- training-operator v1.9 PyTorchJob ------------------------------------------------------

def _pytorchjob():
    container = {"name": "pytorch", "image": "img"}
    return {"apiVersion": "kubeflow.org/v1", "kind": "PyTorchJob", "metadata": {"name": "exp-x7k2m9qb"},
            "spec": {"pytorchReplicaSpecs": {"Master": {"template": {"spec": {"containers": [dict(container)]}}},
                                             "Worker": {"replicas": 2, "template": {"spec": {"containers": [dict(container)]}}}}}}


def test_pytorchjob_webhook_passes_a_valid_job_and_denies_each_violation():
    assert pytorchjob_errors(_pytorchjob()) == []
    job = _pytorchjob()
    job["metadata"]["name"] = "1-exp"
    job["spec"]["pytorchReplicaSpecs"]["Master"]["replicas"] = 2
    job["spec"]["pytorchReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0].update(name="trainer", image="")
    job["spec"]["pytorchReplicaSpecs"]["Launcher"] = {"template": {"spec": {"containers": [{"name": "pytorch", "image": "i"}]}}}
    job["spec"]["elasticPolicy"] = {"nProcPerNode": 2}
    job["spec"]["nprocPerNode"] = "2"
    errors = pytorchjob_errors(job)
    assert errors[0].startswith("metadata.name: Invalid value: '1-exp': should match: a DNS-1035 label")
    assert errors[1:] == [
        "spec.elasticPolicy.nProcPerNode: Forbidden: must not be used with spec.nprocPerNode",
        "spec.pytorchReplicaSpecs[Master].replicas: Forbidden: must be 1",
        "spec.pytorchReplicaSpecs[Worker].template.spec.containers[0].image: Required value: must be required",
        "spec.pytorchReplicaSpecs[Worker].template.spec.containers: Required value: must have at least one container with name pytorch",
        'spec.pytorchReplicaSpecs[Launcher]: Unsupported value: "Launcher": supported values: "Master", "Worker"']


# --- Katib v0.19 experiment webhook ---------------------------------------------------------

def test_katib_denies_an_experiment_breaking_its_validator():
    label, exp = subjects.experiments()[0]
    exp = copy.deepcopy(exp)
    exp["spec"]["parallelTrialCount"] = exp["spec"]["maxTrialCount"] + 1
    assert "spec.parallelTrialCount: should be less than or equal to spec.maxTrialCount" in experiment_errors(exp)
    old = copy.deepcopy(exp)
    old["status"] = {"trials": 5}
    new = copy.deepcopy(exp)
    new["spec"]["maxTrialCount"], new["spec"]["parallelTrialCount"] = 5, 1
    old["spec"]["parallelTrialCount"] = 1
    # validator.go: "maxTrialCount must be greater than status.trials count" on update.
    assert "spec.maxTrialCount: must be greater than status.trials count" in experiment_errors(new, old)


def test_katibs_defaulter_fills_what_an_incomplete_experiment_leaves_out():
    exp = copy.deepcopy(subjects.experiments()[0][1])
    del exp["spec"]["parallelTrialCount"], exp["spec"]["objective"]["metricStrategies"]
    assert defaulter_changes(exp) == ["objective", "parallelTrialCount"]


# --- Katib v0.19 file-metricscollector ------------------------------------------------------

OBJ = ["eval_accuracy", "eval_loss"]


def test_collector_dies_on_a_value_its_filter_matches_empty():
    """main.go watchMetricsFile: `klog.Fatalf("Unable to parse value %v to float for metric %v")`
    on `eval_loss=nan` (the filter's number group matches nothing), the line the trainer printed
    for a non-finite value before this check."""
    rules = [collector.StopRule("eval_loss", "0.1", "less")]
    lines = ["2026-01-01T00:00:00Z katib-llm-metric eval_loss=unavailable"]
    run = collector.run_collector(lines, OBJ, "maximize", [METRICS_FILTER], rules)
    assert run.fatal == "Unable to parse value '' to float for metric eval_loss" and run.reports == []
    # Without stop rules nothing parses values during the run: the empty value goes to the DB at the end.
    assert collector.run_collector(lines, OBJ, "maximize", [METRICS_FILTER]).reports == [[("eval_accuracy", "unavailable")]]


def test_collector_stops_on_the_objectives_best_value_after_start_step_and_reports_then():
    lines = [f"katib-llm-metric eval_accuracy={v}" for v in (0.3, 0.6, 0.2, 0.1)]
    rule = collector.StopRule("eval_accuracy", "0.5", "less", start_step=3)
    run = collector.run_collector(lines, OBJ, "maximize", [METRICS_FILTER], [rule])
    # The third value is compared as the best so far (0.6): never below 0.5, no stop, one report at the end.
    assert run.early_stopped_after is None and len(run.reports) == 1
    run = collector.run_collector(lines, OBJ, "minimize", [METRICS_FILTER],
                                  [collector.StopRule("eval_accuracy", "0.25", "greater", start_step=2)])
    # minimize: best after 2 values is 0.3 > 0.25: stopped after line 2, reported what it had read then.
    assert run.early_stopped_after == 2 and run.reports == [[("eval_accuracy", "0.3"), ("eval_accuracy", "0.6")]]


def test_collector_refuses_a_main_process_with_more_than_one_child():
    lines = ["katib-llm-metric eval_accuracy=0.1"]
    run = collector.run_collector(lines, OBJ, "maximize", [METRICS_FILTER], [collector.StopRule("eval_accuracy", "0.5", "less")],
                                  children_of_main=2)
    assert run.fatal == "Multiple children processes are not supported." and run.reports == []
    assert collector.wrap_errors(["sh", "-c", "python train.py | tee log"]) == [
        "the shell script runs '|' at its top level: more than one child of the main process at once"]
    assert collector.wrap_errors(["sh", "-c", "x=$(a | b); python train.py"]) == []


def test_without_the_completion_marker_the_first_entry_process_is_taken_as_main():
    """pns.go GetMainProcesses: "By default mainPid is the first process"; an unwrapped primary
    container loses to a sidecar that started first, and the collector would stop the sidecar."""
    table = [(1, 0, "/pause"), (7, 0, "collector"), (8, 0, "sleep 365d"), (9, 0, "python -m trainer")]
    assert collector.main_process(table, own_pid=7) == 8
    assert collector.main_process([(1, 0, "/pause"), (7, 0, "collector")], own_pid=7) is None


def test_wrapper_joins_arguments_unquoted():
    """utils.go wrapWorkerContainer: `strings.Join(args, " ")` into `sh -c`."""
    assert collector.wrapped_command(["python", "-m", "t"]) == [
        "sh", "-c", "python -m t 1>/var/log/katib/metrics.log 2>&1 && echo completed > /var/log/katib/$$$$.pid"]
    (error,) = collector.wrap_errors(["python", "train.py", '--args={"lr": 1}'])
    assert "is not one plain shell word" in error
