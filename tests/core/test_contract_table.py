"""The contract as data: what derives from ``contract.ANNOTATIONS`` matches it, and no name it
defines is spelt anywhere else in the package."""

from __future__ import annotations

import ast
import dataclasses
import inspect
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from katib_llm.core import contract, dataset_config
from katib_llm.core.codes import DENIAL_CODES
from katib_llm.core.contract import ANNOTATIONS, LLMSpec, Resources
from katib_llm.core.limits import Budget
from katib_llm.core.trialenv import ALL as TRIAL_ENV
from katib_llm.sdk import arguments
from katib_llm.sdk.client import KatibClient

SRC = Path(contract.__file__).resolve().parents[1]
DOC = SRC.parents[1] / "docs" / "contract.md"


def test_known_annotations_are_the_table():
    assert contract.KNOWN_ANNOTATIONS == {a.name for a in ANNOTATIONS}
    assert len(ANNOTATIONS) == len(contract.KNOWN_ANNOTATIONS)


def test_every_table_code_is_a_denial_code():
    assert {a.code for a in ANNOTATIONS} <= set(DENIAL_CODES)


def test_every_attribute_is_an_llmspec_field_and_every_field_an_annotation():
    fields = {f.name for f in dataclasses.fields(LLMSpec)} - {"given"}
    assert {a.attr for a in ANNOTATIONS if a.attr} == fields


def test_every_argument_is_a_tune_parameter():
    parameters = set(inspect.signature(KatibClient.tune).parameters)
    for a in ANNOTATIONS:
        if a.argument is not None:
            assert a.argument.split(".")[0] in parameters, a
        assert a.key_form in (".", "[]")


def test_the_sdk_argument_map_is_the_table():
    assert arguments._ANNOTATIONS == {a.name: (a.argument, a.key_form) for a in ANNOTATIONS if a.argument}
    for name in ("budget", "trial-active-deadline-seconds", "queue", "tracking-secret", "warm-start", "objectives"):
        error = contract.FieldError(contract.annotation_path(name), "x.y", "m")
        assert arguments.argument_of(error) == contract.BY_NAME[name].argument


def test_docs_list_every_annotation_with_its_argument_and_code():
    doc = DOC.read_text()
    for a in ANNOTATIONS:
        if a.attr is None:
            continue
        row = next(line for line in doc.splitlines() if line.startswith(f"| `{a.name}` |"))
        assert (f"`{a.argument}`" if a.argument else "—") in row and f"`{a.code}`" in row, row


def _full_spec() -> LLMSpec:
    """A spec with every attribute away from its default."""
    return LLMSpec(
        model=contract.uri("hf://org/model@main"), model_class="AutoModelForCausalLM", model_parameters=7_000_000_000,
        dataset=contract.uri("hf://org/data?split=train[:100]"), dataset_config={"max_length": 64, "eval_fraction": 0.2},
        trial_template="hf-lora-job", workers=2, procs_per_worker=2, resources=Resources(gpu=1, cpu="2", memory="8Gi"),
        training_args={"save_strategy": "no"}, lora_config={"lora_alpha": 8}, volume_claim="cache", retain_volume=True,
        retain_trials=True, function="e30=", packages=["numpy"], pip_index_urls=["https://pypi.org/simple"],
        base_image="python:3.11", env={"HF_HUB_OFFLINE": "1"}, queue="team-a",
        budget=Budget(train_steps=100, wall_clock=3600.0, gpu_hours=2.0), trial_deadline=600,
        tracking_secret="mlflow", warm_start=["runs/a"], objectives=[("eval_accuracy", "maximize"),
                                                                     ("eval_loss", "minimize")])


