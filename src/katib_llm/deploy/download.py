"""Copy a cluster Experiment's best adapter to this machine through a short-lived Pod.

The best adapter lives on the Experiment's shared volume at ``<mount>/experiments/<name>/best``
(where adapter promotion puts it and ``katib-llm deploy`` reads it). The volume is usually
ReadWriteOnce/Many storage the notebook cannot mount, so a Pod with the runtime image mounts
the claim read-only, writes the directory as a gzip'd tar in base64 lines to its log with a
SHA-256 line at the end, and exits; the client reads the log, checks the digest, and unpacks it
(regular files and directories only, nothing outside the target) into ``path``. The Pod is
deleted afterwards. Pod logs are kept by the kubelet up to its rotation size (10 MiB by
default), which bounds what this path can carry: a larger adapter fails the digest check with a
message saying so, never a half-written directory.
"""

from __future__ import annotations

import base64
import hashlib
import io
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

from katib_llm.core.contract import EXPERIMENT_LABEL

from .kserve import DeployError, claim_for

# Runs in the Pod: tar.gz of the directory, base64 in 76-column lines, then "sha256 <hex>".
_SCRIPT = (
    "import base64,hashlib,io,sys,tarfile\n"
    "buf=io.BytesIO()\n"
    "with tarfile.open(fileobj=buf,mode='w:gz') as tar: tar.add(sys.argv[1],arcname='.')\n"
    "data=buf.getvalue()\n"
    "text=base64.b64encode(data).decode()\n"
    "print('\\n'.join(text[i:i+76] for i in range(0,len(text),76)))\n"
    "print('sha256',hashlib.sha256(data).hexdigest())\n"
)
CONTAINER = "download"


def download_pod(experiment: dict[str, Any], config: Any) -> dict[str, Any]:
    """The Pod that prints Experiment's ``best/`` directory (pure; see module docstring)."""
    from katib_llm.core.inject import VOLUME_NAME

    meta = experiment.get("metadata") or {}
    name = str(meta.get("name") or "")
    mount = config.mount_path
    return {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": f"{name}"[:48].rstrip("-") + "-download", "namespace": meta.get("namespace"),
                     "labels": {EXPERIMENT_LABEL: name,
                                "app.kubernetes.io/component": "adapter-download"},
                     "annotations": {"sidecar.istio.io/inject": "false"}},
        "spec": {
            "restartPolicy": "Never",
            "activeDeadlineSeconds": 600,
            "containers": [{
                "name": CONTAINER, "image": config.runtime_image, "imagePullPolicy": config.pull_policy,
                "command": ["python", "-c", _SCRIPT], "args": [f"{mount}/experiments/{name}/best"],
                "volumeMounts": [{"name": VOLUME_NAME, "mountPath": mount, "readOnly": True}],
                "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
            }],
            "volumes": [{"name": VOLUME_NAME, "persistentVolumeClaim": {"claimName": claim_for(experiment, config),
                                                                       "readOnly": True}}],
        },
    }


def decode_log(log: str) -> bytes:
    """The tar.gz the Pod printed; DeployError if the log is cut short or altered."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    if not lines or not lines[-1].startswith("sha256 "):
        raise DeployError("the download Pod's log has no checksum line: the best adapter is missing or the "
                          "log was cut (Pod logs are capped by the kubelet's rotation size, 10 MiB by default)")
    try:
        data = base64.b64decode("".join(lines[:-1]), validate=True)
    except ValueError:
        raise DeployError("the download Pod's log is not the expected base64 stream") from None
    if hashlib.sha256(data).hexdigest() != lines[-1].split()[1]:
        raise DeployError("the downloaded adapter does not match its checksum (a log cut by rotation?); "
                          "copy it with kubectl cp from a Pod that mounts the volume instead")
    return data


def unpack(data: bytes, path: str | Path) -> Path:
    """Unpack into ``path`` (replaced as a whole): only regular files and directories, none outside."""
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".download-", dir=target.parent))
    try:
        try:
            with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
                for member in tar.getmembers():
                    if not (member.isfile() or member.isdir()):
                        raise DeployError(f"refusing {member.name!r} in the adapter archive: not a file or directory")
                tar.extractall(staging, filter="data")  # "data": no absolute paths, no "..", no devices
        except tarfile.TarError as exc:
            raise DeployError(f"refusing the adapter archive: {exc}") from None
        if target.exists():
            shutil.rmtree(target)
        staging.replace(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def download_best_adapter(api: Any, experiment: dict[str, Any], config: Any, path: str | Path,
                          timeout: float = 600, poll: float = 1.0) -> Path:
    """Run the download Pod, wait for it, unpack its output into ``path``; the Pod is deleted."""
    pod = download_pod(experiment, config)
    ns, name = pod["metadata"]["namespace"], pod["metadata"]["name"]
    api.create_pod(pod)
    try:
        deadline = time.monotonic() + timeout
        while True:
            phase = ((api.get_pod(ns, name).get("status") or {}).get("phase")) or "Pending"
            if phase == "Succeeded":
                break
            if phase == "Failed":
                tail = api.read_pod_log(ns, name, CONTAINER)[-500:]
                raise DeployError(f"the download Pod {ns}/{name} failed (is there a best adapter yet?): {tail}")
            if time.monotonic() > deadline:
                raise DeployError(f"the download Pod {ns}/{name} did not finish within {timeout:g}s (phase {phase})")
            time.sleep(poll)
        data = decode_log(api.read_pod_log(ns, name, CONTAINER))
    finally:
        api.delete_pod(ns, name)
    return unpack(data, path)
