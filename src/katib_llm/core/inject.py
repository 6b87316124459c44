"""Injectors: one per concern, each idempotent ("set", never "append twice").

Every injector works on the pod templates a :class:`JobKind` yields, so PyTorchJob, batch Job
and the other kinds share one mechanism. Injectors mutate the admitted copy in place; the
JSONPatch is derived afterwards from a diff (default a copy, then diff, as Katib's own mutating webhook does).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .config import INITIALIZER_MODULE, TRAINER_MODULE, AdminConfig
from .contract import (PROCS_PER_WORKER, QUEUE, RESOURCES_PER_WORKER, TRIAL_DEADLINE, WORKERS, LLMSpec, annotation_key,
                       annotation_path)
from .errors import FieldError
from . import trainjob, trial_rules
from .jobkinds import JobKind, containers
from .limits import STEP_METRIC, set_active_deadline
from .metrics import METRICS_FILTER
from .params import HPARAMS_ENV
from .patch import clone
from .trialenv import TrialEnv

# GPUs per worker the trial asked for (resources-per-worker), so the trainer can refuse a silent CPU run.
GPUS_ENV = TrialEnv.GPUS_PER_WORKER

VOLUME_NAME = "katib-llm-storage"
KUEUE_QUEUE_LABEL = "kueue.x-k8s.io/queue-name"
INIT_PREFIX = "storage-initializer-"
METRICS_FILE = "/var/log/katib/metrics.log"
_SHELL_FORMS = (["sh", "-c"], ["bash", "-c"], ["/bin/sh", "-c"], ["/bin/bash", "-c"])
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


def _trainer_container(ctx: Context, job: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """A TrainJob's ``spec.trainer``: the ``node`` container's command, args and env."""
    if ctx.kind.has_pod_templates or ctx.primary != trainjob.NODE:
        return []
    trainer = (job.get("spec") or {}).get("trainer")
    return [("spec.trainer", trainer)] if isinstance(trainer, dict) else []


def inject_queue(ctx: Context, job: dict[str, Any]) -> None:
    """Kueue: the trial job joins a LocalQueue: the Experiment's queue annotation, else the
    admin's ``kueue.localQueue``. A label the user's own job sets stays when neither is set, and
    when only the admin's default is, unless it is empty (an empty queue name is no queue: the job
    would escape quota). With ``kueue.enforce`` every job joins the admin's queue: a different
    label is replaced (with a warning) and a queue annotation naming another queue is denied."""
    kueue = ctx.config.values["kueue"]
    forced = kueue["localQueue"] if kueue.get("enforce") else None
    if forced and ctx.llm.queue and ctx.llm.queue != forced:
        ctx.errors.append(FieldError(annotation_path(QUEUE), "queue.forced",
                                     f"this cluster runs every trial in Kueue LocalQueue {forced!r} "
                                     "(config.kueue.enforce); drop the annotation or name that queue"))
        return
    queue = forced or ctx.llm.queue or kueue["localQueue"]
    if not queue:
        return
    meta = job.setdefault("metadata", {})
    if not isinstance(meta.get("labels"), dict):
        meta["labels"] = {}
    labels = meta["labels"]
    own = labels.get(KUEUE_QUEUE_LABEL)
    if forced and own not in (None, forced):
        ctx.warnings.append(f"spec.trialTemplate.trialSpec.metadata.labels[{KUEUE_QUEUE_LABEL}]: replaced "
                            f"{str(own)[:63]!r} by {forced!r}; this cluster runs every trial in that Kueue LocalQueue")
    if forced or ctx.llm.queue or not own or not isinstance(own, str):
        labels[KUEUE_QUEUE_LABEL] = queue
    if not ctx.kind.has_pod_templates:
        # Kueue admits a TrainJob by unsuspending it: it is created suspended (Trainer's
        # examples/yaml/03-kueue-integration.yaml).
        job.setdefault("spec", {})["suspend"] = True


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
    if not kind.has_pod_templates and any(module in a for a in trainjob.argv(job)):
        return True
    for _, tmpl in kind.pod_templates(job):
        for c in containers(tmpl):
            argv = [str(x) for x in (c.get("command") or []) + (c.get("args") or [])]
            if any(module in a for a in argv):
                return True
    return False


def uses_trainer(job: dict[str, Any], kind: JobKind, runtime: str | None = None) -> bool:
    """Whether the trial runs our trainer (so parameters must map to trainer fields).

    A TrainJob that sets no command runs its runtime's: ours (``runtime``) runs the trainer.
    """
    if runs_module(job, kind, TRAINER_MODULE):
        return True
    return (not kind.has_pod_templates and runtime is not None and not trainjob.argv(job)
            and trainjob.uses_runtime(job, runtime))


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
    if not ctx.kind.has_pod_templates:
        trainjob.trainer_spec(job)["image"] = image  # the runtime's steps keep the runtime's image
        return
    for _, tmpl in ctx.kind.pod_templates(job):
        for c in containers(tmpl):
            c["image"] = image
            c["imagePullPolicy"] = ctx.config.pull_policy


def inject_workers(ctx: Context, job: dict[str, Any]) -> None:
    """``workers`` → Master 1 + Worker n−1; ``procs-per-worker`` → torchrun nproc-per-node."""
    if not ctx.ours and not ctx.llm.given & {WORKERS, PROCS_PER_WORKER}:
        return  # a user's own job keeps its own shape
    workers = ctx.llm.workers
    procs = ctx.llm.procs_per_worker
    if not ctx.kind.has_pod_templates:
        trainjob.set_nodes(job, workers, procs)
        return
    if ctx.kind.replica_specs is None:
        if workers > 1:
            ctx.errors.append(FieldError(annotation_path(WORKERS),
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
        values[TrialEnv.MODEL_DIR] = model_dir
    if dataset_dir:
        values[TrialEnv.DATASET_DIR] = dataset_dir
        if llm.dataset and llm.dataset.query.get("split"):
            values[TrialEnv.DATASET_SPLIT] = llm.dataset.query["split"]
        if llm.dataset and (llm.dataset.query.get("config") or llm.dataset.query.get("name")):
            values[TrialEnv.DATASET_NAME] = llm.dataset.query.get("config") or llm.dataset.query["name"]
    if ctx.ours or llm.model:
        values[TrialEnv.MODEL_CLASS] = llm.model_class
        values[TrialEnv.OUTPUT_DIR] = output_dir(ctx)
        # Run name and tags of an experiment tracker (report_to): Katib substitutes the trial's name.
        values[TrialEnv.EXPERIMENT_NAME] = ctx.experiment_name
        values[TrialEnv.TRIAL_NAME] = "${trialSpec.Name}"
    if llm.training_args:
        values[TrialEnv.TRAINING_ARGS] = json.dumps(llm.training_args, sort_keys=True)
    if llm.lora_config:
        values[TrialEnv.LORA_CONFIG] = json.dumps(llm.lora_config, sort_keys=True)
    if llm.dataset_config:
        values[TrialEnv.DATASET_CONFIG] = json.dumps(llm.dataset_config, sort_keys=True)
    if llm.function:
        values[TrialEnv.FUNCTION] = llm.function
        values[TrialEnv.PACKAGES] = json.dumps(llm.packages)
        values[TrialEnv.PIP_INDEX_URLS] = json.dumps(llm.pip_index_urls)
    if ctx.config.values["metricsCollector"] == "File" and (ctx.ours or llm.model):
        values[TrialEnv.METRICS_FILE] = METRICS_FILE
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
    if provider.command == ["python", "-m", INITIALIZER_MODULE]:
        # Our storage initializer enforces the admin's allow-lists again at run time.
        args += trial_rules.policy_args(ctx.config, uri.scheme)
    container: dict[str, Any] = {
        "name": INIT_PREFIX + kind,
        "image": provider.image,
        "imagePullPolicy": ctx.config.pull_policy,
        "command": list(provider.command),
        "args": args,
        "volumeMounts": [{"name": VOLUME_NAME, "mountPath": ctx.config.mount_path}],
        # Pod Security "restricted": the provider's image must run as a non-root USER (ours: 1000).
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}},
    }
    if provider.secret:
        # Credentials only by Secret reference, never in the Experiment.
        container["envFrom"] = [{"secretRef": {"name": provider.secret}}]
    return container


def _collisions(ctx: Context, path: str, pod: dict[str, Any], tmpl: dict[str, Any]) -> list[FieldError]:
    """The user's own volume, init container or mount under a name or path the storage injection uses.

    What an earlier admission injected is recognised by its shape (a claim volume; an init
    container mounting exactly our volume) and replaced; anything else is the user's and is
    never silently overwritten."""
    where, mount_path = f"spec.trialTemplate.trialSpec.{path}.spec", ctx.config.mount_path
    ours_mount = [{"name": VOLUME_NAME, "mountPath": mount_path}]
    errors = []
    for i, v in enumerate(pod.get("volumes") or []):
        if isinstance(v, dict) and v.get("name") == VOLUME_NAME and set(v) != {"name", "persistentVolumeClaim"}:
            errors.append(FieldError(f"{where}.volumes[{i}].name", "collision.volume",
                                     f"the volume name {VOLUME_NAME} is reserved for katib-llm's shared storage; rename yours"))
    for i, c in enumerate(pod.get("initContainers") or []):
        if isinstance(c, dict) and str(c.get("name", "")).startswith(INIT_PREFIX) and c.get("volumeMounts") != ours_mount:
            errors.append(FieldError(f"{where}.initContainers[{i}].name", "collision.init-container",
                                     f"init container names starting with {INIT_PREFIX} are reserved for katib-llm's "
                                     "storage initializers; rename yours"))
    for j, c in enumerate(containers(tmpl)):
        for k, m in enumerate(c.get("volumeMounts") or [] if isinstance(c.get("volumeMounts"), list) else []):
            if isinstance(m, dict) and (m.get("name") == VOLUME_NAME) != (m.get("mountPath") == mount_path):
                errors.append(FieldError(f"{where}.containers[{j}].volumeMounts[{k}]", "collision.mount-path",
                                         f"katib-llm mounts its shared volume {VOLUME_NAME} at {mount_path}; "
                                         "mount yours elsewhere and under another name"))
    return errors


def _pod_spec(ctx: Context, path: str, tmpl: dict[str, Any]) -> dict[str, Any] | None:
    """A pod template's ``spec`` (created when missing); None, with a denial, when it is no object."""
    if tmpl.get("spec") is None:
        tmpl["spec"] = {}
    pod = tmpl["spec"]
    if not isinstance(pod, dict):
        ctx.errors.append(FieldError(f"spec.trialTemplate.trialSpec.{path}.spec", "template.type",
                                     "must be a pod spec object"))
        return None
    return pod


