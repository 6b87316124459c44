"""Katib's v1beta1 EarlyStopping gRPC API for ``successivehalving`` (and ``medianstop``).

Katib runs the image katib-config names for the algorithm as the ``early-stopping`` container
of the Experiment's Suggestion pod, on port 6788 (kubeflow/katib
``pkg/controller.v1beta1/suggestion/composer/composer.go``); one service serves one Experiment.
The Suggestion controller calls:

* ``ValidateEarlyStoppingSettings`` once, before the first trials (a bad setting:
  ``INVALID_ARGUMENT`` with the message, which Katib shows on the Suggestion);
* ``GetEarlyStoppingRules`` each time it asks for new trials, with every trial so far and the
  DB manager's address; the rules it returns are copied into each *new* Trial
  (``suggestionclient.go``, ``SyncAssignments``);
* the trial's metrics collector calls ``SetTrialStatus`` after it stopped the trial; the service
  appends the ``EarlyStopped`` condition to the Trial's status, as Katib's medianstop does.

katib-llm's own trainer also asks for a decision at every evaluation on the same port
(:data:`katib_llm.core.asha.PATH`, asynchronous successive halving: :mod:`katib_llm.core.asha`); once trials of the Experiment ask,
``GetEarlyStoppingRules`` returns no rules, so Katib's collector does not apply a second,
one-rung rule to them. Trials that never ask (user templates) keep Katib's one-rule path.

The DB manager's address comes only from the service's own configuration (``--db-manager-address``,
set by the chart), never from a request: the address in Katib's request is ignored.

The rules themselves come from :mod:`katib_llm.core.early_stopping`, which the local runner
uses too; the objective values of finished trials come from Katib's DB manager
(``GetObservationLog``), where the collector reported them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Any, Protocol

import grpc
from kubeflow.katib import katib_api_pb2 as api
from kubeflow.katib import katib_api_pb2_grpc as api_grpc

from katib_llm.core import asha
from katib_llm.core import early_stopping as rules
from katib_llm.io.asha_decide import handler

log = logging.getLogger("katib_llm.earlystopping")
DB_TIMEOUT = 120.0
DEFAULT_DB_MANAGER = "katib-db-manager.kubeflow:6789"  # Katib's own default (consts.go)
_CONDITIONS = {api.TrialStatus.TrialConditionType.SUCCEEDED: "Succeeded",
               api.TrialStatus.TrialConditionType.EARLYSTOPPED: "EarlyStopped"}
_COMPARISON = {rules.LESS: api.LESS, rules.GREATER: api.GREATER, rules.EQUAL: api.EQUAL}


class TrialStatusWriter(Protocol):
    """Marks a Trial early stopped (the Kubernetes API in a cluster)."""

    def mark_early_stopped(self, trial_name: str) -> None: ...


class KubeTrials:
    """Appends Katib's ``EarlyStopped`` condition to a Trial's status, as medianstop does."""

    def __init__(self, custom_api: Any, namespace: str):
        self.custom, self.namespace = custom_api, namespace

    def mark_early_stopped(self, trial_name: str) -> None:
        trial = self.custom.get_namespaced_custom_object("kubeflow.org", "v1beta1", self.namespace, "trials",
                                                         trial_name)
        now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        conditions = list((trial.get("status") or {}).get("conditions") or [])
        if any(c.get("type") == "EarlyStopped" and c.get("status") == "True" for c in conditions):
            return  # a retried call: already marked
        conditions.append({"type": "EarlyStopped", "status": "True", "reason": "TrialEarlyStopped",
                           "message": "Trial is early stopped", "lastUpdateTime": now, "lastTransitionTime": now})
        self.custom.patch_namespaced_custom_object_status(
            "kubeflow.org", "v1beta1", self.namespace, "trials", trial_name,
            {"metadata": {"resourceVersion": trial["metadata"].get("resourceVersion")},
             "status": {"conditions": conditions}})


def _settings(spec: Any) -> dict[str, int]:
    pairs = [(s.name, s.value) for s in spec.algorithm_settings]
    if spec.algorithm_name == rules.SUCCESSIVE_HALVING:
        asha.AshaSettings.parse(pairs)  # bounded: an overflowing rung is refused, never computed
    return rules.parse_settings(spec.algorithm_name, pairs)


def _floats(log_reply: Any, metric: str) -> tuple[float, ...]:
    values = []
    for entry in log_reply.observation_log.metric_logs:
        if entry.metric.name != metric:
            continue
        try:
            values.append(float(entry.metric.value))
        except ValueError:  # Katib records "unavailable" when a trial printed no value
            continue
    return tuple(values)


class EarlyStoppingService(api_grpc.EarlyStoppingServicer):
    """One Experiment's early-stopping service (see module docstring)."""

    def __init__(self, trials: TrialStatusWriter | None = None, db_manager_address: str = DEFAULT_DB_MANAGER,
                 decisions: asha.Decider | None = None):
        if db_manager_address.count(":") != 1:
            raise ValueError(f"db_manager_address must be host:port, got {db_manager_address!r}")
        self.trials = trials
        self.db_manager_address = db_manager_address
        self.decisions = decisions or asha.Decider()
        self._values: dict[tuple[str, str], tuple[float, ...]] = {}  # finished trials never change
        self._lock = threading.Lock()

    def ValidateEarlyStoppingSettings(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        try:
            _settings(request.early_stopping)
        except rules.SettingsError as exc:
            context.set_code(grpc.StatusCode.INVALID_ARGUMENT)
            context.set_details(str(exc))
            log.error("invalid early stopping settings: %s", exc)
        return api.ValidateEarlyStoppingSettingsReply()

    def GetEarlyStoppingRules(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        spec = request.experiment.spec
        try:
            settings = _settings(spec.early_stopping)
        except rules.SettingsError as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        metric = spec.objective.objective_metric_name
        maximize = spec.objective.type == api.MAXIMIZE
        if spec.early_stopping.algorithm_name == rules.SUCCESSIVE_HALVING:
            self.decisions.configure(asha.AshaSettings(**settings), metric, maximize)
        finished, known = [], self.decisions.known()
        for trial in request.trials:
            condition = _CONDITIONS.get(trial.status.condition)
            if condition is not None:
                values = self._observations(trial.name, metric, context)
                finished.append(rules.Finished(condition, values))
                if trial.name not in known:  # finished before a restart: rebuild its rungs
                    self.decisions.learn(trial.name, values)
        if self.decisions.uses_asha():
            log.info("trials of %s ask for ASHA decisions: no Katib rules for new trials", request.experiment.name)
            return api.GetEarlyStoppingRulesReply()
        found = rules.rules_for_new_trial(spec.early_stopping.algorithm_name, settings, metric, maximize, finished)
        log.info("rules for new trials of %s from %d finished trials: %s", request.experiment.name,
                 len(finished), found)
        return api.GetEarlyStoppingRulesReply(early_stopping_rules=[
            api.EarlyStoppingRule(name=r.name, value=repr(r.value), comparison=_COMPARISON[r.comparison],
                                  start_step=r.start_step) for r in found])

    def _observations(self, trial: str, metric: str, context: grpc.ServicerContext) -> tuple[float, ...]:
        key = (trial, metric)
        with self._lock:
            if key in self._values:
                return self._values[key]
        address = self.db_manager_address
        try:
            with grpc.insecure_channel(address) as channel:
                reply = api_grpc.DBManagerStub(channel).GetObservationLog(
                    api.GetObservationLogRequest(trial_name=trial, metric_name=metric), timeout=DB_TIMEOUT)
        except grpc.RpcError as exc:
            context.abort(grpc.StatusCode.UNAVAILABLE,
                          f"reading trial {trial}'s observation log from Katib's DB manager at {address} "
                          f"failed: {exc.code().name}")
        values = _floats(reply, metric)
        with self._lock:
            self._values[key] = values
        return values

    def SetTrialStatus(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        if self.trials is None:
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, "no Kubernetes API: cannot update the Trial")
        try:
            self.trials.mark_early_stopped(request.trial_name)
        except Exception as exc:  # noqa: BLE001 - an API error becomes the gRPC answer, not a crash
            status = getattr(exc, "status", None)
            code = grpc.StatusCode.NOT_FOUND if status == 404 else grpc.StatusCode.UNAVAILABLE
            context.abort(code, f"marking Trial {request.trial_name} early stopped failed: "
                                f"{status or ''} {getattr(exc, 'reason', exc)}".strip())
        log.info("Trial %s marked EarlyStopped", request.trial_name)
        return api.SetTrialStatusReply()


def serve(address: str, trials: TrialStatusWriter | None, workers: int = 10,
          db_manager_address: str = DEFAULT_DB_MANAGER,
          decisions: asha.Decider | None = None) -> tuple[grpc.Server, int]:
    """Start the service on ``address`` (``host:port``); returns the running server and its port."""
    from concurrent import futures

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=workers))
    service = EarlyStoppingService(trials, db_manager_address, decisions)
    api_grpc.add_EarlyStoppingServicer_to_server(service, server)
    server.add_generic_rpc_handlers((handler(service.decisions),))
    port = server.add_insecure_port(address)
    if port == 0:
        raise OSError(f"cannot listen on {address}")
    server.start()
    return server, port
