"""Budgets on a cluster: the reconciler sums trial usage and stops a spent Experiment.

Against the Kubernetes API stand-in (tests/kube_apiserver.py), with Trials shaped as Katib writes
them (label katib.kubeflow.org/experiment, spec.runSpec = the admitted job, status times and
observation) and the Experiment as the webhook admitted it.
"""

from __future__ import annotations

import copy
import datetime as dt
import threading
from pathlib import Path

import pytest
import yaml

from katib_llm.core.admit import admit
from katib_llm.io import admin_config
from katib_llm.webhook.budget import BudgetReconciler, job_gpus, usage
from katib_llm.webhook.reconciler import VolumeReconciler
from katib_llm.webhook.sources import ConfigSource

from .test_reconciler import _wait

EXAMPLE = yaml.safe_load((Path(__file__).resolve().parents[2] / "examples" / "bert-lora-experiment.yaml").read_text())
PREFIX = "llm.katib.kubeflow.org/"
NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone.utc)


def _admitted(name: str, budget: str, gpus: int = 2) -> dict:
    exp = copy.deepcopy(EXAMPLE)
    exp["metadata"]["name"] = name
    exp["metadata"]["annotations"].update({PREFIX + "budget": budget,
                                           PREFIX + "resources-per-worker": f'{{"gpu": {gpus}}}',
                                           PREFIX + "workers": "2"})
    result = admit(exp, admin_config(None))
    assert result.allowed, result.errors
    return result.experiment


def _trial(exp: dict, n: int, start: str, end: str | None, steps: int) -> dict:
    status = {"startTime": start, "observation": {"metrics": [{"name": "train_step", "latest": str(steps),
                                                               "min": "0", "max": str(steps)}]},
              "conditions": [{"type": "Running", "status": "True"}]}
    if end:
        status["completionTime"] = end
    return {"apiVersion": "kubeflow.org/v1beta1", "kind": "Trial",
            "metadata": {"name": f"{exp['metadata']['name']}-{n}", "namespace": exp["metadata"]["namespace"],
                         "labels": {"katib.kubeflow.org/experiment": exp["metadata"]["name"]}},
            "spec": {"runSpec": copy.deepcopy(exp["spec"]["trialTemplate"]["trialSpec"])}, "status": status}


@pytest.fixture
def apis(standin):
    from kubernetes import client

    api = client.ApiClient(standin.configuration())
    yield client.CustomObjectsApi(api), client.CoreV1Api(api)
    api.close()


def test_gpus_come_from_the_admitted_job():
    exp = _admitted("g", '{"gpu_hours": 1}', gpus=2)
    assert job_gpus(exp["spec"]["trialTemplate"]["trialSpec"], "nvidia.com/gpu") == 4  # 2 workers x 2 GPUs
    batch = {"apiVersion": "batch/v1", "kind": "Job", "spec": {"parallelism": 3, "template": {"spec": {"containers": [
        {"name": "c", "resources": {"limits": {"nvidia.com/gpu": "1"}}}]}}}}
    assert job_gpus(batch, "nvidia.com/gpu") == 3
    train = {"apiVersion": "trainer.kubeflow.org/v1alpha1", "kind": "TrainJob",
             "spec": {"trainer": {"numNodes": 2, "resourcesPerNode": {"limits": {"nvidia.com/gpu": 4}}}}}
    assert job_gpus(train, "nvidia.com/gpu") == 8


def test_usage_sums_duration_times_gpus_steps_and_wall_clock():
    exp = _admitted("u", '{"gpu_hours": 10}')
    exp["status"] = {"startTime": "2026-12-04T10:00:00Z", "trials": 2}
    trials = [_trial(exp, 0, "2026-12-04T10:00:00Z", "2026-12-04T10:30:00Z", 300),
              _trial(exp, 1, "2026-12-04T11:00:00Z", None, 120)]  # still running: counted up to now
    used = usage(exp, trials, "nvidia.com/gpu", NOW)
    assert used.train_steps == 420
    assert used.gpu_hours == pytest.approx(0.5 * 4 + 1.0 * 4)
    assert used.wall_clock == pytest.approx(7200)


