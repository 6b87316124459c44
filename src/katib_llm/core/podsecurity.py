"""Host access anywhere in the effective trial: privileged containers, added capabilities,
hostPath volumes, the host's network, PID or IPC namespaces, host ports, Windows host processes.

Our shipped templates never ask for any. What a user supplies (an inline ``trialSpec``, a
ConfigMap template, a TrainJob's ``runtimePatches``) is admitted with a warning naming each
field, or denied when the admin sets ``config.privilegedTemplates: deny``. The rule runs on every
pod-spec-shaped object of the admitted trial (core/effective.py). Pod Security Admission, when
the namespace enforces a level, still has the last word; this check says so at the Experiment,
before any trial fails.
"""

from __future__ import annotations

from typing import Any, Iterable, Iterator

from .effective import Container, PodShape
from .errors import FieldError

_HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")


def _host_process(security: Any) -> bool:
    options = security.get("windowsOptions") if isinstance(security, dict) else None
    return isinstance(options, dict) and options.get("hostProcess") is True


def _container_findings(c: Container) -> Iterator[tuple[str, str]]:
    sc = c.obj.get("securityContext")
    if isinstance(sc, dict):
        if sc.get("privileged") is True:
            yield f"{c.path}.securityContext.privileged", "a privileged container"
        caps = sc.get("capabilities")
        added = caps.get("add") if isinstance(caps, dict) else None
        if added:
            yield f"{c.path}.securityContext.capabilities.add", f"added capabilities {str(added)[:120]}"
        if _host_process(sc):
            yield f"{c.path}.securityContext.windowsOptions.hostProcess", "a Windows host process"
    ports = c.obj.get("ports")
    for i, port in enumerate(ports if isinstance(ports, list) else []):
        if isinstance(port, dict) and port.get("hostPort") not in (None, 0):
            yield f"{c.path}.ports[{i}].hostPort", "a port on the host's network"


def findings(shape: PodShape) -> Iterator[tuple[str, str]]:
    """(field path, what it asks for) for every host-access request of one pod shape."""
    pod = shape.spec
    for key in _HOST_NAMESPACES:
        if pod.get(key) is True:
            yield f"{shape.path}.{key}", f"{key}: true"
    if _host_process(pod.get("securityContext")):
        yield f"{shape.path}.securityContext.windowsOptions.hostProcess", "a Windows host process"
    volumes = pod.get("volumes")
    for i, volume in enumerate(volumes if isinstance(volumes, list) else []):
        if isinstance(volume, dict) and "hostPath" in volume:
            yield f"{shape.path}.volumes[{i}].hostPath", "a hostPath volume"
    for c in shape.containers:
        yield from _container_findings(c)


def check(shapes: Iterable[PodShape], mode: str, errors: list[FieldError], warnings: list[str]) -> None:
    """Warn about (``mode`` warn) or deny (``mode`` deny) host access in the effective trial."""
    for shape in shapes:
        for path, what in findings(shape):
            if mode == "deny":
                errors.append(FieldError(path, "template.privileged",
                                         f"{what} is not allowed here (config.privilegedTemplates: deny)"))
            else:
                warnings.append(f"{path}: the trial asks for {what}; trials get host access")
