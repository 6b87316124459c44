"""The report people read to decide the next run, for local and cluster Experiments alike.

Built from Katib dicts (the Experiment and its Trials; for local runs also every reported value):
the Trials become an in-memory Optuna study so Optuna's visualization module draws best-so-far
over trials, parameter slices, parameter importance (Optuna's default evaluator) and parallel
coordinates; our own code draws best-so-far over compute (cumulative trial wall time) and the
intermediate curves with stopped trials marked. Above the figures: how the Experiment ended,
the best trial's parameters, the stop reasons and a table of every trial
(:mod:`.trialtable`).

Figures are static PNG images by default (Optuna's matplotlib visualizations), so the report
renders wherever HTML does: an untrusted or statically rendered notebook, nbconvert, a file
opened offline. ``interactive=True`` draws them with plotly instead; plotly.js (about 4.8 MB)
is then embedded once per page, and once per Python process in Jupyter outputs.
"""

from __future__ import annotations

import datetime as dt
import warnings
from typing import Any, NamedTuple

from .reportpage import Report
from .status import trial_state
from .trialtable import summary_html

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


def best_over_compute(study: Any) -> tuple[list[float], list[float], list[str]]:
    """(cumulative trial wall time, best value so far, trial name) in creation order."""
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
    return xs, ys, texts


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


def _best_over_compute_plotly(study: Any, objective_name: str) -> Any:
    """Best-so-far against cumulative trial wall time (the compute spent), in creation order."""
    import plotly.graph_objects as go

    xs, ys, texts = best_over_compute(study)
    fig = go.Figure(go.Scatter(x=xs, y=ys, mode="lines+markers", line_shape="hv", text=texts, name="best so far"))
    fig.update_layout(title="Best so far over compute", xaxis_title="cumulative trial wall time (s)",
                      yaxis_title=objective_name)
    return fig


class _Curve(NamedTuple):
    """One trial's reported objective values, as both renderers of the intermediate plot draw them."""
    name: Any
    kind: Any
    colour: str
    x: list[int]
    y: list[float]


def _curves(study: Any) -> list[_Curve]:
    """Every trial that reported a value: its name, Katib state, colour and (report, value) points."""
    out = []
    for trial in study.trials:
        steps = sorted(trial.intermediate_values.items())
        if steps:
            kind = trial.user_attrs.get("katib_state")
            out.append(_Curve(trial.user_attrs.get("name"), kind, _COLOURS.get(kind, "#000000"),
                              [step for step, _ in steps], [value for _, value in steps]))
    return out


def _intermediate_plotly(study: Any, objective_name: str) -> Any:
    """Each trial's reported objective values; early-stopped trials end in an X."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for c in _curves(study):
        fig.add_trace(go.Scatter(x=c.x, y=c.y, mode="lines+markers", name=f"{c.name} ({c.kind})",
                                 line={"color": c.colour}, marker={"size": 5}))
        if c.kind == "EarlyStopped":
            fig.add_trace(go.Scatter(x=[c.x[-1]], y=[c.y[-1]], mode="markers", showlegend=False,
                                     marker={"symbol": "x", "size": 12, "color": c.colour},
                                     hovertext=f"{c.name} stopped early"))
    fig.update_layout(title="Intermediate values (X = stopped early)", xaxis_title="report",
                      yaxis_title=objective_name)
    return fig


def importance_floor(parameters: int) -> int:
    """Trials with an objective needed before parameter importance is drawn: 10, and 3 per tuned
    parameter beyond that. With fewer, Optuna's fANOVA forest fits noise (six trials near chance
    get a confident ranking), so the report says how many it has instead."""
    return max(10, 3 * parameters)


def _static_best_over_compute(study: Any, objective_name: str) -> Any:
    from matplotlib.figure import Figure

    xs, ys, _ = best_over_compute(study)
    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    ax.step(xs, ys, where="post", marker="o")
    ax.set(title="Best so far over compute", xlabel="cumulative trial wall time (s)", ylabel=objective_name)
    fig.tight_layout()
    return fig


def _static_intermediate(study: Any, objective_name: str) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4))
    ax = fig.add_subplot()
    for c in _curves(study):
        ax.plot(c.x, c.y, marker=".", color=c.colour, alpha=0.8, label=f"{c.name} ({c.kind})")
        if c.kind == "EarlyStopped":
            ax.scatter([c.x[-1]], [c.y[-1]], marker="x", s=80, color=c.colour)
    ax.set(title="Intermediate values (X = stopped early)", xlabel="report", ylabel=objective_name)
    if len(study.trials) <= 12:
        ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _optuna_static(plot: Any, *args: Any, **kwargs: Any) -> Any:
    """An Optuna matplotlib plot's Figure (the plots return Axes, or an array of them)."""
    import matplotlib
    import numpy as np
    from optuna.exceptions import ExperimentalWarning

    # rc_context: Optuna's plots switch pyplot's global style to ggplot; the user's own plots keep theirs.
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.simplefilter("ignore", ExperimentalWarning)
        warnings.simplefilter("ignore", UserWarning)  # matplotlib widening a one-point axis
        axes = plot(*args, **kwargs)
    return np.atleast_1d(axes).flat[0].figure


