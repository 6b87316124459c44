"""Early-stopping rules as Katib computes and applies them, shared by the cluster and the local runner.

Katib (v1beta1) stops trials with *rules*: ``(metric name, value, comparison, startStep)``. The
early-stopping service computes them when the Suggestion asks for new trials
(``GetEarlyStoppingRules``, from the trials finished so far); the controller copies them into
each new Trial's ``spec.earlyStoppingRules``; the trial's metrics collector gets them as
``--stop-rule`` flags and applies them while the trial runs (kubeflow/katib
``cmd/metricscollector/v1beta1/file-metricscollector/main.go``, ``updateStopRules``). So a
trial's rules are fixed when it is created.

The collector's arithmetic, reproduced by :func:`collector_stop_step`:

* each value of the objective metric is replaced by the best value reported so far;
* a rule with ``startStep = s > 0`` is checked exactly once, on the ``s``-th report of its metric
  (the per-metric countdown is decremented on every report and checked for ``== 0``); a rule
  with ``startStep = 0`` is checked on every report;
* a rule that holds (``best > value`` for ``greater``) is removed; the trial is stopped once no
  rule is left, i.e. when *all* its rules held. Several rules on one metric share one countdown,
  so a useful rule set has one rule per metric.

Both algorithms therefore give a trial at most one rule, on the objective metric:

* ``medianstop`` (Katib's ``pkg/earlystopping/v1beta1/medianstop/service.py``): once at least
  ``min_trials_required`` trials have Succeeded, the value is the mean over those trials of the
  average of their first ``start_step`` objective values; the trial is stopped if its best value
  at report ``start_step`` is worse.
* ``successivehalving``: the rung is report ``min_resource * reduction_factor **
  min_early_stopping_rate``; the value is the best value at that rung of the trial that ranks
  ``max(1, (n + 1) // reduction_factor)``-th among the ``n`` finished trials that reached it,
  i.e. the trial continues only if it is in the top ``1 / reduction_factor`` of the trials that
  reached the rung, itself included (Optuna's ``SuccessiveHalvingPruner`` promotion rule).

The resource unit is one report of the objective metric (one evaluation), on both backends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .errors import FieldError

MEDIANSTOP = "medianstop"
SUCCESSIVE_HALVING = "successivehalving"
ALGORITHMS = (MEDIANSTOP, SUCCESSIVE_HALVING)
LESS, GREATER, EQUAL = "less", "greater", "equal"

# name -> (default, minimum, maximum, meaning) for each algorithm's settings (all integers). The
# maxima keep every rule's arithmetic small: a rung is a count of reports, and no trial reports a
# million times (and min_resource * reduction_factor ** min_early_stopping_rate must not be a
# number with thousands of digits computed on every GetEarlyStoppingRules call).
SETTINGS: dict[str, dict[str, tuple[int, int, int, str]]] = {
    MEDIANSTOP: {"min_trials_required": (3, 1, 10_000, "succeeded trials needed before any trial is stopped"),
                 "start_step": (4, 1, 100_000, "the report at which a trial is compared")},
    SUCCESSIVE_HALVING: {"min_resource": (1, 1, 100_000, "reports before the first rung"),
                         "reduction_factor": (4, 2, 100, "eta: the top 1/eta of a rung continue"),
                         "min_early_stopping_rate": (0, 0, 20, "s: the rung is min_resource * eta**s")},
}
# The report at which successive halving compares (min_resource * eta**s) is at most this.
MAX_RUNG = 1_000_000
# A setting's text: at most this many ASCII digits (no sign, no "³", no "1e9").
_MAX_DIGITS = 7


class SettingsError(ValueError):
    """A bad algorithm name or setting; the message names it and the accepted form."""


@dataclass(frozen=True)
class Rule:
    """One Katib EarlyStoppingRule."""

    name: str
    value: float
    comparison: str
    start_step: int


@dataclass(frozen=True)
class Finished:
    """A finished trial as the rules see it: its Katib condition and objective values in order."""

    condition: str  # Succeeded | EarlyStopped | ...
    values: tuple[float, ...]


def parse_settings(algorithm: str, settings: Iterable[tuple[str, str]]) -> dict[str, int]:
    """The algorithm's settings with defaults filled in; raises :class:`SettingsError`."""
    if algorithm not in SETTINGS:
        raise SettingsError(f"unknown early stopping algorithm {algorithm!r}; accepted: {', '.join(ALGORITHMS)}")
    known = SETTINGS[algorithm]
    out = {name: default for name, (default, _, _, _) in known.items()}
    for name, raw in settings:
        if name not in known:
            raise SettingsError(f"unknown setting {name[:60]!r} for {algorithm}; accepted: {', '.join(known)}")
        _, low, high, _ = known[name]
        text = str(raw).strip()
        if not (text.isascii() and text.isdigit() and len(text) <= _MAX_DIGITS) or not low <= int(text) <= high:
            raise SettingsError(f"setting {name}={str(raw)[:20]!r} must be a whole number from {low} to {high}")
        out[name] = int(text)
    if algorithm == SUCCESSIVE_HALVING and _rung_exceeds(out, MAX_RUNG):
        raise SettingsError(f"min_resource * reduction_factor ** min_early_stopping_rate = the report at which "
                            f"trials are compared must be at most {MAX_RUNG}; got min_resource="
                            f"{out['min_resource']}, reduction_factor={out['reduction_factor']}, "
                            f"min_early_stopping_rate={out['min_early_stopping_rate']}")
    return out