def inject_storage(ctx: Context, job: dict[str, Any]) -> None:
    """Init containers that fetch model and dataset, the shared volume and its mounts."""
    needs_volume = bool(ctx.llm.model or ctx.llm.dataset or ctx.ours or ctx.llm.volume_claim)
    if not ctx.kind.has_pod_templates:
        inject_trainjob_storage(ctx, job, needs_volume)
        return
    mount = {"name": VOLUME_NAME, "mountPath": ctx.config.mount_path}
    if not needs_volume:
        return
    inits = [c for c in (_init_container(ctx, "model"), _init_container(ctx, "dataset")) if c]
    for path, tmpl in ctx.kind.pod_templates(job):
        pod = _pod_spec(ctx, path, tmpl)
        if pod is None:
            continue
        collisions = _collisions(ctx, path, pod, tmpl)
        if collisions:
            ctx.errors.extend(collisions)
            continue
        _upsert(pod.setdefault("volumes", []),
                {"name": VOLUME_NAME, "persistentVolumeClaim": {"claimName": claim_name(ctx)}})
        existing = pod.setdefault("initContainers", [])
        # A launcher (MPIJob) reads no data: it only starts the workers' processes.
        launcher = ctx.kind.launcher is not None and ctx.kind.role_of(path) == ctx.kind.launcher
        for init in [] if launcher else inits:
            _upsert(existing, clone(init))
        for c in containers(tmpl):
            _upsert(c.setdefault("volumeMounts", []), dict(mount))


