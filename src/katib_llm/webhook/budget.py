"""Experiment budgets on a cluster: sum what an Experiment's trials used; stop new trials once spent.

Run by the leader-elected reconciler on every labelled Experiment it lists or watches (Katib
updates an Experiment's status whenever a trial changes, and the reconciler re-lists every watch
window, so usage is re-read at least that often). Usage, from the Trials Katib created
(label ``katib.kubeflow.org/experiment``):

* ``train_steps``: each trial's ``train_step`` observation (the latest value the trainer
  printed; admission adds the metric when the budget sets train_steps). Katib's collector sends
  a trial's observations to its DB once, when the trial ends or is early-stopped
  (``cmd/metricscollector/v1beta1/file-metricscollector/main.go``), so a running trial counts
  here only from then on;
* ``gpu_hours``: each trial's duration (``status.startTime`` to ``completionTime``, or now)
  times the GPUs its job requests (``spec.runSpec``: container limits of the admin's GPU
  resource times replicas; a TrainJob's ``numNodes`` x ``resourcesPerNode``);
* ``wall_clock``: now minus the Experiment's ``status.startTime`` (else its creation).

Once spent, ``spec.maxTrialCount`` is lowered to ``status.trials + 1`` - the lowest value
Katib's validator accepts on update ("must be greater than status.trials count",
kubeflow/katib ``pkg/webhook/v1beta1/experiment/validator/validator.go``) - so Katib creates at
most one more trial and then ends the Experiment with MaxTrialsReached; running trials finish.
A ``BudgetExhausted`` Event on the Experiment says why.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from katib_llm.core import limits
from katib_llm.core.contract import experiment_limits
from katib_llm.core.jobkinds import containers, job_kind

from .sources import ConfigSource

log = logging.getLogger("katib_llm.webhook.budget")
GROUP, VERSION = "kubeflow.org", "v1beta1"
EXPERIMENT_LABEL = "katib.kubeflow.org/experiment"


def _time(text: Any) -> dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def job_gpus(job: Any, resource: str) -> float:
    """GPUs a trial job requests in all: container limits of ``resource`` times replicas."""
    kind = job_kind(job) if isinstance(job, dict) else None
    if kind is None:
        return 0.0
    spec = job.get("spec") or {}
    if not kind.has_pod_templates:  # TrainJob: numNodes x resourcesPerNode
        trainer = spec.get("trainer") or {}
        per_node = ((trainer.get("resourcesPerNode") or {}).get("limits") or {}).get(resource)
        return _number(per_node) * _number(trainer.get("numNodes") or 1)
    total = 0.0
    for path, template in kind.pod_templates(job):
        role = kind.role_of(path)
        replicas = _number(((spec.get(kind.replica_specs) or {}).get(role) or {}).get("replicas", 1)) \
            if role else _number(spec.get("parallelism") or 1)
        per_pod = sum(_number(((c.get("resources") or {}).get("limits") or {}).get(resource)) for c in containers(template))
        total += per_pod * replicas
    return total


def _trial_steps(trial: dict[str, Any]) -> int:
    for m in ((trial.get("status") or {}).get("observation") or {}).get("metrics") or []:
        if isinstance(m, dict) and m.get("name") == limits.STEP_METRIC:
            return int(_number(m.get("latest")))
    return 0


def usage(experiment: dict[str, Any], trials: list[dict[str, Any]], gpu_resource: str,
          now: dt.datetime) -> limits.Usage:
    """What the Experiment's trials used (see module docstring)."""
    steps, gpu_seconds = 0, 0.0
    for trial in trials:
        status = trial.get("status") or {}
        start = _time(status.get("startTime"))
        end = _time(status.get("completionTime")) or now
        steps += _trial_steps(trial)
        if start is not None:
            gpu_seconds += max(0.0, (end - start).total_seconds()) * job_gpus((trial.get("spec") or {}).get("runSpec"),
                                                                                gpu_resource)
    meta, status = experiment.get("metadata") or {}, experiment.get("status") or {}
    began = _time(status.get("startTime")) or _time(meta.get("creationTimestamp"))
    wall = max(0.0, (now - began).total_seconds()) if began else 0.0
    return limits.Usage(steps, wall, gpu_seconds / 3600)


