"""The report people read to decide the next run, for local and cluster Experiments alike.

Built from Katib dicts (the Experiment and its Trials; for local runs also every reported value):
the Trials become an in-memory Optuna study so Optuna's visualization module draws best-so-far
over trials, parameter slices, parameter importance (Optuna's default evaluator) and parallel
coordinates; plotly
draws best-so-far over compute (cumulative trial wall time) and the intermediate curves with
stopped trials marked. One self-contained HTML page (plotly.js embedded, no CDN), shown inline
by Jupyter through ``_repr_html_`` and written by :meth:`Report.save`.
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .status import trial_state

_COLOURS = {"Succeeded": "#2ca02c", "EarlyStopped": "#ff7f0e", "Failed": "#d62728",
            "MetricsUnavailable": "#7f7f7f", "Running": "#1f77b4"}


def _distribution(param: dict[str, Any]) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    space, ptype = param.get("feasibleSpace") or {}, param.get("parameterType")
    if ptype == "double":
        return FloatDistribution(float(space["min"]), float(space["max"]))
    if ptype == "int":
        return IntDistribution(int(float(space["min"])), int(float(space["max"])))
    values = space.get("list") or []
    return CategoricalDistribution([float(v) for v in values] if ptype == "discrete" else list(values))


def _typed(value: str, dist: Any) -> Any:
    from optuna.distributions import CategoricalDistribution, IntDistribution

    if isinstance(dist, IntDistribution):
        return int(float(value))
    if isinstance(dist, CategoricalDistribution):
        return float(value) if all(isinstance(c, float) for c in dist.choices) else value
    return float(value)


def _objective(trial: dict[str, Any], objective: dict[str, Any]) -> float | None:
    name = objective.get("objectiveMetricName")
    strategy = {s.get("name"): s.get("value") for s in objective.get("metricStrategies") or []}.get(
        name, {"maximize": "max", "minimize": "min"}.get(objective.get("type"), "latest"))
    for metric in ((trial.get("status") or {}).get("observation") or {}).get("metrics") or []:
        if metric.get("name") == name:
            try:
                return float(metric.get(strategy, metric.get("latest")))
            except (TypeError, ValueError):
                return None
    return None


def _seconds(status: dict[str, Any]) -> float | None:
    try:
        start = dt.datetime.fromisoformat(str(status["startTime"]).replace("Z", "+00:00"))
        end = dt.datetime.fromisoformat(str(status["completionTime"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return None
    return (end - start).total_seconds()


def to_study(experiment: dict[str, Any], trials: list[dict[str, Any]],
             series: dict[str, dict[str, list[float]]] | None = None) -> Any:
    """An in-memory Optuna study holding the Experiment's finished Trials (in creation order)."""
    import optuna
    from optuna.trial import TrialState, create_trial

    spec = experiment.get("spec") or {}
    objective = spec.get("objective") or {}
    dists = {p["name"]: _distribution(p) for p in spec.get("parameters") or []}
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # no "new study created" line per report
    study = optuna.create_study(direction="maximize" if objective.get("type") == "maximize" else "minimize",
                                study_name=(experiment.get("metadata") or {}).get("name"))
    states = {"Succeeded": TrialState.COMPLETE, "EarlyStopped": TrialState.PRUNED}
    for trial in trials:
        kind, reason = trial_state(trial)
        value = _objective(trial, objective)
        tstate = states.get(kind, TrialState.FAIL)
        if kind in ("Running", "Created", "Pending") or (tstate == TrialState.COMPLETE and value is None):
            continue
        assigned = {a["name"]: a.get("value") for a in (trial.get("spec") or {}).get("parameterAssignments") or []}
        params = {n: _typed(str(assigned[n]), d) for n, d in dists.items() if n in assigned}
        name = trial["metadata"]["name"]
        steps = ((series or {}).get(name) or {}).get(objective.get("objectiveMetricName")) or []
        study.add_trial(create_trial(
            state=tstate, value=value if tstate == TrialState.COMPLETE else None, params=params,
            distributions={n: dists[n] for n in params}, intermediate_values=dict(enumerate(steps, start=1)),
            user_attrs={"name": name, "katib_state": kind, "reason": reason,
                        "wall_time": _seconds(trial.get("status") or {})}))
    return study


