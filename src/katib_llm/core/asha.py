"""Asynchronous successive halving (ASHA, Li et al. 2018, arXiv:1810.05934): one decision per rung.

Katib gives a trial its early-stopping rules once, when it is created, and its metrics collector
stops the trial only when all of them hold (:mod:`katib_llm.core.early_stopping`), so a rule set
cannot say "stop at rung 1 *or* at rung 2". katib-llm's own trainer asks instead, at every
evaluation, for a decision (the local runner answers locally; katib-llm's early-stopping
service on a cluster); this module is the rule both apply.

Same settings and units as Katib's ``successivehalving`` (:data:`SETTINGS`): the resource is one
report of the objective metric; rung ``k`` is report ``min_resource * reduction_factor **
(min_early_stopping_rate + k)``. At rung ``k`` a trial's value is its best objective value over
its first ``rung`` reports (what Katib's collector compares). The trial continues only if that
value ranks within the top ``max(1, n // reduction_factor)`` of the ``n`` trials that reached the
rung so far, itself included: finished, stopped and *running* trials alike, in the order they
got there (promotions are decided asynchronously, nobody waits for a rung to fill). A value
equal to the threshold is promoted (ties continue). This is Optuna's ``SuccessiveHalvingPruner``
promotion rule at every rung.

Pure: no I/O. Cost is bounded: settings whose first rung lies past :data:`MAX_REPORT` are refused
(:func:`rungs` never computes a power it would have to throw away), and a decision reads only
the values recorded at that rung.
"""

from __future__ import annotations

import json
import math
import re
import threading
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

from .early_stopping import SETTINGS, SUCCESSIVE_HALVING, SettingsError, parse_settings
from .trialenv import TrialEnv

# The highest report a rung may sit at: 100 000 evaluations is far beyond any fine-tune, and
# computing min_resource * eta ** s for an unbounded s would be unbounded work.
MAX_REPORT = 100_000
CONTINUE, STOP = "continue", "stop"


@dataclass(frozen=True)
class AshaSettings:
    """Katib's successivehalving settings, checked and bounded."""

    min_resource: int
    reduction_factor: int
    min_early_stopping_rate: int

    @classmethod
    def parse(cls, settings: Iterable[tuple[str, str]]) -> "AshaSettings":
        """From ``(name, value)`` pairs (defaults as Katib's successivehalving); raises SettingsError."""
        parsed = parse_settings(SUCCESSIVE_HALVING, settings)
        out = cls(parsed["min_resource"], parsed["reduction_factor"], parsed["min_early_stopping_rate"])
        out.first_rung()  # refuse settings whose first rung overflows
        return out

    def first_rung(self) -> int:
        """Report of rung 0; raises SettingsError past :data:`MAX_REPORT` without computing the power."""
        report = self.min_resource
        for _ in range(self.min_early_stopping_rate):
            report *= self.reduction_factor
            if report > MAX_REPORT:
                break
        if report > MAX_REPORT:
            raise SettingsError(
                f"settings min_resource={self.min_resource}, reduction_factor={self.reduction_factor}, "
                f"min_early_stopping_rate={self.min_early_stopping_rate} put the first rung past report "
                f"{MAX_REPORT}; accepted: min_resource * reduction_factor ** min_early_stopping_rate <= {MAX_REPORT}")
        return report


def rungs(settings: AshaSettings, up_to: int) -> list[int]:
    """The reports (1-based) that are rungs, up to ``up_to`` (at most :data:`MAX_REPORT`)."""
    out, report, limit = [], settings.first_rung(), min(up_to, MAX_REPORT)
    while report <= limit:
        out.append(report)
        report *= settings.reduction_factor
    return out


def rung_index(settings: AshaSettings, report: int) -> int | None:
    """``k`` if report ``report`` is rung ``k``, else None."""
    if report < 1 or report > MAX_REPORT:
        return None
    found = rungs(settings, report)
    return len(found) - 1 if found and found[-1] == report else None


def best_up_to(values: Sequence[float], report: int, maximize: bool) -> float:
    """A trial's value at a rung: its best over its first ``report`` values (Katib's collector).

    A non-finite value (a diverged loss) ranks worst, so it neither wins a rung nor poisons the sort.
    """
    worst = -math.inf if maximize else math.inf
    head = [v if math.isfinite(v) else worst for v in values[:report]]
    return max(head) if maximize else min(head)


