"""``KatibClient``: kubeflow-katib's client with ``tune()`` for LLM fine-tuning.

``tune()`` checks its arguments, builds the labelled Experiment, admits it locally through the
core (so a bad Experiment fails here, before anything is submitted), then submits it, runs it
with the local backend, or (``dry_run=True``) returns the admitted Experiment. The webhook does
the injection on the cluster; this module builds no trial spec.
"""

from __future__ import annotations

import logging
import time
import warnings
from pathlib import Path
from typing import Any, Callable

from kubeflow.katib import KatibClient as _UpstreamKatibClient
from kubeflow.katib.constants import constants
from kubeflow.katib.utils import utils as _katib_utils

from katib_llm.core import contract
from katib_llm.core import providers as core_providers
from katib_llm.core.errors import AdmissionDenied

from .backend import Backend
from .backend_cluster import ClusterBackend, admin_config, submit_experiment
from .backend_local import LocalBackend
from .errors import TuneArgumentError
from .experiment import TuneSpec, argument_denial, build_experiment, storage_request
from katib_llm.io.kube import KubeApi
from .reads import ResultsMixin, failed
from .results import OptimalHyperparameters, condition, optimal_from_local, optimal_from_status, progress_line
from .view import Experiment

__all__ = ["KatibClient", "Experiment", "submit_experiment"]

log = logging.getLogger(__name__)

# The misspellings and singular forms of the Katib LLM tuning proposal (kubeflow/katib#2291): accepted, with a DeprecationWarning.
ALIASES = {
    "algorithm_setting": "algorithm_settings",
    "max_trail_count": "max_trial_count",
    "max_failed_trail_count": "max_failed_trial_count",
    "parallel_trail_count": "parallel_trial_count",
    "resources_per_trail": "resources_per_trial",
}
PROVIDER_CONFIGMAP_PREFIX = "katib-llm-provider-"


