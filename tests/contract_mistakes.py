"""ONE table of mistakes a careless user (or an attacker) makes, for every door into the core.

Each row says how to make the mistake as YAML (a change to examples/bert-lora-experiment.yaml)
and, where the SDK can express it, as ``KatibClient().tune()`` arguments; and which field the
core's denial must name (path and code) on every door: the core's admit/validate, the CLI, the
webhook over TLS, and the SDK (which names ``argument``). ``secret`` is a value no denial may echo.
Used by tests/core, tests/sdk and tests/webhook.
"""

from __future__ import annotations

import base64
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from tests.builders import container, own_trial, pytorchjob, trainjob

EXAMPLE = yaml.safe_load((Path(__file__).resolve().parent.parent / "examples" / "bert-lora-experiment.yaml").read_text())
A = "llm.katib.kubeflow.org/"
MOUNT = "/workspace"  # the chart's default storage.mountPath (core/config.py DEFAULTS)

# Fake credentials shaped like the real ones.
HF_TOKEN = "hf_" + "Q7wErTyUiOpAsDfGhJkLzXcVbNm1234567"
AWS_KEY_ID = "AKIA" + "Z7Q2X9W4V6T8R1S3"
AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"  # 40 characters
PASSWORD = "s3cr3t-Pa55w0rd-42"
GITHUB_TOKEN = "ghp_" + "Q7wErTyUiOpAsDfGhJkLzXcVbNm123456789"  # ghp_ + 36


def ann(name: str) -> str:
    return f"metadata.annotations[{A}{name}]"


def leaky_objective(params):  # a Python objective whose source carries a token (shipped as the function annotation)
    token = "hf_Q7wErTyUiOpAsDfGhJkLzXcVbNm1234567"
    return {"score": float(len(token)) * float(params["learning_rate"])}


def function_annotation(fn: Callable[..., Any]) -> str:
    """The ``function`` annotation a user could write by hand: base64 of {"name", "source"}."""
    import inspect
    import textwrap

    source = textwrap.dedent(inspect.getsource(fn))
    return base64.b64encode(json.dumps({"name": fn.__name__, "source": source}, sort_keys=True).encode()).decode()


def _set(**annotations: Any) -> Callable[[dict], None]:
    def change(exp: dict) -> None:
        for name, value in annotations.items():
            if value is None:
                exp["metadata"]["annotations"].pop(A + name.replace("_", "-"), None)
            else:
                exp["metadata"]["annotations"][A + name.replace("_", "-")] = value
    return change


def _merge(name: str, **values: Any) -> Callable[[dict], None]:
    def change(exp: dict) -> None:
        current = json.loads(exp["metadata"]["annotations"].get(A + name, "{}"))
        exp["metadata"]["annotations"][A + name] = json.dumps({**current, **values})
    return change


def _spec(path: tuple, value: Any) -> Callable[[dict], None]:
    def change(exp: dict) -> None:
        node = exp["spec"]
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return change


def _function(**extra: str) -> Callable[[dict], None]:
    def change(exp: dict) -> None:
        annotations = exp["metadata"]["annotations"]
        for name in ("model", "model-class", "dataset", "training-args", "lora-config"):
            annotations.pop(A + name, None)
        annotations[A + "function"] = function_annotation(_plain_objective)
        annotations.update({A + k.replace("_", "-"): v for k, v in extra.items()})
    return change


def _plain_objective(params):
    return {"score": float(params["learning_rate"])}


def _own_job(container_extra: dict | None = None, pod_extra: dict | None = None) -> Callable[[dict], None]:
    """The user's own batch Job trial spec (one container named training)."""
    def change(exp: dict) -> None:
        container = {"name": "training", "image": "python:3.12", "command": ["python", "train.py"],
                     **(container_extra or {})}
        exp["spec"]["trialTemplate"] = {
            "primaryContainerName": "training",
            "trialParameters": [{"name": "lr", "reference": "learning_rate"}],
            "trialSpec": {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {"spec": {
                "containers": [container], "restartPolicy": "Never", **(pod_extra or {})}}}}}
    return change


