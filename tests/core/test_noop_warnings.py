"""Settings that silently do nothing are admission warnings (core/noops.py), in the
AdmissionReview response's ``warnings`` as kube-apiserver shows them to kubectl."""

from __future__ import annotations

import dataclasses
import json

from katib_llm.core.noops import TRAINER_DEFAULTS
from katib_llm.webhook.reviews import build_response

from tests.builders import admitted, experiment, parameter


def _config_with_our_early_stopping():
    """The chart's defaults with katib-llm's successivehalving registered (earlyStopping.successivehalving)."""
    from katib_llm.core.katib_rules import OUR_EARLY_STOPPING
    from katib_llm.io import admin_config

    config = admin_config(None)
    return dataclasses.replace(config, values={**config.values, "earlyStoppingAlgorithms": list(OUR_EARLY_STOPPING)})


def _warnings(**kw) -> list[str]:
    result = admitted(experiment(**kw), _config_with_our_early_stopping())
    assert result.allowed, result.errors
    return result.warnings


def _args(**args) -> dict[str, str]:
    return {"training-args": json.dumps(args)}


def test_epochs_tuned_while_max_steps_is_fixed_warns_naming_both():
    warned = _warnings(annotations=_args(max_steps=200),
                       parameters=[parameter("learning_rate"), parameter("num_train_epochs", "int", "1", "5")])
    [warning] = [w for w in warned if "num_train_epochs" in w]
    assert "'num_train_epochs' is tuned but has no effect" in warning and "max_steps=200" in warning


def test_eval_steps_tuned_under_epoch_evaluation_warns():
    warned = _warnings(parameters=[parameter("eval_steps", "int", "5", "50")])
    assert any("'eval_steps' is tuned but has no effect" in w and "eval_strategy='epoch'" in w for w in warned), warned


def test_no_override_warning_when_the_controlling_argument_is_tuned_too_or_inactive():
    both = _warnings(annotations=_args(max_steps=200), parameters=[
        parameter("num_train_epochs", "int", "1", "5"), parameter("max_steps", "int", "50", "400")])
    assert not [w for w in both if "has no effect" in w], both
    epochs_only = _warnings(parameters=[parameter("num_train_epochs", "int", "1", "5")])
    assert not [w for w in epochs_only if "has no effect" in w], epochs_only
    assert not [w for w in _warnings(annotations=_args(max_steps=-1), parameters=[
        parameter("num_train_epochs", "int", "1", "5")]) if "has no effect" in w]


def test_medianstop_with_one_evaluation_per_trial_warns():
    """The trainer's defaults evaluate once per epoch for one epoch: Katib's medianstop compares
    at report 4 (its default start_step), which never comes."""
    warned = _warnings(earlyStopping={"algorithmName": "medianstop"})
    [warning] = [w for w in warned if w.startswith("spec.earlyStopping")]
    assert "start_step=4" in warning and "at most 1 time(s)" in warning and "never" in warning


def test_an_early_stopping_rule_acting_at_the_last_evaluation_warns_and_one_before_it_does_not():
    steps = _args(eval_strategy="steps", eval_steps=10, max_steps=40)  # 4 evaluations
    at_last = _warnings(annotations=steps, earlyStopping={"algorithmName": "medianstop"})
    assert any("only at the last evaluation" in w for w in at_last), at_last
    early = {"algorithmName": "medianstop", "algorithmSettings": [{"name": "start_step", "value": "2"}]}
    assert not [w for w in _warnings(annotations=steps, earlyStopping=early) if w.startswith("spec.earlyStopping")]
    halving = {"algorithmName": "successivehalving", "algorithmSettings": [
        {"name": "min_resource", "value": "2"}, {"name": "reduction_factor", "value": "3"},
        {"name": "min_early_stopping_rate", "value": "1"}]}  # rung 6 > 4 evaluations
    warned = _warnings(annotations=steps, earlyStopping=halving)
    assert any("its rung, report 6" in w and "never" in w for w in warned), warned


def test_tuned_epochs_count_at_their_largest_and_unknown_schedules_do_not_warn():
    many = _warnings(parameters=[parameter("num_train_epochs", "int", "1", "6")],
                     earlyStopping={"algorithmName": "medianstop"})
    assert not [w for w in many if w.startswith("spec.earlyStopping")], many
    # eval every 10 steps of an epoch-long run: the count depends on the dataset's size
    unknown = _warnings(annotations=_args(eval_strategy="steps", eval_steps=10),
                        earlyStopping={"algorithmName": "medianstop"})
    assert not [w for w in unknown if w.startswith("spec.earlyStopping")], unknown


def test_the_warnings_reach_the_admission_review_response():
    result = admitted(experiment(earlyStopping={"algorithmName": "medianstop"}))
    response = build_response("uid-1", result, mutating=True)["response"]
    assert response["allowed"] and any(w.startswith("spec.earlyStopping") for w in response["warnings"])


def test_the_trainer_builds_its_arguments_from_the_same_defaults():
    from katib_llm.runtime import trainer

    assert trainer.TRAINER_DEFAULTS is TRAINER_DEFAULTS
