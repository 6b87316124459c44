"""Admin configuration: what the chart's ``config`` values say, typed and checked.

The core reads it; the webhook loads it from the ConfigMap the chart renders, the CLI from
``--values``, the local runner from its defaults. Trial templates are handed in as parsed
manifests so the core stays free of I/O.
"""

from __future__ import annotations

import copy
import functools
from dataclasses import dataclass, field
from typing import Any, Callable

from . import values as values_
from .errors import FieldError
from .patch import clone, freeze, thaw


DEFAULT_RUNTIME_IMAGE = "ghcr.io/katib-llm/katib-llm-runtime:0.1.0"
DEFAULT_TEMPLATE = "hf-lora-pytorchjob"
INITIALIZER_MODULE = "katib_llm.runtime.storage_initializer"
TRAINER_MODULE = "katib_llm.runtime.trainer"
FUNCTION_MODULE = "katib_llm.runtime.function_trial"

# Built-in providers use the same declaration as custom ones (core/providers.py). ``args`` is a
# template: {kind} (model|dataset), {uri}, {target} (directory the trainer reads), {cache_dir}.
# The schemes: hf://<repo>[@rev], s3://<bucket>/<prefix>, file:///abs/path (a directory on the
# shared volume or, locally, on this machine) and pkg://<python package>/<subdir> (data a Python
# package ships, e.g. a small model). One initializer module serves them all.
BUILTIN_PROVIDERS: dict[str, dict[str, Any]] = {
    scheme: {
        "image": None,  # None = the runtime image
        "command": ["python", "-m", INITIALIZER_MODULE],
        "args": ["{kind}", "{uri}", "--target", "{target}", "--cache-dir", "{cache_dir}"],
        "secret": None,
    }
    for scheme in ("hf", "s3", "file", "pkg")
}

DEFAULTS: dict[str, Any] = {
    "defaultTemplate": DEFAULT_TEMPLATE,
    "images": {"runtime": DEFAULT_RUNTIME_IMAGE, "pullPolicy": "IfNotPresent"},
    "gpu": {"resourceName": "nvidia.com/gpu", "maxPerWorker": 8, "maxPerTrial": 64, "memoryGiB": 80},
    "maxWorkers": 16,
    # Most CPU and memory one trial pod may ask for (Kubernetes quantities); empty: no cap.
    "maxResourcesPerWorker": {"cpu": "", "memory": ""},
    "defaultResourcesPerWorker": {"cpu": "2", "memory": "8Gi"},
    "placement": {"nodeSelector": {}, "tolerations": [], "onlyForGpu": True},
    "storage": {
        "mountPath": "/workspace",
        "size": "50Gi",
        "storageClassName": "",
        "accessModes": ["ReadWriteMany"],
        "claimSuffix": "-llm-cache",
    },
    "allowedModelSources": [],
    # Folders file:// URIs may name. Empty (the default): file:// is off, because the init
    # container would read whatever path it is given (the shared volume, the image).
    "fileRoots": [],
    # A user's template asking for privileged containers, hostPath or host namespaces: warn | deny.
    "privilegedTemplates": "warn",
    "providers": {},
    "credentials": {"hfTokenSecret": "", "s3Secret": ""},
    "metricsCollector": "StdOut",
    # Early-stopping algorithms of ours registered in Katib's katib-config (the chart fills this in
    # when it registers them): the validator admits them only then.
    "earlyStoppingAlgorithms": [],
    # Where the chart publishes trial-templates/ (release katib-llm's defaults); references to it are inlined.
    "templatesConfigMap": {"name": "katib-llm-trial-templates", "namespace": "katib-llm"},
    # Kubeflow Trainer v2: the ClusterTrainingRuntime TrainJob trials run (the chart installs it
    # when trainerV2.enabled), whose initializer steps download model and dataset.
    "trainerV2": {"runtimeName": "katib-llm-lora"},
    # Kueue LocalQueue every trial job joins unless its Experiment names one; empty: none.
    # enforce: every trial job joins it, whatever the Experiment or its template says.
    "kueue": {"localQueue": "", "enforce": False},
}


@dataclass(frozen=True)
class Provider:
    """A provider declaration: how an init container fetches ``<scheme>://...``."""

    scheme: str
    image: str
    command: list[str]
    args: list[str]
    secret: str | None = None


