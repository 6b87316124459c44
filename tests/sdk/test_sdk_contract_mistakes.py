"""ONE table of mistakes (tests/contract_mistakes.py) drives the SDK and the YAML path: both must be
denied on the same field, the SDK naming its argument, neither echoing a secret. The SDK has no
validator of its own: its argument errors are the core's FieldErrors."""

from __future__ import annotations

import ast
import copy
import json
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.contract_mistakes import A, EXAMPLE, SDK_MISTAKES, Mistake, errors_of
from katib_llm import KatibClient, TrainingClient, search
from katib_llm.core.admit import admit
from katib_llm.core.errors import FieldError
from katib_llm.sdk.errors import ArgumentDenied, ExperimentDenied, TuneArgumentError

SDK_DIR = Path(__file__).resolve().parents[2] / "src" / "katib_llm" / "sdk"
MODEL = {"model_uri": "hf://google-bert/bert-base-cased", "transformer_type": "AutoModelForSequenceClassification"}
DATASET = {"repo_id": "yelp_review_full", "split": "train[:3000]"}
PARTS = ("model", "dataset", "training", "lora")


def tune_kwargs(overrides: dict) -> dict:
    """tune() arguments equivalent to examples/bert-lora-experiment.yaml, with ``overrides``."""
    parts = {"model": MODEL, "dataset": DATASET, "training": {"save_strategy": "no"}, "lora": {"lora_alpha": 8}}
    parts.update({k: v for k, v in overrides.items() if k in PARTS})
    kwargs = dict(name="mistake", hp_space={"learning_rate": search.double(1e-5, 5e-5)},
                  objective=TrainingClient().train(
                      model_provider_parameters=parts["model"], dataset_provider_parameters=parts["dataset"],
                      trainer_parameters={"training_parameters": parts["training"], "lora_config": parts["lora"]}).metrics,
                  objective_metric_name="eval_accuracy", max_trial_count=4, num_workers=2,
                  resources_per_worker={"gpu": 1, "cpu": 4, "memory": "16Gi"})
    kwargs.update({k: v for k, v in overrides.items() if k not in PARTS})
    return kwargs


def sdk_denial(overrides: dict) -> TuneArgumentError:
    with pytest.raises(TuneArgumentError) as info:
        KatibClient(namespace="kubeflow").tune(dry_run=True, **tune_kwargs(overrides))
    return info.value


@pytest.mark.parametrize("mistake", SDK_MISTAKES, ids=[m.id for m in SDK_MISTAKES])
def test_sdk_and_yaml_deny_the_same_field(mistake: Mistake, admin_config):
    error = sdk_denial(mistake.sdk)
    assert error.argument == mistake.argument, str(error)
    assert isinstance(error, ArgumentDenied) and isinstance(error, ExperimentDenied)
    assert all(isinstance(e, FieldError) for e in error.errors)
    assert (error.errors[0].path, error.errors[0].code) == (mistake.path, mistake.code), error.errors
    yaml_result = admit(mistake.experiment(), admin_config)
    assert (mistake.path, mistake.code) in errors_of(yaml_result)
    if mistake.secret:
        assert mistake.secret not in str(error) + repr(error.errors)


# ---- property: generated credentials, both paths ---------------------------------------------

_CREDENTIAL_WORDS = ["TOKEN", "SECRET", "KEY", "PASSWORD", "PASSWD", "CREDENTIALS", "API_KEY", "ACCESS_KEY_ID"]
env_names = st.builds(
    lambda prefix, word, sep, lower: (prefix + sep + word).lower() if lower else prefix + sep + word,
    st.sampled_from(["GITHUB", "AWS", "HUGGING_FACE_HUB", "WANDB", "MY", "DB", "OPENAI"]),
    st.sampled_from(_CREDENTIAL_WORDS), st.sampled_from(["_", "-"]), st.booleans())
# At most 30 characters: a 40-character value after a key-ish name is the credential.value rule's.
secrets = st.text(string.ascii_letters + string.digits, min_size=12, max_size=26).map(lambda s: "S3cr" + s)
PROPERTY = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@PROPERTY
@given(name=env_names, secret=secrets)
def test_any_credential_env_name_is_denied_alike_and_never_echoed(name, secret, admin_config):
    sdk = sdk_denial({"env_per_trial": {name: secret}})
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"][A + "env"] = json.dumps({name: secret})
    result = admit(exp, admin_config)
    assert [(e.path, e.code) for e in result.errors] == [(sdk.errors[0].path, sdk.errors[0].code)] == [
        (f"metadata.annotations[{A}env].{name}", "env.credential")]
    assert sdk.argument == f"env_per_trial[{name!r}]"
    assert secret not in str(sdk) + str(result.errors)