def _completed(experiment: dict[str, Any]) -> bool:
    return any(c.get("type") in ("Succeeded", "Failed") and c.get("status") == "True"
               for c in (experiment.get("status") or {}).get("conditions") or [] if isinstance(c, dict))


class BudgetReconciler:
    """Stops new trials of an Experiment whose budget is spent (see module docstring)."""

    def __init__(self, custom_api: Any, core_api: Any, config: ConfigSource):
        self.custom, self.core, self.config = custom_api, core_api, config

    def reconcile(self, experiment: dict[str, Any], now: dt.datetime | None = None) -> str:
        """skipped | within | stopped | already-stopped | failed."""
        from kubernetes.client.rest import ApiException

        meta = experiment.get("metadata") or {}
        budget, _, _ = experiment_limits(experiment)
        if budget is None or meta.get("deletionTimestamp") or _completed(experiment):
            return "skipped"
        name, namespace = str(meta.get("name")), str(meta.get("namespace") or "default")
        now = now or dt.datetime.now(dt.timezone.utc)
        try:
            trials = self.custom.list_namespaced_custom_object(
                GROUP, VERSION, namespace, "trials", label_selector=f"{EXPERIMENT_LABEL}={name}").get("items", [])
        except ApiException as exc:
            log.error("listing Trials of %s/%s failed: %s %s", namespace, name, exc.status, exc.reason)
            return "failed"
        used = usage(experiment, trials, self.config.get().gpu_resource, now)
        why = limits.exhausted(budget, used)
        if why is None:
            return "within"
        spec, created = experiment.get("spec") or {}, int((experiment.get("status") or {}).get("trials") or len(trials))
        lowest = created + 1  # Katib's validator: maxTrialCount must be greater than status.trials
        current = spec.get("maxTrialCount")
        if isinstance(current, int) and current <= lowest:
            return "already-stopped"
        patch = {"spec": {"maxTrialCount": lowest}}
        for key in ("parallelTrialCount", "maxFailedTrialCount"):  # both must stay <= maxTrialCount
            if isinstance(spec.get(key), int) and spec[key] > lowest:
                patch["spec"][key] = lowest
        try:
            self.custom.patch_namespaced_custom_object(GROUP, VERSION, namespace, "experiments", name, patch)
        except ApiException as exc:
            log.error("stopping %s/%s at its budget failed: %s %s", namespace, name, exc.status, exc.reason)
            return "failed"
        message = (f"{why}; spec.maxTrialCount lowered from {current} to {lowest}, the lowest Katib accepts with "
                   f"{created} trial(s) created: Katib may start one more trial, none after it; running trials finish")
        self._event(experiment, message, now)
        log.info("Experiment %s/%s: %s", namespace, name, message)
        return "stopped"

    def _event(self, experiment: dict[str, Any], message: str, now: dt.datetime) -> None:
        from kubernetes.client.rest import ApiException

        meta = experiment["metadata"]
        stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
        event = {"apiVersion": "v1", "kind": "Event",
                 "metadata": {"generateName": f"{meta['name']}.budget-", "namespace": meta.get("namespace", "default"),
                              "name": f"{meta['name']}.budget-{int(now.timestamp())}"},
                 "involvedObject": {"apiVersion": f"{GROUP}/{VERSION}", "kind": "Experiment", "name": meta["name"],
                                    "namespace": meta.get("namespace", "default"), "uid": meta.get("uid")},
                 "reason": "BudgetExhausted", "message": message, "type": "Normal",
                 "source": {"component": "katib-llm-reconciler"},
                 "firstTimestamp": stamp, "lastTimestamp": stamp, "count": 1}
        try:
            self.core.create_namespaced_event(meta.get("namespace", "default"), event)
        except ApiException as exc:  # the patch is what matters; the Event only explains it
            log.warning("recording the BudgetExhausted Event failed: %s %s", exc.status, exc.reason)
