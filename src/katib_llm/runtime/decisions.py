"""The trainer's side of ASHA: ask for a decision at every evaluation, end EarlyStopped when told.

Set by the local runner (and on a cluster by the trial's environment):

* ``KATIB_LLM_EARLY_STOPPING_ADDRESS``: ``host:port`` of the decision service (the local runner,
  or katib-llm's early-stopping service on port 6788 of the Experiment's Suggestion);
* ``KATIB_LLM_TRIAL_NAME``: the Trial's name; ``KATIB_LLM_OBJECTIVE_METRIC``: the objective
  metric the decisions rank (default ``eval_loss``);
* ``KATIB_LLM_DECISION_TIMEOUT``: seconds one request may take (default 2, at most 30).

Latency is bounded and failure is harmless: a request that fails, is refused or exceeds the
timeout answers "continue", so the service can never block or stop training by being down.
A stopped trial ends as Katib's metrics collector ends one: its metrics are printed (the
collector reports them), ``SetTrialStatus`` marks the Trial EarlyStopped, then it exits.
"""

from __future__ import annotations

import sys
from typing import Mapping

from katib_llm.core import asha
from katib_llm.core.trialenv import TrialEnv

ENV_ADDRESS = TrialEnv.EARLY_STOPPING_ADDRESS
ENV_TRIAL = TrialEnv.TRIAL_NAME
ENV_METRIC = TrialEnv.OBJECTIVE_METRIC
ENV_TIMEOUT = TrialEnv.DECISION_TIMEOUT
DEFAULT_TIMEOUT, MAX_TIMEOUT = 2.0, 30.0


def _timeout(raw: str | None) -> float:
    try:
        value = float(raw) if raw else DEFAULT_TIMEOUT
    except ValueError:
        return DEFAULT_TIMEOUT
    return min(max(value, 0.01), MAX_TIMEOUT) if value == value else DEFAULT_TIMEOUT


class DecisionClient:
    """Asks the decision service; every failure is "continue" (one warning, then quiet)."""

    def __init__(self, address: str, trial: str, metric: str = "eval_loss", timeout: float = DEFAULT_TIMEOUT):
        import grpc

        self.address, self.trial, self.metric, self.timeout = address, trial, metric, timeout
        self.channel = grpc.insecure_channel(address)
        self._decide = self.channel.unary_unary(asha.PATH)
        self.values: list[float] = []
        self.stopped = False
        self._warned = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "DecisionClient | None":
        address, trial = env.get(ENV_ADDRESS, "").strip(), env.get(ENV_TRIAL, "").strip()
        if not address or not trial:
            return None
        return cls(address, trial, env.get(ENV_METRIC, "").strip() or "eval_loss", _timeout(env.get(ENV_TIMEOUT)))

    def _warn(self, what: str, exc: Exception) -> None:
        if not self._warned:
            code = getattr(exc, "code", lambda: None)()
            print(f"katib-llm trainer: warning: {what} at {self.address} failed "
                  f"({getattr(code, 'name', type(exc).__name__)}); training continues", file=sys.stderr, flush=True)
            self._warned = True

    def observe(self, metrics: Mapping[str, float], last: bool = False) -> bool:
        """Record this evaluation's objective value and ask; True if the trial must stop now.

        ``last``: the trial's final evaluation. It is still sent (other trials are ranked against
        it at that rung) but never stops the trial: a trial that trained to its end succeeded.
        """
        if self.metric not in metrics:
            return False
        self.values.append(float(metrics[self.metric]))
        if self.stopped:
            return True
        try:
            answer = self._decide(asha.encode_request(self.trial, self.values), timeout=self.timeout)
        except Exception as exc:  # noqa: BLE001 - any failure of the service means "continue"
            self._warn("asking for an early-stopping decision", exc)
            return False
        self.stopped = asha.parse_answer(answer) == asha.STOP and not last
        return self.stopped

    def mark_early_stopped(self) -> bool:
        """``SetTrialStatus`` for this trial, as Katib's collector calls it; False if it failed."""
        from kubeflow.katib import katib_api_pb2 as api
        from kubeflow.katib import katib_api_pb2_grpc as api_grpc

        try:
            api_grpc.EarlyStoppingStub(self.channel).SetTrialStatus(
                api.SetTrialStatusRequest(trial_name=self.trial), timeout=max(self.timeout, 10.0))
        except Exception as exc:  # noqa: BLE001
            print(f"katib-llm trainer: error: SetTrialStatus for {self.trial} at {self.address} failed "
                  f"({getattr(getattr(exc, 'code', lambda: None)(), 'name', type(exc).__name__)}); "
                  "the Trial keeps the metrics it reported", file=sys.stderr, flush=True)
            return False
        return True

    def close(self) -> None:
        self.channel.close()


__all__ = ["DecisionClient", "ENV_ADDRESS", "ENV_METRIC", "ENV_TIMEOUT", "ENV_TRIAL"]
