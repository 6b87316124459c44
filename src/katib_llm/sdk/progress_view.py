"""The live view of an Experiment while waiting for it: a small rich table (drawn in Jupyter,
on a terminal) built from the Experiment's status."""

from __future__ import annotations

from typing import Any

from .results import condition, optimal_from_status


def experiment_view(experiment: dict[str, Any]) -> Any:
    """A rich Table: condition, trial counts and the best trial so far."""
    from rich.table import Table

    status = experiment.get("status") or {}
    spec = experiment.get("spec") or {}
    name = (experiment.get("metadata") or {}).get("name")
    table = Table(title=f"Experiment {name}: {condition(experiment) or 'Pending'}", title_justify="left")
    for column in ("trials", "succeeded", "running", "failed", "early-stopped", "best"):
        table.add_column(column)
    best = optimal_from_status(experiment)
    best_text = "-"
    if best is not None and best.objective_value is not None:
        params = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best.parameters.items())
        best_text = f"{best.objective_metric_name}={best.objective_value:.4g} ({best.trial_name}: {params})"
    table.add_row(f"{status.get('trials', 0)}/{spec.get('maxTrialCount', '?')}", str(status.get("trialsSucceeded", 0)),
                  str(status.get("trialsRunning", 0)), str(status.get("trialsFailed", 0)),
                  str(status.get("trialsEarlyStopped", 0)), best_text)
    return table