def _rung_exceeds(settings: Mapping[str, int], limit: int) -> bool:
    """Whether the successive-halving rung passes ``limit``, multiplying step by step (stops early)."""
    step = settings["min_resource"]
    for _ in range(settings["min_early_stopping_rate"]):
        step *= settings["reduction_factor"]
        if step > limit:
            return True
    return step > limit


def spec_settings(early_stopping: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``spec.earlyStopping.algorithmSettings`` as (name, value) pairs."""
    pairs = []
    for s in early_stopping.get("algorithmSettings") or []:
        if isinstance(s, Mapping):
            pairs.append((str(s.get("name")), str(s.get("value", ""))))
        else:
            pairs.append((str(s), ""))
    return pairs


def settings_errors(early_stopping: Any) -> list[FieldError]:
    """Admission check of ``spec.earlyStopping`` settings (the service checks the same)."""
    if not isinstance(early_stopping, Mapping) or early_stopping.get("algorithmName") not in ALGORITHMS:
        return []
    try:
        parse_settings(str(early_stopping["algorithmName"]), spec_settings(early_stopping))
    except SettingsError as exc:
        return [FieldError("spec.earlyStopping.algorithmSettings", "early-stopping.settings", str(exc))]
    return []


def rung(settings: Mapping[str, int]) -> int:
    """The report at which successive halving compares a trial."""
    step: int = settings["min_resource"] * settings["reduction_factor"] ** settings["min_early_stopping_rate"]
    return step


def best_prefix(values: Iterable[float], steps: int, maximize: bool) -> float:
    head = list(values)[:steps]
    return max(head) if maximize else min(head)


def _stop_comparison(maximize: bool) -> str:
    return LESS if maximize else GREATER


def rules_for_new_trial(algorithm: str, settings: Mapping[str, int], metric: str, maximize: bool,
                        finished: Iterable[Finished]) -> list[Rule]:
    """The rules Katib gives a trial created now, from the trials finished so far."""
    done = list(finished)
    if algorithm == MEDIANSTOP:
        start = settings["start_step"]
        averages = [sum(f.values[:start]) / len(f.values[:start]) for f in done
                    if f.condition == "Succeeded" and f.values]
        if len(averages) < settings["min_trials_required"]:
            return []
        return [Rule(metric, sum(averages) / len(averages), _stop_comparison(maximize), start)]
    if algorithm == SUCCESSIVE_HALVING:
        step = rung(settings)
        reached = sorted((best_prefix(f.values, step, maximize) for f in done
                          if f.condition in ("Succeeded", "EarlyStopped") and len(f.values) >= step),
                         reverse=maximize)
        if not reached:
            return []
        keep = max(1, (len(reached) + 1) // settings["reduction_factor"])
        return [Rule(metric, reached[keep - 1], _stop_comparison(maximize), step)]
    raise SettingsError(f"unknown early stopping algorithm {algorithm!r}; accepted: {', '.join(ALGORITHMS)}")


def _holds(rule: Rule, value: float) -> bool:
    if rule.comparison == LESS:
        return value < rule.value
    if rule.comparison == GREATER:
        return value > rule.value
    return value == rule.value


def collector_stop_step(rules: Iterable[Rule], objective: str, maximize: bool,
                        reports: Iterable[tuple[str, float]]) -> int | None:
    """The 1-based index of the report after which Katib's collector stops the trial, or None."""
    left = list(rules)
    if not left:
        return None
    countdown = {r.name: r.start_step for r in left if r.start_step != 0}
    best: float | None = None
    for index, (name, value) in enumerate(reports, start=1):
        for rule in list(left):
            if rule.name != name:
                continue
            seen = value
            if name == objective:
                best = value if best is None else (max(best, value) if maximize else min(best, value))
                seen = best
            if name in countdown:
                countdown[name] -= 1
                if countdown[name] != 0:
                    continue
            if _holds(rule, seen):
                left.remove(rule)
        if not left:
            return index
    return None


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    return {"name": rule.name, "value": rule.value, "comparison": rule.comparison, "startStep": rule.start_step}


def rule_from_dict(raw: Mapping[str, Any]) -> Rule:
    return Rule(str(raw["name"]), float(raw["value"]), str(raw["comparison"]), int(raw["startStep"]))
