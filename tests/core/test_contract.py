"""The contract end to end through the core: templates, workers, resources, storage, metrics."""

from __future__ import annotations

import base64
import copy
import json

import pytest
import yaml

from katib_llm.core.admit import admit, volume_claim
from katib_llm.core.config import load_config
from katib_llm.core.metrics import METRICS_FILTER, format_metric_line, metric_lines, metric_value, parse_metrics
from katib_llm.io import load_templates

from tests.builders import example
from tests.conformance.schemas import admitted_errors, substitute

EXAMPLE = example()
A = "llm.katib.kubeflow.org/"


def pods(exp):
    spec = exp["spec"]["trialTemplate"]["trialSpec"]
    if spec["kind"] == "PyTorchJob":
        return {role: rs for role, rs in spec["spec"]["pytorchReplicaSpecs"].items()}
    return {"Job": spec["spec"]}


def test_seed_shape_master_plus_workers(admin_config):
    result = admit(EXAMPLE, admin_config)
    assert result.allowed
    job = result.experiment["spec"]["trialTemplate"]["trialSpec"]
    assert job["spec"]["pytorchReplicaSpecs"]["Master"]["replicas"] == 1
    assert job["spec"]["pytorchReplicaSpecs"]["Worker"]["replicas"] == 3  # workers include the master
    assert job["spec"]["nprocPerNode"] == "2"
    for role, rs in pods(result.experiment).items():
        c = rs["template"]["spec"]["containers"][0]
        assert c["command"][:2] == ["torchrun", "--nproc-per-node=2"]
        assert c["resources"]["limits"] == {"cpu": "5", "memory": "10G", "nvidia.com/gpu": "2"}
        assert [i["name"] for i in rs["template"]["spec"]["initContainers"]] == [
            "storage-initializer-model", "storage-initializer-dataset"]
        for init in rs["template"]["spec"]["initContainers"]:
            assert init["command"] and init["image"]  # explicit: no ENTRYPOINT lookups


def test_single_worker_drops_worker_replicas(admin_config):
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"][A + "workers"] = "1"
    result = admit(exp, admin_config)
    assert list(pods(result.experiment)) == ["Master"]
    assert admitted_errors(result.experiment) == []


def test_batch_job_template(admin_config):
    exp = copy.deepcopy(EXAMPLE)
    ann = exp["metadata"]["annotations"]
    ann[A + "trial-template"] = "hf-lora-job"
    del ann[A + "workers"]
    result = admit(exp, admin_config)
    assert result.allowed, result.errors
    tt = result.experiment["spec"]["trialTemplate"]
    assert tt["primaryContainerName"] == "training-container"
    assert tt["successCondition"] == 'status.conditions.#(type=="Complete")#|#(status=="True")#'
    assert "primaryPodLabels" not in tt
    assert admitted_errors(result.experiment) == []


def test_configmap_reference_to_our_template_is_inlined(admin_config):
    exp = copy.deepcopy(EXAMPLE)
    exp["spec"]["trialTemplate"] = {"configMap": {"configMapName": "katib-llm-trial-templates",
                                                  "configMapNamespace": "katib-llm",
                                                  "templatePath": "hf-lora-pytorchjob.yaml"}}
    result = admit(exp, admin_config)
    assert result.allowed, result.errors
    tt = result.experiment["spec"]["trialTemplate"]
    assert "configMap" not in tt and tt["trialSpec"]["kind"] == "PyTorchJob"
    assert admitted_errors(result.experiment) == []


def test_patch_is_a_diff_that_applies(admin_config):
    import jsonpatch

    result = admit(EXAMPLE, admin_config)
    assert jsonpatch.apply_patch(EXAMPLE, result.patch) == result.experiment


def test_admin_values_flow_in():
    config, errors = load_config({
        "images": {"runtime": "registry.local/rt:9"},
        "gpu": {"resourceName": "amd.com/gpu"},
        "placement": {"nodeSelector": {"pool": "gpu"}, "tolerations": [{"key": "gpu", "operator": "Exists"}]},
        "credentials": {"hfTokenSecret": "hf-token"},
    }, load_templates())
    assert errors == []
    result = admit(EXAMPLE, config)
    master = pods(result.experiment)["Master"]["template"]["spec"]
    assert master["containers"][0]["image"] == "registry.local/rt:9"
    assert master["containers"][0]["resources"]["limits"]["amd.com/gpu"] == "2"
    assert master["nodeSelector"] == {"pool": "gpu"}
    assert master["tolerations"] == [{"key": "gpu", "operator": "Exists"}]
    model_init = master["initContainers"][0]
    assert model_init["envFrom"] == [{"secretRef": {"name": "hf-token"}}]
    assert "hf_" not in json.dumps(result.experiment)


