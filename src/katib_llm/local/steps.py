"""The admitted trial job → the commands one machine runs for it.

Only the primary pod (the master, or the single pod of a batch Job) runs locally: its init
containers in order (the storage initializer), then its primary container. Each container's
env is kept (placeholders already substituted by :func:`katib_llm.core.substitute.substitute_trial`);
paths under the volume mount are mapped to local directories, with ``<mount>/cache`` going to a
shared cache directory so download-once applies across runs.

A Kubeflow Trainer TrainJob has no pod template: its runtime holds the pods. Locally katib-llm's
runtime is emulated (see ``katib_llm.core.trainjob``): the initializer steps the TrainJob asks
for (``spec.initializer.<kind>``: ``storageUri`` as ``STORAGE_URI`` plus its env), then the
``node`` container's command (``spec.trainer``; the runtime's when the TrainJob sets none) with
``spec.trainer.env``. One node runs, as the primary pod of the other kinds does; ``numProcPerNode``
becomes torchrun's ``--nproc-per-node`` (Trainer passes it as ``PET_NPROC_PER_NODE``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from katib_llm.core import trainjob
from katib_llm.core.jobkinds import containers, job_kind


@dataclass(frozen=True)
class Step:
    """One container of the primary pod, as a local command."""

    container: str
    argv: list[str]
    env: dict[str, str] = field(default_factory=dict)
    init: bool = False


class StepError(ValueError):
    """The trial job cannot be run on this machine (names the field)."""


def _mapper(mount: str, volume: Path, cache: Path):
    rx = re.compile(r"(?<![\w./-])" + re.escape(mount.rstrip("/")) + r"(?=/|$|[\s\"',:;])")
    cache_rx = re.compile(r"(?<![\w./-])" + re.escape(mount.rstrip("/") + "/cache") + r"(?=/|$|[\s\"',:;])")

    def map_path(text: str) -> str:
        return rx.sub(str(volume), cache_rx.sub(str(cache), text))
    return map_path


def _env(container: dict[str, Any], map_path) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in container.get("env") or []:
        if isinstance(item, dict) and "value" in item and item.get("name"):
            out[str(item["name"])] = map_path(str(item["value"]))
    return out


def _argv(container: dict[str, Any], map_path, path: str) -> list[str]:
    argv = [map_path(str(x)) for x in (container.get("command") or []) + (container.get("args") or [])]
    if not argv:
        raise StepError(f"{path}.command: not set; the local runner needs an explicit command "
                        "(it cannot read an image's ENTRYPOINT)")
    return argv


def local_steps(job: dict[str, Any], primary_container: str, mount: str, volume: Path,
                cache: Path) -> list[Step]:
    """Init containers then the primary container of the job's primary pod."""
    kind = job_kind(job)
    if kind is not None and not kind.has_pod_templates:
        return trainjob_steps(job, _mapper(mount, volume, cache))
    if kind is None:
        raise StepError(f"spec.trialTemplate.trialSpec.kind: {job.get('kind')!r} cannot run locally; "
                        "accepted: batch/v1 Job, training-operator jobs (PyTorchJob, ...) and TrainJob")
    first = next(iter(kind.pod_templates(job)), None)
    if first is None:
        raise StepError("spec.trialTemplate.trialSpec: no pod template found")
    path, template = first
    map_path = _mapper(mount, volume, cache)
    steps: list[Step] = []
    for i, c in enumerate((template.get("spec") or {}).get("initContainers") or []):
        if isinstance(c, dict):
            steps.append(Step(str(c.get("name")), _argv(c, map_path, f"{path}.spec.initContainers[{i}]"),
                              _env(c, map_path), init=True))
    for i, c in enumerate(containers(template)):
        if c.get("name") == primary_container:
            steps.append(Step(str(c.get("name")), _argv(c, map_path, f"{path}.spec.containers[{i}]"),
                              _env(c, map_path)))
            return steps
    raise StepError(f"{path}.spec.containers: no container named {primary_container!r} "
                    "(spec.trialTemplate.primaryContainerName)")


def trainjob_steps(job: dict[str, Any], map_path) -> list[Step]:
    """katib-llm's ClusterTrainingRuntime, emulated: initializer steps, then one ``node``."""
    spec = job.get("spec") if isinstance(job.get("spec"), dict) else {}
    steps: list[Step] = []
    init = spec.get("initializer") if isinstance(spec.get("initializer"), dict) else {}
    for kind, name in trainjob.INITIALIZERS.items():
        entry = init.get(kind)
        if not isinstance(entry, dict) or not entry.get("storageUri"):
            continue
        env = {trainjob.ENV_KIND: kind, **_env(entry, map_path), trainjob.ENV_URI: str(entry["storageUri"])}
        steps.append(Step(name, list(trainjob.INITIALIZER_COMMAND), env, init=True))
    trainer = spec.get("trainer") if isinstance(spec.get("trainer"), dict) else {}
    argv = [map_path(a) for a in trainjob.argv(job)] or list(trainjob.NODE_COMMAND)
    procs = trainer.get("numProcPerNode")
    if argv[0] == "torchrun" and isinstance(procs, int) and not isinstance(procs, bool) and procs > 0 \
            and not any(a.startswith(("--nproc-per-node", "--nproc_per_node")) for a in argv):
        argv.insert(1, f"--nproc-per-node={procs}")
    steps.append(Step(trainjob.NODE, argv, _env(trainer, map_path)))
    return steps