def _resolve_deprecated(deprecated: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The proposal's misspelt argument names (``max_trail_count``, ...) onto their new names."""
    for old, value in deprecated.items():
        new = ALIASES.get(old)
        if new is None:
            raise TuneArgumentError(old, "unknown argument of tune(); see help(KatibClient.tune)")
        if given[new] is not None:
            raise TuneArgumentError(old, f"given together with {new}; use {new} only")
        warnings.warn(f"tune(): {old} is deprecated, use {new}", DeprecationWarning, stacklevel=3)
        given[new] = value
    return given


def _index_urls(pip_index_url: str | None, pip_index_urls: list[str] | None) -> list[str] | None:
    if pip_index_url is not None and pip_index_urls is not None:
        raise TuneArgumentError("pip_index_url", "given together with pip_index_urls; use one")
    return pip_index_urls if pip_index_urls is not None else ([pip_index_url] if pip_index_url else None)


def _refuse_collector_config(metrics_collector_config: Any) -> None:
    if metrics_collector_config not in (None, {"kind": "StdOut"}):
        raise TuneArgumentError("metrics_collector_config", "the metrics collector is set by the admin "
                                                            "(chart value config.metricsCollector); omit it")


class KatibClient(ResultsMixin, _UpstreamKatibClient):
    """kubeflow-katib's ``KatibClient`` plus ``tune()`` for LLM fine-tuning.

    Needs no cluster to construct: kubeconfig is loaded on first cluster call, so
    ``tune(..., dry_run=True)`` and ``KatibClient(backend="local")`` work anywhere.

    Args:
        config_file, context: kubeconfig to use (default: in-cluster, then $KUBECONFIG or
            ~/.kube/config).
        client_configuration: a ready ``kubernetes.client.Configuration``.
        namespace: default namespace of Experiments.
        backend: ``"kubernetes"`` (submit to the cluster) or ``"local"`` (run here).
        values: admin values (dict or path to the chart's values.yaml) used for local admission.
        workdir: the local backend's working directory (default ``runs/<experiment name>``).
        progress: live progress in ``tune()`` (local) and ``wait_for_experiment_condition``
            (False: quiet); each call's ``progress=`` overrides it.
    """

    def __init__(self, config_file: str | None = None, context: str | None = None,
                 client_configuration: Any = None, namespace: str | None = None, *,
                 backend: str = "kubernetes", values: Any = None, workdir: str | None = None,
                 progress: bool = True):
        # Positional order as kubeflow-katib's constructor, so code written for it runs unchanged.
        if backend not in ("kubernetes", "local"):
            raise TuneArgumentError("backend", f'must be "kubernetes" or "local", got {backend!r}')
        self.backend: Backend = (LocalBackend(workdir) if backend == "local" else
                                 ClusterBackend(self, config_file, context, client_configuration))
        self.values = values
        self.workdir = workdir
        self.progress = progress
        self.namespace = namespace or _katib_utils.get_default_target_namespace()
        self.in_cluster = False
        self._upstream_ready = False

    # -- cluster access, deferred ---------------------------------------------------------
    def _api(self) -> KubeApi:
        """The Kubernetes API (connected on first use); the local backend raises ClusterUnavailable."""
        return self.backend.api()  # type: ignore[attr-defined, no-any-return]

    def __getattr__(self, name: str) -> Any:
        # kubeflow-katib's methods use custom_api / core_api / api_client: build them on demand.
        if name in ("custom_api", "core_api", "api_client") and not self.__dict__.get("_upstream_ready"):
            from .models import CompatApiClient

            api = self._api()
            self.custom_api, self.core_api = api.custom, api.core
            # kubeflow-katib's own ApiClient cannot read objects with kubernetes 37 (see .models).
            self.api_client = CompatApiClient()
            self._upstream_ready = True
            return self.__dict__[name]
        raise AttributeError(name)

    # -- tune ------------------------------------------------------------------------------
    def tune(self, name: str, hp_space: dict[str, Any] | None = None, objective: Any = None,
             objective_metric_name: str | None = None, objective_type: str = "maximize",
             algorithm_name: str = "random", namespace: str | None = None,
             additional_metric_names: list[str] | None = None, objective_goal: float | None = None,
             algorithm_settings: Any = None, max_trial_count: int | None = None,
             max_failed_trial_count: int | None = None, parallel_trial_count: int | None = None,
             resources_per_trial: Any = None, num_workers: int | None = None,
             num_procs_per_worker: int | None = None, resources_per_worker: Any = None,
             retain_trials: bool = False, env_per_trial: Any = None,
             storage_config: dict[str, Any] | None = None, base_image: str | None = None,
             packages_to_install: list[str] | None = None, pip_index_url: str | None = None,
             *, parameters: dict[str, Any] | None = None, model_provider_parameters: Any = None,
             dataset_provider_parameters: Any = None, trainer_parameters: Any = None,
             pip_index_urls: list[str] | None = None, metrics_collector_config: dict[str, Any] | None = None,
             trial_active_deadline_seconds: int | None = None, early_stopping: Any = None,
             budget: dict[str, Any] | None = None,
             trial_template: str | None = None, dataset_config: dict[str, Any] | None = None,
             queue: str | None = None, warm_start_from: Any = None, objectives: Any = None, dry_run: bool = False, values: Any = None, workdir: str | None = None,
             progress: bool | None = None, report_to: str | list[str] | None = None,
             tracking_secret: str | None = None, overwrite: bool = False, **deprecated: Any) -> Experiment:
        """Tune the hyperparameters of an LLM fine-tuning (or of a Python function) with Katib.

        Accepts the signature of the Katib LLM tuning proposal (kubeflow/katib#2291; its spellings
        ``max_trail_count`` etc. with a DeprecationWarning) and kubeflow-katib 0.19's. Every
        argument is described in docs/sdk.md ("tune() arguments"). ``objective`` is the LLM
        objective (``katib_llm.TrainingClient().train(...).metrics``) or a self-contained Python
        function taking a dict of hyperparameters and returning a dict of metrics.

        Returns one type on every backend, :class:`~katib_llm.sdk.view.Experiment` (the Experiment
        dict with its outcome as attributes): the created Experiment on a cluster; with
        ``dry_run=True`` the Experiment as the webhook would admit it; with the local backend the
        finished run (a run that ends Failed raises :class:`~katib_llm.sdk.view.ExperimentFailed`
        naming the failed trials' causes). Raises
        :class:`TuneArgumentError` naming the argument, or :class:`ExperimentDenied` with the
        core's field errors, before anything is submitted.

        >>> from katib_llm import KatibClient, TrainingClient, search
        >>> exp = KatibClient(namespace="kubeflow").tune(
        ...     name="bert-lora",
        ...     hp_space={"learning_rate": search.double(min=1e-05, max=5e-05),
        ...               "lora_config.r": search.int(min=8, max=32)},
        ...     objective=TrainingClient().train(
        ...         model_provider_parameters={"model_uri": "hf://google-bert/bert-base-cased",
        ...                                    "transformer_type": "AutoModelForSequenceClassification"},
        ...         dataset_provider_parameters={"repo_id": "yelp_review_full", "split": "train[:3000]"},
        ...     ).metrics,
        ...     objective_metric_name="eval_accuracy", objective_type="maximize",
        ...     max_trial_count=4, parallel_trial_count=2, dry_run=True)
        >>> exp["spec"]["trialTemplate"]["trialSpec"]["kind"]
        'PyTorchJob'
        """
        given = _resolve_deprecated(deprecated, {
            "algorithm_settings": algorithm_settings, "max_trial_count": max_trial_count,
            "max_failed_trial_count": max_failed_trial_count, "parallel_trial_count": parallel_trial_count,
            "resources_per_trial": resources_per_trial})
        _refuse_collector_config(metrics_collector_config)
        spec = TuneSpec(
            name=name, namespace=namespace or self.namespace, hp_space=hp_space, objective=objective,
            objective_metric_name=objective_metric_name, objective_type=objective_type,
            algorithm_name=algorithm_name, additional_metric_names=additional_metric_names,
            objective_goal=objective_goal, num_workers=num_workers, num_procs_per_worker=num_procs_per_worker,
            resources_per_worker=resources_per_worker, retain_trials=bool(retain_trials),
            env_per_trial=env_per_trial, storage_config=storage_config, base_image=base_image,
            packages_to_install=packages_to_install, pip_index_urls=_index_urls(pip_index_url, pip_index_urls),
            parameters=parameters, model_provider_parameters=model_provider_parameters,
            dataset_provider_parameters=dataset_provider_parameters, trainer_parameters=trainer_parameters,
            early_stopping=early_stopping, trial_template=trial_template, dataset_config=dataset_config,
            queue=queue, budget=budget, trial_active_deadline_seconds=trial_active_deadline_seconds,
            report_to=report_to, tracking_secret=tracking_secret, warm_start_from=warm_start_from,
            objectives=objectives,
            **given)
        return self._tune_spec(spec, dry_run=dry_run, values=values, workdir=workdir, progress=progress,
                               overwrite=overwrite)

    def _tune_spec(self, spec: TuneSpec, *, dry_run: bool, values: Any, workdir: str | None,
                   progress: bool | None, overwrite: bool = False) -> Experiment:
        """Build, admit once through the core, then return (dry run) or start on the backend."""
        experiment = build_experiment(spec)
        values = values if values is not None else self.values
        config = self.backend.admission_config(values, spec.namespace, not dry_run)
        request = storage_request(spec.storage_config)
        if request:
            # The cluster backend creates this claim with the requested size/class/modes.
            claim = f"{spec.name}{config.storage['claimSuffix']}"
            experiment["metadata"]["annotations"].update(contract.render(contract.LLMSpec(volume_claim=claim)))
        result = self.backend.admit(experiment, config)
        if not result.allowed:
            raise argument_denial(result.errors, experiment, spec)
        for warning in result.warnings:
            warnings.warn(warning, stacklevel=3)
        if dry_run:
            return Experiment(result.experiment, backend=self.backend.name, dry_run=True)
        show = self.progress if progress is None else bool(progress)
        started = self.backend.start(result.experiment, experiment, config, namespace=spec.namespace,
                                     storage_request=request, workdir=workdir, progress=show, overwrite=overwrite)
        view = self.experiment_view(spec.name, spec.namespace, started)
        if view.condition == constants.EXPERIMENT_CONDITION_FAILED:  # failure is a result: raised with its causes
            raise failed(view)
        return view

    # -- results ---------------------------------------------------------------------------
    def get_optimal_hyperparameters(self, name: str, namespace: str | None = None,
                                    timeout: int | None = None) -> OptimalHyperparameters | None:
        """The best trial's hyperparameters, typed (float/int/str by parameter type), and its
        objective value; None while no trial has reported the objective metric.

        With ``backend="local"`` it reads the run in its work dir; with several objectives
        ``pareto_front`` lists the front (from the run's ``results.json``) and the returned trial
        is the best for the primary objective."""
        results = self.backend.pareto_front(name)
        if results is not None:
            return optimal_from_local(results)
        return optimal_from_status(self.get_experiment_dict(name, namespace))

    def wait_for_experiment(self, name: str, namespace: str | None = None, timeout: int = 3600,
                            show_progress: bool = True) -> dict[str, Any]:
        """Wait until the Experiment Succeeds (returned) or Fails (RuntimeError), showing progress:
        a live line with rich on a terminal, log lines otherwise."""
        ns = namespace or self.namespace
        api = self._api()
        deadline = time.monotonic() + timeout
        show = _progress_sink(show_progress)
        last: dict[str, Any] = api.get("experiments", ns, name)
        try:
            while True:
                show(progress_line(last))
                state = condition(last)
                if state == "Succeeded":
                    return last
                if state == "Failed":
                    raise RuntimeError(f"Experiment {ns}/{name} failed: {progress_line(last)}")
                remaining = int(deadline - time.monotonic())
                if remaining <= 0:
                    raise TimeoutError(f"Experiment {ns}/{name} not finished after {timeout}s: {progress_line(last)}")
                version = last.get("metadata", {}).get("resourceVersion")
                for _, obj in api.watch("experiments", ns, name, min(remaining, 60)):
                    if obj.get("metadata", {}).get("resourceVersion") != version:
                        last = obj
                        break
        finally:
            show(None)

    def deploy_best(self, name: str, namespace: str | None = None, dry_run: bool = False) -> dict[str, Any]:
        """Serve Experiment ``name``'s best trial with KServe (base model + its LoRA adapter from
        the shared volume); returns the InferenceService manifest (not created with ``dry_run``)."""
        from katib_llm.deploy import deploy_best

        return deploy_best(self, name, namespace, values=self.values, dry_run=dry_run)

    @staticmethod
    def to_yaml(experiment: dict[str, Any], path: str | None = None) -> str:
        """``experiment`` (e.g. ``tune(..., dry_run=True)``'s result) as YAML that kubectl reads back
        with the same types (strings that YAML 1.1/1.2 readers would take for numbers or booleans,
        like Katib's ``"1e-05"`` bounds, are quoted); written to ``path`` too when given, for
        ``kubectl apply -f``."""
        from katib_llm.io import dump_yaml

        text = str(dump_yaml([dict(experiment)]))  # an Experiment view is its dict
        if path is not None:
            target = Path(path)
            tmp = target.with_name(f".{target.name}.tmp")
            tmp.write_text(text)
            tmp.replace(target)
        return text

    def download_best_adapter(self, name: str, path: str, namespace: str | None = None,
                              timeout: float = 600) -> Path:
        """Copy Experiment ``name``'s best LoRA adapter into ``path`` (replaced as a whole).

        Cluster: from ``<volume>/experiments/<name>/best`` on the Experiment's shared volume
        (where promotion puts it and ``deploy`` reads it) through a short-lived Pod that mounts
        the claim read-only (see :mod:`katib_llm.deploy.download`; bounded by the kubelet's log
        size, 10 MiB by default). Local: from the run's work dir (``best/``)."""
        return self.backend.download_best_adapter(name, path, namespace or self.namespace, timeout)

    # -- custom providers ------------------------------------------------------------------
    def register_provider(self, name: str, image: str, command: list[str], args: list[str] | None = None,
                          secret: str | None = None, namespace: str | None = None) -> dict[str, Any]:
        """Declare a custom model/dataset provider: URIs ``<name>://...`` are fetched by an init
        container running ``image`` with ``command`` + ``args`` (placeholders {kind} {uri}
        {target} {cache_dir} {mount_path}); ``secret`` is exposed to it via envFrom."""
        decl: dict[str, Any] = {"scheme": name, "image": image, "command": list(command or []),
                                "args": list(args or [])}
        if secret:
            decl["secret"] = secret
        try:
            body = core_providers.to_configmap(decl, PROVIDER_CONFIGMAP_PREFIX + name, namespace or self.namespace)
        except AdmissionDenied as exc:
            first = exc.errors[0]
            raise TuneArgumentError(first.path.removeprefix("provider.") or "provider", str(exc)) from None
        return self._api().apply_configmap(body)

    def list_providers(self, namespace: str | None = None) -> list[dict[str, Any]]:
        """The custom provider declarations in ``namespace`` (invalid ConfigMaps are skipped)."""
        items = self._api().list_configmaps(namespace or self.namespace, f"{core_providers.PROVIDER_LABEL}=true")
        out = []
        for cm in items:
            decl, errors = core_providers.from_configmap(cm)
            if decl is not None:
                out.append(decl)
            else:
                log.warning("skipping provider ConfigMap %s: %s", cm.get("metadata", {}).get("name"), errors)
        return out

    def _declared_providers(self, namespace: str) -> list[dict[str, Any]]:
        """Providers the webhook will know, for the local pre-check (none if unreadable)."""
        from kubernetes.client.rest import ApiException

        try:
            return self.list_providers(namespace)
        except ApiException as exc:
            log.debug("cannot list provider ConfigMaps in %s: %s", namespace, exc.reason)
            return []

    def delete_provider(self, name: str, namespace: str | None = None) -> None:
        """Remove the declaration ``register_provider(name, ...)`` wrote."""
        self._api().delete_configmap(namespace or self.namespace, PROVIDER_CONFIGMAP_PREFIX + name)


def _progress_sink(enabled: bool) -> Callable[[str | None], None]:
    """Where progress lines go: a live line in Jupyter or on a terminal, log lines otherwise
    (:class:`katib_llm.io.live.LiveView`); None = done."""
    from rich.text import Text

    from katib_llm.io.live import LiveView

    view = LiveView(enabled, logger=log)

    def show(line: str | None) -> None:
        if line is None:
            view.close()
        else:
            view.update(Text(line), line)
    return show
