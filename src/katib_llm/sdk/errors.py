"""The SDK's errors: raised before anything is submitted, naming the argument."""

from __future__ import annotations

from typing import Any


class TuneArgumentError(ValueError):
    """A bad argument to :meth:`KatibClient.tune` (or another SDK call).

    ``argument`` is the parameter's name as the caller wrote it (``hp_space['lr']``,
    ``resources_per_worker.gpu``); the message says what is accepted. ``errors`` holds the
    admission core's field errors when the core judged the argument (see :class:`ArgumentDenied`).
    """

    def __init__(self, argument: str, message: str, errors: list[Any] | None = None):
        self.argument = argument
        self.message = message
        self.errors = list(errors or [])
        ValueError.__init__(self, f"{argument}: {message}")


class ExperimentDenied(ValueError):
    """The admission core denied the Experiment ``tune()`` built; ``errors`` are its field errors."""

    def __init__(self, errors: list[Any]):
        from katib_llm.core.errors import format_errors

        self.errors = list(errors)
        super().__init__("the Experiment would be denied by katib-llm's webhook: " + format_errors(self.errors))


class ArgumentDenied(TuneArgumentError, ExperimentDenied):
    """The core denied a field that one ``tune()`` argument set.

    Both a :class:`TuneArgumentError` (``argument`` names the argument) and an
    :class:`ExperimentDenied` (``errors`` are the core's :class:`~katib_llm.core.errors.FieldError`,
    ``errors[0]`` the one ``argument`` maps)."""

    def __init__(self, argument: str, errors: list[Any]):
        TuneArgumentError.__init__(self, argument, errors[0].message + f" [{errors[0].code}]", errors)


class ExperimentFailed(RuntimeError):
    """The Experiment ended ``Failed`` (Katib's ``maxFailedTrialCount``, or a local run stopped
    because its first trials failed the same way). Raised by ``tune()`` on the local backend and by
    ``wait_for_experiment_condition`` on both.

    ``name``, ``reason`` and ``message`` are the Experiment's Failed condition; ``failed_trials``
    maps each failed trial's name to its cause (the Trial's final condition message: locally the
    last error line of its log, or the metric it did not report). A ``RuntimeError``, as
    kubeflow-katib raises for a Failed Experiment. Raised by ``KatibClient``, it also carries
    ``experiment``: the :class:`katib_llm.sdk.view.Experiment` (every trial, best so far, HTML).
    """

    experiment: Any = None

    def __init__(self, name: str, reason: str, message: str, failed_trials: dict[str, str] | None = None):
        self.name = name
        self.reason = reason
        self.message = message
        self.failed_trials = dict(failed_trials or {})
        text = f"Experiment {name} failed ({reason}): {message}"
        causes = list(self.failed_trials.items())
        if causes and not any(cause and cause in message for _, cause in causes):
            trial, cause = causes[-1]
            text += f"; last failed trial {trial}: {cause}"
        super().__init__(text)

    @property
    def cause(self) -> str:
        """The last failed trial's cause ("" if no trial failed)."""
        return list(self.failed_trials.values())[-1] if self.failed_trials else ""

    @classmethod
    def from_status(cls, experiment: dict[str, Any], trials: list[dict[str, Any]]) -> "ExperimentFailed":
        """From the Experiment's status and its Trials (plain dicts, cluster or local)."""
        name = str((experiment.get("metadata") or {}).get("name") or "")
        failed = [c for c in (experiment.get("status") or {}).get("conditions") or []
                  if c.get("type") == "Failed" and c.get("status") == "True"]
        cond = failed[-1] if failed else {}
        causes = {}
        for trial in trials:
            for c in (trial.get("status") or {}).get("conditions") or []:
                if c.get("type") in ("Failed", "MetricsUnavailable") and c.get("status") == "True":
                    causes[str(trial["metadata"]["name"])] = str(c.get("message") or c.get("reason") or "")
        return cls(name, str(cond.get("reason") or "Failed"), str(cond.get("message") or ""), causes)


class ExperimentInterrupted(RuntimeError):
    """A local run stopped before its Experiment ended (a kernel interrupt, Ctrl-C, a kill) and no
    process is running it: waiting cannot end. The same ``tune()`` call (same name and work dir)
    resumes it."""
