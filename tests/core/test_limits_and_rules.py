"""Pure parts of issue 18: budget/deadline parsing and placement, Katib's rule arithmetic, katib-config merge."""

from __future__ import annotations

import copy

import pytest

from katib_llm.core import early_stopping as es
from katib_llm.core import katib_config as kc
from katib_llm.core import contract, limits
from katib_llm.core.admit import admit
from katib_llm.core.jobkinds import JOB_KINDS
from katib_llm.io import admin_config
from tests.builders import admitted, experiment

BUDGET = "llm.katib.kubeflow.org/budget"
DEADLINE = "llm.katib.kubeflow.org/trial-active-deadline-seconds"


@pytest.mark.parametrize("text, seconds", [("6h", 21600), ("90m", 5400), ("1h30m", 5400), ("45s", 45),
                                           ("2d", 172800), ("3600", 3600), (120, 120), ("0.5h", 1800)])
def test_durations(text, seconds):
    assert limits.parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "6x", "-1", "0", "0h", True, None, "1h 30m", "nan"])
def test_bad_durations(text):
    assert limits.parse_duration(text) is None


@pytest.mark.parametrize("raw, needle", [
    ("{", "not valid JSON"), ("{}", "non-empty JSON object"),
    ('{"steps": 3}', "unknown key(s) ['steps']"), ('{"train_steps": 1.5}', "train_steps must be an integer"),
    ('{"train_steps": true}', "train_steps must be an integer"), ('{"gpu_hours": 0}', "gpu_hours must be a number > 0"),
    ('{"wall_clock": "tomorrow"}', "wall_clock must be a duration"),
])
def test_bad_budgets_name_the_annotation_and_form(raw, needle):
    budget, errors = contract.parse_value(contract.BUDGET, raw)
    assert budget is None and len(errors) == 1
    assert needle in errors[0].message and "train_steps (integer > 0)" in errors[0].message
    assert errors[0].path == contract.annotation_path(contract.BUDGET)


def test_budget_exhaustion_and_summary():
    budget, _ = contract.parse_value(contract.BUDGET, '{"train_steps": 100, "wall_clock": "1h", "gpu_hours": 2}')
    assert limits.exhausted(budget, limits.Usage(99, 3599, 1.9)) is None
    assert limits.exhausted(budget, limits.Usage(100, 0, 0)) == "train_steps budget spent: 100 of 100"
    assert "wall_clock" in limits.exhausted(budget, limits.Usage(0, 3600, 0))
    assert "gpu_hours" in limits.exhausted(budget, limits.Usage(0, 0, 2.5))
    assert limits.summary(budget, limits.Usage(40, 600, 0.5)) == [
        ("train_steps", "40", "60"), ("wall_clock", "10m", "50m"), ("gpu_hours", "0.50", "1.50")]