def _builders(study: Any, objective_name: str, interactive: bool) -> list[tuple[str, Any]]:
    """(key, figure builder) of every figure, plotly or matplotlib."""
    target = {"target_name": objective_name}
    if interactive:
        from optuna import visualization as vis

        return [("best-so-far", lambda: vis.plot_optimization_history(study, **target)),
                ("best-over-compute", lambda: _best_over_compute_plotly(study, objective_name)),
                ("slices", lambda: vis.plot_slice(study, **target)),
                ("importance", lambda: vis.plot_param_importances(study, **target)),
                ("parallel-coordinates", lambda: vis.plot_parallel_coordinate(study, **target)),
                ("intermediate", lambda: _intermediate_plotly(study, objective_name))]
    from optuna.visualization import matplotlib as mpl

    return [("best-so-far", lambda: _optuna_static(mpl.plot_optimization_history, study, **target)),
            ("best-over-compute", lambda: _static_best_over_compute(study, objective_name)),
            ("slices", lambda: _optuna_static(mpl.plot_slice, study, **target)),
            ("importance", lambda: _optuna_static(mpl.plot_param_importances, study, **target)),
            ("parallel-coordinates", lambda: _optuna_static(mpl.plot_parallel_coordinate, study, **target)),
            ("intermediate", lambda: _static_intermediate(study, objective_name))]


def build_report(experiment: dict[str, Any], trials: list[dict[str, Any]],
                 series: dict[str, dict[str, list[float]]] | None = None, *, interactive: bool = False) -> Report:
    """The Experiment's report: summary, trials table, figures (static PNG unless ``interactive``);
    figures that need more trials are replaced by a note saying how many there are."""
    study = to_study(experiment, trials, series)
    spec = experiment.get("spec") or {}
    objective_name = (spec.get("objective") or {}).get("objectiveMetricName", "objective")
    name = (experiment.get("metadata") or {}).get("name")
    done = [t for t in study.trials if t.value is not None]
    report = Report(f"Experiment {name}: {len(study.trials)} finished trials, {len(done)} with an objective",
                    summary_html(experiment, trials), interactive=interactive)
    if not done:
        report.notes.append("No trial reported the objective yet: nothing to plot.")
        return report
    floor = importance_floor(len(spec.get("parameters") or []))
    for key, build in _builders(study, objective_name, interactive):
        if key == "importance" and len(done) < floor:
            report.notes.append(f"importance: not drawn, {len(done)} trials with an objective; "
                                f"it needs {floor} to mean something")
            continue
        if key == "intermediate" and not any(t.intermediate_values for t in study.trials):
            report.notes.append("Intermediate curves: Katib keeps only min/max/latest per Trial on the cluster; "
                                "every reported value is in Katib's DB (get_trial_metrics) and in local runs.")
            continue
        try:
            report.add(key, build(), len(done) if key == "importance" else None)
        except (ValueError, RuntimeError, ZeroDivisionError) as exc:
            # e.g. importance needs 2+ completed trials whose parameters vary
            report.notes.append(f"{key}: not drawn ({exc})")
    return report
