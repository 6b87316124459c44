"""The result calls of ``KatibClient`` on both backends, with every kubernetes client we allow.

kubeflow-katib 0.19's ``get_experiment``/``list_trials``/... fail with kubernetes 37 (its
ApiClient cannot parse the client's type names, see :mod:`.models`). These read plain dicts
through the client's :class:`~.backend.Backend` (the cluster's API, or a local run's work dir)
and return kubeflow-katib's typed models built by :class:`.models.CompatApiClient`: the same
calls, the same return types, on both backends. ``wait_for_experiment_condition`` returns the
:class:`~.view.Experiment` view, as ``tune()`` does.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kubeflow.katib import models as katib_models
from kubeflow.katib.constants import constants

from .backend import Backend
from .errors import ExperimentFailed, ExperimentInterrupted
from .models import to_model
from .progress_view import experiment_view
from .results import progress_line
from .view import Experiment


def _true_conditions(experiment: dict[str, Any]) -> set[str]:
    return {c.get("type") for c in (experiment.get("status") or {}).get("conditions") or []
            if c.get("status") == "True"}


def failed(view: Experiment) -> ExperimentFailed:
    """The ExperimentFailed of a Failed Experiment: its reason, each failed trial's cause, and
    ``.experiment``, the :class:`~.view.Experiment` (trials, best so far, HTML)."""
    exc = ExperimentFailed.from_status(dict(view), view.trial_dicts)
    exc.experiment = view  # type: ignore[attr-defined]
    return exc


class ResultsMixin:
    """Read side of :class:`katib_llm.sdk.client.KatibClient` (see module docstring)."""

    backend: Backend
    namespace: str
    workdir: str | None
    progress: bool

    def local_workdir(self, name: str) -> Path:
        """The work dir of local run ``name`` (local backend only)."""
        from .backend_local import LocalBackend

        if not isinstance(self.backend, LocalBackend):
            raise ValueError("local_workdir() is for KatibClient(backend='local')")
        return self.backend.workdir_of(name)

    # -- plain dicts and the view -------------------------------------------------------------
    def get_experiment_dict(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The Experiment (with its status) as a plain dict."""
        return self.backend.experiment(name, namespace or self.namespace)

    def list_trial_dicts(self, name: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """The Experiment's Trials as plain dicts (by Katib's ``katib.kubeflow.org/experiment`` label)."""
        return self.backend.trials(name, namespace or self.namespace)

    def experiment_view(self, name: str, namespace: str | None = None,
                        experiment: dict[str, Any] | None = None) -> Experiment:
        """The Experiment with its outcome (:class:`~.view.Experiment`), as ``tune()`` returns it."""
        ns = namespace or self.namespace
        experiment = experiment if experiment is not None else self.backend.experiment(name, ns)
        return Experiment(experiment, self.backend.trials(name, ns), series=self.backend.series(name),
                          backend=self.backend.name, local=getattr(self.backend, "results", {}).get(name))

    # -- kubeflow-katib's calls, same signatures and return types ---------------------------------
    def get_experiment(self, name: str, namespace: str | None = None,
                       timeout: int = constants.DEFAULT_TIMEOUT) -> Any:
        """The Experiment as kubeflow-katib's ``V1beta1Experiment``."""
        return to_model(self.get_experiment_dict(name, namespace), katib_models.V1beta1Experiment)

    def list_trials(self, experiment_name: str | None = None, namespace: str | None = None,
                    timeout: int = constants.DEFAULT_TIMEOUT) -> list[Any]:
        """The Experiment's Trials (every Trial of the namespace without a name) as ``V1beta1Trial``."""
        ns = namespace or self.namespace
        items = self.backend.all_trials(ns) if experiment_name is None else self.backend.trials(experiment_name, ns)
        return [to_model(item, katib_models.V1beta1Trial) for item in items]

    def get_trial(self, name: str, namespace: str | None = None,
                  timeout: int = constants.DEFAULT_TIMEOUT) -> Any:
        """One Trial as ``V1beta1Trial`` (local: ``<experiment>-<NNN>``)."""
        return to_model(self.backend.trial(name, namespace or self.namespace), katib_models.V1beta1Trial)

    def get_success_trial_details(self, experiment_name: str | None = None, namespace: str | None = None,
                                  timeout: int = constants.DEFAULT_TIMEOUT) -> list[dict[str, Any]]:
        """Succeeded Trials: ``{"name", "parameter_assignments", "metrics"}`` as kubeflow-katib."""
        out = []
        for trial in self.list_trials(experiment_name, namespace, timeout):
            conditions = (trial.status.conditions if trial.status else None) or []
            if any(c.type == constants.TRIAL_CONDITION_SUCCEEDED and c.status == "True" for c in conditions):
                out.append({"name": trial.metadata.name, "parameter_assignments": trial.spec.parameter_assignments,
                            "metrics": trial.status.observation.metrics})
        return out

    def get_trial_metrics(self, name: str, namespace: str | None = None,
                          db_manager_address: str = constants.DEFAULT_DB_MANAGER_ADDRESS,
                          timeout: Any = constants.DEFAULT_TIMEOUT) -> list[Any]:
        """Every reported value of Trial ``name`` as Katib ``MetricLog`` messages
        (``log.metric.name``, ``log.metric.value``). Cluster: from Katib's DB manager over gRPC
        (as kubeflow-katib); local: from the run's journal (``time_stamp`` is empty there)."""
        return self.backend.trial_metrics(name, namespace, db_manager_address, timeout)

    def wait_for_experiment_condition(self, name: str, namespace: str | None = None,
                                      expected_condition: str = constants.EXPERIMENT_CONDITION_SUCCEEDED,
                                      timeout: int = 600, polling_interval: int = 15,
                                      apiserver_timeout: int = constants.DEFAULT_TIMEOUT,
                                      progress: bool | None = None) -> Experiment:
        """Wait until the Experiment has ``expected_condition`` (default Succeeded); return it as
        :class:`~.view.Experiment` (``.to_model()`` is kubeflow-katib's ``V1beta1Experiment``;
        ``.status``/``.spec``/``.metadata`` answer as it does). A Failed Experiment raises
        :class:`~.errors.ExperimentFailed` (a RuntimeError) naming its reason and the failed
        trials' causes, ``.experiment`` holding the view (unless Failed is expected); a local run
        that stopped before it ended raises :class:`~.errors.ExperimentInterrupted`;
        TimeoutError after ``timeout`` s. Progress shows live (Jupyter output area, a terminal
        line, or log lines); ``progress=False`` is quiet. A local run reads its work dir (a run
        in another process is followed until it ends)."""
        from katib_llm.io.live import LiveView

        deadline = time.monotonic() + timeout
        ns = namespace or self.namespace
        show = self.progress if progress is None else progress
        with LiveView(bool(show)) as view:
            while True:
                experiment = self.backend.experiment(name, ns)
                view.update(experiment_view(experiment), progress_line(experiment))
                conditions = _true_conditions(experiment)
                if expected_condition in conditions:
                    view.update(experiment_view(experiment), progress_line(experiment), force=True)
                    return self.experiment_view(name, ns, experiment)
                if constants.EXPERIMENT_CONDITION_FAILED in conditions:  # with the trials' causes
                    raise failed(self.experiment_view(name, ns, experiment))
                interrupted = self.backend.interrupted(experiment)
                if interrupted:  # nothing runs it: no wait can end
                    raise ExperimentInterrupted(f"Experiment {name} ({self.backend.name} run): {interrupted}")
                if self.backend.final(conditions):
                    raise RuntimeError(f"Experiment {name} ({self.backend.name} run) has ended "
                                       f"{', '.join(sorted(conditions - {'Created'}))}; it never reaches "
                                       f"{expected_condition}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"Timeout waiting for Experiment: {ns}/{name} "
                                       f"to reach {expected_condition} state ({progress_line(experiment)})")
                self.backend.wait_change(name, ns, experiment, min(remaining, polling_interval))

    # -- results to look at -------------------------------------------------------------------
    def trials_dataframe(self, name: str, namespace: str | None = None) -> Any:
        """One row per Trial (pandas DataFrame): name, state, objective and additional metrics,
        each parameter, start/end, wall time, stop reason. See :func:`katib_llm.sdk.frame.trials_frame`."""
        from .frame import trials_frame

        ns = namespace or self.namespace
        return trials_frame(self.backend.experiment(name, ns), self.backend.trials(name, ns), self.backend.series(name))

    def report(self, name: str, namespace: str | None = None, *, interactive: bool = False) -> Any:
        """The Experiment's report (:class:`katib_llm.local.studyreport.Report`): shows inline in
        Jupyter as static images (``interactive=True``: plotly figures), ``.save(dir)`` writes
        report.html and the figures."""
        from katib_llm.local.studyreport import build_report

        ns = namespace or self.namespace
        return build_report(self.backend.experiment(name, ns), self.backend.trials(name, ns),
                            self.backend.series(name), interactive=interactive)