def test_categorical_reaches_every_pod_intact(admin_config):
    """katib#2625: categorical values arrive as themselves in master and workers."""
    exp = copy.deepcopy(EXAMPLE)
    exp["spec"]["parameters"].append({"name": "lr_scheduler_type", "parameterType": "categorical",
                                      "feasibleSpace": {"list": ["cosine", "linear"]}})
    result = admit(exp, admin_config)
    job = substitute(result.experiment, {"lr_scheduler_type": "linear"})
    for rs in job["spec"]["pytorchReplicaSpecs"].values():
        env = {e["name"]: e["value"] for e in rs["template"]["spec"]["containers"][0]["env"]}
        assert json.loads(env["KATIB_LLM_HPARAMS"])["lr_scheduler_type"] == "linear"


def test_function_template_needs_function(admin_config):
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"][A + "trial-template"] = "function-job"
    del exp["metadata"]["annotations"][A + "workers"]
    result = admit(exp, admin_config)
    assert [e.code for e in result.errors] == ["function.required"]


def test_function_objective(admin_config):
    exp = copy.deepcopy(EXAMPLE)
    ann = exp["metadata"]["annotations"]
    for key in list(ann):
        del ann[key]
    source = base64.b64encode(json.dumps({"name": "f", "source": "def f(p):\n    return {'loss': 1}"}).encode()).decode()
    ann[A + "function"] = source
    ann[A + "packages-to-install"] = '["numpy"]'
    exp["spec"]["parameters"] = [{"name": "alpha", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}]
    result = admit(exp, admin_config)
    assert result.allowed, result.errors
    job = result.experiment["spec"]["trialTemplate"]["trialSpec"]
    assert job["kind"] == "Job"
    env = {e["name"]: e["value"] for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["KATIB_LLM_FUNCTION"] == source and env["KATIB_LLM_PACKAGES"] == '["numpy"]'
    assert admitted_errors(result.experiment) == []


def test_volume_claim_owned_unless_retained(admin_config):
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["uid"] = "1234"
    claim = volume_claim(exp, admin_config)
    admitted = admit(exp, admin_config).experiment
    vol = pods(admitted)["Master"]["template"]["spec"]["volumes"][0]
    assert vol["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]
    assert claim["metadata"]["ownerReferences"][0]["uid"] == "1234"
    exp["metadata"]["annotations"][A + "retain-volume"] = "true"
    assert "ownerReferences" not in volume_claim(exp, admin_config)["metadata"]
    exp["metadata"]["annotations"][A + "volume-claim"] = "shared-cache"
    assert volume_claim(exp, admin_config) is None
    vol = pods(admit(exp, admin_config).experiment)["Master"]["template"]["spec"]["volumes"][0]
    assert vol["persistentVolumeClaim"]["claimName"] == "shared-cache"


def test_metric_lines_round_trip_through_katib_parser():
    lines = ["  Num examples = 3,000", format_metric_line("eval_accuracy", 0.8125), "{'loss': 0.5}",
             *metric_lines({"eval_loss": float("nan"), "eval_accuracy": 0.875})]
    obs = parse_metrics(lines, ["eval_accuracy", "eval_loss"], [METRICS_FILTER])
    assert [(o.name, o.value) for o in obs] == [("eval_accuracy", "0.8125"), ("eval_accuracy", "0.875")]
    assert obs[0].timestamp.endswith("Z")


def test_a_non_finite_value_is_never_printed_in_a_form_a_filter_matches():
    """Katib's default filter matches `name=` with an empty value on `name=nan`; its collector
    then fails parsing it. The value is left out and the notice carries no '='."""
    *kept, notice = metric_lines({"eval_loss": float("nan"), "eval_perplexity": float("inf"), "epoch": 1.0})
    assert len(kept) == 1 and kept[0].endswith("katib-llm-metric epoch=1.0")
    assert "=" not in notice and notice.endswith("not finite, not reported: eval_loss (nan), eval_perplexity (inf)")
    assert parse_metrics([notice], ["eval_loss", "eval_perplexity"]) == []
    with pytest.raises(ValueError, match="only finite values"):
        format_metric_line("eval_loss", float("-inf"))
    assert [metric_value(t) for t in ("0.5", "nan", "inf", "", "unavailable")] == [0.5, None, None, None, None]
