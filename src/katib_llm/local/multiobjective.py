"""Several objectives: Pareto dominance, the front, and early stopping by dominance.

Optuna refuses ``trial.report`` / pruning for multi-objective studies (optuna/optuna#3450), so
the local runner stops trials itself with this rule, the multi-objective form of Katib's
median stopping:

    At the k-th evaluation (k >= ``start_step``), a running trial is stopped when at least
    ``min_trials_required`` finished trials have a point at evaluation k, and at least
    ``fraction`` (default 1/2) of those points dominate the trial's point at evaluation k.

A point dominates another when it is at least as good in every objective and strictly better
in one. With one objective "dominated by half of the finished trials" is "worse than their
median", which is ``medianstop``; the settings are medianstop's (``min_trials_required``,
``start_step``) plus ``dominated_fraction``. Everything here is pure (no I/O).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from typing import Any, Sequence

Point = Sequence[float]


@dataclass(frozen=True)
class DominanceRule:
    """When a trial is stopped (see the module docstring)."""

    min_trials_required: int = 3
    start_step: int = 1
    fraction: float = 0.5


def signs(directions: Sequence[str]) -> list[int]:
    """+1 for minimize, -1 for maximize: ``sign * value`` is lower-is-better for every objective."""
    return [-1 if d == "maximize" else 1 for d in directions]


def dominates(a: Point, b: Point, directions: Sequence[str]) -> bool:
    """Whether ``a`` is at least as good as ``b`` everywhere and strictly better somewhere."""
    pairs = [(s * x, s * y) for s, x, y in zip(signs(directions), a, b)]
    return all(x <= y for x, y in pairs) and any(x < y for x, y in pairs)


def point_at(curves: dict[str, list[float]], names: Sequence[str], step: int) -> tuple[float, ...] | None:
    """The objectives' values at evaluation ``step`` (1-based), None if one has not reported it."""
    if any(len(curves.get(n) or []) < step for n in names):
        return None
    return tuple(curves[n][step - 1] for n in names)


def should_stop(point: Point, step: int, finished: Sequence[Point], directions: Sequence[str],
                rule: DominanceRule) -> bool:
    """The rule for one trial at evaluation ``step``; ``finished``: finished trials' points at that step."""
    if step < rule.start_step or len(finished) < max(1, rule.min_trials_required):
        return False
    dominated_by = sum(dominates(f, point, directions) for f in finished)
    return dominated_by >= math.ceil(rule.fraction * len(finished))


def pareto_front(points: Sequence[Point], directions: Sequence[str]) -> list[int]:
    """Indices of the points no other point dominates (duplicates all stay on the front)."""
    return [i for i, p in enumerate(points)
            if not any(dominates(q, p, directions) for j, q in enumerate(points) if j != i)]


__all__ = ["DominanceRule", "dominates", "pareto_front", "point_at", "should_stop", "signs", "take_annotation"]


def take_annotation(experiment: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A copy of ``experiment`` without the ``objectives`` annotation, and its (metric, direction)
    pairs, primary first. The core parses it (``contract.parse_objectives``); a bad value raises
    AdmissionDenied naming the annotation."""
    from katib_llm.core import contract
    from katib_llm.core.errors import AdmissionDenied, FieldError

    key = contract.annotation_key(contract.OBJECTIVES)
    annotations = (experiment.get("metadata") or {}).get("annotations")
    if not isinstance(annotations, dict) or key not in annotations:
        return experiment, []
    out = copy.deepcopy(experiment)
    raw = out["metadata"]["annotations"].pop(key)
    errors: list[FieldError] = []
    if not isinstance(raw, str):
        errors.append(FieldError(contract.annotation_path(contract.OBJECTIVES), "annotation.type", "must be a string"))
    spec = out.get("spec")
    pairs = contract.parse_objectives(raw, spec.get("objective") if isinstance(spec, dict) else None, errors) \
        if not errors else []
    if errors:
        raise AdmissionDenied(errors)
    return out, pairs
