"""What a plain ``pip install katib-llm`` brings: the SDK only. The webhook server, the trial
runtime and the local backend are extras, and a command whose extra is missing says so in one line."""

from __future__ import annotations

import json
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from katib_llm.cli.main import main

REPO = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
NOT_IN_BASE = {"flask", "gunicorn", "kopf", "torch", "transformers", "peft", "accelerate", "datasets",
               "matplotlib", "cryptography", "prometheus-client"}


def _name(requirement: str) -> str:
    return Requirement(requirement).name.lower().replace("_", "-")


def _closure(requirements: list[str]) -> set[str]:
    """Every distribution the requirements pull in (as installed here), extras not followed."""
    seen: set[str] = set()
    todo = [Requirement(r) for r in requirements]
    while todo:
        req = todo.pop()
        name = req.name.lower().replace("_", "-")
        if name in seen or (req.marker is not None and not req.marker.evaluate({"extra": ""})):
            continue
        seen.add(name)
        try:
            todo += [Requirement(r) for r in metadata.requires(name) or []]
        except metadata.PackageNotFoundError:
            pass  # a platform-only dependency not installed here
    return seen


def test_base_dependencies_are_the_sdk_only():
    base = {_name(r) for r in PYPROJECT["dependencies"]}
    assert not base & NOT_IN_BASE
    closure = _closure(PYPROJECT["dependencies"])
    # Nothing the base pulls in transitively brings the webhook server or the ML stack either.
    assert not closure & {"flask", "gunicorn", "kopf", "torch", "transformers", "peft"}, closure & NOT_IN_BASE
    assert {"kubeflow-katib", "kubernetes", "pandas", "optuna", "plotly", "rich"} <= closure


def test_extras_hold_the_rest():
    extras = {k: {_name(r) for r in v} for k, v in PYPROJECT["optional-dependencies"].items()}
    assert {"flask", "gunicorn", "cryptography", "prometheus-client"} <= extras["webhook"]
    torch = next(r for r in PYPROJECT["optional-dependencies"]["train"] if _name(r) == "torch")
    # A notebook's own torch (any build from 2.4 on) satisfies the train extra: no exact pin.
    assert "==" not in torch and Requirement(torch).specifier.contains("2.4.0")
    assert Requirement(torch).specifier.contains("2.13.0")
    assert "katib-llm[train]" in PYPROJECT["optional-dependencies"]["local"]
    assert "katib-llm[local,webhook]" in PYPROJECT["optional-dependencies"]["test"]
    # The webhook image installs its extra's locked environment, then katib-llm with nothing more.
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "requirements/webhook.txt" in dockerfile and "pip install --no-deps /wheels/katib_llm-*.whl" in dockerfile


def test_installed_metadata_matches_when_installed_from_this_checkout():
    dist = metadata.distribution("katib-llm")
    origin = json.loads(dist.read_text("direct_url.json") or "{}").get("url", "")
    if Path(origin.removeprefix("file://")).resolve() != REPO:
        pytest.skip(f"katib-llm is installed from {origin or 'an index'}, not this checkout")
    installed = {_name(r) for r in dist.requires or [] if "extra ==" not in r}
    assert installed == {_name(r) for r in PYPROJECT["dependencies"]}


@pytest.mark.parametrize(("argv", "hidden", "extra"), [
    (["tune", str(REPO / "examples" / "quickstart.yaml"), "--local"], "matplotlib", "local"),
    (["initialize", "model", "hf://x/y", "--target", "t", "--cache-dir", "c"], "huggingface_hub", "train"),
    (["train"], "torch", "train"),
    (["webhook", "--tls-cert-file", "c", "--tls-private-key-file", "k"], "flask", "webhook"),
])
def test_a_missing_extra_is_one_line_naming_it(argv, hidden, extra, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, hidden, None)  # as if not installed
    assert main(argv) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"[{extra}] extra" in err[0] and hidden in err[0]
    assert f"pip install 'katib-llm[{extra}]'" in err[0]


def _objective(parameters):
    return {"loss": parameters["x"]}


def test_the_local_backend_without_its_extra_says_which(monkeypatch, tmp_path):
    from katib_llm import KatibClient, search
    from katib_llm.io.extras import MissingExtra

    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtra, match=r"needs the \[local\] extra \(missing: matplotlib\)"):
        KatibClient(backend="local", workdir=str(tmp_path / "run")).tune(
            name="no-extra", objective=_objective, hp_space={"x": search.double(0, 1)},
            objective_metric_name="loss", max_trial_count=1)
    assert not (tmp_path / "run").exists()
