"""Injectors: one per concern, each idempotent ("set", never "append twice").

Every injector works on the pod templates a :class:`JobKind` yields, so PyTorchJob, batch Job
and the other kinds share one mechanism. Injectors mutate the admitted copy in place; the
JSONPatch is derived afterwards from a diff (STYLE.md, item 3).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .config import TRAINER_MODULE, AdminConfig
from .contract import LLMSpec
from .errors import FieldError
from .jobkinds import JobKind, containers
from .metrics import METRICS_FILTER
from .params import HPARAMS_ENV
from .patch import clone

# GPUs per worker the trial asked for (resources-per-worker), so the trainer can refuse a silent CPU run.
GPUS_ENV = "KATIB_LLM_GPUS_PER_WORKER"

VOLUME_NAME = "katib-llm-storage"
INIT_PREFIX = "storage-initializer-"
METRICS_FILE = "/var/log/katib/metrics.log"
# Characters whose meaning changes when Katib joins argv with spaces under `sh -c`.
_SHELL_UNSAFE = re.compile(r"""[ \t\n"'`\\;&|<>()*?\[\]#~!]""")


@dataclass
class Context:
    """What the injectors share for one admission."""

    config: AdminConfig
    llm: LLMSpec
    kind: JobKind
    experiment_name: str
    ours: bool  # the template came from trial-templates/
    primary: str  # primary container name
    errors: list[FieldError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _primary_containers(ctx: Context, job: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for path, tmpl in ctx.kind.pod_templates(job):
        for i, c in enumerate(containers(tmpl)):
            if c.get("name") == ctx.primary:
                found.append((f"{path}.spec.containers[{i}]", c))
    return found


def _set_env(container: dict[str, Any], values: dict[str, str]) -> bool:
    """Set every variable of ``values`` (in name order), replacing an existing one in place
    (the last of duplicates: the one Kubernetes uses). False if ``env`` is not a list."""
    env = container.setdefault("env", [])
    if not isinstance(env, list):
        return False
    index = {item.get("name"): item for item in env if isinstance(item, dict)}
    for name in sorted(values):
        item = index.get(name)
        if item is None:
            env.append({"name": name, "value": values[name]})
        else:
            item.pop("valueFrom", None)
            item["value"] = values[name]
    return True


def _upsert(items: list[Any], entry: dict[str, Any], key: str = "name") -> None:
    for i, item in enumerate(items):
        if isinstance(item, dict) and item.get(key) == entry[key]:
            items[i] = entry
            return
    items.append(entry)


def runs_module(job: dict[str, Any], kind: JobKind, module: str) -> bool:
    """Whether any container of the job runs Python module ``module``."""
    for _, tmpl in kind.pod_templates(job):
        for c in containers(tmpl):
            argv = [str(x) for x in (c.get("command") or []) + (c.get("args") or [])]
            if any(module in a for a in argv):
                return True
    return False


def uses_trainer(job: dict[str, Any], kind: JobKind) -> bool:
    """Whether the trial runs our trainer (so parameters must map to trainer fields)."""
    return runs_module(job, kind, TRAINER_MODULE)


def input_dir(ctx: Context, kind: str) -> str | None:
    uri = ctx.llm.model if kind == "model" else ctx.llm.dataset
    return f"{ctx.config.mount_path}/inputs/{uri.key}" if uri else None


def output_dir(ctx: Context) -> str:
    base = ctx.config.mount_path
    if ctx.experiment_name:
        return f"{base}/experiments/{ctx.experiment_name}/${{trialSpec.Name}}"
    return f"{base}/trials/${{trialSpec.Name}}"


def claim_name(ctx: Context) -> str:
    """The PersistentVolumeClaim the trial pods mount (see :func:`volume_claim`)."""
    if ctx.llm.volume_claim:
        return ctx.llm.volume_claim
    return f"{ctx.experiment_name or 'katib-llm'}{ctx.config.storage['claimSuffix']}"


def inject_images(ctx: Context, job: dict[str, Any]) -> None:
    """Our templates run the admin's runtime image (or the function trial's base image)."""
    if not ctx.ours:
        return
    image = ctx.llm.base_image if ctx.llm.function and ctx.llm.base_image else ctx.config.runtime_image
    for _, tmpl in ctx.kind.pod_templates(job):
        for c in containers(tmpl):
            c["image"] = image
            c["imagePullPolicy"] = ctx.config.pull_policy


def inject_workers(ctx: Context, job: dict[str, Any]) -> None:
    """``workers`` → Master 1 + Worker n−1; ``procs-per-worker`` → torchrun nproc-per-node."""
    if not ctx.ours and not ctx.llm.given & {"workers", "procs-per-worker"}:
        return  # a user's own job keeps its own shape
    workers = ctx.llm.workers
    procs = ctx.llm.procs_per_worker
    if ctx.kind.replica_specs is None:
        if workers > 1:
            ctx.errors.append(FieldError("metadata.annotations[llm.katib.kubeflow.org/workers]",
                                         "workers.kind",
                                         f"a {ctx.kind.kind} runs one pod; use a distributed template "
                                         "(e.g. hf-lora-pytorchjob) for more than 1 worker"))
        return
    ctx.kind.set_workers(job, workers, procs)
    for _, c in _primary_containers(ctx, job):
        cmd = c.get("command") or []
        for i, token in enumerate(cmd):
            if isinstance(token, str) and token.startswith("--nproc-per-node="):
                cmd[i] = f"--nproc-per-node={procs}"


# The experiment trackers' credential variables (transformers' MLflow and W&B callbacks read
# them), taken from the tracking-secret Secret's keys of the same names when present.
TRACKING_SECRET_KEYS = ("MLFLOW_TRACKING_TOKEN", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD",
                        "WANDB_API_KEY")


def tracking_env(secret: str) -> list[dict[str, Any]]:
    """env entries reading each tracker credential from ``secret`` (optional: absent keys are skipped)."""
    return [{"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key, "optional": True}}}
            for key in TRACKING_SECRET_KEYS]


def inject_env(ctx: Context, job: dict[str, Any], hparams: dict[str, str]) -> None:
    """Hyperparameters and trainer settings as environment variables on every primary container."""
    llm = ctx.llm
    values: dict[str, str] = {HPARAMS_ENV: json.dumps(hparams, sort_keys=True)}
    model_dir, dataset_dir = input_dir(ctx, "model"), input_dir(ctx, "dataset")
    if model_dir:
        values["KATIB_LLM_MODEL_DIR"] = model_dir
    if dataset_dir:
        values["KATIB_LLM_DATASET_DIR"] = dataset_dir
        if llm.dataset and llm.dataset.query.get("split"):
            values["KATIB_LLM_DATASET_SPLIT"] = llm.dataset.query["split"]
        if llm.dataset and (llm.dataset.query.get("config") or llm.dataset.query.get("name")):
            values["KATIB_LLM_DATASET_NAME"] = llm.dataset.query.get("config") or llm.dataset.query["name"]
    if ctx.ours or llm.model:
        values["KATIB_LLM_MODEL_CLASS"] = llm.model_class
        values["KATIB_LLM_OUTPUT_DIR"] = output_dir(ctx)
        # Run name and tags of an experiment tracker (report_to): Katib substitutes the trial's name.
        values["KATIB_LLM_EXPERIMENT_NAME"] = ctx.experiment_name
        values["KATIB_LLM_TRIAL_NAME"] = "${trialSpec.Name}"
    if llm.training_args:
        values["KATIB_LLM_TRAINING_ARGS"] = json.dumps(llm.training_args, sort_keys=True)
    if llm.lora_config:
        values["KATIB_LLM_LORA_CONFIG"] = json.dumps(llm.lora_config, sort_keys=True)
    if llm.dataset_config:
        values["KATIB_LLM_DATASET_CONFIG"] = json.dumps(llm.dataset_config, sort_keys=True)
    if llm.function:
        values["KATIB_LLM_FUNCTION"] = llm.function
        values["KATIB_LLM_PACKAGES"] = json.dumps(llm.packages)
        values["KATIB_LLM_PIP_INDEX_URLS"] = json.dumps(llm.pip_index_urls)
    if ctx.config.values["metricsCollector"] == "File" and (ctx.ours or llm.model):
        values["KATIB_LLM_METRICS_FILE"] = METRICS_FILE
    values.update(llm.env)
    primaries = _primary_containers(ctx, job)
    if not primaries and ctx.kind.has_pod_templates:
        ctx.errors.append(FieldError("spec.trialTemplate.primaryContainerName", "template.primary",
                                     f"no container named {ctx.primary!r} in the trial's pod templates"))
    for path, c in primaries:
        if not _set_env(c, values):
            ctx.errors.append(FieldError(f"spec.trialTemplate.trialSpec.{path}.env", "template.type",
                                         "must be a list of {name, value} objects"))
        if llm.tracking_secret and isinstance(c.get("env"), list):
            for entry in tracking_env(llm.tracking_secret):
                _upsert(c["env"], entry)
    if not ctx.kind.has_pod_templates:
        # Kubeflow Trainer's TrainJob: env goes to spec.trainer.env.
        trainer = job.setdefault("spec", {}).setdefault("trainer", {})
        env = trainer.setdefault("env", [])
        for name in sorted(values):
            _upsert(env, {"name": name, "value": values[name]})
        for entry in tracking_env(llm.tracking_secret) if llm.tracking_secret else []:
            _upsert(env, entry)


def _init_container(ctx: Context, kind: str) -> dict[str, Any] | None:
    uri = ctx.llm.model if kind == "model" else ctx.llm.dataset
    if uri is None:
        return None
    provider = ctx.config.providers[uri.scheme]
    target = input_dir(ctx, kind) or ""
    subst = {"kind": kind, "uri": uri.raw, "target": target,
             "cache_dir": f"{ctx.config.mount_path}/cache", "mount_path": ctx.config.mount_path}
    args = []
    for a in provider.args:
        try:
            args.append(a.format(**subst))
        except (KeyError, IndexError, ValueError):
            ctx.errors.append(FieldError(f"config.providers.{uri.scheme}.args", "provider.args",
                                         f"bad placeholder in {a!r}; accepted: {{kind}}, {{uri}}, {{target}}, "
                                         "{cache_dir}, {mount_path}"))
            return None
    container: dict[str, Any] = {
        "name": INIT_PREFIX + kind,
        "image": provider.image,
        "imagePullPolicy": ctx.config.pull_policy,
        "command": list(provider.command),
        "args": args,
        "volumeMounts": [{"name": VOLUME_NAME, "mountPath": ctx.config.mount_path}],
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    if provider.secret:
        # Credentials only by Secret reference, never in the Experiment.
        container["envFrom"] = [{"secretRef": {"name": provider.secret}}]
    return container


def inject_storage(ctx: Context, job: dict[str, Any]) -> None:
    """Init containers that fetch model and dataset, the shared volume and its mounts."""
    needs_volume = bool(ctx.llm.model or ctx.llm.dataset or ctx.ours or ctx.llm.volume_claim)
    if not needs_volume:
        return
    inits = [c for c in (_init_container(ctx, "model"), _init_container(ctx, "dataset")) if c]
    mount = {"name": VOLUME_NAME, "mountPath": ctx.config.mount_path}
    for path, tmpl in ctx.kind.pod_templates(job):
        pod = tmpl.setdefault("spec", {})
        _upsert(pod.setdefault("volumes", []),
                {"name": VOLUME_NAME, "persistentVolumeClaim": {"claimName": claim_name(ctx)}})
        existing = pod.setdefault("initContainers", [])
        # A launcher (MPIJob) reads no data: it only starts the workers' processes.
        launcher = ctx.kind.launcher is not None and ctx.kind.role_of(path) == ctx.kind.launcher
        for init in [] if launcher else inits:
            _upsert(existing, clone(init))
        for c in containers(tmpl):
            _upsert(c.setdefault("volumeMounts", []), dict(mount))
    if not ctx.kind.has_pod_templates and inits:
        ctx.warnings.append(f"{ctx.kind.kind} has no pod templates: the model and dataset are not fetched by "
                            "katib-llm; use the Kubeflow Trainer runtime's initializers")


def inject_resources(ctx: Context, job: dict[str, Any]) -> None:
    """``resources-per-worker`` with the admin's GPU resource name, on every primary container."""
    res = ctx.llm.resources
    if res is None and ctx.ours:
        defaults = ctx.config.values["defaultResourcesPerWorker"] or {}
        from .contract import parse_resources
        res = parse_resources(defaults, "config.defaultResourcesPerWorker", ctx.errors)
    if res is None:
        return
    limits: dict[str, str] = {}
    if res.cpu:
        limits["cpu"] = res.cpu
    if res.memory:
        limits["memory"] = res.memory
    if res.gpu:
        limits[ctx.config.gpu_resource] = str(res.gpu)
        _check_gpu_processes(ctx, res.gpu)
    if not ctx.kind.has_pod_templates:
        trainer = job.setdefault("spec", {}).setdefault("trainer", {})
        trainer["resourcesPerNode"] = {"requests": dict(limits), "limits": dict(limits)}
        if res.gpu:
            _upsert(trainer.setdefault("env", []), {"name": GPUS_ENV, "value": str(res.gpu)})
        return
    for path, c in _primary_containers(ctx, job):
        if ctx.kind.launcher is not None and ctx.kind.role_of(path) == ctx.kind.launcher:
            continue  # the launcher only runs mpirun: no accelerator, the operator's defaults
        resources = c.setdefault("resources", {})
        resources.setdefault("requests", {}).update(limits)
        resources.setdefault("limits", {}).update(limits)
        if res.gpu:
            # The trainer fails at once when it sees no CUDA device although GPUs were requested.
            _set_env(c, {GPUS_ENV: str(res.gpu)})


def _check_gpu_processes(ctx: Context, gpus: int) -> None:
    """Warn when torchrun's processes per worker and the GPUs per worker disagree: each process
    drives one GPU, so GPUs sit idle (fewer processes) or processes share a GPU (more)."""
    procs = ctx.llm.procs_per_worker
    if procs == gpus or ctx.llm.function:
        return
    effect = (f"{gpus - procs} of the {gpus} GPUs per worker would sit idle" if procs < gpus
              else f"{procs} processes would share {gpus} GPU(s) per worker")
    ctx.warnings.append(f"resources-per-worker asks for {gpus} GPU(s) per worker but procs-per-worker is {procs}: "
                        f"{effect}; set llm.katib.kubeflow.org/procs-per-worker to {gpus}")


def inject_placement(ctx: Context, job: dict[str, Any]) -> None:
    """Admin nodeSelector and tolerations (GPU trials only unless configured otherwise)."""
    placement = ctx.config.values["placement"]
    gpu = ctx.llm.resources.gpu if ctx.llm.resources else 0
    if placement.get("onlyForGpu", True) and not gpu:
        return
    selector, tolerations = placement.get("nodeSelector") or {}, placement.get("tolerations") or []
    if not selector and not tolerations:
        return
    for _, tmpl in ctx.kind.pod_templates(job):
        pod = tmpl.setdefault("spec", {})
        if selector:
            ns = pod.setdefault("nodeSelector", {})
            for k, v in selector.items():
                ns.setdefault(k, v)  # the user's own choice wins
        if tolerations:
            existing = pod.setdefault("tolerations", [])
            for t in tolerations:
                if t not in existing:
                    existing.append(t)


def inject_metrics_collector(ctx: Context, exp: dict[str, Any], trainer: bool) -> None:
    """Our trainer prints ``katib-llm-metric name=value`` lines: collect exactly those."""
    if not trainer:
        return
    mc = exp["spec"].setdefault("metricsCollectorSpec", {})
    collector = mc.setdefault("collector", {"kind": "StdOut"})
    kind = collector.get("kind", "StdOut")
    if ctx.config.values["metricsCollector"] == "File" and kind == "StdOut" and not mc.get("source"):
        collector["kind"] = "File"
        mc["source"] = {"fileSystemPath": {"kind": "File", "path": METRICS_FILE, "format": "TEXT"},
                        "filter": {"metricsFormat": [METRICS_FILTER]}}
        return
    if kind in ("StdOut", "File"):
        source = mc.setdefault("source", {})
        fsp = source.get("fileSystemPath") or {}
        if fsp.get("format") == "JSON":
            return
        source.setdefault("filter", {}).setdefault("metricsFormat", [METRICS_FILTER])


def check_rewrite_safe(ctx: Context, job: dict[str, Any], exp: dict[str, Any]) -> None:
    """Warn where Katib's ``sh -c`` rewrite of the primary container would alter argv (trap 1)."""
    kind = ((exp["spec"].get("metricsCollectorSpec") or {}).get("collector") or {}).get("kind", "StdOut")
    if kind != "StdOut":
        return
    for path, c in _primary_containers(ctx, job):
        command = [str(x) for x in c.get("command") or []]
        if command[:2] in (["sh", "-c"], ["bash", "-c"], ["/bin/sh", "-c"], ["/bin/bash", "-c"]):
            continue
        for field_name in ("command", "args"):
            for i, token in enumerate(c.get(field_name) or []):
                text = str(token).replace("${trialParameters.", "").replace("${trialSpec.", "")
                if _SHELL_UNSAFE.search(text) or text == "":
                    ctx.warnings.append(
                        f"{path}.{field_name}[{i}]: Katib's StdOut metrics collector re-runs this container as "
                        f"`sh -c` with argv joined by spaces, which will change {str(token)[:60]!r}; pass it "
                        f"through an environment variable or use a `bash -c` script (katib#2587)")


def check_explicit_commands(ctx: Context, job: dict[str, Any]) -> None:
    """Katib reads an image's ENTRYPOINT from its registry when a command is missing."""
    for path, tmpl in ctx.kind.pod_templates(job):
        for i, c in enumerate(containers(tmpl)):
            if c.get("name") == ctx.primary and not c.get("command"):
                ctx.warnings.append(f"{path}.spec.containers[{i}].command: not set; Katib must then read the "
                                    "image's ENTRYPOINT from its registry, which fails air-gapped")
