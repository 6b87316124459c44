"""The pre-delete hook removes exactly our webhook configurations, before anything else goes.

Its script (from the rendered Job) runs here against the stand-in API server on 127.0.0.1,
through the kubernetes package the webhook image ships, with a kubeconfig in place of the
in-cluster service account.
"""

from __future__ import annotations

import os
import subprocess
import sys

from .helpers import apiserver


def _hook_objects(rendered):
    return [o for o in rendered.objects
            if (o["metadata"].get("annotations") or {}).get("helm.sh/hook") == "pre-delete"]


def test_hook_objects_and_their_order(default_render):
    hooks = {o["kind"]: o for o in _hook_objects(default_render)}
    assert set(hooks) == {"ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Job"}
    weight = {k: int(o["metadata"]["annotations"]["helm.sh/hook-weight"]) for k, o in hooks.items()}
    assert max(weight[k] for k in ("ServiceAccount", "ClusterRole", "ClusterRoleBinding")) < weight["Job"]
    for obj in hooks.values():
        assert obj["metadata"]["annotations"]["helm.sh/hook-delete-policy"] == "before-hook-creation,hook-succeeded"
    # It may delete only our two configurations, by name.
    assert hooks["ClusterRole"]["rules"] == [{
        "apiGroups": ["admissionregistration.k8s.io"],
        "resources": ["mutatingwebhookconfigurations", "validatingwebhookconfigurations"],
        "resourceNames": ["llm.katib.kubeflow.org"], "verbs": ["delete"]}]
    pod = hooks["Job"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == hooks["ServiceAccount"]["metadata"]["name"]
    assert hooks["ClusterRoleBinding"]["subjects"][0]["name"] == hooks["ServiceAccount"]["metadata"]["name"]


def test_hook_can_be_disabled():
    from .helpers import render

    assert not _hook_objects(render({"cleanupHook": {"enabled": False}}))


def _run_hook(rendered, kubeconfig) -> subprocess.CompletedProcess:
    job = next(o for o in _hook_objects(rendered) if o["kind"] == "Job")
    [container] = job["spec"]["template"]["spec"]["containers"]
    assert container["command"][:2] == ["python", "-c"]
    env = {**os.environ, **{e["name"]: e["value"] for e in container["env"]}, "KUBECONFIG": str(kubeconfig)}
    return subprocess.run([sys.executable, "-c", container["command"][2]], env=env,
                          capture_output=True, text=True, timeout=60)


def test_hook_script_deletes_both_configurations_and_tolerates_their_absence(default_render, tmp_path):
    ours = [default_render.one(k) for k in ("MutatingWebhookConfiguration", "ValidatingWebhookConfiguration")]
    katibs = [{**o, "metadata": {"name": "katib.kubeflow.org"}} for o in ours]
    with apiserver(ours + katibs) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        first = _run_hook(default_render, kubeconfig)
        assert first.returncode == 0, first.stdout + first.stderr
        deletes = [f"{m} {p}" for m, p in api.requests if m == "DELETE"]
        assert [d.split("?")[0] for d in deletes] == [
            "DELETE /apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/llm.katib.kubeflow.org",
            "DELETE /apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations/llm.katib.kubeflow.org"]
        # Katib's own configurations are untouched.
        assert sorted(o["metadata"]["name"] for o in api.objects.values()) == ["katib.kubeflow.org"] * 2
        again = _run_hook(default_render, kubeconfig)
        assert again.returncode == 0, again.stdout + again.stderr
        assert again.stdout.count("already gone") == 2
