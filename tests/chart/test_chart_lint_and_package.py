"""`helm lint` is clean; the packaged chart carries the trial templates (symlink followed)."""

from __future__ import annotations

import tarfile

import helm_python as helm
import pytest

from katib_llm.io import template_files

from .helpers import CHART, parse
from .scenarios import SCENARIOS


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_lint_is_clean(name):
    report = helm.lint(CHART, SCENARIOS[name], strict=True, namespace="katib-llm", kube_version="v1.33.0")
    assert report["errors"] == [] and report["messages"] == [], report


def test_lint_reports_a_bad_value():
    report = helm.lint(CHART, {"webhook": {"timeoutSeconds": 31}}, strict=True, namespace="katib-llm")
    assert any("timeoutSeconds" in m["error"] for m in report["messages"] if m["severity"] == 3), report


def test_trial_templates_is_a_symlink_to_the_single_source():
    link = CHART / "trial-templates"
    assert link.is_symlink() and link.resolve() == (CHART.parent.parent / "trial-templates").resolve()


def test_packaged_chart_is_self_contained(tmp_path):
    archive = helm.package(CHART, destination=tmp_path)
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
    shipped = {f"katib-llm/trial-templates/{name}.yaml" for name in template_files()}
    assert shipped <= names, names
    assert not any(n.endswith((".py", ".pyc")) or "__pycache__" in n for n in names), names
    # Rendered from the archive alone (no symlink, no repository), the templates are the same.
    with helm.Chart.load(archive) as chart:
        rendered = parse(chart.render(name="katib-llm", namespace="katib-llm"))
    data = rendered.one("ConfigMap", "katib-llm-trial-templates")["data"]
    assert data == {f"{name}.yaml": text for name, text in template_files().items()}


def test_rendered_argv_is_accepted_by_the_cli():
    """The Deployment's commands parse with the real `katib-llm` argument parser (docs/webhook.md)."""
    from katib_llm.cli.main import build_parser

    with helm.Chart.load(CHART) as chart:
        rendered = parse(chart.render(name="katib-llm", namespace="katib-llm"))
    parser = build_parser()
    containers = [c for d in rendered.find("Deployment") for c in d["spec"]["template"]["spec"]["containers"]]
    assert {c["name"] for c in containers} == {"webhook", "reconciler"}
    for container in containers:
        argv = [a.replace("$(POD_NAMESPACE)", "katib-llm").replace("$(POD_NAME)", "pod-0") for a in container["command"]]
        assert argv[0] == "katib-llm"
        args = parser.parse_args(argv[1:])
        assert callable(args.func), container["name"]
        if container["name"] == "webhook":
            assert args.kube_api and args.port == 8443 and args.config == "/etc/katib-llm/config/config.yaml"
        else:
            assert args.lease_namespace == "katib-llm" and args.health_port == 8081
            assert set(args.exclude_namespace) == {"kube-system", "katib-llm"}
