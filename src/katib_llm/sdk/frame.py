"""Trials as a pandas DataFrame, from Katib Trial dicts (cluster and local runs alike)."""

from __future__ import annotations

from typing import Any

from katib_llm.local.status import trial_state

from .results import metric_value, typed_value

def _order(trial: dict[str, Any]) -> tuple[str, str]:
    """Trials in the order they started (then by name)."""
    meta = trial.get("metadata") or {}
    return ((trial.get("status") or {}).get("startTime") or meta.get("creationTimestamp") or "", meta.get("name") or "")


def _timestamp(text: Any) -> Any:
    import pandas as pd

    return pd.to_datetime(text, utc=True) if text else pd.NaT


def trials_frame(experiment: dict[str, Any], trials: list[dict[str, Any]],
                 series: dict[str, dict[str, list[float]]] | None = None) -> Any:
    """One row per Trial, in creation order.

    Columns: ``name``, ``state``, the objective metric and each additional metric (by the
    Experiment's metric strategies: max/min/latest, NaN if never reported), each parameter
    (typed by its parameterType), ``start``, ``end`` (UTC timestamps), ``wall_time_s``,
    ``reports`` (objective values reported; local runs only, where every value is kept) and
    ``stop_reason`` (the final condition's reason and message).
    """
    import pandas as pd

    spec = experiment.get("spec") or {}
    objective = spec.get("objective") or {}
    names = [objective.get("objectiveMetricName")] + list(objective.get("additionalMetricNames") or [])
    params = [(p["name"], p.get("parameterType")) for p in spec.get("parameters") or []]
    rows = []
    for trial in sorted(trials, key=_order):
        name = trial["metadata"]["name"]
        status = trial.get("status") or {}
        observed = {m.get("name"): m for m in (status.get("observation") or {}).get("metrics") or []}
        assigned = {a["name"]: a.get("value") for a in (trial.get("spec") or {}).get("parameterAssignments") or []}
        state, reason = trial_state(trial)
        start, end = _timestamp(status.get("startTime")), _timestamp(status.get("completionTime"))
        row: dict[str, Any] = {"name": name, "state": state}
        for metric in names:
            value = metric_value(observed.get(metric), metric, objective)
            row[metric] = float("nan") if value is None else value
        for pname, ptype in params:
            row[pname] = typed_value(str(assigned[pname]), ptype) if pname in assigned else None
        row.update({"start": start, "end": end,
                    "wall_time_s": (end - start).total_seconds() if start is not pd.NaT and end is not pd.NaT
                    else float("nan")})
        if series is not None:
            row["reports"] = len((series.get(name) or {}).get(names[0]) or [])
        row["stop_reason"] = reason
        rows.append(row)
    columns = ["name", "state", *names, *[p for p, _ in params], "start", "end", "wall_time_s",
               *(["reports"] if series is not None else []), "stop_reason"]
    return pd.DataFrame(rows, columns=columns)