def test_render_writes_every_annotation_and_parse_reads_it_back():
    spec = _full_spec()
    rendered = contract.render(spec)
    assert set(rendered) == {contract.annotation_key(a.name) for a in ANNOTATIONS if a.attr}
    experiment = {"metadata": {"annotations": rendered},
                  "spec": {"objective": {"type": "maximize", "objectiveMetricName": "eval_accuracy",
                                         "additionalMetricNames": ["eval_loss"]}}}
    parsed, errors = contract.parse_annotations(experiment, {"hf"})
    assert {e.code for e in errors} == {"warm-start.local-only", "objectives.local-only"}
    for a in ANNOTATIONS:
        if a.attr:
            got, want = getattr(parsed, a.attr), getattr(spec, a.attr)
            same = got.raw == want.raw if a.kind == "uri" else got == want
            assert same, (a.name, got, want)
    assert contract.render(parsed) == rendered


def test_render_leaves_defaults_out():
    assert contract.render(LLMSpec()) == {}


@pytest.mark.parametrize("name", sorted(contract.KNOWN_ANNOTATIONS - {contract.ADMITTED}))
def test_parse_value_of_every_annotation_never_raises(name):
    for raw in ("", " ", "\n", "null", "{}", "[]", "³", "x" * 5000, '{"a": 1e999}', "[" * 3000):
        value, errors = contract.parse_value(name, raw, {"hf"})
        assert value is None or not errors


def _constants(path: Path) -> list[str]:
    """String constants of a module, except denial codes (``_err(path, "trial-template", ...)`` is
    Katib's rule name, not our annotation)."""
    tree = ast.parse(path.read_text())
    codes = {id(node.args[1]) for node in ast.walk(tree) if isinstance(node, ast.Call) and len(node.args) > 1
             and (getattr(node.func, "id", None) or getattr(node.func, "attr", None)) in ("_err", "FieldError")}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in codes]


def test_no_annotation_name_is_spelt_outside_the_contract():
    """Names with a hyphen and full keys: single words (model, env, queue, ...) are ordinary words too."""
    names = {a.name for a in ANNOTATIONS if "-" in a.name}
    found = []
    for path in SRC.rglob("*.py"):
        if path.name == "contract.py" and path.parent.name == "core":
            continue
        for text in _constants(path):
            if text in names or any(text.startswith(contract.PREFIX + a.name) for a in ANNOTATIONS):
                found.append(f"{path.relative_to(SRC)}: {text[:60]!r}")
    assert not found, found


# core/trainjob.py still names the storage initializer's three variables itself.
def test_trial_environment_names_come_from_trialenv():
    found = []
    for path in SRC.rglob("*.py"):
        rel = str(path.relative_to(SRC))
        if rel in {"core/trialenv.py"}:
            continue
        found += [f"{rel}: {text}" for text in _constants(path) if text in TRIAL_ENV]
    assert not found, found


def test_the_runtime_reads_dataset_config_with_the_core_table():
    from katib_llm.runtime.data import DatasetConfig
    from katib_llm.runtime.errors import RuntimeInputError

    fields = {f.name: f.default for f in dataclasses.fields(DatasetConfig)}
    assert fields == dataset_config.DEFAULTS and set(fields) == set(dataset_config.KEYS)
    assert DatasetConfig.from_mapping({"max_length": None}).max_length == dataset_config.DEFAULTS["max_length"]
    with pytest.raises(RuntimeInputError, match="eval_fraction"):
        DatasetConfig.from_mapping({"eval_fraction": 2.0})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(name=st.sampled_from(sorted(contract.KNOWN_ANNOTATIONS)), text=st.one_of(
    st.text(max_size=120), st.from_regex(r"[{\[]?[0-9.eE+-]{0,12}[}\]]?\n?", fullmatch=True),
    st.sampled_from(['{"gpu": 1e400}', '{"a": NaN}', "³", "٣", "1\n2", "{}", "[]", "null", "true"])))
def test_parse_of_any_value_denies_at_the_annotation_or_accepts(name, text):
    spec, errors = contract.parse({contract.annotation_key(name): text}, {"hf", "s3"})
    for error in errors:
        assert error.code in DENIAL_CODES and error.message
        assert error.path.startswith(contract.annotation_path(name)) or error.code.startswith("credential"), error