def threshold(reached: Sequence[float], settings: AshaSettings, maximize: bool) -> float:
    """The worst value still in the top ``max(1, n // eta)`` of ``reached`` (``n`` values)."""
    ordered = sorted(reached, reverse=maximize)
    return ordered[max(1, len(ordered) // settings.reduction_factor) - 1]


@dataclass(frozen=True)
class Decision:
    """The answer to one decision request."""

    decision: str        # CONTINUE | STOP
    rung: int | None     # rung index, None if the report is not a rung
    reached: int = 0     # trials that reached the rung, the asking one included
    threshold: float | None = None


def decide(settings: AshaSettings, maximize: bool, trial: str, at_rung: Mapping[str, float],
           value: float, report: int) -> Decision:
    """The decision for ``trial`` at report ``report`` with rung value ``value``.

    ``at_rung`` holds the rung values of the *other* trials that reached this rung before it
    (trial name -> value); a value the same trial sent before is replaced, so a retried request
    gets the same answer.
    """
    index = rung_index(settings, report)
    if index is None:
        return Decision(CONTINUE, None)
    if not math.isfinite(value):
        value = -math.inf if maximize else math.inf
    reached = [v for name, v in at_rung.items() if name != trial] + [value]
    worst_kept = threshold(reached, settings, maximize)
    keep = value >= worst_kept if maximize else value <= worst_kept
    return Decision(CONTINUE if keep else STOP, index, len(reached), worst_kept)


class Ladder:
    """Rung values of one Experiment's trials, learned from their decision requests (no I/O).

    ``record`` stores a trial's value at a rung and answers; ``learn`` adds a whole curve (a
    finished trial read back from Katib's DB manager after a restart). Bounded: at most
    ``max_trials`` trials are kept per rung (a request past it is refused by the caller).
    """

    def __init__(self, settings: AshaSettings, maximize: bool, max_trials: int = 10_000):
        self.settings, self.maximize, self.max_trials = settings, maximize, max_trials
        self.by_rung: dict[int, dict[str, float]] = {}

    def full(self, report: int, trial: str) -> bool:
        index = rung_index(self.settings, report)
        at = self.by_rung.get(index, {}) if index is not None else {}
        return index is not None and trial not in at and len(at) >= self.max_trials

    def record(self, trial: str, values: Sequence[float]) -> Decision:
        """Decide for ``trial`` after its ``len(values)``-th report (``values``: its objective values in order)."""
        report = len(values)
        index = rung_index(self.settings, report)
        if index is None:
            return Decision(CONTINUE, None)
        value = best_up_to(values, report, self.maximize)
        at = self.by_rung.setdefault(index, {})
        decision = decide(self.settings, self.maximize, trial, at, value, report)
        at[trial] = value
        return decision

    def learn(self, trial: str, values: Sequence[float]) -> None:
        """Record every rung ``values`` reached (a curve read back after a restart), without deciding."""
        for index, report in enumerate(rungs(self.settings, len(values))):
            at = self.by_rung.setdefault(index, {})
            if len(at) < self.max_trials or trial in at:
                at[trial] = best_up_to(values, report, self.maximize)

    def trials(self) -> set[str]:
        return {name for at in self.by_rung.values() for name in at}


# ---- the decision request, the same on both backends --------------------------------------------
# Katib's gRPC API has no "decide now" call, so katib-llm's trainer calls one more method on the
# early-stopping server (locally: the runner's): JSON ``{"trial": NAME, "values": [...]}``, the
# trial's objective values so far in report order, answered with ``{"decision", "rung", ...}``.
SERVICE = "katib_llm.earlystopping.v1.Asha"
METHOD = "Decide"
PATH = f"/{SERVICE}/{METHOD}"
MAX_REQUEST_BYTES = 2 * 1024 * 1024
MAX_TRIALS_PER_RUNG = 10_000
# A Katib Trial name is a Kubernetes object name (DNS-1123 subdomain, at most 253 characters).
TRIAL_NAME = re.compile(r"[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?")
_FORM = 'a JSON object {"trial": NAME, "values": [numbers]}'


class BadRequest(ValueError):
    """A decision request that is not of the accepted form (the message says which part)."""


def encode_request(trial: str, values: Sequence[float]) -> bytes:
    return json.dumps({"trial": trial, "values": [float(v) for v in values]}).encode()


def parse_request(raw: bytes) -> tuple[str, list[float]]:
    """``(trial name, values)`` from a request body; raises :class:`BadRequest` (linear in its size)."""
    if len(raw) > MAX_REQUEST_BYTES:
        raise BadRequest(f"request of {len(raw)} bytes; accepted: at most {MAX_REQUEST_BYTES}")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BadRequest(f"request must be {_FORM}") from None
    if not isinstance(body, dict):
        raise BadRequest(f"request must be {_FORM}")
    trial, values = body.get("trial"), body.get("values")
    if not isinstance(trial, str) or len(trial) > 253 or not TRIAL_NAME.fullmatch(trial):
        raise BadRequest("trial: must be a Trial name (lowercase DNS-1123 subdomain, at most 253 characters)")
    if not isinstance(values, list) or not values or len(values) > MAX_REPORT:
        raise BadRequest(f"values: must be a list of 1 to {MAX_REPORT} numbers")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        raise BadRequest("values: must hold numbers only")
    return trial, [float(v) for v in values]


def encode_answer(decision: Decision) -> bytes:
    threshold = decision.threshold if decision.threshold is None or math.isfinite(decision.threshold) else None
    return json.dumps({"decision": decision.decision, "rung": decision.rung, "reached": decision.reached,
                       "threshold": threshold}).encode()


def parse_answer(raw: bytes) -> str:
    """The decision in an answer; anything but a well-formed "stop" reads as "continue"."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return CONTINUE
    return STOP if isinstance(body, dict) and body.get("decision") == STOP else CONTINUE


class Decider:
    """One Experiment's ladder and the decisions made from it, for concurrent requests.

    ``asked`` holds the trials that asked for a decision: such an Experiment runs katib-llm's
    trainer, and the service then gives its new trials no Katib rules (one path per trial).
    """

    def __init__(self, max_trials: int = MAX_TRIALS_PER_RUNG):
        self.max_trials = max_trials
        self.ladder: Ladder | None = None
        self.metric = ""
        self.asked: set[str] = set()
        self._lock = threading.Lock()

    def configure(self, settings: AshaSettings, metric: str, maximize: bool) -> None:
        """Settings of the Experiment; a change of settings starts a new ladder."""
        with self._lock:
            now = self.ladder
            if now is None or (now.settings, now.maximize, self.metric) != (settings, maximize, metric):
                self.ladder = Ladder(settings, maximize, self.max_trials)
                self.metric = metric

    def uses_asha(self) -> bool:
        with self._lock:
            return bool(self.asked)

    def has_asked(self, trial: str) -> bool:
        with self._lock:
            return trial in self.asked

    def mark_asked(self, trial: str) -> None:
        """A trial known (from a journal) to have asked before a restart."""
        with self._lock:
            self.asked.add(trial)

    def known(self) -> set[str]:
        with self._lock:
            return self.ladder.trials() if self.ladder else set()

    def learn(self, trial: str, values: Sequence[float]) -> None:
        """A finished trial's curve (read back from Katib's DB manager after a restart)."""
        with self._lock:
            if self.ladder is not None and values:
                self.ladder.learn(trial, list(values))

    def decide(self, trial: str, values: Sequence[float]) -> Decision:
        """The decision after ``values``; "continue" while the settings are unknown. Raises
        OverflowError for a newcomer to a rung that holds ``max_trials`` trials."""
        with self._lock:
            if len(self.asked) < self.max_trials or trial in self.asked:
                self.asked.add(trial)
            if self.ladder is None:
                return Decision(CONTINUE, None)
            if self.ladder.full(len(values), trial):
                raise OverflowError(f"the rung at report {len(values)} already holds {self.max_trials} trials")
            return self.ladder.record(trial, values)


# ---- where the trainer asks on a cluster ------------------------------------------------------------
ENV_ADDRESS = TrialEnv.EARLY_STOPPING_ADDRESS
ENV_METRIC = TrialEnv.OBJECTIVE_METRIC
EARLY_STOPPING_PORT = 6788  # Katib's DefaultEarlyStoppingPort (pkg/controller.v1beta1/consts/const.go)


def decision_env(experiment: Mapping[str, Any]) -> dict[str, str]:
    """The environment that makes katib-llm's trainer ask for ASHA decisions, or {}.

    Only for ``successivehalving`` (katib-llm's service). Katib creates the Experiment's
    Suggestion with the Experiment's name and serves it through the Service
    ``<suggestion>-<algorithm>`` in the Experiment's namespace, whose port 6788 is the
    early-stopping container when the Experiment has early stopping (kubeflow/katib v0.19
    ``pkg/controller.v1beta1/util/suggestion.go`` ``GetSuggestionServiceName``,
    ``suggestion/composer/composer.go`` ``DesiredService``)."""
    def section(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
        value = parent.get(key)
        return value if isinstance(value, Mapping) else {}

    spec = section(experiment, "spec")
    es = section(spec, "earlyStopping")
    algorithm = section(spec, "algorithm").get("algorithmName")
    name = section(experiment, "metadata").get("name")
    metric = section(spec, "objective").get("objectiveMetricName")
    if es.get("algorithmName") != SUCCESSIVE_HALVING or not all(isinstance(v, str) and v for v in (algorithm, name, metric)):
        return {}
    return {ENV_ADDRESS: f"{name}-{algorithm}:{EARLY_STOPPING_PORT}", ENV_METRIC: str(metric)}


__all__ = ["AshaSettings", "BadRequest", "CONTINUE", "Decider", "Decision", "Ladder", "METHOD", "PATH", "SERVICE",
           "decision_env", "encode_answer", "encode_request", "parse_answer", "parse_request", "MAX_REPORT", "SETTINGS", "STOP", "best_up_to",
           "decide", "rung_index", "rungs", "threshold"]