def test_spent_experiment_gets_no_new_trials_and_an_event(standin, apis):
    exp = _admitted("spent", '{"gpu_hours": 5}')
    exp = standin.put("experiments", exp)
    standin.put_status("experiments", "kubeflow", "spent", {"startTime": "2026-12-04T10:00:00Z", "trials": 3})
    exp = standin.objects_of("experiments")[("kubeflow", "spent")]
    for n, (start, end) in enumerate([("10:00", "10:30"), ("10:30", "11:00"), ("11:00", None)]):
        standin.put("trials", _trial(exp, n, f"2026-12-04T{start}:00Z", end and f"2026-12-04T{end}:00Z", 10))
    reconciler = BudgetReconciler(*apis, ConfigSource(None))
    assert reconciler.reconcile(exp, now=NOW) == "stopped"  # 0.5h+0.5h+1h at 4 GPUs = 8 GPU-hours > 5
    stored = standin.objects_of("experiments")[("kubeflow", "spent")]
    assert stored["spec"]["maxTrialCount"] == 4  # status.trials + 1: the lowest Katib accepts on update
    assert stored["spec"]["parallelTrialCount"] <= 4
    from katib_llm.core.katib_rules import validate_experiment

    assert validate_experiment(stored, exp) == []  # Katib's update rules accept the patched object
    [event] = standin.objects_of("events").values()
    assert event["reason"] == "BudgetExhausted" and event["involvedObject"]["name"] == "spent"
    assert "gpu_hours budget spent: 8.00 of 5" in event["message"]
    # Katib's validator lets maxTrialCount go no lower than status.trials + 1: one more trial may start.
    assert "Katib may start one more trial, none after it" in event["message"]
    assert "no trial starts" not in event["message"]
    assert reconciler.reconcile(stored, now=NOW) == "already-stopped"
    assert len(standin.objects_of("events")) == 1


def test_within_budget_and_unbudgeted_are_left_alone(standin, apis):
    exp = standin.put("experiments", _admitted("fine", '{"train_steps": 1000, "wall_clock": "6h"}'))
    standin.put("trials", _trial(exp, 0, "2026-12-04T11:00:00Z", None, 200))
    reconciler = BudgetReconciler(*apis, ConfigSource(None))
    assert reconciler.reconcile(exp, now=NOW) == "within"
    plain = copy.deepcopy(EXAMPLE)
    plain["metadata"]["name"] = "plain"
    assert reconciler.reconcile(standin.put("experiments", plain), now=NOW) == "skipped"
    assert standin.count("PATCH", "experiments") == 0


def test_watching_reconciler_stops_an_experiment_when_its_steps_run_out(standin, apis):
    """The leader's list+watch loop: a trial reporting more steps tips the Experiment over."""
    exp = standin.put("experiments", _admitted("live", '{"train_steps": 500}'))
    standin.put_status("experiments", "kubeflow", "live", {"trials": 1})
    trial = standin.put("trials", _trial(exp, 0, "2026-12-04T11:00:00Z", None, 100))
    custom, core = apis
    reconciler = VolumeReconciler(custom, core, ConfigSource(None), watch_timeout=2,
                                  budget=BudgetReconciler(custom, core, ConfigSource(None)))
    stop = threading.Event()
    thread = threading.Thread(target=reconciler.run, args=(stop,), daemon=True)
    thread.start()
    try:
        _wait(lambda: ("kubeflow", "live-llm-cache") in standin.objects_of("persistentvolumeclaims"))
        assert standin.objects_of("experiments")[("kubeflow", "live")]["spec"]["maxTrialCount"] == \
            EXAMPLE["spec"]["maxTrialCount"]
        trial["status"]["observation"]["metrics"][0]["latest"] = "600"
        standin.put_status("trials", "kubeflow", trial["metadata"]["name"], trial["status"])
        standin.put_status("experiments", "kubeflow", "live", {"trials": 1, "trialsRunning": 1})  # Katib's update
        _wait(lambda: standin.objects_of("experiments")[("kubeflow", "live")]["spec"]["maxTrialCount"] == 2)
    finally:
        stop.set()
        thread.join(timeout=10)
