"""Everything katib-llm emits, gathered for the conformance checks.

* admitted Experiments: every shipped trial template (trial-templates/), every example
  (examples/), the example under the admin configuration of every chart ci/ values file, every
  golden review (tests/webhook/golden: the request's object with the golden
  response's JSONPatch applied), and the SDK's ``tune(dry_run=True)`` output for an LLM and a
  Python-function objective on each template kind that takes one;
* the chart's ClusterTrainingRuntime, rendered by the real Helm engine (tests/chart/helpers.py)
  with the default values and with every ci/ values file that enables it, and every other pod
  the chart renders (webhook, reconciler, hook Job, test Pod).
"""

from __future__ import annotations

import base64
import functools
import json
from typing import Any

import jsonpatch
import yaml

from tests.builders import REPO, admitted, example

GOLDEN = REPO / "tests" / "webhook" / "golden"
EXAMPLES = REPO / "examples"
# Annotations only a distributed template accepts (a batch Job runs one pod).
_DISTRIBUTED = ("llm.katib.kubeflow.org/workers", "llm.katib.kubeflow.org/procs-per-worker")


def _allowed(label: str, result: Any) -> tuple[str, dict[str, Any]]:
    assert result.allowed, f"{label}: {[str(e) for e in result.errors]}"
    return label, result.experiment


def template_experiments() -> list[tuple[str, dict[str, Any]]]:
    """The project's example admitted with each LLM trial template the chart ships."""
    from katib_llm.io import load_templates

    out = []
    for name in sorted(load_templates()):
        if name.startswith("function-"):
            continue  # these run a Python objective: sdk_experiments covers them
        exp = example(annotations={"trial-template": name})
        if name.endswith("-job"):
            for key in _DISTRIBUTED:
                exp["metadata"]["annotations"].pop(key, None)
        out.append(_allowed(f"template {name}", admitted(exp)))
    return out


def example_experiments() -> list[tuple[str, dict[str, Any]]]:
    """examples/*.yaml as the webhook admits them; the local quickstart as the local runner does."""
    from katib_llm.local.files import resolve_file_uris
    from katib_llm.local.runner import admit_local, local_config

    out = []
    for path in sorted(EXAMPLES.glob("*.yaml")):
        exp = yaml.safe_load(path.read_text())
        if path.name == "quickstart.yaml":  # relative file:// resolved against examples/ locally
            exp = resolve_file_uris(exp, EXAMPLES)
            out.append(_allowed(f"example {path.name} (local)", admit_local(exp, local_config(None))))
        else:
            out.append(_allowed(f"example {path.name}", admitted(exp)))
    return out


def chart_config_experiments() -> list[tuple[str, dict[str, Any]]]:
    """The project's example admitted with the admin configuration of every chart ci/ values file
    that admits it (e.g. trainer-v2: the default template is hf-lora-trainjob on the runtime
    katib-llm-lora-gpu; non-default allows only its own sources and denies the example by design)."""
    from katib_llm.core.config import load_config
    from katib_llm.io import load_templates
    from tests.chart.scenarios import SCENARIOS

    out = []
    for name, values in sorted(SCENARIOS.items()):
        config, errors = load_config(values.get("config") or {}, load_templates())
        assert not errors, (name, errors)
        result = admitted(example(), config)
        if result.allowed:
            out.append((f"chart values {name}", result.experiment))
    assert "chart values trainer-v2" in [label for label, _ in out]
    return out


def golden_experiments() -> list[tuple[str, dict[str, Any]]]:
    """The object of every allowed golden review, as stored after the webhook's JSONPatch."""
    out = []
    for request_file in sorted(GOLDEN.glob("*.request.json")):
        case = request_file.name.removesuffix(".request.json")
        review = json.loads(request_file.read_text())
        response = json.loads((GOLDEN / f"{case}.response.json").read_text())["response"]
        if not response["allowed"]:
            continue
        obj = review["request"]["object"]
        if response.get("patch"):
            obj = jsonpatch.apply_patch(obj, json.loads(base64.b64decode(response["patch"])))
        out.append((f"golden {case}", obj))
    return out


