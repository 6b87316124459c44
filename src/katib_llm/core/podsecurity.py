"""A user's trial template asking for host access: privileged containers, hostPath volumes, the
host's network, PID or IPC namespaces, or added capabilities.

Our shipped templates never do. A user-supplied one (inline ``trialSpec`` or a ConfigMap in the
Experiment's namespace) is admitted with a warning naming each field, or denied when the admin
sets ``config.privilegedTemplates: deny``. Pod Security Admission, when the namespace enforces
a level, still has the last word; this check says so at the Experiment, before any trial fails.
"""

from __future__ import annotations

from typing import Any, Iterator

from .errors import FieldError
from .jobkinds import JobKind, containers

_HOST_NAMESPACES = ("hostNetwork", "hostPID", "hostIPC")


def _findings(kind: JobKind, job: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(field path, what it asks for) for every host-access request in the job's pod templates."""
    for path, tmpl in kind.pod_templates(job):
        pod = tmpl.get("spec") if isinstance(tmpl.get("spec"), dict) else {}
        base = f"spec.trialTemplate.trialSpec.{path}.spec"
        for key in _HOST_NAMESPACES:
            if pod.get(key) is True:
                yield f"{base}.{key}", f"{key}: true"
        for i, volume in enumerate(pod.get("volumes") or []):
            if isinstance(volume, dict) and "hostPath" in volume:
                yield f"{base}.volumes[{i}].hostPath", "a hostPath volume"
        for group in ("initContainers", "containers", "ephemeralContainers"):
            items = containers(tmpl) if group == "containers" else pod.get(group) or []
            for i, c in enumerate(items if isinstance(items, list) else []):
                sc = c.get("securityContext") if isinstance(c, dict) else None
                if not isinstance(sc, dict):
                    continue
                if sc.get("privileged") is True:
                    yield f"{base}.{group}[{i}].securityContext.privileged", "a privileged container"
                added = (sc.get("capabilities") or {}).get("add") if isinstance(sc.get("capabilities"), dict) else None
                if added:
                    yield f"{base}.{group}[{i}].securityContext.capabilities.add", f"capabilities {added}"


def check(kind: JobKind, job: dict[str, Any], mode: str, errors: list[FieldError], warnings: list[str]) -> None:
    """Warn about (``mode`` warn) or deny (``mode`` deny) host access in a user's template."""
    for path, what in _findings(kind, job):
        if mode == "deny":
            errors.append(FieldError(path, "template.privileged",
                                     f"{what} is not allowed here (config.privilegedTemplates: deny)"))
        else:
            warnings.append(f"{path}: the trial template asks for {what}; trials get host access")
