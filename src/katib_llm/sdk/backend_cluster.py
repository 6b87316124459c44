"""The cluster backend: Experiments go to the Kubernetes API (the webhook admits them there) and
are read back from it; reported values come from Katib's DB manager over gRPC, as kubeflow-katib
reads them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from kubeflow.katib.utils import utils as _katib_utils

from katib_llm.core.admit import admit, volume_claim
from katib_llm.io.kube import KubeApi, load_configuration

from .backend import Backend
from .results import optimal_from_status

EXPERIMENT_LABEL = "katib.kubeflow.org/experiment"


def admin_config(values: Any, declarations: list[dict[str, Any]] | None = None) -> Any:
    """The admin configuration the webhook admits with (``values``: the chart's values)."""
    from katib_llm.io import admin_config as _admin_config

    config = _admin_config(values)
    return config.with_providers(declarations) if declarations else config


def submit_experiment(experiment: dict[str, Any], namespace: str | None = None,
                      api: KubeApi | None = None) -> dict[str, Any]:
    """Create ``experiment`` on the cluster (the webhook admits it) and return the stored object."""
    api = api or KubeApi(load_configuration())
    body = copy.deepcopy(experiment)
    meta = body.setdefault("metadata", {})
    ns = namespace or meta.get("namespace") or _katib_utils.get_default_target_namespace()
    meta["namespace"] = ns
    return api.create("experiments", ns, body)


class ClusterBackend(Backend):
    """Kubernetes: ``client`` is the KatibClient (its kubeconfig, kubeflow-katib's gRPC read)."""

    name = "kubernetes"

    def __init__(self, client: Any, config_file: str | None = None, context: str | None = None,
                 configuration: Any = None) -> None:
        self.client = client
        self._config_file, self._context, self._configuration = config_file, context, configuration
        self._kube: KubeApi | None = None

    def api(self) -> KubeApi:
        """The Kubernetes API, connected on first use (a dry run never connects)."""
        if self._kube is None:
            if self._configuration is None:
                self._configuration = load_configuration(self._config_file, self._context)
            self._kube = KubeApi(self._configuration)
        return self._kube

    # -- admission and start ----------------------------------------------------------------
    def admission_config(self, values: Any, namespace: str, submit: bool) -> Any:
        return admin_config(values, self.client._declared_providers(namespace) if submit else [])

    def admit(self, experiment: dict[str, Any], config: Any) -> Any:
        return admit(experiment, config)

    def start(self, admitted: dict[str, Any], built: dict[str, Any], config: Any, *, namespace: str,
              storage_request: dict[str, Any] | None, workdir: str | None, progress: bool,
              overwrite: bool = False) -> dict[str, Any]:
        # The cluster's webhook injects: submit what tune() built, not the locally admitted copy.
        created = submit_experiment(built, namespace, self.api())
        if storage_request:
            self._create_claim(created, config, storage_request)
        return created

    def _create_claim(self, created: dict[str, Any], config: Any, request: dict[str, Any]) -> None:
        """The claim ``storage_config`` asked for, built by the core, owned by the Experiment."""
        from katib_llm.core import contract
        from katib_llm.core.config import AdminConfig

        exp = copy.deepcopy(created)
        exp["metadata"]["annotations"].pop(contract.annotation_key(contract.VOLUME_CLAIM), None)
        values = copy.deepcopy(config.values)
        values["storage"].update(request)
        claim = volume_claim(exp, AdminConfig(values=values, templates=config.templates,
                                              extra_providers=config.extra_providers))
        if claim is not None:
            self.api().create_pvc(claim)

    # -- reads --------------------------------------------------------------------------------
    def experiment(self, name: str, namespace: str) -> dict[str, Any]:
        return self.api().get("experiments", namespace, name)

    def trials(self, name: str, namespace: str) -> list[dict[str, Any]]:
        return self.api().list("trials", namespace, f"{EXPERIMENT_LABEL}={name}")

    def all_trials(self, namespace: str) -> list[dict[str, Any]]:
        return self.api().list("trials", namespace)

    def trial(self, name: str, namespace: str) -> dict[str, Any]:
        return self.api().get("trials", namespace, name)

    def trial_metrics(self, name: str, namespace: str, db_manager_address: str, timeout: Any) -> list[Any]:
        from kubeflow.katib import KatibClient as _UpstreamKatibClient

        return _UpstreamKatibClient.get_trial_metrics(self.client, name, namespace, db_manager_address, timeout)

    def final(self, conditions: set[str]) -> bool:
        return False  # a cluster Experiment can be restarted (Katib's Restarting)

    def wait_change(self, name: str, namespace: str, last: dict[str, Any], seconds: float) -> None:
        version = (last.get("metadata") or {}).get("resourceVersion")
        for _, obj in self.api().watch("experiments", namespace, name, max(1, int(seconds))):
            if (obj.get("metadata") or {}).get("resourceVersion") != version:
                return

    def download_best_adapter(self, name: str, path: str, namespace: str, timeout: float) -> Path:
        from katib_llm.deploy.download import download_best_adapter

        experiment = self.experiment(name, namespace)
        if optimal_from_status(experiment) is None:
            raise RuntimeError(f"Experiment {name} has no best trial yet")
        return download_best_adapter(self.api(), experiment, admin_config(self.client.values), path, timeout)