def _objective(parameters: dict[str, Any]) -> dict[str, float]:
    return {"score": float(parameters["x"])}


def sdk_experiments() -> list[tuple[str, dict[str, Any]]]:
    """``KatibClient.tune(dry_run=True)``: an LLM objective (default template) and a Python
    function on each function template."""
    from katib_llm import KatibClient, TrainingClient, search

    client = KatibClient(namespace="kubeflow")
    llm = client.tune(
        name="sdk-llm", hp_space={"learning_rate": search.double(min=1e-05, max=5e-05), "lora_config.r": search.int(min=8, max=32)},
        objective=TrainingClient().train(
            model_provider_parameters={"model_uri": "hf://google-bert/bert-base-cased",
                                       "transformer_type": "AutoModelForSequenceClassification"},
            dataset_provider_parameters={"repo_id": "yelp_review_full", "split": "train[:3000]"}).metrics,
        objective_metric_name="eval_accuracy", objective_type="maximize", max_trial_count=4, parallel_trial_count=2,
        dry_run=True)
    out = [("sdk llm", llm)]
    trainjob = client.tune(
        name="sdk-trainjob", hp_space={"learning_rate": search.double(min=1e-05, max=5e-05)},
        objective=TrainingClient().train(
            model_provider_parameters={"model_uri": "hf://google-bert/bert-base-cased",
                                       "transformer_type": "AutoModelForSequenceClassification"},
            dataset_provider_parameters={"repo_id": "yelp_review_full", "split": "train[:3000]"}).metrics,
        objective_metric_name="eval_accuracy", max_trial_count=4, trial_template="hf-lora-trainjob", dry_run=True)
    out.append(("sdk llm hf-lora-trainjob", trainjob))
    for template in ("function-job", "function-pytorchjob"):
        exp = client.tune(name="sdk-function", hp_space={"x": search.double(min=0.0, max=1.0)}, objective=_objective,
                          objective_metric_name="score", objective_type="maximize", max_trial_count=4,
                          trial_template=template, dry_run=True)
        out.append((f"sdk function {template}", exp))
    return out


@functools.cache
def experiments() -> tuple[tuple[str, dict[str, Any]], ...]:
    """Every admitted Experiment katib-llm emits, labelled by where it comes from."""
    return tuple(template_experiments() + example_experiments() + chart_config_experiments() + golden_experiments()
                 + sdk_experiments())


@functools.cache
def runtimes() -> tuple[tuple[str, dict[str, Any]], ...]:
    """The chart's ClusterTrainingRuntime under the default values (+ trainerV2.enabled) and under
    every ci/ values file that enables it."""
    from tests.chart.helpers import render
    from tests.chart.scenarios import SCENARIOS

    sets = {"defaults+trainerV2": {"trainerV2": {"enabled": True}}}
    sets.update({name: values for name, values in SCENARIOS.items() if (values.get("trainerV2") or {}).get("enabled")})
    return tuple((f"chart {name}", render(values).one("ClusterTrainingRuntime")) for name, values in sets.items())


@functools.cache
def chart_pods() -> tuple[tuple[str, dict[str, Any]], ...]:
    """Every pod spec the chart renders (Deployments, hook Jobs, test Pods), under the default
    values and every ci/ values file."""
    from tests.chart.helpers import render
    from tests.chart.scenarios import SCENARIOS

    out = []
    for name, values in SCENARIOS.items():
        for obj in render(values).objects:
            if obj["kind"] in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
                out.append((f"{name} {obj['kind']} {obj['metadata']['name']}", obj["spec"]["template"]["spec"]))
            elif obj["kind"] == "Pod":
                out.append((f"{name} Pod {obj['metadata']['name']}", obj["spec"]))
    return tuple(out)


def runtime_for(job: dict[str, Any]) -> dict[str, Any]:
    """The chart's runtime (default values) the TrainJob names; the admitted TrainJob must name it."""
    name = job["spec"]["runtimeRef"]["name"]
    found = [rt for _, rt in runtimes() if rt["metadata"]["name"] == name]
    assert found, f"no chart-rendered ClusterTrainingRuntime named {name!r}"
    return found[0]