def inject_trainjob_storage(ctx: Context, job: dict[str, Any], needs_volume: bool) -> None:
    """TrainJob: downloads by our runtime's initializer steps, the volume and placement through
    our ``runtimePatches`` entry (core/trainjob.py). On our runtime the volume is named as
    Trainer requires of initializer steps (``initializer``); another runtime gets our own name,
    clear of the ``initializer`` volume such a runtime may declare itself."""
    runtime = ctx.config.trainer_runtime  # spec.runtimeRef was settled by the admission core
    ours = trainjob.uses_runtime(job, runtime)
    name = trainjob.INITIALIZER_VOLUME if ours else VOLUME_NAME
    mount = {"name": name, "mountPath": ctx.config.mount_path} if needs_volume else None
    for kind in ("model", "dataset"):
        uri = ctx.llm.model if kind == "model" else ctx.llm.dataset
        if uri is None:
            continue
        error = trainjob.check_download(uri.scheme, ours, runtime, kind, annotation_path(kind))
        if error is not None:
            ctx.errors.append(error)
            continue
        init = job["spec"].setdefault("initializer", {})
        init[kind] = trainjob.initializer(uri.raw, input_dir(ctx, kind) or "", f"{ctx.config.mount_path}/cache",
                                          ctx.config.providers[uri.scheme].secret)
    volume = {"name": mount["name"], "persistentVolumeClaim": {"claimName": claim_name(ctx)}} if mount else None
    selector, tolerations = placement(ctx)
    if volume or selector or tolerations:
        trainjob.set_patch(job, trainjob.runtime_patch(volume, mount, ours, selector, tolerations))


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
        per_node = trainjob.trainer_spec(job).setdefault("resourcesPerNode", {})
        if not isinstance(per_node, dict):
            ctx.errors.append(FieldError("spec.trialTemplate.trialSpec.spec.trainer.resourcesPerNode", "template.type",
                                         "must be an object {requests, limits}"))
            return
        for key in ("requests", "limits"):  # the user's other resources stay
            if not isinstance(per_node.get(key), dict):
                per_node[key] = {}
            per_node[key].update(limits)
        if res.gpu:
            env = trainjob.trainer_spec(job).setdefault("env", [])
            if isinstance(env, list):
                _upsert(env, {"name": GPUS_ENV, "value": str(res.gpu)})
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
    ctx.warnings.append(f"{RESOURCES_PER_WORKER} asks for {gpus} GPU(s) per worker but {PROCS_PER_WORKER} is {procs}: "
                        f"{effect}; set {annotation_key(PROCS_PER_WORKER)} to {gpus}")


