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

import math
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from .early_stopping import SETTINGS, SUCCESSIVE_HALVING, SettingsError, parse_settings

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


__all__ = ["AshaSettings", "CONTINUE", "Decision", "Ladder", "MAX_REPORT", "SETTINGS", "STOP", "best_up_to",
           "decide", "rung_index", "rungs", "threshold"]
