"""What a local run hands back: one result per trial and the Experiment's outcome, as Katib reports them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import state


class LocalRunError(RuntimeError):
    """The run cannot start or continue (the message says why and what to do)."""


@dataclass
class TrialResult:
    """One trial as Katib would report it."""

    name: str
    number: int
    parameters: dict[str, Any]
    assignments: dict[str, str]
    state: str
    objective: float | None
    metrics: dict[str, list[float]]
    wall_time: float | None
    trainer_time: float | None
    directory: Path
    output_dir: Path | None = None
    attempts: int = 1
    reason: str = ""  # why a trial ended early: BudgetExhausted, DeadlineExceeded, ...
    objectives: dict[str, float] | None = None  # several objectives: each one's value
    # Why a Failed / MetricsUnavailable trial ended so: the last error line of its log, or what
    # its log lacked (katib_llm.local.failures.trial_cause); "" otherwise.
    message: str = ""

    @property
    def overhead(self) -> float | None:
        """Wall time not spent in the primary container (process start, initializers, exit)."""
        if self.wall_time is None or self.trainer_time is None:
            return None
        return self.wall_time - self.trainer_time


@dataclass
class LocalResult:
    """The outcome of :func:`run_experiment`."""

    experiment: dict[str, Any]
    trials: list[TrialResult]
    best: TrialResult | None
    optimal_hyperparameters: dict[str, Any]
    workdir: Path
    condition: str = state.SUCCEEDED
    reason: str = ""
    artifacts: dict[str, Path] = field(default_factory=dict)
    message: str = ""
    budget: list[tuple[str, str, str]] = field(default_factory=list)  # (limit, used, left)
    # Warm start: references, trials added / skipped per reference, suggestions not re-run.
    warm_start: dict[str, Any] = field(default_factory=dict)
    # Several objectives: (metric, direction), primary first, and the Succeeded trials on the
    # Pareto front (``best`` is then the best for the primary objective).
    objectives: list[tuple[str, str]] = field(default_factory=list)
    pareto_front: list[TrialResult] = field(default_factory=list)

