"""The chart registers successivehalving in Katib's katib-config, and the validator follows it.

The rendered post-install/post-upgrade hook Job runs ``katib-llm katib-config register`` here
against the API server stand-in holding a katib-config shaped like Katib v0.19's standalone one;
the merged katib-config keeps Katib's entries and gains ours, which Katib's controller reads as an
EarlyStoppingConfig (algorithmName, image, imagePullPolicy, resources).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from katib_llm.core.admit import admit
from katib_llm.io import admin_config

from .helpers import REPO, apiserver, render

ENABLED = {"earlyStopping": {"successivehalving": {"enabled": True, "image": {"tag": "0.1.0-rc1"}}}}
KATIB_CONFIG = {  # the layout of Katib v0.19's manifests/v1beta1/installs/katib-standalone/katib-config.yaml
    "apiVersion": "config.kubeflow.org/v1beta1", "kind": "KatibConfig",
    "init": {"certGenerator": {"enable": True}, "controller": {"webhookPort": 8443}},
    "runtime": {"metricsCollectors": [{"kind": "StdOut", "image": "ghcr.io/kubeflow/katib/file-metrics-collector:v0.19.0"}],
                "suggestions": [{"algorithmName": "random", "image": "ghcr.io/kubeflow/katib/suggestion-hyperopt:v0.19.0"}],
                "earlyStoppings": [{"algorithmName": "medianstop",
                                    "image": "ghcr.io/kubeflow/katib/earlystopping-medianstop:v0.19.0"}]}}


def _hooks(rendered) -> dict[str, dict]:
    return {o["kind"]: o for o in rendered.objects
            if (o["metadata"].get("annotations") or {}).get("helm.sh/hook") == "post-install,post-upgrade"}


def _config(rendered) -> dict:
    return yaml.safe_load(rendered.one("ConfigMap", "katib-llm-config")["data"]["config.yaml"])


def test_disabled_by_default_renders_no_hook(default_render):
    assert _hooks(default_render) == {}
    assert _config(default_render)["earlyStoppingAlgorithms"] == []


def test_enabled_renders_the_hook_with_least_privilege_and_the_config_says_registered():
    rendered = render(ENABLED)
    hooks = _hooks(rendered)
    assert set(hooks) == {"ServiceAccount", "Role", "RoleBinding", "Job"}
    role = hooks["Role"]
    assert role["metadata"]["namespace"] == "kubeflow"
    assert role["rules"] == [{"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["katib-config"],
                              "verbs": ["get", "update"]}]
    weight = {k: int(o["metadata"]["annotations"]["helm.sh/hook-weight"]) for k, o in hooks.items()}
    assert max(weight[k] for k in ("ServiceAccount", "Role", "RoleBinding")) < weight["Job"]
    assert hooks["RoleBinding"]["subjects"] == [{"kind": "ServiceAccount", "name": hooks["ServiceAccount"]["metadata"]["name"],
                                                 "namespace": "katib-llm"}]
    assert _config(rendered)["earlyStoppingAlgorithms"] == ["successivehalving"]


def _entry(rendered) -> dict:
    command = _hooks(rendered)["Job"]["spec"]["template"]["spec"]["containers"][0]["command"]
    assert command[:3] == ["katib-llm", "katib-config", "register"]
    return json.loads(command[command.index("--entry") + 1])


def test_rendered_entry_is_a_katib_early_stopping_config():
    entry = _entry(render(ENABLED))
    assert entry == {"algorithmName": "successivehalving",
                     "image": "ghcr.io/katib-llm/katib-llm-earlystopping:0.1.0-rc1",
                     "imagePullPolicy": "IfNotPresent",
                     "resources": {"requests": {"cpu": "50m", "memory": "128Mi"},
                                   "limits": {"cpu": "500m", "memory": "256Mi"}}}
    digest = "sha256:" + "a" * 64
    pinned = copy.deepcopy(ENABLED)
    pinned["earlyStopping"]["successivehalving"]["image"]["digest"] = digest
    assert _entry(render(pinned))["image"] == f"ghcr.io/katib-llm/katib-llm-earlystopping@{digest}"


def _run_hook(rendered, kubeconfig: Path) -> subprocess.CompletedProcess:
    command = _hooks(rendered)["Job"]["spec"]["template"]["spec"]["containers"][0]["command"]
    cli = str(Path(sys.executable).with_name("katib-llm"))
    return subprocess.run([cli] + command[1:] + ["--kubeconfig", str(kubeconfig)], capture_output=True, text=True,
                          timeout=120, env={**os.environ, "PYTHONPATH": str(REPO / "src")})


def test_hook_merges_the_entry_into_katibs_config_idempotently(tmp_path):
    rendered = render(ENABLED)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "katib-config", "namespace": "kubeflow"},
          "data": {"katib-config.yaml": yaml.safe_dump(KATIB_CONFIG)}}
    with apiserver([cm]) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        for _ in range(2):  # an upgrade runs it again: same result
            done = _run_hook(rendered, kubeconfig)
            assert done.returncode == 0, done.stdout + done.stderr
        merged = yaml.safe_load(api.objects_of("configmaps")[("kubeflow", "katib-config")]["data"]["katib-config.yaml"])
    assert "already registered" in done.stdout
    assert [e["algorithmName"] for e in merged["runtime"]["earlyStoppings"]] == ["medianstop", "successivehalving"]
    assert merged["runtime"]["earlyStoppings"][1] == _entry(rendered)
    assert {k: v for k, v in merged.items() if k != "runtime"} == {k: v for k, v in KATIB_CONFIG.items() if k != "runtime"}
    assert merged["runtime"]["suggestions"] == KATIB_CONFIG["runtime"]["suggestions"]


def test_hook_without_katib_fails_with_a_clear_message(tmp_path):
    with apiserver([]) as api:
        done = _run_hook(render(ENABLED), api.write_kubeconfig(tmp_path / "kubeconfig"))
    assert done.returncode == 1
    assert "kubeflow/katib-config: 404" in done.stderr and "is Katib installed" in done.stderr
    assert "Traceback" not in done.stderr


def _sha_experiment() -> dict:
    exp = yaml.safe_load((REPO / "examples" / "bert-lora-experiment.yaml").read_text())
    exp["spec"]["earlyStopping"] = {"algorithmName": "successivehalving", "algorithmSettings": [
        {"name": "min_resource", "value": "1"}, {"name": "reduction_factor", "value": "3"}]}
    return exp


def test_validator_admits_successivehalving_only_when_the_rendered_config_registers_it(tmp_path):
    for values, allowed in ((None, False), (ENABLED, True)):
        path = tmp_path / "config.yaml"
        path.write_text(render(values).one("ConfigMap", "katib-llm-config")["data"]["config.yaml"])
        result = admit(_sha_experiment(), admin_config(path))
        assert result.allowed is allowed, result.errors
        if not allowed:
            [error] = result.errors
            assert error.path == "spec.earlyStopping.algorithmName"
            assert "not registered" in error.message and "earlyStopping.successivehalving" in error.message
        else:
            assert result.experiment["spec"]["earlyStopping"]["algorithmName"] == "successivehalving"
    bad = _sha_experiment()
    bad["spec"]["earlyStopping"]["algorithmSettings"] = [{"name": "reduction_factor", "value": "1"}]
    [error] = admit(bad, admin_config(path)).errors
    assert error.path == "spec.earlyStopping.algorithmSettings" and "reduction_factor" in error.message


def test_hook_objects_validate_strictly():
    import kubernetes_validate

    from .helpers import KUBE_VERSIONS

    for obj in _hooks(render(ENABLED)).values():
        for version in KUBE_VERSIONS:
            kubernetes_validate.validate(obj, version, strict=True)


def test_unregister_removes_only_our_entry(tmp_path):
    rendered = render(ENABLED)
    cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "katib-config", "namespace": "kubeflow"},
          "data": {"katib-config.yaml": yaml.safe_dump(KATIB_CONFIG)}}
    with apiserver([cm]) as api:
        kubeconfig = api.write_kubeconfig(tmp_path / "kubeconfig")
        assert _run_hook(rendered, kubeconfig).returncode == 0
        cli = str(Path(sys.executable).with_name("katib-llm"))
        done = subprocess.run([cli, "katib-config", "unregister", "--entry", '{"algorithmName": "successivehalving"}',
                               "--kubeconfig", str(kubeconfig)], capture_output=True, text=True, timeout=120,
                              env={**os.environ, "PYTHONPATH": str(REPO / "src")})
        assert done.returncode == 0, done.stderr
        left = yaml.safe_load(api.objects_of("configmaps")[("kubeflow", "katib-config")]["data"]["katib-config.yaml"])
    assert left == KATIB_CONFIG
    bad = subprocess.run([str(Path(sys.executable).with_name("katib-llm")), "katib-config", "register", "--entry",
                          '{"algorithmName": "successivehalving"}'], capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(REPO / "src")})
    assert bad.returncode == 2 and "image" in bad.stderr and "Traceback" not in bad.stderr