@dataclass
class Report:
    """Figures (plotly) with titles, and notes on what could not be drawn."""

    title: str
    figures: list[tuple[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_html(self, include_plotlyjs: bool | str = True) -> str:
        """One page; ``include_plotlyjs=True`` embeds plotly.js (offline)."""
        parts = [f"<h2>{html.escape(self.title)}</h2>"]
        parts += [f"<p><em>{html.escape(note)}</em></p>" for note in self.notes]
        for index, (_, fig) in enumerate(self.figures):
            parts.append(fig.to_html(full_html=False, include_plotlyjs=include_plotlyjs if index == 0 else False))
        return "\n".join(parts)

    def _repr_html_(self) -> str:
        return self.to_html(include_plotlyjs=True)

    def save(self, directory: str | Path) -> dict[str, Path]:
        """Write ``report.html`` (standalone page) into ``directory``; returns the paths."""
        out = Path(directory)
        out.mkdir(parents=True, exist_ok=True)
        page = out / "report.html"
        tmp = page.with_suffix(".tmp")
        tmp.write_text("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>"
                       f"{html.escape(self.title)}</title></head><body>\n{self.to_html()}\n</body></html>\n")
        tmp.replace(page)
        return {"html": page}


def _best_over_compute(study: Any, objective_name: str) -> Any:
    """Best-so-far against cumulative trial wall time (the compute spent), in creation order."""
    import plotly.graph_objects as go

    maximize = study.direction.name == "MAXIMIZE"
    xs, ys, texts, spent, best = [], [], [], 0.0, None
    for trial in study.trials:
        spent += trial.user_attrs.get("wall_time") or 0.0
        if trial.value is not None:
            best = trial.value if best is None else (max(best, trial.value) if maximize else min(best, trial.value))
        if best is not None:
            xs.append(spent)
            ys.append(best)
            texts.append(trial.user_attrs.get("name"))
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines+markers", line_shape="hv", text=texts, name="best so far"))
    fig.update_layout(title="Best so far over compute", xaxis_title="cumulative trial wall time (s)",
                      yaxis_title=objective_name)
    return fig


def _intermediate(study: Any, objective_name: str) -> Any:
    """Each trial's reported objective values; early-stopped trials end in an X."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for trial in study.trials:
        steps = sorted(trial.intermediate_values.items())
        if not steps:
            continue
        kind = trial.user_attrs.get("katib_state")
        colour = _COLOURS.get(kind, "#000000")
        x, y = [s for s, _ in steps], [v for _, v in steps]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=f"{trial.user_attrs.get('name')} ({kind})",
                                 line={"color": colour}, marker={"size": 5}))
        if kind == "EarlyStopped":
            fig.add_trace(go.Scatter(x=[x[-1]], y=[y[-1]], mode="markers", showlegend=False,
                                     marker={"symbol": "x", "size": 12, "color": colour},
                                     hovertext=f"{trial.user_attrs.get('name')} stopped early"))
    fig.update_layout(title="Intermediate values (X = stopped early)", xaxis_title="report",
                      yaxis_title=objective_name)
    return fig


def _importance(study: Any, target: dict[str, Any]) -> Any:
    from optuna import visualization as vis

    completed = [t for t in study.trials if t.value is not None]
    if len(completed) < 3:
        # With fewer, Optuna reports every parameter equally important: say so instead.
        raise ValueError(f"needs 3 or more trials with an objective, has {len(completed)}")
    return vis.plot_param_importances(study, **target)


def build_report(experiment: dict[str, Any], trials: list[dict[str, Any]],
                 series: dict[str, dict[str, list[float]]] | None = None) -> Report:
    """The Experiment's report; figures that need more trials are replaced by a note."""
    from optuna import visualization as vis

    study = to_study(experiment, trials, series)
    objective_name = ((experiment.get("spec") or {}).get("objective") or {}).get("objectiveMetricName", "objective")
    name = (experiment.get("metadata") or {}).get("name")
    done = [t for t in study.trials if t.value is not None]
    report = Report(f"Experiment {name}: {len(study.trials)} finished trials, {len(done)} with an objective")
    if not done:
        report.notes.append("No trial reported the objective yet: nothing to plot.")
        return report
    target = {"target_name": objective_name}
    builders = [("best-so-far", lambda: vis.plot_optimization_history(study, **target)),
                ("best-over-compute", lambda: _best_over_compute(study, objective_name)),
                ("slices", lambda: vis.plot_slice(study, **target)),
                ("importance", lambda: _importance(study, target)),
                ("parallel-coordinates", lambda: vis.plot_parallel_coordinate(study, **target))]
    if any(t.intermediate_values for t in study.trials):
        builders.append(("intermediate", lambda: _intermediate(study, objective_name)))
    else:
        report.notes.append("Intermediate curves: Katib keeps only min/max/latest per Trial on the cluster; "
                            "every reported value is in Katib's DB (get_trial_metrics) and in local runs.")
    for key, build in builders:
        try:
            report.figures.append((key, build()))
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            # e.g. importance needs 2+ completed trials whose parameters vary
            report.notes.append(f"{key}: not drawn ({exc})")
    return report
