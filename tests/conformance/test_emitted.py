"""Every object katib-llm emits passes every conformance check (tests/conformance/subjects.py
says what is gathered; each check module cites the upstream rule it ports)."""

from __future__ import annotations

import math

import pytest

from katib_llm.core.jobkinds import containers, job_kind
from katib_llm.core.metrics import METRICS_FILTER, metric_lines
from katib_llm.core.trainjob import INITIALIZER_VOLUME

from . import katib_collector as collector
from . import subjects
from .katib_experiment import defaulter_changes, experiment_errors
from .podsecurity import restricted_errors
from .schemas import job_errors, substitute
from .pytorchjob import pytorchjob_errors
from .trainer import merged_runtime, runtime_errors, trainjob_errors

EXPERIMENTS = subjects.experiments()
IDS = [label for label, _ in EXPERIMENTS]
# Experiments katib-llm admitted and changed (the unlabelled golden review it leaves untouched).
OURS = [(label, exp) for label, exp in EXPERIMENTS if "unlabelled" not in label]
# ...whose trials run katib-llm's pods and trainer (not a user's own trialSpec: its pods and printing are the user's).
OUR_TRIALS = [(label, exp) for label, exp in OURS if "user-trial-spec" not in label]


def _trial(exp):
    """The trial job Katib's controller creates: placeholders substituted, named like the trial
    (``<experiment>-<8 random lowercase characters>``, pkg/controller.v1beta1/experiment)."""
    job = substitute(exp)
    job.setdefault("metadata", {})["name"] = f"{exp['metadata']['name']}-x7k2m9qb"
    return job


def _primary_commands(exp) -> list[list[str]]:
    """The primary container's command+args in every pod the trial job makes."""
    job, name = _trial(exp), exp["spec"]["trialTemplate"]["primaryContainerName"]
    if job["kind"] == "TrainJob":
        trainer = job["spec"].get("trainer") or {}
        if trainer.get("command"):
            return [trainer["command"] + (trainer.get("args") or [])]
        pods = [r["template"]["spec"]["template"]["spec"] for r in merged_runtime(subjects.runtime_for(job), job)["replicatedJobs"]]
        return [c["command"] + (c.get("args") or []) for pod in pods for c in pod["containers"] if c["name"] == name]
    kind = job_kind(job)
    return [c.get("command", []) + c.get("args", []) for _, tmpl in kind.pod_templates(job)
            for c in containers(tmpl) if c.get("name") == name]


@pytest.mark.parametrize("label,exp", EXPERIMENTS, ids=IDS)
def test_katib_defaults_then_admits_it(label, exp):
    assert experiment_errors(exp) == []


@pytest.mark.parametrize("label,exp", OURS, ids=[label for label, _ in OURS])
def test_what_we_admit_is_what_katib_stores(label, exp):
    """Katib's defaulter has nothing left to fill in an Experiment katib-llm admitted."""
    assert defaulter_changes(exp) == []


@pytest.mark.parametrize("label,exp", EXPERIMENTS, ids=IDS)
def test_the_trial_job_passes_its_operators_webhook(label, exp):
    job = _trial(exp)
    assert job_errors(job) == []  # the CRD / API schema
    if job["kind"] == "PyTorchJob":
        assert pytorchjob_errors(job) == []
    if job["kind"] == "TrainJob":
        assert trainjob_errors(job, subjects.runtime_for(job)) == []


@pytest.mark.parametrize("label,exp", EXPERIMENTS, ids=IDS)
def test_katibs_command_wrapper_runs_the_primary_container_as_written(label, exp):
    commands = _primary_commands(exp)
    assert commands, f"{label}: no primary container {exp['spec']['trialTemplate']['primaryContainerName']!r}"
    for command in commands:
        assert collector.wrap_errors(command) == [], command
        # The wrapped container is the main process the collector watches and stops, whatever
        # order the pod's containers started in.
        wrapped = " ".join(collector.wrapped_command(command, early_stopping=True))
        table = [(1, 0, "/pause"), (7, 0, "/app/file-metricscollector -t trial"), (8, 0, "sleep 365d"), (9, 0, wrapped)]
        assert collector.main_process(table, own_pid=7) == 9


@pytest.mark.parametrize("label,exp", OUR_TRIALS, ids=[label for label, _ in OUR_TRIALS])
def test_trial_pods_meet_pod_security_restricted(label, exp):
    job = _trial(exp)
    if job["kind"] == "TrainJob":
        pods = [r["template"]["spec"]["template"]["spec"] for r in merged_runtime(subjects.runtime_for(job), job)["replicatedJobs"]]
        volume = INITIALIZER_VOLUME
    else:
        pods = [tmpl["spec"] for _, tmpl in job_kind(job).pod_templates(job)]
        volume = "katib-llm-storage"
    for pod in pods:
        assert restricted_errors(pod, volume) == []


def _printed(exp) -> list[str]:
    """What the shipped trainer prints for two evaluations and the end of training of this
    Experiment's model class, a diverged value among them."""
    names = [exp["spec"]["objective"]["objectiveMetricName"]] + list(exp["spec"]["objective"].get("additionalMetricNames") or [])
    first = {name: 0.5 for name in names}
    second = {name: math.nan if i % 2 else 0.25 for i, name in enumerate(names)}
    return metric_lines({**first, "eval_loss": math.inf}) + metric_lines(second)


@pytest.mark.parametrize("label,exp", OUR_TRIALS, ids=[label for label, _ in OUR_TRIALS])
def test_the_collector_parses_every_line_we_print(label, exp):
    """With an early-stopping rule on the objective the collector's watcher parses every value it
    matches (a value it cannot parse kills it), stops the trial and reports what it read."""
    objective = exp["spec"]["objective"]
    names = [objective["objectiveMetricName"]] + list(objective.get("additionalMetricNames") or [])
    filters = exp["spec"]["metricsCollectorSpec"]["source"]["filter"]["metricsFormat"]
    assert filters == [METRICS_FILTER]
    lines = _printed(exp)
    run = collector.run_collector(lines, names, objective["type"], filters, collector.firing_rules(exp))
    assert run.fatal is None
    assert run.early_stopped_after is not None and len(run.reports) == 1
    assert collector.run_reported_values(run, names[0]) == [0.5]
    finished = collector.run_collector(lines, names, objective["type"], filters)
    assert finished.fatal is None and finished.early_stopped_after is None
    assert collector.run_reported_values(finished, names[0]) == [0.5, 0.25]


@pytest.mark.parametrize("label,runtime", subjects.runtimes(), ids=[label for label, _ in subjects.runtimes()])
def test_chart_runtime_passes_trainers_runtime_webhook_and_pod_security(label, runtime):
    from .trainer_crds import object_errors

    if _crds():  # the v2.3.0 CRD, when the reference files are at hand
        assert object_errors(runtime, "ClusterTrainingRuntime") == []
    assert runtime_errors(runtime) == []
    for rjob in runtime["spec"]["template"]["spec"]["replicatedJobs"]:
        assert restricted_errors(rjob["template"]["spec"]["template"]["spec"]) == [], rjob["name"]


def _crds() -> bool:
    from .trainer_crds import CRDS

    return CRDS["ClusterTrainingRuntime"].is_file()


@pytest.mark.parametrize("label,pod", subjects.chart_pods(), ids=[label for label, _ in subjects.chart_pods()])
def test_every_pod_the_chart_renders_meets_pod_security_restricted(label, pod):
    assert restricted_errors(pod) == []
