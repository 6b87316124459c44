"""Every upstream Katib v0.19 example Experiment (kubeflow/katib ``examples/v1beta1``): untouched
when unlabelled, admitted and schema-valid when labelled. Needs the upstream reference files."""

from __future__ import annotations

import copy

import pytest
import yaml

from katib_llm.core.admit import admit
from katib_llm.io import configmaps_from

from tests.conformance.schemas import admitted_errors, load_examples
from tests.reference import REFERENCE

pytestmark = pytest.mark.reference

EXAMPLES = load_examples()
# Katib's own trial-templates ConfigMap (manifests/v1beta1/components/controller/trial-templates.yaml),
# as the webhook adapter would read it from the cluster.
KATIB_CONFIGMAPS = configmaps_from(list(yaml.safe_load_all(
    (REFERENCE / "katib" / "trial-templates" / "trial-templates.yaml").read_text()))) if REFERENCE else None
LLM_ANNOTATIONS = {
    "llm.katib.kubeflow.org/model": "hf://google-bert/bert-base-cased",
    "llm.katib.kubeflow.org/dataset": "hf://yelp_review_full?split=train[:3000]",
}


def labelled(exp):
    out = copy.deepcopy(exp)
    meta = out.setdefault("metadata", {})
    meta.setdefault("labels", {})["llm.katib.kubeflow.org/tune"] = "true"
    meta.setdefault("annotations", {}).update(LLM_ANNOTATIONS)
    return out


def test_examples_found():
    assert len(EXAMPLES) >= 20


@pytest.mark.parametrize("path,exp", EXAMPLES, ids=[p for p, _ in EXAMPLES])
def test_unlabelled_untouched(path, exp, admin_config):
    before = copy.deepcopy(exp)
    result = admit(exp, admin_config)
    assert result.allowed and not result.labelled
    assert result.patch == []
    assert exp == before


# Upstream inconsistency: this example references Katib's defaultTrialTemplate.yaml, whose
# command uses ${trialParameters.momentum}, a parameter the example does not declare. Katib's
# own validator rejects the pair; so do we, with the same rule and field.
KATIB_REJECTS = {"trial-template/trial-configmap-source.yaml"}
ADMITTED = [(p, e) for p, e in EXAMPLES if p not in KATIB_REJECTS]


def test_katib_rejected_example_denied_like_katib(admin_config):
    (exp,) = [e for p, e in EXAMPLES if p in KATIB_REJECTS]
    result = admit(labelled(exp), admin_config, configmaps=KATIB_CONFIGMAPS)
    assert not result.allowed
    assert [(e.path, e.code) for e in result.errors] == [("spec.trialTemplate", "katib.trial-parameters")]
    assert "momentum" in result.errors[0].message


def on_our_runtime(exp, config):
    """A TrainJob example pointed at katib-llm's ClusterTrainingRuntime: its initializer steps do
    the downloads the model and dataset annotations ask for (a foreign runtime is denied, below)."""
    out = copy.deepcopy(exp)
    job = out["spec"]["trialTemplate"].get("trialSpec") or {}
    if job.get("kind") == "TrainJob":
        job["spec"]["runtimeRef"]["name"] = config.trainer_runtime
    return out


def test_trainjob_on_a_foreign_runtime_with_downloads_is_denied(admin_config):
    (exp,) = [e for p, e in EXAMPLES if p == "kubeflow-trainer/trainjob-pytorch.yaml"]
    result = admit(labelled(exp), admin_config)
    assert not result.allowed
    assert {(e.path, e.code) for e in result.errors} == {
        ("spec.trialTemplate.trialSpec.spec.runtimeRef.name", "trainjob.runtime")}
    assert admin_config.trainer_runtime in result.errors[0].message


@pytest.mark.parametrize("path,exp", ADMITTED, ids=[p for p, _ in ADMITTED])
def test_labelled_admitted_and_valid(path, exp, admin_config):
    result = admit(labelled(on_our_runtime(exp, admin_config)), admin_config, configmaps=KATIB_CONFIGMAPS)
    assert result.allowed, result.errors
    assert admitted_errors(result.experiment) == []
    pod_specs = [t for t in _pod_templates(result.experiment)]
    if pod_specs:  # TrainJob has none
        for tmpl in pod_specs:
            names = [c["name"] for c in tmpl["spec"]["initContainers"]]
            assert names == ["storage-initializer-model", "storage-initializer-dataset"]
            assert any(v["name"] == "katib-llm-storage" for v in tmpl["spec"]["volumes"])


@pytest.mark.parametrize("path,exp", ADMITTED, ids=[p for p, _ in ADMITTED])
def test_labelled_idempotent(path, exp, admin_config):
    first = admit(labelled(on_our_runtime(exp, admin_config)), admin_config, configmaps=KATIB_CONFIGMAPS)
    second = admit(first.experiment, admin_config)
    assert second.allowed
    assert second.patch == []
    assert second.experiment == first.experiment


def _pod_templates(exp):
    from katib_llm.core.jobkinds import job_kind

    job = exp["spec"]["trialTemplate"]["trialSpec"]
    return [t for _, t in job_kind(job).pod_templates(job)]


def test_foreign_configmap_unreadable_is_denied_naming_field(admin_config):
    exp = next(e for p, e in EXAMPLES if p == "trial-template/trial-configmap-source.yaml")
    result = admit(labelled(exp), admin_config)
    assert not result.allowed
    assert [e.path for e in result.errors] == ["spec.trialTemplate.configMap"]
    assert "trial-templates" in result.errors[0].message