def _batch_experiment(**annotations: str) -> dict:
    return {"apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
            "metadata": {"name": "lim", "namespace": "default", "labels": {"llm.katib.kubeflow.org/tune": "true"},
                         "annotations": annotations},
            "spec": {"objective": {"type": "maximize", "objectiveMetricName": "score"},
                     "algorithm": {"algorithmName": "random"}, "maxTrialCount": 2, "parallelTrialCount": 1,
                     "parameters": [{"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}],
                     "trialTemplate": {"primaryContainerName": "main",
                                       "trialParameters": [{"name": "x", "reference": "x"}],
                                       "trialSpec": {"apiVersion": "batch/v1", "kind": "Job", "spec": {"template": {
                                           "spec": {"restartPolicy": "Never", "containers": [{
                                               "name": "main", "image": "python:3.11", "command": ["python", "-c", "1"],
                                               "env": [{"name": "X", "value": "${trialParameters.x}"}]}]}}}}}}}


def test_admitted_batch_job_has_active_deadline_seconds(admin_config):
    result = admit(_batch_experiment(**{DEADLINE: "900"}), admin_config)
    assert result.allowed, result.errors
    assert result.experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["activeDeadlineSeconds"] == 900
    again = admit(result.experiment, admin_config)  # idempotent
    assert again.allowed and again.experiment == result.experiment
    denied = admit(_batch_experiment(**{DEADLINE: "soon"}), admin_config)
    assert [e.path for e in denied.errors] == [f"metadata.annotations[{DEADLINE}]"]


def test_every_kind_that_has_a_deadline_gets_it_where_its_schema_says():
    expected = {"Job": ("spec", "activeDeadlineSeconds"), "TrainJob": ("spec", "activeDeadlineSeconds")}
    for name, kind in JOB_KINDS.items():
        job: dict = {"spec": {}}
        assert limits.set_active_deadline(job, kind.deadline_path, 60)
        path = expected.get(name, ("spec", "runPolicy", "activeDeadlineSeconds"))
        node = job
        for key in path:
            node = node[key]
        assert node == 60, name


def test_collector_checks_a_rule_once_at_its_start_step():
    rule = es.Rule("loss", 0.5, es.GREATER, 3)
    # best-so-far at report 3 is 0.4 (< 0.5): kept, and never checked again even as values worsen
    assert es.collector_stop_step([rule], "loss", False, [("loss", v) for v in (0.9, 0.4, 0.8, 0.9, 0.99)]) is None
    assert es.collector_stop_step([rule], "loss", False, [("loss", v) for v in (0.9, 0.8, 0.7, 0.1)]) == 3
    assert es.collector_stop_step([es.Rule("loss", 0.5, es.GREATER, 0)], "loss", False, [("loss", 0.7)]) == 1
    assert es.collector_stop_step([], "loss", False, [("loss", 9.0)]) is None


def test_successive_halving_threshold_is_the_top_fraction_at_the_rung():
    settings = es.parse_settings(es.SUCCESSIVE_HALVING, [("min_resource", "2"), ("reduction_factor", "2"),
                                                         ("min_early_stopping_rate", "1")])
    assert es.rung(settings) == 4
    finished = [es.Finished("Succeeded", (5, 4, 3, v)) for v in (1.0, 2.0, 3.0)] + \
        [es.Finished("EarlyStopped", (9, 9, 9, 0.5, 0.4)), es.Finished("Succeeded", (1, 1, 1)),  # too short
         es.Finished("Failed", (0, 0, 0, 0))]
    [rule] = es.rules_for_new_trial(es.SUCCESSIVE_HALVING, settings, "loss", False, finished)
    # reached: 0.5, 1.0, 2.0, 3.0 (n=4); keep max(1, 5 // 2) = 2 -> the 2nd best, 1.0
    assert rule == es.Rule("loss", 1.0, es.GREATER, 4)
    assert es.rules_for_new_trial(es.SUCCESSIVE_HALVING, settings, "loss", False, []) == []


@pytest.mark.parametrize("algorithm, settings, needle", [
    ("successivehalving", [("reduction_factor", "1")], "reduction_factor='1' must be a whole number from 2 to 100"),
    ("successivehalving", [("reduction_factor", "101")], "from 2 to 100"),
    ("successivehalving", [("min_early_stopping_rate", "21")], "from 0 to 20"),
    ("successivehalving", [("min_resource", "100001")], "from 1 to 100000"),
    ("successivehalving", [("min_resource", "\u00b3")], "min_resource"),       # a superscript digit
    ("successivehalving", [("min_resource", "\u0663")], "min_resource"),       # an Arabic-Indic digit
    ("successivehalving", [("min_resource", "9" * 100_000)], "min_resource"),  # no int() of 100,000 digits
    ("successivehalving", [("reduction_factor", "100"), ("min_early_stopping_rate", "20")], "at most 1000000"),
    ("successivehalving", [("min_resource", "1000"), ("reduction_factor", "10"), ("min_early_stopping_rate", "4")],
     "at most 1000000"),
    ("medianstop", [("start_step", "100001")], "from 1 to 100000"),
    ("medianstop", [("min_trials_required", "10001")], "from 1 to 10000"),
    ("successivehalving", [("min_resource", "x")], "min_resource"),
    ("medianstop", [("start_step", "0")], "start_step"),
    ("medianstop", [("min_resource", "1")], "unknown setting 'min_resource' for medianstop"),
    ("asha", [], "accepted: medianstop, successivehalving"),
])
def test_bad_settings(algorithm, settings, needle):
    with pytest.raises(es.SettingsError) as err:
        es.parse_settings(algorithm, settings)
    assert needle in str(err.value)


def test_largest_settings_are_accepted_and_their_rung_is_small():
    settings = es.parse_settings(es.SUCCESSIVE_HALVING, [("min_resource", "1"), ("reduction_factor", "100"),
                                                         ("min_early_stopping_rate", "3")])
    assert es.rung(settings) == 1_000_000 == es.MAX_RUNG
    assert es.parse_settings(es.MEDIANSTOP, [("start_step", "100000"), ("min_trials_required", "10000")]) == {
        "start_step": 100_000, "min_trials_required": 10_000}


@pytest.mark.parametrize("settings", [[("reduction_factor", "100"), ("min_early_stopping_rate", "20")],
                                      [("min_resource", "9" * 100_000)]])
def test_unbounded_settings_are_denied_at_admission_naming_the_field(settings):
    exp = experiment(earlyStopping={"algorithmName": "successivehalving",
                                    "algorithmSettings": [{"name": k, "value": v} for k, v in settings]})
    result = admitted(exp, admin_config({"earlyStoppingAlgorithms": ["successivehalving"]}))
    assert not result.allowed
    assert [(e.path, e.code) for e in result.errors] == [("spec.earlyStopping.algorithmSettings",
                                                          "early-stopping.settings")]


def test_katib_config_merge_and_removal_keep_everything_else():
    cfg = {"apiVersion": "config.kubeflow.org/v1beta1", "kind": "KatibConfig",
           "runtime": {"earlyStoppings": [{"algorithmName": "medianstop", "image": "m"},
                                          {"algorithmName": "successivehalving", "image": "old"}],
                       "suggestions": [{"algorithmName": "random", "image": "r"}]}}
    entry = {"algorithmName": "successivehalving", "image": "new", "imagePullPolicy": "Always"}
    merged = kc.with_early_stopping(cfg, entry)
    assert merged["runtime"]["earlyStoppings"] == [{"algorithmName": "medianstop", "image": "m"}, entry]
    assert merged["runtime"]["suggestions"] == cfg["runtime"]["suggestions"] and cfg["runtime"]["earlyStoppings"][1]["image"] == "old"
    assert kc.early_stopping_names(kc.without_early_stopping(merged, "successivehalving")) == ["medianstop"]
    for bad in ({"algorithmName": "x"}, {"algorithmName": "x", "image": "i", "command": ["a"]}, "x"):
        with pytest.raises(kc.KatibConfigError):
            kc.with_early_stopping(copy.deepcopy(cfg), bad)
    with pytest.raises(kc.KatibConfigError):
        kc.with_early_stopping({"kind": "ConfigMap"}, entry)
