"""Kubernetes Pod Security Standards, level "restricted", as Pod Security Admission enforces it
on a pod spec (k8s.io/pod-security-admission/policy, Kubernetes v1.34: the baseline checks
``privileged``, ``hostNamespaces``, ``hostPathVolumes``, ``capabilities_baseline`` and the
restricted checks ``allowPrivilegeEscalation``, ``runAsNonRoot``, ``seccompProfile_restricted``,
``capabilities_restricted``, ``restrictedVolumes``). A namespace labelled
``pod-security.kubernetes.io/enforce: restricted`` rejects a pod that fails any of them.

Also the one katib-llm rule on top: a pod that mounts the shared storage volume sets
``securityContext.fsGroup``, so the non-root user can write the claim.
"""

from __future__ import annotations

from typing import Any

_ALLOWED_VOLUMES = ("configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "persistentVolumeClaim",
                    "projected", "secret", "image")
_SECCOMP = ("RuntimeDefault", "Localhost")


def _containers(pod: dict[str, Any]) -> list[dict[str, Any]]:
    return [c for key in ("initContainers", "containers", "ephemeralContainers") for c in pod.get(key) or []]


def restricted_errors(pod: dict[str, Any], shared_volume: str | None = None) -> list[str]:
    """What Pod Security Admission ("restricted") forbids in ``pod`` (a PodSpec); with
    ``shared_volume``, also a missing fsGroup when the pod mounts that volume."""
    errors = []
    pod_sc = pod.get("securityContext") or {}
    errors += [f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if pod.get(key)]
    for volume in pod.get("volumes") or []:
        kinds = [k for k in volume if k != "name"]
        if any(k not in _ALLOWED_VOLUMES for k in kinds):
            errors.append(f"restricted volume types (volume {volume.get('name')!r} uses {kinds})")
    pod_non_root = pod_sc.get("runAsNonRoot") is True
    pod_seccomp = (pod_sc.get("seccompProfile") or {}).get("type")
    if pod_seccomp is not None and pod_seccomp not in _SECCOMP:
        errors.append(f"seccompProfile (pod must not set securityContext.seccompProfile.type to {pod_seccomp!r})")
    for c in _containers(pod):
        sc, name = c.get("securityContext") or {}, c.get("name")
        if sc.get("privileged"):
            errors.append(f"privileged (container {name!r} must not set securityContext.privileged=true)")
        if sc.get("allowPrivilegeEscalation") is not False:
            errors.append(f"allowPrivilegeEscalation != false (container {name!r} must set "
                          "securityContext.allowPrivilegeEscalation=false)")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []):
            errors.append(f"unrestricted capabilities (container {name!r} must set securityContext.capabilities.drop=[\"ALL\"])")
        if any(cap != "NET_BIND_SERVICE" for cap in caps.get("add") or []):
            errors.append(f"unrestricted capabilities (container {name!r} must not include {caps['add']} in "
                          "securityContext.capabilities.add)")
        if sc.get("runAsNonRoot") is False or (sc.get("runAsNonRoot") is not True and not pod_non_root):
            errors.append(f"runAsNonRoot != true (pod or container {name!r} must set securityContext.runAsNonRoot=true)")
        if sc.get("runAsUser") == 0 or (sc.get("runAsUser") is None and pod_sc.get("runAsUser") == 0):
            errors.append(f"runAsUser=0 (container {name!r} must not set runAsUser=0)")
        seccomp = (sc.get("seccompProfile") or {}).get("type") or pod_seccomp
        if seccomp not in _SECCOMP:
            errors.append(f"seccompProfile (pod or container {name!r} must set securityContext.seccompProfile.type "
                          "to \"RuntimeDefault\" or \"Localhost\")")
    mounts = {m.get("name") for c in _containers(pod) for m in c.get("volumeMounts") or []}
    if shared_volume is not None and shared_volume in mounts and pod_sc.get("fsGroup") is None:
        errors.append(f"the pod mounts {shared_volume!r} without securityContext.fsGroup: the non-root user cannot write it")
    return errors