hf_tokens = st.text(string.ascii_letters + string.digits, min_size=30, max_size=40).map(lambda s: "hf_" + s)
aws_ids = st.text(string.ascii_uppercase + string.digits, min_size=16, max_size=16).map(lambda s: "AKIA" + s)


@PROPERTY
@given(token=st.one_of(hf_tokens, aws_ids), field=st.sampled_from(["run_name", "hub_model_id_note", "project"]))
def test_a_key_shaped_value_in_training_args_is_denied_alike(token, field, admin_config):
    sdk = sdk_denial({"training": {field: f"x {token} y"}})
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"][A + "training-args"] = json.dumps({field: f"x {token} y"})
    result = admit(exp, admin_config)
    assert [(e.path, e.code) for e in result.errors] == [(sdk.errors[0].path, sdk.errors[0].code)] == [
        (f"metadata.annotations[{A}training-args]", "credential.value")]
    assert sdk.argument == "trainer_parameters.training_parameters"
    assert token not in str(sdk) + str(result.errors)


@PROPERTY
@given(memory=st.one_of(st.integers(0, 2**20 - 1), st.integers(0, 2**20 - 1).map(str)))
def test_unitless_small_memory_is_denied_alike(memory, admin_config):
    sdk = sdk_denial({"resources_per_worker": {"gpu": 1, "memory": memory}})
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["annotations"][A + "resources-per-worker"] = json.dumps({"gpu": 1, "memory": memory})
    result = admit(exp, admin_config)
    path = f"metadata.annotations[{A}resources-per-worker].memory"
    assert (path, "resources.memory-unit") in errors_of(result)
    assert (sdk.errors[0].path, sdk.errors[0].code, sdk.argument) == (path, "resources.memory-unit",
                                                                     "resources_per_worker.memory")


# ---- the SDK has no validator of its own -----------------------------------------------------

def test_the_sdk_defines_no_validation_and_builds_no_field_errors():
    for path in SDK_DIR.glob("*.py"):
        source = path.read_text()
        tree = ast.parse(source)
        names = {n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))}
        assert not {n for n in names if n.lstrip("_").startswith(("check", "validate", "normalise", "parse_quantity"))}, (
            path.name, names)
        assert "FieldError(" not in source, path.name  # every FieldError comes from the core
        # arguments.py reads the core's error paths; models.py reads kubeflow-katib's type names
        # ("Dict[str, str]") to decode API responses. Neither judges a user's input.
        if path.name not in ("arguments.py", "models.py"):
            assert "re.compile" not in source, path.name  # no pattern of its own (credentials, quantities, names)


def test_a_resources_error_is_the_cores(monkeypatch):
    """Swap the core's resources parser for a spy: the SDK's error is whatever the core says."""
    from katib_llm.core import contract

    calls = []

    def spy(raw, path, errors):
        calls.append(raw)
        errors.append(FieldError(f"{path}.cpu", "resources.quantity", "the core's own words"))
        return None

    monkeypatch.setattr(contract, "parse_resources", spy)
    error = sdk_denial({"resources_per_worker": {"gpu": 1, "cpu": 4}})
    assert calls == [{"gpu": 1, "cpu": 4}]
    assert error.argument == "resources_per_worker.cpu" and error.message.startswith("the core's own words")


def test_a_credential_error_is_the_cores(monkeypatch):
    """Make the core's credential rule accept everything: the SDK then refuses nothing itself."""
    from katib_llm.core import credentials

    monkeypatch.setattr(credentials, "is_credential_name", lambda name: False)
    exp = KatibClient(namespace="kubeflow").tune(dry_run=True, **tune_kwargs({"env_per_trial": {"GITHUB_TOKEN": "x"}}))
    assert json.loads(exp["metadata"]["annotations"][A + "env"]) == {"GITHUB_TOKEN": "x"}


def test_a_parameter_name_error_is_the_cores(monkeypatch):
    from katib_llm.core import params

    real = params.resolve
    monkeypatch.setattr(params, "resolve",
                        lambda name: real(name) or params.FieldRef("training_args", name, {"type": "float"}))
    exp = KatibClient(namespace="kubeflow").tune(dry_run=True, **tune_kwargs(
        {"hp_space": {"learnin_rate": search.double(1e-5, 5e-5)}}))
    assert [p["name"] for p in exp["spec"]["parameters"]] == ["learnin_rate"]
