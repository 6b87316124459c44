"""Typed results read from an Experiment's status (pure: works on the recorded dict)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class OptimalHyperparameters:
    """The best trial so far: typed hyperparameters and its objective value.

    ``parameters`` values are ``float`` / ``int`` / ``str`` by the Experiment's parameter types.
    """

    trial_name: str
    parameters: dict[str, float | int | str]
    objective_metric_name: str
    objective_value: float | None
    metrics: dict[str, float | None] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    # kubeflow-katib's ``V1beta1OptimalTrial`` attribute names, for code written against it.
    @property
    def best_trial_name(self) -> str:
        return self.trial_name

    @property
    def parameter_assignments(self) -> list[Any]:
        """``V1beta1ParameterAssignment`` list (``.name``, ``.value`` as Katib's strings)."""
        from kubeflow.katib import models

        return [models.V1beta1ParameterAssignment(name=a.get("name"), value=a.get("value"))
                for a in self.raw.get("parameterAssignments") or []]

    @property
    def observation(self) -> Any:
        """``V1beta1Observation`` (``.metrics[i].name/.min/.max/.latest``)."""
        from kubeflow.katib import models

        metrics = [models.V1beta1Metric(name=m.get("name"), min=m.get("min"), max=m.get("max"),
                                        latest=m.get("latest"))
                   for m in (self.raw.get("observation") or {}).get("metrics") or []]
        return models.V1beta1Observation(metrics=metrics)
    # Local backend with several objectives: every trial on the Pareto front (each with its
    # objectives in ``metrics``); this object itself is the best for the primary objective.
    pareto_front: list[OptimalHyperparameters] = field(default_factory=list)


def _typed(value: str, ptype: str | None) -> float | int | str:
    if ptype == "int":
        return int(float(value))
    if ptype == "double":
        return float(value)
    if ptype == "discrete":
        number = float(value)
        return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
    return value


def _float(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None  # Katib writes "unavailable" when a metric was never reported


def typed_value(value: str, ptype: str | None) -> float | int | str:
    """A parameter assignment's value typed by its parameterType."""
    return _typed(value, ptype)


def metric_value(observed: dict[str, Any] | None, name: str, objective: dict[str, Any]) -> float | None:
    """A metric's value from a Trial's observation, by the Experiment's metric strategy
    (the objective defaults to max/min by direction, others to latest); None if unavailable."""
    if not observed:
        return None
    strategies = {s.get("name"): s.get("value") for s in objective.get("metricStrategies") or []}
    default = {"maximize": "max", "minimize": "min"}.get(objective.get("type"), "latest")
    strategy = strategies.get(name, default if name == objective.get("objectiveMetricName") else "latest")
    return _float(observed.get(strategy, observed.get("latest")))


def optimal_from_status(experiment: dict[str, Any]) -> OptimalHyperparameters | None:
    """Read ``status.currentOptimalTrial``; None while no trial has reported the objective."""
    spec = experiment.get("spec") or {}
    optimal = (experiment.get("status") or {}).get("currentOptimalTrial") or {}
    metrics = ((optimal.get("observation") or {}).get("metrics")) or []
    if not optimal.get("bestTrialName") or not metrics:
        return None
    types = {p.get("name"): p.get("parameterType") for p in spec.get("parameters") or []}
    objective = spec.get("objective") or {}
    name = objective.get("objectiveMetricName", "")
    strategies = {s.get("name"): s.get("value") for s in objective.get("metricStrategies") or []}
    default = {"maximize": "max", "minimize": "min"}.get(objective.get("type"), "latest")
    values: dict[str, float | None] = {}
    for m in metrics:
        strategy = strategies.get(m.get("name"), default if m.get("name") == name else "latest")
        values[m["name"]] = _float(m.get(strategy, m.get("latest")))
    params = {a["name"]: _typed(str(a.get("value", "")), types.get(a["name"]))
              for a in optimal.get("parameterAssignments") or []}
    return OptimalHyperparameters(optimal["bestTrialName"], params, name, values.get(name), values, optimal)


def optimal_from_local(results: dict[str, Any]) -> OptimalHyperparameters | None:
    """The same from a local run's ``results.json`` (written by the local backend's report)."""
    name = results.get("objective_metric", "")
    trials = {t.get("name"): t for t in results.get("trials") or []}
    best = trials.get(results.get("best_trial"))
    if best is None:
        return None

    def last(t: dict[str, Any]) -> dict[str, float | None]:
        return {k: (v[-1] if v else None) for k, v in (t.get("metrics") or {}).items()}

    front = [OptimalHyperparameters(f["name"], dict(f.get("parameters") or {}), name,
                                    (f.get("objectives") or {}).get(name), dict(f.get("objectives") or {}))
             for f in results.get("pareto_front") or []]
    return OptimalHyperparameters(best["name"], dict(best.get("parameters") or {}), name, best.get("objective"),
                                  {**last(best), name: best.get("objective"), **(best.get("objectives") or {})},
                                  pareto_front=front)


def condition_of(experiment: dict[str, Any]) -> tuple[str | None, str, str]:
    """(type, reason, message) of the latest true condition; (None, "", "") when none is true."""
    for cond in reversed((experiment.get("status") or {}).get("conditions") or []):
        if cond.get("status") == "True":
            return cond.get("type"), str(cond.get("reason") or ""), str(cond.get("message") or "")
    return None, "", ""


def condition(experiment: dict[str, Any]) -> str | None:
    """The latest true condition type (Created, Running, Succeeded, Failed, Restarting)."""
    for cond in reversed((experiment.get("status") or {}).get("conditions") or []):
        if cond.get("status") == "True":
            return cond.get("type")
    return None


def progress_line(experiment: dict[str, Any]) -> str:
    status = experiment.get("status") or {}
    spec = experiment.get("spec") or {}
    best = optimal_from_status(experiment)
    text = (f"{experiment.get('metadata', {}).get('name')}: {condition(experiment) or 'Pending'}; trials "
            f"{status.get('trialsSucceeded', 0)} succeeded, {status.get('trialsRunning', 0)} running, "
            f"{status.get('trialsFailed', 0)} failed, {status.get('trialsEarlyStopped', 0)} early-stopped "
            f"of {spec.get('maxTrialCount', '?')}")
    if best and best.objective_value is not None:
        text += f"; best {best.objective_metric_name}={best.objective_value:g} ({best.trial_name})"
    return text
