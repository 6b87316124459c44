"""Small pieces of the notebook path: dry-run YAML for kubectl, relative file:// in mutate/validate,
the live progress view in Jupyter (IPython's display handle, emulated) and quiet mode."""

from __future__ import annotations

import subprocess
import sys
import types
from pathlib import Path

import yaml

from katib_llm import KatibClient, TrainingClient, search

REPO = Path(__file__).resolve().parents[2]


def _dry_run():
    return KatibClient(namespace="kubeflow").tune(
        name="yaml-out", hp_space={"learning_rate": search.double(1e-05, 5e-05), "lora_config.r": search.int(8, 32)},
        objective=TrainingClient().train(model_provider_parameters={"model_uri": "hf://google-bert/bert-base-cased"},
                                         dataset_provider_parameters={"repo_id": "yelp_review_full"}).metrics,
        objective_metric_name="eval_accuracy", max_trial_count=2, dry_run=True)


def test_dry_run_yaml_reads_back_identically(tmp_path):
    exp = _dry_run()
    text = KatibClient.to_yaml(exp, str(tmp_path / "exp.yaml"))
    assert (tmp_path / "exp.yaml").read_text() == text
    assert yaml.safe_load(text) == exp
    # Strings a YAML 1.2 reader (kubectl) would type as numbers or booleans stay quoted.
    assert "min: '1e-05'" in text and "max: '32'" in text
    assert not list(tmp_path.glob(".*.tmp"))


def cli(*args):
    return subprocess.run([sys.executable, "-m", "katib_llm.cli", *args], capture_output=True, text=True, cwd=REPO)


def test_mutate_and_validate_local_resolve_the_quickstart_relative_file_uri():
    out = cli("mutate", "--local", "examples/quickstart.yaml")
    assert out.returncode == 0, out.stderr
    (exp,) = list(yaml.safe_load_all(out.stdout))
    dataset = exp["metadata"]["annotations"]["llm.katib.kubeflow.org/dataset"]
    assert dataset == f"file://{REPO / 'examples' / 'data' / 'sentiment'}"
    assert "resolved against" in out.stderr and "drop --local" in out.stderr
    assert cli("validate", "--local", "examples/quickstart.yaml").returncode == 0
    # Without --local: the cluster's webhook's answer, which denies the relative URI.
    for exact in (cli("validate", "examples/quickstart.yaml"), cli("validate", "--cluster", "examples/quickstart.yaml")):
        assert exact.returncode == 1 and "file URIs need an absolute path" in exact.stderr
        assert "`--local` previews" in exact.stderr


class _Handle:
    def __init__(self, shown):
        self.shown = shown

    def update(self, obj):
        self.shown.append(("update", obj.data))


def fake_ipython(monkeypatch, shown):
    """IPython as a Jupyter kernel has it: get_ipython() returns a ZMQInteractiveShell;
    display(..., display_id=True) returns a handle whose update() redraws in place."""
    # matplotlib.pyplot registers a post-execute hook on the shell it finds.
    ZMQInteractiveShell = type("ZMQInteractiveShell", (), {"events": types.SimpleNamespace(register=lambda *a: None)})
    ipython = types.ModuleType("IPython")
    ZMQInteractiveShell.enable_gui = lambda self, gui: None
    ipython.get_ipython = lambda: ZMQInteractiveShell()
    ipython.version_info = (9, 0, 0)
    display = types.ModuleType("IPython.display")

    class HTML:
        def __init__(self, data):
            self.data = data

    def show(obj, display_id=False):
        shown.append(("display", obj.data))
        return _Handle(shown)

    display.HTML, display.display = HTML, show
    ipython.display = display
    monkeypatch.setitem(sys.modules, "IPython", ipython)
    monkeypatch.setitem(sys.modules, "IPython.display", display)


def test_wait_shows_one_live_output_area_in_jupyter(client, apiserver, monkeypatch):
    from tests.sdk.katib_stand_in import run_experiment_like_katib
    from tests.sdk.test_sdk_cluster import _tune

    shown = []
    fake_ipython(monkeypatch, shown)
    _tune(client)
    run_experiment_like_katib(apiserver, "kubeflow", "llm-hp-optimization-test", delay=0.5)
    client.wait_for_experiment_condition("llm-hp-optimization-test", polling_interval=2)
    assert shown[0][0] == "display" and all(kind == "update" for kind, _ in shown[1:])
    assert "<pre" in shown[-1][1] and "Succeeded" in shown[-1][1] and "eval_accuracy=0.6133" in shown[-1][1]
    quiet = []
    fake_ipython(monkeypatch, quiet)
    client.wait_for_experiment_condition("llm-hp-optimization-test", progress=False)
    assert quiet == []