@dataclass
class AdminConfig:
    """Typed admin configuration. Build with :func:`load_config`."""

    values: dict[str, Any]
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Providers declared by ConfigMaps (core.providers), merged in by the adapter per request.
    extra_providers: dict[str, dict[str, Any]] = field(default_factory=dict)

    def with_providers(self, declarations: list[dict[str, Any]]) -> "AdminConfig":
        """A copy that also knows the given (already checked) provider declarations."""
        extra = dict(self.extra_providers)
        for decl in declarations:
            if decl["scheme"] not in BUILTIN_PROVIDERS:  # built-ins cannot be overridden by users
                extra[decl["scheme"]] = decl
        copy_ = AdminConfig(values=self.values, templates=self.templates, extra_providers=extra)
        if "_template_bytes" in self.__dict__:  # same templates: share the frozen copies
            copy_.__dict__["_template_bytes"] = self.__dict__["_template_bytes"]
        return copy_

    @property
    def default_template(self) -> str:
        return str(self.values["defaultTemplate"])

    @property
    def runtime_image(self) -> str:
        return str(self.values["images"]["runtime"])

    @property
    def pull_policy(self) -> str:
        return str(self.values["images"]["pullPolicy"])

    @property
    def gpu_resource(self) -> str:
        return str(self.values["gpu"]["resourceName"])

    @property
    def max_gpu_per_worker(self) -> int:
        return int(self.values["gpu"]["maxPerWorker"])

    @property
    def max_gpu_per_trial(self) -> int:
        return int(self.values["gpu"]["maxPerTrial"])

    @property
    def max_workers(self) -> int:
        return int(self.values["maxWorkers"])

    @property
    def trainer_runtime(self) -> str:
        return str(self.values["trainerV2"]["runtimeName"])

    @property
    def storage(self) -> dict[str, Any]:
        storage: dict[str, Any] = self.values["storage"]
        return storage

    @property
    def early_stopping_algorithms(self) -> tuple[str, ...]:
        """Katib's early-stopping algorithms plus ours that katib-config registers."""
        from .katib_rules import EARLY_STOPPING

        return EARLY_STOPPING + tuple(self.values["earlyStoppingAlgorithms"])

    @property
    def mount_path(self) -> str:
        return str(self.values["storage"]["mountPath"])

    @functools.cached_property
    def _template_bytes(self) -> dict[str, bytes]:
        frozen = {}
        for name, tmpl in self.templates.items():
            try:
                frozen[name] = freeze(tmpl)
            except ValueError:  # a value marshal cannot hold (a YAML date): copied by walking instead
                pass
        return frozen

    def template_copy(self, name: str) -> dict[str, Any]:
        """A private deep copy of shipped template ``name`` (injection mutates it)."""
        frozen = self._template_bytes.get(name)
        copied: dict[str, Any] = thaw(frozen) if frozen is not None else clone(self.templates[name])
        return copied

    @functools.cached_property
    def providers(self) -> dict[str, Provider]:
        merged: dict[str, Provider] = {}
        creds = self.values["credentials"]
        declared = {**BUILTIN_PROVIDERS, **self.values["providers"], **self.extra_providers}
        for scheme, decl in declared.items():
            secret = decl.get("secret") or {"hf": creds.get("hfTokenSecret"),
                                              "s3": creds.get("s3Secret")}.get(scheme) or None
            merged[scheme] = Provider(scheme=scheme, image=decl.get("image") or self.runtime_image,
                                      command=list(decl["command"]), args=list(decl.get("args") or []),
                                      secret=secret)
        return merged



def _fits(kind: Callable[[Any], str], value: Any) -> bool:
    """Whether ``value`` is exactly a value of ``kind`` (no surrounding whitespace either)."""
    try:
        return bool(kind(value) == value)
    except values_.Invalid:
        return False

