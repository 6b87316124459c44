"""download_best_adapter for a cluster Experiment, against the API server stand-in.

Emulated: the kubelet. A create-hook on pods runs the Pod's container command here (python, the
same argv), with the Pod's volume mount mapped to a local directory standing for the Experiment's
PersistentVolumeClaim, stores its stdout as the Pod's log and its exit as the phase. Not
emulated: image pulls, scheduling, the kubelet's log rotation (the checksum test below shows a
cut log is refused)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from katib_llm.deploy.download import decode_log, unpack
from katib_llm.deploy.kserve import DeployError

DATA = Path(__file__).resolve().parent / "data"
NAME = "llm-hp-optimization-test"


def kubelet(apiserver, volumes: dict[str, Path], pods: list[dict]):
    """The on-create hook for pods (see module docstring); ``volumes`` maps claim -> local dir."""

    def hook(namespace, pod):
        pods.append(pod)
        spec = pod["spec"]
        claims = {v["name"]: v["persistentVolumeClaim"]["claimName"] for v in spec["volumes"]}
        (container,) = spec["containers"]
        (mount,) = container["volumeMounts"]
        local = str(volumes[claims[mount["name"]]])
        argv = [a.replace(mount["mountPath"], local, 1) for a in container["command"] + container.get("args", [])]
        argv[0] = sys.executable if argv[0] == "python" else argv[0]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        apiserver.logs[(namespace, pod["metadata"]["name"])] = done.stdout + done.stderr
        return {**pod, "status": {"phase": "Succeeded" if done.returncode == 0 else "Failed"}}

    return hook


@pytest.fixture
def volume(tmp_path):
    best = tmp_path / "pvc" / "experiments" / NAME / "best"
    (best / "nested").mkdir(parents=True)
    (best / "adapter_config.json").write_text(json.dumps({"r": 24, "peft_type": "LORA"}))
    (best / "adapter_model.safetensors").write_bytes(os.urandom(300_000))
    (best / "nested" / "trial.json").write_text("{}")
    return tmp_path / "pvc"


def _succeeded(client, apiserver):
    from tests.sdk.test_sdk_cluster import _tune

    _tune(client, name=NAME)
    apiserver.put_status("experiments", "kubeflow", NAME,
                         json.loads((DATA / "experiment_status_succeeded.json").read_text()))


def test_download_best_adapter_through_a_short_lived_pod(client, apiserver, volume, tmp_path):
    pods: list[dict] = []
    apiserver.on_create("pods", kubelet(apiserver, {f"{NAME}-llm-cache": volume}, pods))
    _succeeded(client, apiserver)
    target = client.download_best_adapter(NAME, str(tmp_path / "adapter"))
    best = volume / "experiments" / NAME / "best"
    for rel in ("adapter_config.json", "adapter_model.safetensors", "nested/trial.json"):
        assert (target / rel).read_bytes() == (best / rel).read_bytes()
    (pod,) = pods
    # Read-only claim, the runtime image, the best/ directory of this Experiment; then deleted.
    assert pod["spec"]["volumes"][0]["persistentVolumeClaim"] == {"claimName": f"{NAME}-llm-cache", "readOnly": True}
    assert pod["spec"]["containers"][0]["volumeMounts"][0]["readOnly"] is True
    assert pod["spec"]["containers"][0]["args"] == [f"/workspace/experiments/{NAME}/best"]
    assert pod["spec"]["restartPolicy"] == "Never"
    assert apiserver.objects_of("pods") == {}
    # Again: the target is replaced as a whole.
    (target / "stale").write_text("x")
    assert not (client.download_best_adapter(NAME, str(target)) / "stale").exists()


def test_no_best_adapter_on_the_volume_fails_clearly(client, apiserver, tmp_path):
    apiserver.on_create("pods", kubelet(apiserver, {f"{NAME}-llm-cache": tmp_path / "empty"}, []))
    _succeeded(client, apiserver)
    with pytest.raises(DeployError, match="failed"):
        client.download_best_adapter(NAME, str(tmp_path / "adapter"))
    assert not (tmp_path / "adapter").exists() and apiserver.objects_of("pods") == {}


def test_no_best_trial_yet(client, apiserver, tmp_path):
    from tests.sdk.test_sdk_cluster import _tune

    _tune(client, name=NAME)
    with pytest.raises(RuntimeError, match="no best trial yet"):
        client.download_best_adapter(NAME, str(tmp_path / "adapter"))


def test_a_cut_or_altered_log_is_refused(tmp_path):
    import base64
    import hashlib

    data = b"not really a tarball"
    text = base64.b64encode(data).decode()
    good = f"{text}\nsha256 {hashlib.sha256(data).hexdigest()}\n"
    assert decode_log(good) == data
    with pytest.raises(DeployError, match="no checksum line"):
        decode_log(text)  # cut before the last line
    with pytest.raises(DeployError, match="checksum"):
        decode_log(f"{text[:-4]}AAAA\nsha256 {hashlib.sha256(data).hexdigest()}\n")


def test_unpack_refuses_paths_outside_the_target(tmp_path):
    import io
    import tarfile

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("../escape.txt")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    with pytest.raises(DeployError, match="refusing"):
        unpack(buf.getvalue(), tmp_path / "out" / "adapter")
    assert not (tmp_path / "out" / "escape.txt").exists() and not (tmp_path / "out" / "adapter").exists()