def placement(ctx: Context) -> tuple[dict[str, str], list[Any]]:
    """The admin's nodeSelector and tolerations for this trial (GPU trials only unless configured)."""
    conf = ctx.config.values["placement"]
    gpu = ctx.llm.resources.gpu if ctx.llm.resources else 0
    if conf.get("onlyForGpu", True) and not gpu:
        return {}, []
    return dict(conf.get("nodeSelector") or {}), list(conf.get("tolerations") or [])


def inject_placement(ctx: Context, job: dict[str, Any]) -> None:
    """Admin nodeSelector and tolerations on every pod template (a TrainJob's go through its
    runtime patch, see :func:`inject_trainjob_storage`)."""
    selector, tolerations = placement(ctx)
    if not selector and not tolerations:
        return
    for path, tmpl in ctx.kind.pod_templates(job):
        pod = _pod_spec(ctx, path, tmpl)
        if pod is None:
            continue
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
    """Warn where Katib's ``sh -c`` rewrite of the primary container would alter argv (kubeflow/katib#2587)."""
    kind = ((exp["spec"].get("metricsCollectorSpec") or {}).get("collector") or {}).get("kind", "StdOut")
    if kind != "StdOut":
        return
    for path, c in _primary_containers(ctx, job) + _trainer_container(ctx, job):
        command = [str(x) for x in c.get("command") or []]
        if command[:2] in _SHELL_FORMS:
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
    if not ctx.kind.has_pod_templates and not trainjob.argv(job) and not trainjob.uses_runtime(
            job, ctx.config.trainer_runtime):
        ctx.warnings.append("spec.trainer.command: not set; the node container then runs the command of runtime "
                            f"{trainjob.runtime_ref(job).get('name')!r} (or, without one, the image's ENTRYPOINT, "
                            "which Katib must read from its registry)")


def inject_deadline(ctx: Context, job: dict[str, Any]) -> None:
    """trial-active-deadline-seconds → the job's activeDeadlineSeconds (JobKind.deadline_path):
    ``spec`` of a batch Job or a TrainJob, ``spec.runPolicy`` of training-operator kinds."""
    if ctx.llm.trial_deadline is None:
        return
    if not set_active_deadline(job, ctx.kind.deadline_path, ctx.llm.trial_deadline):
        ctx.errors.append(FieldError(annotation_path(TRIAL_DEADLINE), "trial-deadline.kind",
                                     f"{ctx.kind.kind} has no activeDeadlineSeconds"))


def inject_budget_metric(ctx: Context, exp: dict[str, Any]) -> None:
    """A train_steps budget is counted from the train_step metric the trainer prints: Katib's
    collector records it only as a named metric, with the latest value as the trial's."""
    budget = ctx.llm.budget
    if budget is None or budget.train_steps is None:
        return
    objective = exp.get("spec", {}).get("objective")
    if not isinstance(objective, dict) or objective.get("objectiveMetricName") == STEP_METRIC:
        return
    extra = objective.setdefault("additionalMetricNames", [])
    if isinstance(extra, list) and STEP_METRIC not in extra:
        extra.append(STEP_METRIC)
    strategies = objective.setdefault("metricStrategies", [])
    if isinstance(strategies, list) and not any(isinstance(x, dict) and x.get("name") == STEP_METRIC
                                                for x in strategies):
        strategies.append({"name": STEP_METRIC, "value": "latest"})
