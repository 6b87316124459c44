"""The admin configuration and trial templates the chart publishes come from the one source."""

from __future__ import annotations

import re

import pytest
import yaml

from katib_llm.core.config import DEFAULT_RUNTIME_IMAGE, DEFAULTS
from katib_llm.io import admin_config, template_files

from .helpers import CHART, render
from .scenarios import SCENARIOS


def test_chart_config_defaults_are_the_core_defaults():
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["config"] == DEFAULTS


def _config(rendered) -> dict:
    return yaml.safe_load(rendered.one("ConfigMap", "katib-llm-config")["data"]["config.yaml"])


def test_rendered_config_map_loads_in_the_core(default_render, tmp_path):
    data = _config(default_render)
    assert data == DEFAULTS
    path = tmp_path / "config.yaml"
    path.write_text(default_render.one("ConfigMap", "katib-llm-config")["data"]["config.yaml"])
    config = admin_config(path)  # what `katib-llm webhook --config` reads
    assert config.values == DEFAULTS
    assert set(config.templates) == set(template_files())


def test_non_default_config_round_trips_exactly(tmp_path):
    wanted = SCENARIOS["non-default"]["config"]
    rendered = render(SCENARIOS["non-default"])
    path = tmp_path / "config.yaml"
    path.write_text(rendered.one("ConfigMap", "katib-llm-config")["data"]["config.yaml"])
    config = admin_config(path)
    for key, value in wanted.items():
        if isinstance(value, dict) and key != "providers":
            assert {k: config.values[key][k] for k in value} == value, key
        else:
            assert config.values[key] == value, key
    assert config.providers["lakefs"].secret == "lakefs-credentials"
    assert config.runtime_image == "registry.example.com/ml/katib-llm-runtime:0.1.0-rc1"


def test_trial_templates_config_map(default_render):
    cm = default_render.one("ConfigMap", DEFAULTS["templatesConfigMap"]["name"])
    assert cm["metadata"]["namespace"] == DEFAULTS["templatesConfigMap"]["namespace"]
    assert cm["metadata"]["labels"]["katib.kubeflow.org/component"] == "trial-templates"
    files = template_files()
    assert set(cm["data"]) == {f"{name}.yaml" for name in files}  # no __init__.py
    for name, text in files.items():
        assert cm["data"][f"{name}.yaml"] == text, f"{name}: not the single source verbatim"
        assert yaml.safe_load(cm["data"][f"{name}.yaml"]) == yaml.safe_load(text)


def test_trial_templates_use_the_configured_runtime_image():
    image = "registry.example.com/ml/katib-llm-runtime:0.1.0-rc1"
    cm = render({"config": {"images": {"runtime": image}}}).one("ConfigMap", "katib-llm-trial-templates")
    for key, text in cm["data"].items():
        assert DEFAULT_RUNTIME_IMAGE not in text, key
        images = re.findall(r"^\s*image:\s*(\S+)\s*$", text, flags=re.M)
        assert images and set(images) == {image}, key
        job = yaml.safe_load(text)
        assert job["apiVersion"] and job["kind"], key  # still a job manifest after the substitution


def test_other_namespace_needs_matching_templates_namespace():
    from helm_python import HelmError

    with pytest.raises(HelmError, match=r"config.templatesConfigMap.namespace is \"katib-llm\".*release namespace \"ml-system\""):
        render(name="tuning", namespace="ml-system")
    rendered = render({"config": {"templatesConfigMap": {"namespace": "ml-system"}}}, name="tuning", namespace="ml-system")
    assert rendered.one("ConfigMap", "katib-llm-trial-templates")["metadata"]["namespace"] == "ml-system"
    assert rendered.one("Service")["metadata"]["name"] == "tuning-katib-llm-webhook"


def test_unknown_default_template_fails_fast_naming_the_shipped_ones():
    from helm_python import HelmError

    with pytest.raises(HelmError, match="config.defaultTemplate \"nope\" is not a shipped trial template; shipped: function-job"):
        render({"config": {"defaultTemplate": "nope"}})


def test_notes_tell_the_next_steps(default_render):
    notes = default_render.notes
    assert "kubectl label namespace" in notes and "katib.kubeflow.org/metrics-collector-injection=enabled" in notes
    assert 'llm.katib.kubeflow.org/tune: "true"' in notes and "kubectl apply" in notes
    assert "helm test katib-llm" in notes
    # The sample Experiment in NOTES is admitted by the core as it stands.
    sample = notes.split("cat <<'YAML' | kubectl apply -n my-team -f -\n", 1)[1].split("  YAML\n", 1)[0]
    experiment = yaml.safe_load("\n".join(line[2:] for line in sample.splitlines()))
    experiment["metadata"]["namespace"] = "my-team"
    from katib_llm.core.admit import admit

    from tests.conformance.schemas import admitted_errors

    result = admit(experiment, admin_config(None))
    assert result.allowed, result.errors
    assert admitted_errors(result.experiment) == []


def test_values_yaml_is_documented_line_by_line():
    """Every key in values.yaml has a comment right above it (a few Kubernetes-type fields excepted)."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)([A-Za-z][\w.-]*):", line)
        if not m:
            continue
        prev = lines[i - 1] if i else ""
        if prev.strip().startswith("#"):
            continue
        # Fields of Kubernetes types (ResourceRequirements, Probe) and of small maps whose parent
        # comment says it all (templatesConfigMap, rbac) share the parent's comment; only those.
        if re.match(r"^\s+(requests|limits|cpu|memory|name|namespace|create|initialDelaySeconds|periodSeconds"
                    r"|timeoutSeconds|failureThreshold)\b", line):
            continue
        undocumented.append(f"{i + 1}: {line.strip()}")
    assert not undocumented, "undocumented values:\n" + "\n".join(undocumented)
