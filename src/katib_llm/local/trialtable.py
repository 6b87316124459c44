"""The report's text part, from Katib dicts: how the Experiment ended, the best trial's
parameters, the stop reasons counted, and one row per trial with its cause of failure."""

from __future__ import annotations

import html
from collections import Counter
from typing import Any

from .status import trial_state

FAILED_STATES = ("Failed", "MetricsUnavailable")
MAX_ROWS = 200


def failure_cause(trial: dict[str, Any]) -> str:
    """Why a Trial failed, as the backends record it: ``status.failureCause`` where a backend
    stores one, else the message of its final Failed/MetricsUnavailable condition (e.g.
    ``exit code 2``); empty for a trial that did not fail."""
    status = trial.get("status") or {}
    state, _ = trial_state(trial)
    if state not in FAILED_STATES:
        return ""
    if status.get("failureCause"):
        return str(status["failureCause"])
    for cond in reversed(status.get("conditions") or []):
        if cond.get("type") == state and cond.get("status") == "True":
            return str(cond.get("message") or cond.get("reason") or "")
    return ""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _short(value: Any) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return "" if value is None else str(value)
    return str(value) if number.is_integer() and "." not in str(value) and "e" not in str(value) else f"{number:.4g}"


def _value(trial: dict[str, Any], metric: str, objective: dict[str, Any]) -> str:
    strategy = {s.get("name"): s.get("value") for s in objective.get("metricStrategies") or []}.get(
        metric, {"maximize": "max", "minimize": "min"}.get(objective.get("type"), "latest"))
    for m in ((trial.get("status") or {}).get("observation") or {}).get("metrics") or []:
        if m.get("name") == metric:
            return _short(m.get(strategy, m.get("latest")))
    return ""


def _best(trials: list[dict[str, Any]], objective: dict[str, Any]) -> str | None:
    """The best Succeeded trial by the objective, for an Experiment whose status names none."""
    sign = 1 if objective.get("type") == "maximize" else -1
    scored = []
    for trial in trials:
        try:
            value = float(_value(trial, objective.get("objectiveMetricName", ""), objective))
        except ValueError:
            continue
        if trial_state(trial)[0] == "Succeeded":
            scored.append((sign * value, trial["metadata"]["name"]))
    return max(scored)[1] if scored else None


def _ended(experiment: dict[str, Any]) -> str:
    for cond in reversed((experiment.get("status") or {}).get("conditions") or []):
        if cond.get("status") == "True":
            text = f"{cond.get('type')} ({cond.get('reason')})"
            message = str(cond.get("message") or "")
            # Katib's own messages restate the reason ("Experiment has succeeded because ..."): only news is shown.
            return text + (f": {message}" if message and not message.endswith(f"({cond.get('reason')})") else "")
    return "Pending"


def summary_html(experiment: dict[str, Any], trials: list[dict[str, Any]]) -> str:
    """Outcome, best parameters, stop reasons and the trials table, as HTML without script."""
    spec = experiment.get("spec") or {}
    objective = spec.get("objective") or {}
    metric = objective.get("objectiveMetricName", "")
    params = [p.get("name") for p in spec.get("parameters") or []]
    optimal = (experiment.get("status") or {}).get("currentOptimalTrial") or {}
    parts = [f"<p><b>Ended</b>: {_e(_ended(experiment))}</p>"]
    by_name = {t["metadata"]["name"]: t for t in trials}
    best = optimal.get("bestTrialName") or _best(trials, objective)
    if best:
        assignments = optimal.get("parameterAssignments") or \
            ((by_name.get(best) or {}).get("spec") or {}).get("parameterAssignments") or []
        assigned = ", ".join(f"{a.get('name')}={_short(a.get('value'))}" for a in assignments)
        value = _value(by_name[best], metric, objective) if best in by_name else ""
        parts.append(f"<p><b>Best trial</b> {_e(best)}: {_e(metric)} = {_e(value)}; <b>parameters</b>: {_e(assigned)}</p>")
    reasons = Counter(trial_state(t)[1].split(":")[0] for t in trials if trial_state(t)[1])
    if reasons:
        parts.append("<p><b>Stop reasons</b>: " + ", ".join(f"{_e(r)} &times;{n}" for r, n in reasons.most_common())
                     + "</p>")
    if trials:
        header = ["trial", "state", metric, *params, "stop reason", "cause"]
        rows = []
        for trial in trials[:MAX_ROWS]:
            assigned = {a["name"]: a.get("value") for a in (trial.get("spec") or {}).get("parameterAssignments") or []}
            state, reason = trial_state(trial)
            cells = [trial["metadata"]["name"] + (" *" if trial["metadata"]["name"] == best else ""), state,
                     _value(trial, metric, objective), *[_short(assigned.get(p)) for p in params],
                     reason.split(":")[0], failure_cause(trial)]
            rows.append("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in cells) + "</tr>")
        parts.append('<table class="katib-llm-trials"><thead><tr>' + "".join(f"<th>{_e(h)}</th>" for h in header)
                     + "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
        if len(trials) > MAX_ROWS:
            parts.append(f"<p>{len(trials) - MAX_ROWS} more trials in trials.csv / trials_dataframe().</p>")
    return "\n".join(parts)
