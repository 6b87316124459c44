"""The one interface :class:`katib_llm.sdk.client.KatibClient` runs on: where Experiments are
admitted, started and read back. Two implementations, one module each:
:mod:`.backend_cluster` (the Kubernetes API, Katib's DB manager) and :mod:`.backend_local`
(this machine's local runner and its work dirs). The client holds one and never asks which.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any


class Backend(ABC):
    """Admission, start and reads of Experiments for one place they run."""

    name: str

    # -- admission and start ----------------------------------------------------------------
    @abstractmethod
    def admission_config(self, values: Any, namespace: str, submit: bool) -> Any:
        """The admin configuration this backend admits with (``katib_llm.core.config.AdminConfig``)."""

    @abstractmethod
    def admit(self, experiment: dict[str, Any], config: Any) -> Any:
        """The core's verdict (``AdmissionResult``) on ``experiment`` for this backend."""

    @abstractmethod
    def start(self, admitted: dict[str, Any], built: dict[str, Any], config: Any, *, namespace: str,
              storage_request: dict[str, Any] | None, workdir: str | None, progress: bool,
              overwrite: bool = False) -> dict[str, Any]:
        """Start the admitted Experiment (``built``: as tune() built it, before admission);
        return the Experiment dict as it stands afterwards."""

    # -- reads --------------------------------------------------------------------------------
    @abstractmethod
    def experiment(self, name: str, namespace: str) -> dict[str, Any]:
        """The Experiment with its status."""

    @abstractmethod
    def trials(self, name: str, namespace: str) -> list[dict[str, Any]]:
        """The Experiment's Trials."""

    @abstractmethod
    def all_trials(self, namespace: str) -> list[dict[str, Any]]:
        """Every Trial of the namespace (cluster); the local backend needs a name and raises."""

    @abstractmethod
    def trial(self, name: str, namespace: str) -> dict[str, Any]:
        """One Trial; RuntimeError when there is none."""

    def series(self, name: str) -> dict[str, dict[str, list[float]]] | None:
        """Every reported value per Trial and metric, where the backend keeps them (local); else None."""
        return None

    @abstractmethod
    def trial_metrics(self, name: str, namespace: str, db_manager_address: str, timeout: Any) -> list[Any]:
        """Every reported value of Trial ``name`` as Katib ``MetricLog`` messages."""

    @abstractmethod
    def final(self, conditions: set[str]) -> bool:
        """True when an Experiment with these true conditions can never change again."""

    def interrupted(self, experiment: dict[str, Any]) -> str | None:
        """Why nothing is running an Experiment that has not ended (a local run stopped by a
        kernel interrupt, Ctrl-C or a kill); None when something is, or may be."""
        return None

    @abstractmethod
    def wait_change(self, name: str, namespace: str, last: dict[str, Any], seconds: float) -> None:
        """Block until the Experiment changes or ``seconds`` pass."""

    def pareto_front(self, name: str) -> dict[str, Any] | None:
        """A several-objective run's results (``results.json``) where the backend has them; else None."""
        return None

    @abstractmethod
    def download_best_adapter(self, name: str, path: str, namespace: str, timeout: float) -> Path:
        """Copy the best trial's adapter into ``path``."""
