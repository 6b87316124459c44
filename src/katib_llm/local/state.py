"""Katib trial states and the experiment's stop rules, as the Katib controller applies them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SUCCEEDED = "Succeeded"
FAILED = "Failed"
EARLY_STOPPED = "EarlyStopped"
METRICS_UNAVAILABLE = "MetricsUnavailable"
RUNNING = "Running"
TERMINAL = (SUCCEEDED, FAILED, EARLY_STOPPED, METRICS_UNAVAILABLE)
# Katib's Experiment reason when failed trials reach maxFailedTrialCount (status_util.go).
MAX_FAILED_REASON = "ExperimentFailed"
MAX_FAILED_MESSAGE = "Experiment has failed because max failed count has reached"


@dataclass(frozen=True)
class Counts:
    succeeded: int = 0
    failed: int = 0
    early_stopped: int = 0
    metrics_unavailable: int = 0
    running: int = 0

    @property
    def completed(self) -> int:
        return self.succeeded + self.failed + self.early_stopped + self.metrics_unavailable


def count(states: list[str]) -> Counts:
    return Counts(states.count(SUCCEEDED), states.count(FAILED), states.count(EARLY_STOPPED),
                  states.count(METRICS_UNAVAILABLE), states.count(RUNNING))


def goal_reached(spec: dict[str, Any], best: float | None) -> bool:
    goal = (spec.get("objective") or {}).get("goal")
    if goal is None or best is None:
        return False
    if (spec.get("objective") or {}).get("type") == "maximize":
        return best >= float(goal)
    return best <= float(goal)


def stop_reason(spec: dict[str, Any], counts: Counts, best: float | None,
                cap: int | None = None) -> tuple[str, str] | None:
    """(condition, reason) when the experiment must start no new trial, else None.

    As Katib v0.19's experiment controller (``UpdateExperimentStatusCondition`` in
    pkg/controller.v1beta1/experiment/util/status_util.go), in its order: the goal; then
    ``maxFailedTrialCount``: the failed trials (Failed and MetricsUnavailable alike) are at least
    one and at least ``maxFailedTrialCount`` (so ``0`` fails on the first failure, unset never);
    then ``maxTrialCount`` completed trials (``cap``: a grid's size).
    """
    if goal_reached(spec, best):
        return SUCCEEDED, "ExperimentGoalReached"
    max_failed = spec.get("maxFailedTrialCount")
    failed = counts.failed + counts.metrics_unavailable
    if max_failed is not None and failed != 0 and failed >= int(max_failed):
        return FAILED, MAX_FAILED_REASON
    max_trials = spec.get("maxTrialCount")
    limit = min(x for x in (max_trials, cap) if x is not None) if (max_trials or cap) else None
    if limit is not None and counts.completed >= int(limit):
        return SUCCEEDED, "ExperimentMaxTrialsReached"
    return None


def objective_value(values: list[float], strategy: str) -> float | None:
    """Katib's metricStrategies: the trial's objective from its observations."""
    if not values:
        return None
    if strategy == "max":
        return max(values)
    if strategy == "min":
        return min(values)
    return values[-1]
