"""The local runner as the ASHA decision service for katib-llm's own trainer.

With ``successivehalving`` (one objective), the runner serves on 127.0.0.1 what katib-llm's
early-stopping service serves on a cluster: the decision method (:data:`katib_llm.core.asha.PATH`,
the rule :mod:`katib_llm.core.asha`) and Katib's ``SetTrialStatus``, which a stopped trial calls
before it exits. Each trial gets the address and its name in its environment
(:mod:`katib_llm.runtime.decisions`); a program that never asks (a user template) keeps Katib's
one-rule path, fixed at creation (:class:`katib_llm.local.algorithms.RulePruner`). Once a trial
of the run has asked, new trials get no Katib rules, as the cluster service answers then.
"""

from __future__ import annotations

import threading
from concurrent import futures
from typing import Any, Sequence

import grpc
from kubeflow.katib import katib_api_pb2 as api
from kubeflow.katib import katib_api_pb2_grpc as api_grpc

from katib_llm.core import asha
from katib_llm.core import early_stopping as es_rules
from katib_llm.core.trialenv import TrialEnv
from katib_llm.io.asha_decide import handler

from .algorithms import AlgorithmError, Plan, RulePruner


class _TrialStatus(api_grpc.EarlyStoppingServicer):
    """``SetTrialStatus`` only: remembers which trials ended themselves EarlyStopped."""

    def __init__(self) -> None:
        self.stopped: set[str] = set()
        self._lock = threading.Lock()

    def SetTrialStatus(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        with self._lock:
            self.stopped.add(request.trial_name)
        return api.SetTrialStatusReply()


class LocalDecisions:
    """The decision server of one local run (start with :meth:`start`, end with :meth:`stop`)."""

    def __init__(self, settings: asha.AshaSettings, metric: str, maximize: bool):
        self.metric = metric
        self.decider = asha.Decider()
        self.decider.configure(settings, metric, maximize)
        self.status = _TrialStatus()
        self.server: grpc.Server | None = None
        self.address = ""

    def start(self) -> str:
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        api_grpc.add_EarlyStoppingServicer_to_server(self.status, self.server)
        self.server.add_generic_rpc_handlers((handler(self.decider),))
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.server.start()
        self.address = f"127.0.0.1:{port}"
        return self.address

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop(None)
            self.server = None

    def env(self, trial_name: str) -> dict[str, str]:
        """What a trial needs to ask (:mod:`katib_llm.runtime.decisions`)."""
        return {TrialEnv.EARLY_STOPPING_ADDRESS: self.address, TrialEnv.TRIAL_NAME: trial_name,
                TrialEnv.OBJECTIVE_METRIC: self.metric}

    def asked(self, trial_name: str) -> bool:
        return self.decider.has_asked(trial_name)

    def early_stopped(self, trial_name: str) -> bool:
        with self.status._lock:
            return trial_name in self.status.stopped

    def remember(self, trial_name: str, values: Sequence[float], asked: bool) -> None:
        """A trial finished before this run started (resume): its rungs, and whether it asked."""
        self.decider.learn(trial_name, values)
        if asked:
            self.decider.mark_asked(trial_name)


def for_plan(plan: Plan, objectives: int) -> LocalDecisions | None:
    """Decisions for a run whose early stopping is successive halving on one objective, else None."""
    pruner = plan.pruner
    if objectives > 1 or not isinstance(pruner, RulePruner) or pruner.algorithm != es_rules.SUCCESSIVE_HALVING:
        return None
    settings = asha.AshaSettings(**pruner.settings)
    try:
        settings.first_rung()  # bounded, as the cluster service refuses an overflowing rung
    except es_rules.SettingsError as exc:
        raise AlgorithmError(f"spec.earlyStopping.algorithmSettings: {exc}") from None
    return LocalDecisions(settings, pruner.metric, pruner.maximize)
