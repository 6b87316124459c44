"""One contract every trial job kind passes (one shared contract test): batch Job, PyTorchJob, MPIJob.

Admitted, schema-valid, init containers in every pod that reads data, env intact on every
training container, Katib conditions and primary pod labels right, idempotent.
"""

from __future__ import annotations

import json

import pytest

from katib_llm.core.admit import admit
from katib_llm.core.inject import INIT_PREFIX, VOLUME_NAME
from katib_llm.core.jobkinds import JOB_KINDS

from tests.advanced.jobkind_checks import kubeflow_job_errors
from tests.conformance.schemas import admitted_errors, substitute

ANN = "llm.katib.kubeflow.org/"


# template, workers, procs, pods that read data (replica types; None = the Job's only pod), primary role
KINDS = [
    ("hf-lora-job", 1, 1, [None], None),
    ("hf-lora-pytorchjob", 3, 2, ["Master", "Worker"], "Master"),
    ("hf-lora-mpijob", 3, 2, ["Worker"], "Launcher"),
]
IDS = [k[0] for k in KINDS]


def _experiment(experiment, template, workers, procs):
    ann = experiment["metadata"]["annotations"]
    ann[ANN + "trial-template"] = template
    ann[ANN + "workers"] = str(workers)
    ann[ANN + "procs-per-worker"] = str(procs)
    ann[ANN + "resources-per-worker"] = '{"gpu": %d, "cpu": 4, "memory": "16Gi"}' % procs
    return experiment


@pytest.fixture(params=KINDS, ids=IDS)
def admitted(request, experiment, admin_config):
    template, workers, procs, readers, primary = request.param
    exp = _experiment(experiment, template, workers, procs)
    result = admit(exp, admin_config)
    assert result.allowed, result.errors
    return request.param, result.experiment, admin_config


def _pods(job):
    kind = JOB_KINDS[job["kind"]]
    return {kind.role_of(path): tmpl for path, tmpl in kind.pod_templates(job)}


def test_admitted_experiment_and_trial_job_are_schema_valid(admitted):
    _, exp, _ = admitted
    assert admitted_errors(exp) == []  # Katib schema + rules; PyTorchJob CRD / batch Job OpenAPI
    job = substitute(exp)
    if job["kind"] in ("MPIJob", "JAXJob"):
        assert kubeflow_job_errors(job) == []


def test_katib_conditions_primary_pod_labels_and_container(admitted):
    (_, _, _, _, primary), exp, _ = admitted
    tt = exp["spec"]["trialTemplate"]
    kind = JOB_KINDS[tt["trialSpec"]["kind"]]
    assert tt["successCondition"] == kind.success_condition and tt["failureCondition"] == kind.failure_condition
    expected_labels = {"Master": {"training.kubeflow.org/job-role": "master"},
                       "Launcher": {"mpi-job-role": "launcher"}}.get(primary)
    assert tt.get("primaryPodLabels") == expected_labels
    primary_pod = _pods(tt["trialSpec"])[primary]
    assert tt["primaryContainerName"] in [c["name"] for c in primary_pod["spec"]["containers"]]


def test_init_containers_and_volume_in_every_pod_that_reads_data(admitted):
    (_, _, _, readers, _), exp, config = admitted
    pods = _pods(exp["spec"]["trialTemplate"]["trialSpec"])
    for role, pod in pods.items():
        inits = [c["name"] for c in pod["spec"].get("initContainers", [])]
        if role in readers:
            assert inits == [INIT_PREFIX + "model", INIT_PREFIX + "dataset"], role
            claim = [v for v in pod["spec"]["volumes"] if v["name"] == VOLUME_NAME]
            assert claim and claim[0]["persistentVolumeClaim"]["claimName"] == "llm-hp-optimization-test-llm-cache"
            for c in pod["spec"]["containers"]:
                assert {"name": VOLUME_NAME, "mountPath": config.mount_path} in c["volumeMounts"]
        else:
            assert inits == [], f"{role} reads no data and must not download it"


def test_env_reaches_every_training_container_intact(admitted):
    (_, _, _, readers, _), exp, _ = admitted
    tt = exp["spec"]["trialTemplate"]
    values = {"learning_rate": "3e-05", "per_device_train_batch_size": "16", "lora_config.r": "8"}
    job = substitute(exp, values)
    for role, pod in _pods(job).items():
        if role not in readers:
            continue
        [c] = [c for c in pod["spec"]["containers"] if c["name"] == tt["primaryContainerName"]]
        env = {e["name"]: e.get("value") for e in c["env"]}
        hparams = json.loads(env["KATIB_LLM_HPARAMS"])
        assert {k: hparams[k] for k in values} == values
        assert env["KATIB_LLM_MODEL_CLASS"] == "AutoModelForSequenceClassification"
        assert env["KATIB_LLM_OUTPUT_DIR"] == "/workspace/experiments/llm-hp-optimization-test/trial-abc123"
        assert env["KATIB_LLM_MODEL_DIR"].startswith("/workspace/inputs/")


