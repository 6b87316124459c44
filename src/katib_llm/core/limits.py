"""Experiment budgets and per-trial deadlines: parsing, where they go, and the arithmetic.

* ``llm.katib.kubeflow.org/budget``: a JSON object with any of ``train_steps`` (training steps
  summed over trials), ``wall_clock`` (the Experiment's running time, ``"6h"``, ``"90m"``,
  ``"1h30m"``, ``"45s"``, ``"2d"`` or seconds) and ``gpu_hours`` (trial duration x GPUs the trial
  requests, summed). Once one is spent no new trial starts; locally running trials stop too.
* ``llm.katib.kubeflow.org/trial-active-deadline-seconds``: seconds a trial may run; it becomes
  the trial job's ``activeDeadlineSeconds`` (every kind that has one) and the local runner ends a
  trial past it as Failed.

A trial's training steps are the latest value of the ``train_step`` metric it prints (the
trainer prints it with every evaluation); a trial that prints none counts one step per reported
objective value.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from .errors import FieldError

STEP_METRIC = "train_step"
BUDGET_KEYS = ("train_steps", "wall_clock", "gpu_hours")
MAX_DEADLINE = 366 * 24 * 3600
_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)d)?(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s)?$")
BUDGET_FORM = ('a JSON object with any of train_steps (integer > 0), wall_clock ("6h", "90m", "1h30m" or '
               'seconds > 0) and gpu_hours (number > 0), e.g. {"train_steps": 20000, "wall_clock": "6h"}')


@dataclass(frozen=True)
class Budget:
    """What a whole Experiment may spend (None: no limit on that)."""

    train_steps: int | None = None
    wall_clock: float | None = None  # seconds
    gpu_hours: float | None = None

    def to_json(self) -> str:
        out: dict[str, Any] = {}
        if self.train_steps is not None:
            out["train_steps"] = self.train_steps
        if self.wall_clock is not None:
            out["wall_clock"] = format_duration(self.wall_clock)
        if self.gpu_hours is not None:
            out["gpu_hours"] = self.gpu_hours
        return json.dumps(out, sort_keys=True)


@dataclass(frozen=True)
class Usage:
    """What an Experiment has spent so far."""

    train_steps: int = 0
    wall_clock: float = 0.0
    gpu_hours: float = 0.0


def parse_duration(raw: Any) -> float | None:
    """``"6h"``, ``"1h30m"``, ``"90s"``, ``"2d"``, ``3600`` or ``"3600"`` → seconds; None if invalid."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        return float(raw) if math.isfinite(raw) and raw > 0 else None
    if not isinstance(raw, str):
        return None
    text = raw.strip().lower()
    try:
        seconds = float(text)
        return seconds if math.isfinite(seconds) and seconds > 0 else None
    except ValueError:
        pass
    m = _DURATION.match(text)
    if not text or not m or not any(m.groups()):
        return None
    d, h, mi, s = (float(g) if g else 0.0 for g in m.groups())
    seconds = d * 86400 + h * 3600 + mi * 60 + s
    return seconds if seconds > 0 else None


def format_duration(seconds: float) -> str:
    seconds = max(0, int(round(seconds)))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return (f"{h}h" if h else "") + (f"{m}m" if m else "") + (f"{s}s" if s or not (h or m) else "")


def exhausted(budget: Budget | None, used: Usage) -> str | None:
    """Why the budget is spent (a sentence naming the limit), or None."""
    if budget is None:
        return None
    if budget.train_steps is not None and used.train_steps >= budget.train_steps:
        return f"train_steps budget spent: {used.train_steps} of {budget.train_steps}"
    if budget.wall_clock is not None and used.wall_clock >= budget.wall_clock:
        return f"wall_clock budget spent: {format_duration(used.wall_clock)} of {format_duration(budget.wall_clock)}"
    if budget.gpu_hours is not None and used.gpu_hours >= budget.gpu_hours:
        return f"gpu_hours budget spent: {used.gpu_hours:.2f} of {budget.gpu_hours:g}"
    return None


def summary(budget: Budget | None, used: Usage) -> list[tuple[str, str, str]]:
    """(limit, used, left) rows for display, one per limit the budget sets."""
    rows: list[tuple[str, str, str]] = []
    if budget is None:
        return rows
    if budget.train_steps is not None:
        rows.append(("train_steps", str(used.train_steps), str(max(0, budget.train_steps - used.train_steps))))
    if budget.wall_clock is not None:
        rows.append(("wall_clock", format_duration(used.wall_clock),
                     format_duration(max(0.0, budget.wall_clock - used.wall_clock))))
    if budget.gpu_hours is not None:
        rows.append(("gpu_hours", f"{used.gpu_hours:.2f}", f"{max(0.0, budget.gpu_hours - used.gpu_hours):.2f}"))
    return rows


def trial_steps(step_values: list[float], objective_reports: int) -> int:
    """A trial's training steps: its latest ``train_step``, else its count of objective reports."""
    return int(step_values[-1]) if step_values else objective_reports


def set_active_deadline(job: dict[str, Any], path: tuple[str, ...] | None, seconds: int) -> bool:
    """Put ``seconds`` at the kind's activeDeadlineSeconds path; False when the kind has none."""
    if path is None:
        return False
    node = job
    for key in path[:-1]:
        nxt = node.get(key)
        if nxt is None:
            nxt = node[key] = {}
        if not isinstance(nxt, dict):
            return False
        node = nxt
    node[path[-1]] = seconds
    return True
