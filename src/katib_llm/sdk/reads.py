"""The result calls of ``KatibClient`` on both backends, with every kubernetes client we allow.

kubeflow-katib 0.19's ``get_experiment``/``list_trials``/... fail with kubernetes 37 (its
ApiClient cannot parse the client's type names, see :mod:`.models`). These read plain dicts through
our own client (:mod:`katib_llm.io.kube`) on the cluster, or from the work dir of a local run
(:mod:`katib_llm.local.status`), and return kubeflow-katib's typed models built by
:class:`.models.CompatApiClient`: the same calls, the same return types, on both backends.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from kubeflow.katib import models as katib_models
from kubeflow.katib.constants import constants

from .errors import ExperimentFailed, ExperimentInterrupted
from .models import to_model
from .progress_view import experiment_view
from .results import progress_line

EXPERIMENT_LABEL = "katib.kubeflow.org/experiment"


def _true_conditions(experiment: dict[str, Any]) -> set[str]:
    return {c.get("type") for c in (experiment.get("status") or {}).get("conditions") or []
            if c.get("status") == "True"}


def _interrupted(experiment: dict[str, Any]) -> str | None:
    from katib_llm.local.status import interrupted_message

    return interrupted_message(experiment)


class ResultsMixin:
    """Read side of :class:`katib_llm.sdk.client.KatibClient` (see module docstring)."""

    backend: str
    namespace: str
    workdir: str | None
    progress: bool

    # -- where a local run lives ------------------------------------------------------------
    def local_workdir(self, name: str) -> Path:
        """The work dir of local run ``name``: the one this client ran, the client's ``workdir``
        if it holds ``name``, ``name`` itself if it is a run's directory, else ``runs/<name>``."""
        from katib_llm.local.status import default_workdir, run_name

        known = getattr(self, "_local_runs", {}).get(name)
        if known is not None:
            return Path(known)
        if self.workdir and run_name(self.workdir) == name:
            return Path(self.workdir)
        if run_name(name) is not None:
            return Path(name)
        return default_workdir(name)

    def _local(self, name: str) -> Any:
        from katib_llm.local.status import read_run

        return read_run(self.local_workdir(name))

    # -- plain dicts --------------------------------------------------------------------------
    def get_experiment_dict(self, name: str, namespace: str | None = None) -> dict[str, Any]:
        """The Experiment (with its status) as a plain dict."""
        if self.backend == "local":
            return self._local(name).experiment
        return self._api().get("experiments", namespace or self.namespace, name)  # type: ignore[attr-defined]

    def list_trial_dicts(self, name: str, namespace: str | None = None) -> list[dict[str, Any]]:
        """The Experiment's Trials as plain dicts (by Katib's ``katib.kubeflow.org/experiment`` label)."""
        if self.backend == "local":
            return self._local(name).trials
        return self._api().list("trials", namespace or self.namespace,  # type: ignore[attr-defined]
                                 f"{EXPERIMENT_LABEL}={name}")

    # -- kubeflow-katib's calls, same signatures and return types ---------------------------------
    def get_experiment(self, name: str, namespace: str | None = None,
                       timeout: int = constants.DEFAULT_TIMEOUT) -> Any:
        """The Experiment as kubeflow-katib's ``V1beta1Experiment``."""
        return to_model(self.get_experiment_dict(name, namespace), katib_models.V1beta1Experiment)

    def list_trials(self, experiment_name: str | None = None, namespace: str | None = None,
                    timeout: int = constants.DEFAULT_TIMEOUT) -> list[Any]:
        """The Experiment's Trials (every Trial of the namespace without a name) as ``V1beta1Trial``."""
        if experiment_name is None and self.backend != "local":
            items = self._api().list("trials", namespace or self.namespace)  # type: ignore[attr-defined]
        elif experiment_name is None:
            raise ValueError("list_trials() on the local backend needs the experiment name")
        else:
            items = self.list_trial_dicts(experiment_name, namespace)
        return [to_model(item, katib_models.V1beta1Trial) for item in items]

    def get_trial(self, name: str, namespace: str | None = None,
                  timeout: int = constants.DEFAULT_TIMEOUT) -> Any:
        """One Trial as ``V1beta1Trial`` (local: ``<experiment>-<NNN>``)."""
        if self.backend == "local":
            experiment = name.rsplit("-", 1)[0]
            for item in self.list_trial_dicts(experiment, namespace):
                if item["metadata"]["name"] == name:
                    return to_model(item, katib_models.V1beta1Trial)
            raise RuntimeError(f"Failed to get Katib Trial: {name} (no such trial in the local run)")
        return to_model(self._api().get("trials", namespace or self.namespace, name),  # type: ignore[attr-defined]
                        katib_models.V1beta1Trial)

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
        if self.backend != "local":
            return super().get_trial_metrics(name, namespace, db_manager_address, timeout)  # type: ignore[misc]
        from kubeflow.katib.katib_api_pb2 import Metric, MetricLog

        experiment = name.rsplit("-", 1)[0]
        series = self._local(experiment).metrics.get(name)
        if series is None:
            raise RuntimeError(f"Unable to get metrics for Trial {name}: no such trial in the local run")
        return [MetricLog(time_stamp="", metric=Metric(name=metric, value=str(value)))
                for metric, values in series.items() for value in values]

    def wait_for_experiment_condition(self, name: str, namespace: str | None = None,
                                      expected_condition: str = constants.EXPERIMENT_CONDITION_SUCCEEDED,
                                      timeout: int = 600, polling_interval: int = 15,
                                      apiserver_timeout: int = constants.DEFAULT_TIMEOUT,
                                      progress: bool | None = None) -> Any:
        """Wait until the Experiment has ``expected_condition`` (default Succeeded); return it as
        ``V1beta1Experiment``. A Failed Experiment raises RuntimeError (unless Failed is
        expected); TimeoutError after ``timeout`` s. Progress shows live (Jupyter output area, a
        terminal line, or log lines); ``progress=False`` is quiet. A local run reads its work
        dir (a run in another process is followed until it ends)."""
        from katib_llm.io.live import LiveView

        deadline = time.monotonic() + timeout
        show = self.progress if progress is None else progress
        with LiveView(bool(show)) as view:
            while True:
                experiment = self.get_experiment_dict(name, namespace)
                view.update(experiment_view(experiment), progress_line(experiment))
                conditions = _true_conditions(experiment)
                if expected_condition in conditions:
                    view.update(experiment_view(experiment), progress_line(experiment), force=True)
                    return to_model(experiment, katib_models.V1beta1Experiment)
                if constants.EXPERIMENT_CONDITION_FAILED in conditions:  # with the trials' causes
                    raise ExperimentFailed.from_status(experiment, self.list_trial_dicts(name, namespace))
                if self.backend == "local" and _interrupted(experiment):  # nothing runs it: no wait can end
                    raise ExperimentInterrupted(f"Experiment {name} (local run): {_interrupted(experiment)}")
                if self.backend == "local" and constants.EXPERIMENT_CONDITION_SUCCEEDED in conditions:
                    # A finished local run never changes again (a cluster one can be restarted).
                    raise RuntimeError(f"Experiment {name} (local run) has ended Succeeded; it never reaches "
                                       f"{expected_condition}")
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"Timeout waiting for Experiment: {namespace or self.namespace}/{name} "
                                       f"to reach {expected_condition} state ({progress_line(experiment)})")
                self._wait_change(name, namespace, experiment, min(remaining, polling_interval))

    def _wait_change(self, name: str, namespace: str | None, last: dict[str, Any], seconds: float) -> None:
        """Block until the Experiment changes or ``seconds`` pass (a watch on the cluster)."""
        if self.backend == "local":
            time.sleep(min(seconds, 1.0))
            return
        version = (last.get("metadata") or {}).get("resourceVersion")
        ns = namespace or self.namespace
        for _, obj in self._api().watch("experiments", ns, name, max(1, int(seconds))):  # type: ignore[attr-defined]
            if (obj.get("metadata") or {}).get("resourceVersion") != version:
                return

    # -- results to look at -------------------------------------------------------------------
    def trials_dataframe(self, name: str, namespace: str | None = None) -> Any:
        """One row per Trial (pandas DataFrame): name, state, objective and additional metrics,
        each parameter, start/end, wall time, stop reason. See :func:`katib_llm.sdk.frame.trials_frame`."""
        from .frame import trials_frame

        metrics = self._local(name).metrics if self.backend == "local" else None
        return trials_frame(self.get_experiment_dict(name, namespace), self.list_trial_dicts(name, namespace),
                            metrics)

    def report(self, name: str, namespace: str | None = None) -> Any:
        """The Experiment's report (:class:`katib_llm.local.studyreport.Report`): shows inline in Jupyter,
        ``.save(dir)`` writes report.html and the figures."""
        from katib_llm.local.studyreport import build_report

        if self.backend == "local":
            run = self._local(name)
            return build_report(run.experiment, run.trials, run.metrics)
        return build_report(self.get_experiment_dict(name, namespace), self.list_trial_dicts(name, namespace), None)