def test_workers_and_accelerators(admitted):
    (template, workers, procs, readers, primary), exp, config = admitted
    job = exp["spec"]["trialTemplate"]["trialSpec"]
    gpu = config.gpu_resource
    for role, pod in _pods(job).items():
        limits = pod["spec"]["containers"][0].get("resources", {}).get("limits", {})
        assert (limits.get(gpu) == str(procs)) == (role in readers), role
    if job["kind"] == "PyTorchJob":
        specs = job["spec"]["pytorchReplicaSpecs"]
        assert (specs["Master"]["replicas"], specs["Worker"]["replicas"]) == (1, workers - 1)
        assert job["spec"]["nprocPerNode"] == str(procs)
    if job["kind"] == "MPIJob":
        specs = job["spec"]["mpiReplicaSpecs"]
        assert (specs["Launcher"]["replicas"], specs["Worker"]["replicas"]) == (1, workers)
        assert job["spec"]["slotsPerWorker"] == procs


def test_admission_is_idempotent(admitted):
    _, exp, config = admitted
    again = admit(exp, config)
    assert again.allowed and again.patch == []


def test_katib_leaves_the_mpi_launcher_command_alone(experiment, admin_config):
    """Katib's StdOut collector re-runs the primary container as `sh -c` unless it already is one."""
    result = admit(_experiment(experiment, "hf-lora-mpijob", 2, 1), admin_config)
    job = result.experiment["spec"]["trialTemplate"]["trialSpec"]
    launcher = job["spec"]["mpiReplicaSpecs"]["Launcher"]["template"]["spec"]["containers"][0]
    assert launcher["command"] == ["bash", "-c"] and "katib_llm.runtime.trainer" in launcher["args"][0]
    assert not [w for w in result.warnings if "sh -c" in w]
    worker = job["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]
    assert worker["command"] == ["sleep", "365d"]  # mpirun execs the ranks into the idle workers


def test_a_job_cannot_take_more_than_one_worker(experiment, admin_config):
    result = admit(_experiment(experiment, "hf-lora-job", 2, 1), admin_config)
    assert [e.code for e in result.errors] == ["workers.kind"]


def test_the_emulated_mpijob_schema_catches_mistakes(experiment, admin_config):
    """The emulation is not vacuous: it rejects an unknown field, a wrong type and a bad pod."""
    job = substitute(admit(_experiment(experiment, "hf-lora-mpijob", 2, 1), admin_config).experiment)
    job["spec"]["slotPerWorker"] = 1
    job["spec"]["mpiReplicaSpecs"]["Worker"]["replicas"] = "2"
    job["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]["containers"][0]["env"] = {"A": "b"}
    errors = kubeflow_job_errors(job)
    assert any("slotPerWorker: unknown field" in e for e in errors)
    assert any("Worker.replicas: expected int" in e for e in errors)
    assert any("containers.0.env" in e for e in errors)


def test_a_users_own_jaxjob_is_scaled_and_schema_valid(experiment, admin_config):
    """JAXJob has one replica type: `workers` is its replica count (no master to subtract)."""
    experiment["spec"]["trialTemplate"] = {"primaryContainerName": "jax", "trialSpec": {
        "apiVersion": "kubeflow.org/v1", "kind": "JAXJob", "spec": {"jaxReplicaSpecs": {"Worker": {
            "replicas": 1, "restartPolicy": "OnFailure", "template": {"spec": {"containers": [{
                "name": "jax", "image": "example.com/jax-lora:1", "command": ["python", "-m", "katib_llm.runtime.trainer"]}]}}}}}}}
    exp = _experiment(experiment, "unused", 3, 1)
    del exp["metadata"]["annotations"][ANN + "trial-template"]
    result = admit(exp, admin_config)
    assert result.allowed, result.errors
    # training-operator labels JAX worker 0 job-role=master (JAXJobReconciler.IsMasterRole: index 0)
    assert result.experiment["spec"]["trialTemplate"]["primaryPodLabels"] == {"training.kubeflow.org/job-role": "master"}
    job = substitute(result.experiment)
    assert job["spec"]["jaxReplicaSpecs"]["Worker"]["replicas"] == 3
    assert kubeflow_job_errors(job) == []
    pod = job["spec"]["jaxReplicaSpecs"]["Worker"]["template"]["spec"]
    assert [c["name"] for c in pod["initContainers"]] == [INIT_PREFIX + "model", INIT_PREFIX + "dataset"]
    assert result.experiment["spec"]["trialTemplate"]["successCondition"] == JOB_KINDS["JAXJob"].success_condition
