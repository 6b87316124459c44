"""The local backend: Experiments are admitted once for this machine and run by the local runner;
everything is read back from the run's work dir (``experiment.yaml`` and the Optuna journal), so
another process, or a notebook opened the next day, gets the same answers."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from katib_llm.core.errors import AdmissionDenied
from katib_llm.io.kube import ClusterUnavailable

from .backend import Backend
from .errors import ExperimentDenied


class LocalBackend(Backend):
    """This machine: ``workdir`` is the client's default work dir (else ``runs/<name>``)."""

    name = "local"

    def __init__(self, workdir: str | None = None) -> None:
        self.workdir = workdir
        self.runs: dict[str, str] = {}  # Experiment name -> work dir of the runs this client started
        self.results: dict[str, Any] = {}  # Experiment name -> the LocalResult of a run made here

    def api(self) -> Any:
        raise ClusterUnavailable("this KatibClient uses the local backend; create one with "
                                 "backend='kubernetes' to reach a cluster")

    def workdir_of(self, name: str) -> Path:
        """The work dir of local run ``name``: the one this client ran, the client's ``workdir``
        if it holds ``name``, ``name`` itself if it is a run's directory, else ``runs/<name>``."""
        from katib_llm.local.status import default_workdir, run_name

        if name in self.runs:
            return Path(self.runs[name])
        if self.workdir and run_name(self.workdir) == name:
            return Path(self.workdir)
        if run_name(name) is not None:
            return Path(name)
        return default_workdir(name)

    def _run(self, name: str) -> Any:
        from katib_llm.local.status import read_run

        return read_run(self.workdir_of(name))

    # -- admission and start ----------------------------------------------------------------
    def admission_config(self, values: Any, namespace: str, submit: bool) -> Any:
        from katib_llm.local.admission import local_config

        return local_config(values)

    def admit(self, experiment: dict[str, Any], config: Any) -> Any:
        from katib_llm.local.admission import admit_local

        try:
            return admit_local(experiment, config)
        except AdmissionDenied as exc:
            raise ExperimentDenied(exc.errors) from None

    def start(self, admitted: dict[str, Any], built: dict[str, Any], config: Any, *, namespace: str,
              storage_request: dict[str, Any] | None, workdir: str | None, progress: bool,
              overwrite: bool = False) -> dict[str, Any]:
        """Run the admitted Experiment here (admitted once: the runner gets it as admitted;
        ``overwrite``: discard a run of a different Experiment in the work dir first)."""
        from katib_llm.core import contract
        from katib_llm.io.extras import require
        from katib_llm.local.api import run_admitted
        from katib_llm.local.status import default_workdir

        name = admitted["metadata"]["name"]
        llm = bool(admitted["metadata"].get("annotations", {}).get(contract.annotation_key(contract.MODEL)))
        require("tune(backend='local')", ("matplotlib", "torch", "transformers", "peft") if llm else ("matplotlib",))
        run_dir = str(workdir or self.workdir or default_workdir(name))
        self.runs[name] = run_dir
        self.results[name] = run_admitted(admitted, run_dir, mount=config.mount_path, progress=progress,
                                          overwrite=overwrite)
        return self.experiment(name, namespace)

    # -- reads --------------------------------------------------------------------------------
    def experiment(self, name: str, namespace: str) -> dict[str, Any]:
        return self._run(name).experiment

    def trials(self, name: str, namespace: str) -> list[dict[str, Any]]:
        return self._run(name).trials

    def all_trials(self, namespace: str) -> list[dict[str, Any]]:
        raise ValueError("list_trials() on the local backend needs the experiment name")

    def trial(self, name: str, namespace: str) -> dict[str, Any]:
        for item in self.trials(name.rsplit("-", 1)[0], namespace):
            if item["metadata"]["name"] == name:
                return item
        raise RuntimeError(f"Failed to get Katib Trial: {name} (no such trial in the local run)")

    def series(self, name: str) -> dict[str, dict[str, list[float]]] | None:
        return self._run(name).metrics

    def trial_metrics(self, name: str, namespace: str, db_manager_address: str, timeout: Any) -> list[Any]:
        from kubeflow.katib.katib_api_pb2 import Metric, MetricLog

        series = self._run(name.rsplit("-", 1)[0]).metrics.get(name)
        if series is None:
            raise RuntimeError(f"Unable to get metrics for Trial {name}: no such trial in the local run")
        return [MetricLog(time_stamp="", metric=Metric(name=metric, value=str(value)))
                for metric, values in series.items() for value in values]

    def final(self, conditions: set[str]) -> bool:
        return bool(conditions & {"Succeeded", "Failed"})  # a finished local run never changes again

    def interrupted(self, experiment: dict[str, Any]) -> str | None:
        from katib_llm.local.status import interrupted_message

        return interrupted_message(experiment)

    def wait_change(self, name: str, namespace: str, last: dict[str, Any], seconds: float) -> None:
        time.sleep(min(seconds, 1.0))

    def pareto_front(self, name: str) -> dict[str, Any] | None:
        path = self.workdir_of(name) / "results.json"
        results = json.loads(path.read_text()) if path.is_file() else {}
        return results if results.get("pareto_front") else None

    def download_best_adapter(self, name: str, path: str, namespace: str, timeout: float) -> Path:
        source = self.workdir_of(name) / "best"
        if not (source / "adapter_config.json").is_file():
            raise FileNotFoundError(f"{source} holds no adapter (function trials write none; "
                                    "or no trial succeeded)")
        target = Path(path)
        shutil.rmtree(target, ignore_errors=True)
        return Path(shutil.copytree(source, target))
