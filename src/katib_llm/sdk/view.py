"""One result type on both backends: :class:`Experiment`, a read-only view of a Katib Experiment.

``tune()`` returns it (cluster submit, dry run and local run alike) and
``wait_for_experiment_condition`` too. It is built from the same plain dicts on both backends
(the Experiment with its status, its Trials and, for local runs, every reported value), so
the two backends cannot drift apart. It is the Experiment dict itself (``exp["spec"]``, JSON,
``KatibClient.to_yaml``) with typed attributes on top: the condition and its reason, the best
trial, every trial with its state and stop cause; in Jupyter a short HTML summary, in a
terminal one line. ``.metadata`` / ``.spec`` / ``.status`` answer as kubeflow-katib's
``V1beta1Experiment`` does, for code written against it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from katib_llm.local.status import trial_state
from katib_llm.local.trialtable import FAILED_STATES, failure_cause

from .results import OptimalHyperparameters, condition_of, metric_value, optimal_from_status, typed_value

@dataclass
class Trial:
    """One Trial: typed parameters, objective (by the metric strategy), final metrics, how it ended."""

    name: str
    state: str
    parameters: dict[str, float | int | str]
    objective: float | None
    metrics: dict[str, float | None]
    stop_reason: str = ""
    cause: str = ""  # Failed / MetricsUnavailable trials: why (see failure_cause)
    series: dict[str, list[float]] = field(default_factory=dict)  # every reported value (local runs)
    start: str | None = None
    end: str | None = None

    @property
    def wall_time(self) -> float | None:
        """Seconds from start to completion (None while running)."""
        import datetime as dt

        if not self.start or not self.end:
            return None
        parse = lambda text: dt.datetime.fromisoformat(text.replace("Z", "+00:00"))  # noqa: E731
        return (parse(self.end) - parse(self.start)).total_seconds()


def _trial(trial: dict[str, Any], spec: dict[str, Any], series: dict[str, list[float]] | None) -> Trial:
    objective = spec.get("objective") or {}
    names = [objective.get("objectiveMetricName")] + list(objective.get("additionalMetricNames") or [])
    types = {p.get("name"): p.get("parameterType") for p in spec.get("parameters") or []}
    status = trial.get("status") or {}
    observed = {m.get("name"): m for m in (status.get("observation") or {}).get("metrics") or []}
    metrics = {n: metric_value(observed.get(n), n, objective) for n in names if n}
    params = {a["name"]: typed_value(str(a.get("value", "")), types.get(a["name"]))
              for a in (trial.get("spec") or {}).get("parameterAssignments") or []}
    state, reason = trial_state(trial)
    return Trial(trial["metadata"]["name"], state, params, metrics.get(names[0]), metrics, reason,
                 failure_cause(trial), dict(series or {}), status.get("startTime"), status.get("completionTime"))


def _order(trial: dict[str, Any]) -> tuple[str, str]:
    meta = trial.get("metadata") or {}
    return ((trial.get("status") or {}).get("startTime") or meta.get("creationTimestamp") or "", meta.get("name") or "")


class Experiment(dict):  # type: ignore[type-arg]
    """A Katib Experiment (the dict) with its outcome as attributes; see the module docstring."""

    def __init__(self, experiment: dict[str, Any], trials: list[dict[str, Any]] | None = None, *,
                 series: dict[str, dict[str, list[float]]] | None = None, backend: str = "kubernetes",
                 dry_run: bool = False, local: Any = None) -> None:
        super().__init__(experiment)
        spec = experiment.get("spec") or {}
        self.trial_dicts: list[dict[str, Any]] = list(trials or [])
        self.backend = backend
        self.dry_run = dry_run
        self.trials: list[Trial] = [_trial(t, spec, (series or {}).get(t["metadata"]["name"]))
                                    for t in sorted(trials or [], key=_order)]
        self.optimal: OptimalHyperparameters | None = optimal_from_status(experiment)
        self._local = local  # the local run's LocalResult: artifacts, warm start, Pareto front, ...

    # -- the outcome --------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return str((self.get("metadata") or {}).get("name"))

    @property
    def condition(self) -> str:
        """The latest true condition (Created, Running, Succeeded, Failed, Restarting); ``DryRun``
        for a dry run's Experiment, ``Pending`` before Katib set one."""
        return "DryRun" if self.dry_run else (condition_of(self)[0] or "Pending")

    @property
    def reason(self) -> str:
        return condition_of(self)[1]

    @property
    def message(self) -> str:
        return condition_of(self)[2]

    @property
    def best(self) -> Trial | None:
        """The best trial (Katib's ``currentOptimalTrial``); None until one reports the objective."""
        if self.optimal is None:
            return None
        return next((t for t in self.trials if t.name == self.optimal.trial_name), None) or Trial(
            self.optimal.trial_name, "Succeeded", self.optimal.parameters, self.optimal.objective_value,
            self.optimal.metrics)

    @property
    def optimal_hyperparameters(self) -> dict[str, float | int | str]:
        return dict(self.optimal.parameters) if self.optimal else {}

    @property
    def failed_trials(self) -> list[Trial]:
        return [t for t in self.trials if t.state in FAILED_STATES]

    @property
    def objective_metric_name(self) -> str:
        return str(((self.get("spec") or {}).get("objective") or {}).get("objectiveMetricName", ""))

    # -- kubeflow-katib's V1beta1Experiment attributes -------------------------------------------
    def to_model(self) -> Any:
        """The Experiment as kubeflow-katib's ``V1beta1Experiment``."""
        from kubeflow.katib import models as katib_models

        from .models import to_model

        return to_model(dict(self), katib_models.V1beta1Experiment)

    @property
    def metadata(self) -> Any:
        return self.to_model().metadata

    @property
    def spec(self) -> Any:
        return self.to_model().spec

    @property
    def status(self) -> Any:
        return self.to_model().status

    def __getattr__(self, name: str) -> Any:
        # A local run's extras (artifacts, workdir, warm_start, pareto_front, objectives, budget).
        local = self.__dict__.get("_local")
        if local is not None and not name.startswith("_"):
            return getattr(local, name)
        raise AttributeError(name)

    # -- display ------------------------------------------------------------------------------
    def summary(self) -> str:
        """One line: name, condition (reason), trial counts, best trial."""
        counts: dict[str, int] = {}
        for t in self.trials:
            counts[t.state] = counts.get(t.state, 0) + 1
        text = f"Experiment {self.name}: {self.condition}"
        if self.reason:
            text += f" ({self.reason})"
        if self.trials:
            text += "; " + ", ".join(f"{n} {s.lower()}" for s, n in counts.items())
        best = self.best
        if best is not None and best.objective is not None:
            text += f"; best {best.name} {self.objective_metric_name}={best.objective:.4g}"
        failed = self.failed_trials
        if failed and failed[-1].cause:
            text += f"; last failure: {failed[-1].name}: {failed[-1].cause}"
        return text

    def __repr__(self) -> str:
        return f"<{self.summary()}>"

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        from .view_html import experiment_html

        return experiment_html(self)

    def __reduce__(self) -> Any:  # a plain dict when pickled or deep-copied
        return (dict, (dict(self),))