def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "providers":
            out[key] = _merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _check(values: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []

    def bad(path: str, msg: str) -> None:
        errors.append(FieldError(f"config.{path}", "config.invalid", msg))

    unknown = set(values) - set(DEFAULTS)
    for key in sorted(unknown):
        bad(key, "unknown key; accepted: " + ", ".join(sorted(DEFAULTS)))
    if not isinstance(values.get("defaultTemplate"), str) or not values["defaultTemplate"]:
        bad("defaultTemplate", "must be the name of a template in trial-templates/")
    if not isinstance(values["images"].get("runtime"), str) or not values["images"]["runtime"]:
        bad("images.runtime", "must be a container image reference")
    gpu = values["gpu"]
    for key in ("maxPerWorker", "maxPerTrial"):
        if isinstance(gpu.get(key), bool) or not isinstance(gpu.get(key), int) or gpu[key] < 0:
            bad(f"gpu.{key}", "must be an integer >= 0")
    if not isinstance(gpu.get("resourceName"), str) or "/" not in gpu.get("resourceName", ""):
        bad("gpu.resourceName", "must be an extended resource name such as nvidia.com/gpu")
    if isinstance(values["maxWorkers"], bool) or not isinstance(values["maxWorkers"], int) or values["maxWorkers"] < 1:
        bad("maxWorkers", "must be an integer >= 1")
    caps = values["maxResourcesPerWorker"]
    from .quantity import quantity

    for key in ("cpu", "memory"):
        if not isinstance(caps.get(key), str) or (caps[key] and quantity(caps[key]) is None):
            bad(f"maxResourcesPerWorker.{key}", "must be empty (no cap) or a Kubernetes quantity such as 32 or 256Gi")
    storage = values["storage"]
    if not isinstance(storage.get("mountPath"), str) or not storage["mountPath"].startswith("/"):
        bad("storage.mountPath", "must be an absolute path")
    if not isinstance(storage.get("accessModes"), list) or not storage["accessModes"] or not set(
            storage["accessModes"]) <= {"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"}:
        bad("storage.accessModes", "must be a non-empty list of ReadWriteOnce, ReadOnlyMany, "
                                   "ReadWriteMany, ReadWriteOncePod")
    if not isinstance(values["providers"], dict):
        bad("providers", "must be a map of scheme to {image, command, args, secret}")
    else:
        for scheme, decl in values["providers"].items():
            if not isinstance(decl, dict) or not isinstance(decl.get("command"), list) or not decl["command"]:
                bad(f"providers.{scheme}.command", "must be a non-empty list of strings")
            elif not all(isinstance(x, str) for x in decl["command"] + list(decl.get("args") or [])):
                bad(f"providers.{scheme}.args", "must be a list of strings")
    from .katib_rules import OUR_EARLY_STOPPING

    registered = values["earlyStoppingAlgorithms"]
    if not isinstance(registered, list) or not set(registered) <= set(OUR_EARLY_STOPPING):
        bad("earlyStoppingAlgorithms", "must be a list of " + ", ".join(OUR_EARLY_STOPPING))
    roots = values["fileRoots"]
    if not isinstance(roots, list) or not all(isinstance(r, str) and r.startswith("/") and ".." not in r.split("/")
                                              for r in roots):
        bad("fileRoots", "must be a list of absolute folder paths without '..', e.g. [/mnt/models]")
    if values["privilegedTemplates"] not in ("warn", "deny"):
        bad("privilegedTemplates", "must be warn or deny")
    if values["metricsCollector"] not in ("StdOut", "File"):
        bad("metricsCollector", "must be StdOut or File")
    runtime = values["trainerV2"].get("runtimeName")
    if not _fits(values_.dns1123_subdomain, runtime):
        bad("trainerV2.runtimeName", "must be the name of a ClusterTrainingRuntime (lower-case DNS-1123 name)")
    queue = values["kueue"].get("localQueue")
    if not isinstance(queue, str) or (queue and not _fits(values_.dns1123_label, queue)):
        bad("kueue.localQueue", "must be empty or the name of a Kueue LocalQueue (DNS-1123 label)")
    if not isinstance(values["kueue"].get("enforce"), bool) or (values["kueue"]["enforce"] and not queue):
        bad("kueue.enforce", "must be true or false, and true only with a localQueue to enforce")
    placement = values["placement"]
    if not isinstance(placement.get("nodeSelector"), dict) or not isinstance(placement.get("tolerations"), list):
        bad("placement", "nodeSelector must be a map and tolerations a list")
    return errors


def load_config(values: dict[str, Any] | None = None,
                templates: dict[str, dict[str, Any]] | None = None) -> tuple[AdminConfig, list[FieldError]]:
    """Merge ``values`` (the chart's ``config`` section) over the defaults and check them."""
    merged = _merge(DEFAULTS, values or {})
    errors = _check(merged)
    return AdminConfig(values=merged, templates=dict(templates or {})), errors
