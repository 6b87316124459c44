"""The HTML of :class:`katib_llm.sdk.view.Experiment` in Jupyter: a few lines and a table, no script.

Plain HTML (no JavaScript, no external resources) so it renders the same in JupyterLab, in an
untrusted notebook, on GitHub and in nbconvert's static HTML.
"""

from __future__ import annotations

import html
from typing import Any

# Duck-typed on the view's attributes (name, condition, trials, ...): sdk.view imports this module,
# so importing view here, even for types only, would make the two a cycle.

_STATE_COLOURS = {"Succeeded": "#2ca02c", "EarlyStopped": "#ff7f0e", "Failed": "#d62728",
                  "MetricsUnavailable": "#7f7f7f", "Running": "#1f77b4"}
MAX_ROWS = 50  # a long Experiment shows its first rows; trials_dataframe() has them all


def _e(value: Any) -> str:
    return html.escape(str(value))


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return "" if value is None else str(value)


def _params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={_number(v)}" for k, v in params.items())


def _row(trial: Any, names: list[str], best: str | None) -> str:
    colour = _STATE_COLOURS.get(trial.state, "#000000")
    why = trial.cause or (trial.stop_reason if trial.state not in ("Succeeded", "Running") else "")
    cells = [_e(trial.name) + (" &#9733;" if trial.name == best else ""),
             f'<span style="color:{colour}">{_e(trial.state)}</span>',
             *[_e(_number(trial.metrics.get(n))) for n in names[:1]],
             *[_e(_number(trial.parameters.get(n))) for n in names[1:]], _e(why)]
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def experiment_html(exp: Any) -> str:
    """Condition with reason and message, the best trial, then one row per trial."""
    params = [p.get("name") for p in (exp.get("spec") or {}).get("parameters") or []]
    head = f"<b>Experiment {_e(exp.name)}</b>: {_e(exp.condition)}"
    if exp.reason:
        head += f" ({_e(exp.reason)})"
    parts = [f"<p>{head}</p>"]
    # Katib's own messages restate the reason ("Experiment has succeeded because ..."): only news is shown.
    if exp.message and exp.condition != "DryRun" and not exp.message.endswith(f"({exp.reason})"):
        parts.append(f"<p>{_e(exp.message)}</p>")
    best = exp.best
    if best is not None:
        parts.append(f"<p>Best trial <b>{_e(best.name)}</b>: {_e(exp.objective_metric_name)} = "
                     f"{_e(_number(best.objective))}; {_e(_params(best.parameters))}</p>")
    elif exp.trials:
        parts.append("<p>No trial has reported the objective.</p>")
    if exp.trials:
        header = ["trial", "state", exp.objective_metric_name, *params, "stop reason / cause"]
        rows = [_row(t, [exp.objective_metric_name, *params], best.name if best else None)
                for t in exp.trials[:MAX_ROWS]]
        parts.append("<table><thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead><tbody>"
                     + "".join(rows) + "</tbody></table>")
        if len(exp.trials) > MAX_ROWS:
            parts.append(f"<p>{len(exp.trials) - MAX_ROWS} more trials: trials_dataframe() lists them all.</p>")
    return "<div class=\"katib-llm-experiment\">" + "\n".join(parts) + "</div>"