def _own_shape(job: dict, primary: str, drop: tuple[str, ...] = ()) -> Callable[[dict], None]:
    """The user's own trial ``job``, keeping its own replicas, processes and resources."""
    def change(exp: dict) -> None:
        exp.update(own_trial(exp, job, primary))
        for name in drop:
            exp["metadata"]["annotations"].pop(A + name)
    return change


def _label(value: str) -> Callable[[dict], None]:
    def change(exp: dict) -> None:
        exp["metadata"]["labels"][A + "tune"] = value
    return change


def _generate_name(exp: dict) -> None:
    exp["metadata"]["generateName"] = exp["metadata"].pop("name") + "-"


@dataclass(frozen=True)
class Mistake:
    id: str
    path: str
    code: str
    yaml: Callable[[dict], None]
    argument: str | None = None          # the tune() argument the SDK names; None: the SDK cannot say it
    sdk: dict[str, Any] = field(default_factory=dict)  # tune() arguments, or model/dataset/training/lora parts
    secret: str | None = None

    def experiment(self) -> dict:
        exp = copy.deepcopy(EXAMPLE)
        exp["metadata"]["name"] = self.id
        self.yaml(exp)
        return exp


MISTAKES: list[Mistake] = [
    # --- credentials -------------------------------------------------------------------------
    Mistake("env-github-token", ann("env") + ".GITHUB_TOKEN", "env.credential",
            _set(env=json.dumps({"GITHUB_TOKEN": "ghp_" + PASSWORD})), "env_per_trial['GITHUB_TOKEN']",
            {"env_per_trial": {"GITHUB_TOKEN": "ghp_" + PASSWORD}}, "ghp_" + PASSWORD),
    Mistake("env-aws-key-id", ann("env") + ".AWS_ACCESS_KEY_ID", "env.credential",
            _set(env=json.dumps({"AWS_ACCESS_KEY_ID": "x" + PASSWORD})), "env_per_trial['AWS_ACCESS_KEY_ID']",
            {"env_per_trial": {"AWS_ACCESS_KEY_ID": "x" + PASSWORD}}, "x" + PASSWORD),
    Mistake("env-hf-hub-token-lower", ann("env") + ".hugging-face-hub-token", "env.credential",
            _set(env=json.dumps({"hugging-face-hub-token": "y" + PASSWORD})),
            "env_per_trial['hugging-face-hub-token']", {"env_per_trial": {"hugging-face-hub-token": "y" + PASSWORD}},
            "y" + PASSWORD),
    Mistake("env-wandb-api-key", ann("env") + ".WANDB_API_KEY", "env.credential",
            _set(env=json.dumps({"WANDB_API_KEY": "z" + PASSWORD})), "env_per_trial['WANDB_API_KEY']",
            {"env_per_trial": {"WANDB_API_KEY": "z" + PASSWORD}}, "z" + PASSWORD),
    Mistake("env-reserved", ann("env") + ".KATIB_LLM_MODEL_DIR", "env.reserved",
            _set(env=json.dumps({"KATIB_LLM_MODEL_DIR": "/elsewhere"})), "env_per_trial['KATIB_LLM_MODEL_DIR']",
            {"env_per_trial": {"KATIB_LLM_MODEL_DIR": "/elsewhere"}}),
    Mistake("env-value-hf-token", ann("env"), "credential.value",
            _set(env=json.dumps({"MY_SETTING": HF_TOKEN})), "env_per_trial",
            {"env_per_trial": {"MY_SETTING": HF_TOKEN}}, HF_TOKEN),
    Mistake("training-hub-token", ann("training-args") + ".hub_token", "credential.key",
            _merge("training-args", hub_token="t" + PASSWORD), "trainer_parameters.training_parameters.hub_token",
            {"training": {"hub_token": "t" + PASSWORD}}, "t" + PASSWORD),
    Mistake("lora-token", ann("lora-config") + ".token", "credential.key",
            _merge("lora-config", token="u" + PASSWORD), "trainer_parameters.lora_config.token",
            {"lora": {"token": "u" + PASSWORD}}, "u" + PASSWORD),
    Mistake("dataset-use-auth-token", ann("dataset-config") + ".use_auth_token", "credential.key",
            _merge("dataset-config", use_auth_token="v" + PASSWORD), "dataset_config['use_auth_token']",
            {"dataset_config": {"use_auth_token": "v" + PASSWORD}}, "v" + PASSWORD),
    Mistake("training-value-aws-key", ann("training-args"), "credential.value",
            _merge("training-args", run_name=AWS_KEY_ID), "trainer_parameters.training_parameters",
            {"training": {"run_name": AWS_KEY_ID}}, AWS_KEY_ID),
    Mistake("training-value-aws-secret", ann("training-args"), "credential.value",
            _merge("training-args", run_name=f"aws_secret_access_key={AWS_SECRET}"),
            "trainer_parameters.training_parameters", {"training": {"run_name": f"aws_secret_access_key={AWS_SECRET}"}},
            AWS_SECRET),
    Mistake("model-uri-password", ann("model"), "credential.value",
            _set(model=f"hf://alice:{PASSWORD}@google-bert/bert-base-cased"), "model_provider_parameters",
            {"model": {"model_uri": f"hf://alice:{PASSWORD}@google-bert/bert-base-cased"}}, PASSWORD),
    Mistake("dataset-uri-password", ann("dataset"), "credential.value",
            _set(dataset=f"s3://bob:{PASSWORD}@my-bucket/data"), "dataset_provider_parameters",
            {"dataset": f"s3://bob:{PASSWORD}@my-bucket/data"}, PASSWORD),
    Mistake("pip-index-password", ann("pip-index-urls"), "credential.value",
            _function(packages_to_install='["numpy"]',
                      pip_index_urls=json.dumps([f"https://carol:{PASSWORD}@pypi.example.com/simple"])),
            "pip_index_urls", {"objective": _plain_objective, "packages_to_install": ["numpy"],
                               "pip_index_urls": [f"https://carol:{PASSWORD}@pypi.example.com/simple"]}, PASSWORD),
    Mistake("function-source-hf-token", ann("function"), "credential.value",
            _set(function=function_annotation(leaky_objective), model=None, dataset=None),
            "objective", {"objective": leaky_objective}, HF_TOKEN),
    Mistake("own-trialspec-env-literal", "spec.trialTemplate.trialSpec.spec.template.spec.containers[0].env[0].value",
            "env.credential", _own_job({"env": [{"name": "WANDB_API_KEY", "value": "w" + PASSWORD}]}),
            secret="w" + PASSWORD),
    Mistake("own-trialspec-env-shaped", "spec.trialTemplate.trialSpec.spec.template.spec.containers[0].env[0].value",
            "credential.value", _own_job({"env": [{"name": "OPTIONS", "value": f"--key {AWS_KEY_ID}"}]}),
            secret=AWS_KEY_ID),
    # --- credentials anywhere the trial receives text ----------------------------------------
    Mistake("own-trialspec-args-token", "spec.trialTemplate.trialSpec.spec.template.spec.containers[0].args[0]",
            "credential.value", _own_job({"args": [f"--hub-model-id=org/m --hub-token={HF_TOKEN}"]}), secret=HF_TOKEN),
    Mistake("own-trialspec-command-url-token",
            "spec.trialTemplate.trialSpec.spec.template.spec.containers[0].command[2]", "credential.value",
            _own_job({"command": ["sh", "-c", f"git clone https://{GITHUB_TOKEN}@github.com/org/repo && python t.py"]}),
            secret=GITHUB_TOKEN),
    Mistake("own-trialspec-reserved-env-value", "spec.trialTemplate.trialSpec.spec.template.spec.containers[0].env[0].value",
            "credential.value", _own_job({"env": [{"name": "KATIB_LLM_EXTRA", "value": f"x={AWS_KEY_ID}"}]}),
            secret=AWS_KEY_ID),
    Mistake("own-trialspec-sidecar-env", "spec.trialTemplate.trialSpec.spec.template.spec.containers[1].env[0].value",
            "credential.value", _own_job(pod_extra={"containers": [
                {"name": "training", "image": "python:3.12", "command": ["python", "train.py"]},
                {"name": "sidecar", "image": "busybox", "command": ["sleep", "1d"],
                 "env": [{"name": "PUSH_URL", "value": f"https://carol:{PASSWORD}@push.example.com"}]}]}),
            secret=PASSWORD),
    Mistake("own-trialspec-reserved-env-name", "spec.trialTemplate.trialSpec.spec.template.spec.containers[0].env[0].name",
            "env.reserved-in-template", _own_job({"env": [{"name": "KATIB_LLM_INIT_TARGET", "value": "/etc"}]})),
    Mistake("own-trialspec-reserved-env-sidecar",
            "spec.trialTemplate.trialSpec.spec.template.spec.initContainers[0].env[0].name", "env.reserved-in-template",
            _own_job(pod_extra={"initContainers": [{"name": "prep", "image": "busybox", "command": ["true"],
                                                    "env": [{"name": "KATIB_LLM_MODEL_DIR", "value": "/etc"}]}]})),
    Mistake("own-trialspec-reserved-env-prefix",
            "spec.trialTemplate.trialSpec.spec.template.spec.containers[0].envFrom[0].prefix", "env.reserved-in-template",
            _own_job({"envFrom": [{"prefix": "KATIB_LLM_", "configMapRef": {"name": "mine"}}]})),
    Mistake("parameter-categorical-token", "spec.parameters[1].feasibleSpace.list[1]", "credential.value",
            lambda exp: exp["spec"]["parameters"].insert(1, {"name": "run_name", "parameterType": "categorical",
                                                             "feasibleSpace": {"list": ["a", AWS_KEY_ID]}}),
            secret=AWS_KEY_ID),
    Mistake("trainjob-initializer-uri-password",
            "spec.trialTemplate.trialSpec.spec.initializer.model.storageUri", "credential.value",
            lambda exp: exp["spec"].update(trialTemplate={"trialSpec": {
                "apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob",
                "spec": {"runtimeRef": {"name": "torch-distributed"}, "initializer": {"model": {
                    "storageUri": f"hf://dave:{PASSWORD}@org/model"}}}}}), secret=PASSWORD),
    Mistake("training-value-escaped-token", ann("training-args"), "credential.value",
            _set(training_args='{"run_name": "\\u0068f_' + HF_TOKEN[3:] + '"}'), secret=HF_TOKEN[3:]),
    Mistake("dataset-config-value-token", ann("dataset-config"), "credential.value",
            _merge("dataset-config", text_column=f"text {GITHUB_TOKEN}"), secret=GITHUB_TOKEN),
    Mistake("packages-token-user", ann("packages-to-install"), "credential.value",
            _function(packages_to_install=json.dumps([f"pkg @ git+https://{GITHUB_TOKEN}@github.com/org/pkg"])),
            secret=GITHUB_TOKEN),
    Mistake("pip-index-token-user", ann("pip-index-urls"), "credential.value",
            _function(packages_to_install='["numpy"]',
                      pip_index_urls=json.dumps(["https://Zq7X2mKp9VwR4tLs8NyB3cDf@pypi.example.com/simple"])),
            secret="Zq7X2mKp9VwR4tLs8NyB3cDf"),
    # --- the admin's caps on the effective trial (the user's own job, not the annotations) -----
    Mistake("own-pytorchjob-million-workers", "spec.trialTemplate.trialSpec.spec.pytorchReplicaSpecs.Worker.replicas",
            "workers.cap", _own_shape(pytorchjob([container("pytorch")], [container("pytorch")], workers=1_000_000),
                                      "pytorch")),
    Mistake("own-sidecar-gpus", "spec.trialTemplate.trialSpec.spec.pytorchReplicaSpecs.Master.template.spec."
            "containers[1].resources.limits[nvidia.com/gpu]", "gpu.cap",
            _own_shape(pytorchjob([container("pytorch"), container("sidecar", gpus=100_000)]), "pytorch")),
    Mistake("own-pytorchjob-nproc", "spec.trialTemplate.trialSpec.spec.nprocPerNode", "procs.cap",
            _own_shape(pytorchjob([container("pytorch")], nprocPerNode="100000"), "pytorch")),
    Mistake("own-trainjob-nodes", "spec.trialTemplate.trialSpec.spec.trainer.numNodes", "workers.cap",
            _own_shape(trainjob({"numNodes": 100_000}), "node")),
    Mistake("own-trainjob-initializer-uri", "spec.trialTemplate.trialSpec.spec.initializer.dataset.storageUri",
            "uri.hf-repo", _own_shape(trainjob(initializer={"dataset": {"storageUri": "hf://org/../../etc"}}), "node",
                                      drop=("dataset",))),
    # --- what would fail inside every GPU trial ---------------------------------------------
    Mistake("training-unknown-key", ann("training-args") + ".learnig_rate", "fixed-field.unknown",
            _merge("training-args", learnig_rate=0.001), "trainer_parameters.training_parameters.learnig_rate",
            {"training": {"learnig_rate": 0.001}}),
    Mistake("training-enum", ann("training-args") + ".optim", "fixed-field.choice",
            _merge("training-args", optim="adamw"), "trainer_parameters.training_parameters.optim",
            {"training": {"optim": "adamw"}}),
    Mistake("training-bool", ann("training-args") + ".bf16", "fixed-field.type",
            _merge("training-args", bf16="maybe"), "trainer_parameters.training_parameters.bf16",
            {"training": {"bf16": "maybe"}}),
    Mistake("training-reserved", ann("training-args") + ".output_dir", "fixed-field.reserved",
            _merge("training-args", output_dir="/tmp/out")),
    Mistake("lora-enum", ann("lora-config") + ".bias", "fixed-field.choice",
            _merge("lora-config", bias="nonee"), "trainer_parameters.lora_config.bias", {"lora": {"bias": "nonee"}}),
    Mistake("lora-int", ann("lora-config") + ".lora_alpha", "fixed-field.type",
            _merge("lora-config", lora_alpha=8.5), "trainer_parameters.lora_config.lora_alpha",
            {"lora": {"lora_alpha": 8.5}}),
    Mistake("lora-unknown-key", ann("lora-config") + ".lora_alfa", "fixed-field.unknown",
            _merge("lora-config", lora_alfa=16), "trainer_parameters.lora_config.lora_alfa", {"lora": {"lora_alfa": 16}}),
    Mistake("objective-metric", "spec.objective.objectiveMetricName", "metric.unknown",
            _spec(("objective", "objectiveMetricName"), "eval_f1"), "objective_metric_name",
            {"objective_metric_name": "eval_f1"}),
    Mistake("additional-metric", "spec.objective.additionalMetricNames[0]", "metric.unknown",
            _spec(("objective", "additionalMetricNames"), ["accuracy"]), "additional_metric_names",
            {"additional_metric_names": ["accuracy"]}),
    Mistake("memory-no-unit", ann("resources-per-worker") + ".memory", "resources.memory-unit",
            _set(resources_per_worker='{"gpu": 2, "memory": "16"}'), "resources_per_worker.memory",
            {"resources_per_worker": {"gpu": 2, "memory": "16"}}),
    Mistake("gpu-arabic-digit", ann("resources-per-worker") + ".gpu", "resources.gpu",
            _set(resources_per_worker='{"gpu": "\u0662"}'), "resources_per_worker.gpu",
            {"resources_per_worker": {"gpu": "\u0662"}}),
    Mistake("workers-arabic-digit", ann("workers"), "annotation.int",
            _set(workers="\u0664"), "num_workers", {"num_workers": "\u0664"}),
    Mistake("training-nan", ann("training-args"), "annotation.json",
            _set(training_args='{"learning_rate": NaN}')),
    Mistake("training-absurd", ann("training-args") + ".max_steps", "number.invalid",
            _merge("training-args", max_steps=1e300), "trainer_parameters.training_parameters.max_steps",
            {"training": {"max_steps": 1e300}}),
    Mistake("space-inf", "spec.parameters[0].feasibleSpace.max", "number.invalid",
            _spec(("parameters", 0, "feasibleSpace", "max"), "inf"), "hp_space['learning_rate']",
            {"hp_space": {"learning_rate": {"parameterType": "double", "feasibleSpace": {"min": "1e-05", "max": "inf"}}}}),
    Mistake("space-arabic-digits", "spec.parameters[0].feasibleSpace.min", "number.invalid",
            _spec(("parameters", 0, "feasibleSpace", "min"), "\u0661e-05"), "hp_space['learning_rate']",
            {"hp_space": {"learning_rate": {"parameterType": "double",
                                            "feasibleSpace": {"min": "\u0661e-05", "max": "5e-05"}}}}),
    Mistake("space-nan", "spec.parameters[0].feasibleSpace.min", "number.invalid",
            _spec(("parameters", 0, "feasibleSpace", "min"), "nan"), "hp_space['learning_rate']",
            {"hp_space": {"learning_rate": {"parameterType": "double", "feasibleSpace": {"min": "nan", "max": "5e-05"}}}}),
    Mistake("goal-inf", "spec.objective.goal", "number.invalid", _spec(("objective", "goal"), float("inf")),
            "objective_goal", {"objective_goal": float("inf")}),
    Mistake("parameter-name", "spec.parameters[0].name", "parameter.unknown",
            _spec(("parameters", 0, "name"), "learnin_rate"), "hp_space['learnin_rate']",
            {"hp_space": {"learnin_rate": {"parameterType": "double", "feasibleSpace": {"min": "1e-05", "max": "5e-05"}}}}),
    Mistake("label-not-true", f"metadata.labels[{A}tune]", "label.value", _label("True")),
    Mistake("label-empty", f"metadata.labels[{A}tune]", "label.value", _label("")),
    Mistake("collision-volume", "spec.trialTemplate.trialSpec.spec.template.spec.volumes[0].name", "collision.volume",
            _own_job(pod_extra={"volumes": [{"name": "katib-llm-storage", "emptyDir": {}}]})),
    Mistake("collision-init-container", "spec.trialTemplate.trialSpec.spec.template.spec.initContainers[0].name",
            "collision.init-container", _own_job(pod_extra={"initContainers": [
                {"name": "storage-initializer-model", "image": "busybox", "command": ["true"]}]})),
    Mistake("collision-mount-path", "spec.trialTemplate.trialSpec.spec.template.spec.containers[0].volumeMounts[0]",
            "collision.mount-path", _own_job({"volumeMounts": [{"name": "scratch", "mountPath": MOUNT}]},
                                             {"volumes": [{"name": "scratch", "emptyDir": {}}]})),
    Mistake("generate-name", "metadata.name", "experiment.generate-name", _generate_name),
]
SDK_MISTAKES = [m for m in MISTAKES if m.argument is not None]
SECRET_MISTAKES = [m for m in MISTAKES if m.secret is not None]


def errors_of(result: Any) -> list[tuple[str, str]]:
    return [(e.path, e.code) for e in result.errors]
