"""search.double/int/categorical → Katib parameters; categorical values reach the trainer intact."""

from __future__ import annotations

import doctest
import json

import pytest

from katib_llm import KatibClient, TrainingClient, search
from katib_llm.sdk.errors import TuneArgumentError

from tests.conformance.schemas import admitted_errors, substitute


def _llm(**kwargs):
    return TrainingClient().train(model_provider_parameters="hf://google-bert/bert-base-cased",
                                  dataset_provider_parameters="hf://yelp_review_full?split=train[:300]",
                                  **kwargs).metrics


def test_docstring_examples_run():
    import katib_llm.sdk.client as client_module
    import katib_llm.sdk.objective as objective_module
    import katib_llm.sdk.search as search_module

    for module in (search_module, client_module, objective_module):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_double_log_and_step():
    assert search.double(1e-6, 1e-3, log=True).to_katib("learning_rate") == {
        "name": "learning_rate", "parameterType": "double",
        "feasibleSpace": {"min": "1e-06", "max": "0.001", "distribution": "logUniform"}}
    assert search.int(1, 9, step=2).to_katib("num_train_epochs")["feasibleSpace"] == {
        "min": "1", "max": "9", "step": "2"}


@pytest.mark.parametrize("call, argument", [
    (lambda: search.double(2.0, 1.0), "min"),  # min == max is allowed: Katib fixes a value so
    (lambda: search.double(0.0, 1.0, log=True), "min"),
    (lambda: search.int(1.5, 3), "min"),
    (lambda: search.int(1, 3, step=5), "step"),
    (lambda: search.categorical([]), "list"),
    (lambda: search.categorical("adamw"), "list"),
    (lambda: search.categorical(["a", "a"]), "list"),
])
def test_bad_spaces_name_the_argument(call, argument):
    with pytest.raises(TuneArgumentError) as info:
        call()
    assert info.value.argument == argument


def test_categorical_reaches_the_trainer_env_intact():
    """katib#2625: a categorical value must arrive in KATIB_LLM_HPARAMS exactly as chosen."""
    admitted = KatibClient(namespace="kubeflow").tune(
        name="categorical", objective=_llm(),
        hp_space={"optim": search.categorical(["adamw_torch", "sgd"]),
                  "lr_scheduler_type": search.categorical(["cosine", "linear"]),
                  "learning_rate": search.double(1e-5, 1e-4, log=True)},
        objective_metric_name="eval_loss", objective_type="minimize", max_trial_count=4, dry_run=True)
    assert admitted_errors(admitted) == []
    space = {p["name"]: p for p in admitted["spec"]["parameters"]}
    assert space["optim"]["parameterType"] == "categorical"
    assert space["optim"]["feasibleSpace"]["list"] == ["adamw_torch", "sgd"]
    assert space["learning_rate"]["feasibleSpace"]["distribution"] == "logUniform"
    for optim in ("adamw_torch", "sgd"):
        job = substitute(admitted, {"optim": optim, "lr_scheduler_type": "linear", "learning_rate": "3e-05"})
        for replica in job["spec"]["pytorchReplicaSpecs"].values():
            env = {e["name"]: e.get("value") for e in replica["template"]["spec"]["containers"][0]["env"]}
            assert json.loads(env["KATIB_LLM_HPARAMS"]) == {
                "optim": optim, "lr_scheduler_type": "linear", "learning_rate": "3e-05"}


def test_kubeflow_katib_search_objects_are_accepted():
    """kubeflow-katib 0.19's categorical() puts the list in feasible_space.distribution
    (katib#2625); tune() reads it back as the list."""
    import kubeflow.katib as katib

    admitted = KatibClient(namespace="kubeflow").tune(
        name="katib-search", objective=_llm(),
        hp_space={"optim": katib.search.categorical(["adamw_torch", "sgd"]),
                  "per_device_train_batch_size": katib.search.int(min=8, max=32, step=8)},
        objective_metric_name="eval_loss", objective_type="minimize", max_trial_count=4, dry_run=True)
    space = {p["name"]: p["feasibleSpace"] for p in admitted["spec"]["parameters"]}
    assert space["optim"]["list"] == ["adamw_torch", "sgd"]
    assert space["per_device_train_batch_size"]["step"] == "8"
