"""Build the labelled Experiment ``tune()`` submits: metadata, label, annotations, objective,
algorithm, parameters, budget, early stopping. No trial spec: the webhook (the core) injects it.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import Any

from katib_llm.core import contract
from katib_llm.core import early_stopping as es_rules
from katib_llm.core import params as core_params
from katib_llm.core.errors import FieldError

from . import objective as obj
from .arguments import denial
from .errors import TuneArgumentError
from .resources import worker_shape
from .search import to_katib_parameter

API_VERSION = "kubeflow.org/v1beta1"
DEFAULT_PARALLEL = 3  # Katib's default parallelTrialCount


@dataclass
class TuneSpec:
    """``tune()``'s arguments after aliases are resolved (see ``KatibClient.tune``)."""

    name: str
    namespace: str
    hp_space: dict[str, Any] | None = None
    objective: Any = None
    objective_metric_name: str | None = None
    objective_type: str = "maximize"
    algorithm_name: str = "random"
    additional_metric_names: list[str] | None = None
    objective_goal: float | None = None
    algorithm_settings: Any = None
    max_trial_count: int | None = None
    max_failed_trial_count: int | None = None
    parallel_trial_count: int | None = None
    resources_per_trial: Any = None
    num_workers: int | None = None
    num_procs_per_worker: int | None = None
    resources_per_worker: Any = None
    retain_trials: bool = False
    env_per_trial: Any = None
    storage_config: dict[str, Any] | None = None
    base_image: str | None = None
    packages_to_install: list[str] | None = None
    pip_index_urls: list[str] | None = None
    parameters: dict[str, Any] | None = None
    model_provider_parameters: Any = None
    dataset_provider_parameters: Any = None
    trainer_parameters: Any = None
    early_stopping: Any = None
    trial_template: str | None = None
    dataset_config: dict[str, Any] | None = None
    queue: str | None = None
    budget: Any = None
    trial_active_deadline_seconds: Any = None
    report_to: Any = None
    tracking_secret: str | None = None
    warm_start_from: Any = None
    objectives: Any = None
    annotations: dict[str, str] = field(default_factory=dict)


def _space(spec: TuneSpec, extra: dict[str, Any]) -> tuple[list[dict[str, Any]], str]:
    """Katib parameters from ``hp_space`` / ``parameters`` (and fields searched inside trainer
    parameters), with the argument they came from. The core judges names and spaces."""
    if spec.hp_space is not None and spec.parameters is not None:
        raise TuneArgumentError("parameters", "give the search space once, as hp_space (seed) or parameters "
                                              "(kubeflow-katib)")
    argument = "parameters" if spec.parameters is not None else "hp_space"
    given = spec.parameters if spec.parameters is not None else spec.hp_space
    if given is not None and not isinstance(given, dict):
        raise TuneArgumentError(argument, f"must be a dict of name -> search space, got {type(given).__name__}")
    space = dict(given or {})
    for name, value in extra.items():
        if name in space:
            raise TuneArgumentError(f"{argument}[{name!r}]", "is also searched inside trainer_parameters; "
                                                             "give it once")
        space[name] = value
    return [to_katib_parameter(str(name), value, f"{argument}[{name!r}]") for name, value in space.items()], argument


def _algorithm_settings(raw: Any, argument: str) -> list[dict[str, str]]:
    if raw is None:
        return []
    if isinstance(raw, dict):
        return [{"name": str(k), "value": str(v)} for k, v in raw.items()]
    if isinstance(raw, (list, tuple)):
        out = []
        for item in raw:
            if isinstance(item, dict) and "name" in item:
                out.append({"name": str(item["name"]), "value": str(item.get("value", ""))})
            elif hasattr(item, "name") and hasattr(item, "value"):
                out.append({"name": str(item.name), "value": str(item.value)})
            else:
                raise TuneArgumentError(argument, f"items must be {{'name': ..., 'value': ...}}, got {item!r}")
        return out
    raise TuneArgumentError(argument, f"must be a dict of setting -> value, got {type(raw).__name__}")


def early_stopping_spec(raw: Any) -> dict[str, Any] | None:
    """``"medianstop"`` or ``{"algorithm": "medianstop", "min_trials_required": 2, "start_step": 3}``
    → Katib's ``spec.earlyStopping``."""
    if raw is None or raw is False:
        return None
    if isinstance(raw, str):
        name, settings = raw, {}
    elif isinstance(raw, dict):
        settings = dict(raw)
        name = settings.pop("algorithm", None) or settings.pop("algorithm_name", None) or \
            settings.pop("algorithmName", None)
        if isinstance(settings.get("algorithm_settings"), dict):
            settings.update(settings.pop("algorithm_settings"))
    else:
        raise TuneArgumentError("early_stopping", 'must be "medianstop" or {"algorithm": "medianstop", '
                                                  '"min_trials_required": 2, "start_step": 3}')
    name = {"median": "medianstop", "median_stop": "medianstop"}.get(str(name), name)
    if name not in es_rules.SETTINGS:  # Katib's rule (core/katib_rules.py) names the accepted ones
        return {"algorithmName": str(name)}
    out = []
    for key, value in settings.items():
        try:  # the core's rule, one setting at a time so the error names the argument
            es_rules.parse_settings(name, [(str(key), str(value))])
        except es_rules.SettingsError as exc:
            raise TuneArgumentError(f"early_stopping.{key}", str(exc)) from None
        out.append({"name": key, "value": str(value)})
    spec: dict[str, Any] = {"algorithmName": name}
    if out:
        spec["algorithmSettings"] = out
    return spec


def _env(raw: Any) -> dict[str, Any]:
    """``env_per_trial`` (a dict or kubernetes V1EnvVar list) as name → value; the core judges both."""
    if raw is None:
        return {}
    items: list[tuple[str, Any]] = []
    if isinstance(raw, dict):
        items = list(raw.items())
    elif isinstance(raw, (list, tuple)):
        for item in raw:
            if getattr(item, "value_from", None) is not None or hasattr(item, "secret_ref") \
                    or hasattr(item, "config_map_ref"):
                raise TuneArgumentError("env_per_trial", "valueFrom / envFrom references cannot be carried by the "
                                                         "Experiment's env annotation; " + obj.CREDENTIAL_HINT)
            if not hasattr(item, "name"):
                raise TuneArgumentError("env_per_trial", f"items must be kubernetes V1EnvVar, got {item!r}")
            items.append((item.name, item.value))
    else:
        raise TuneArgumentError("env_per_trial", f"must be a dict of name -> value, got {type(raw).__name__}")
    return {str(k): (str(v).lower() if isinstance(v, bool) else str(v) if isinstance(v, (int, float)) else v)
            for k, v in items}


def _strings(value: Any, argument: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(x, str) and x.strip() for x in value):
        raise TuneArgumentError(argument, f"must be a list of non-empty strings, got {value!r}")
    return [x.strip() for x in value]


def _objective_fields(spec: TuneSpec, llm: contract.LLMSpec) -> tuple[dict[str, Any], list[FieldError]]:
    """Fill ``llm`` from the objective; the fields searched inside trainer parameters, and the
    core's credential findings in provider parameters."""
    objective = spec.objective
    llm_given = any(x is not None for x in (spec.model_provider_parameters, spec.dataset_provider_parameters,
                                           spec.trainer_parameters))
    if isinstance(objective, obj.TrainResult):
        objective = objective.metrics
    if isinstance(objective, obj.LLMObjective) or (objective is None and llm_given):
        if isinstance(objective, obj.LLMObjective) and llm_given:
            raise TuneArgumentError("objective", "the objective already names model, dataset and trainer "
                                                 "parameters; do not also pass model_provider_parameters etc.")
        o = objective if isinstance(objective, obj.LLMObjective) else obj.LLMObjective(
            spec.model_provider_parameters, spec.dataset_provider_parameters, spec.trainer_parameters)
        for key in ("num_workers", "num_procs_per_worker", "resources_per_worker"):
            if getattr(spec, key) is None and o.train_kwargs.get(key) is not None:
                setattr(spec, key, o.train_kwargs[key])
        if spec.packages_to_install:
            raise TuneArgumentError("packages_to_install", "only applies to a Python function objective; the LLM "
                                                           "objective runs the katib-llm trainer image")
        parts = obj.llm_parts(o.model_provider_parameters, o.dataset_provider_parameters, o.trainer_parameters)
        for name in ("model", "model_class", "dataset", "dataset_config", "training_args", "lora_config"):
            setattr(llm, name, getattr(parts.spec, name))
        llm.given |= parts.spec.given
        return parts.searched, parts.leaks
    if callable(objective):
        if llm_given:
            raise TuneArgumentError("objective", "give either a Python function objective or model/dataset/trainer "
                                                 "parameters, not both")
        llm.function = obj.encode_function(objective)
        llm.packages = _strings(spec.packages_to_install, "packages_to_install")
        llm.pip_index_urls = _strings(spec.pip_index_urls, "pip_index_urls") if llm.packages else []
        llm.base_image = spec.base_image.strip() if isinstance(spec.base_image, str) and spec.base_image.strip() \
            else None
        return {}, []
    if objective is None:
        raise TuneArgumentError("objective", "missing: give the LLM objective (TrainingClient().train(...).metrics, "
                                             "or model_provider_parameters + dataset_provider_parameters + "
                                             "trainer_parameters) or a Python function")
    raise TuneArgumentError("objective", "must be a Python function or the LLM objective returned by "
                                         f"katib_llm.TrainingClient().train(...).metrics, got {type(objective).__name__}"
                                         " (with kubeflow-training's TrainingClient, train() runs a job and "
                                         "returns no objective: import TrainingClient from katib_llm)")


def _unshadow(llm: contract.LLMSpec, parameters: list[dict[str, Any]]) -> None:
    """Fixed settings must not shadow tuned ones: a tuned field leaves the fixed settings."""
    names = {str(p.get("name")) for p in parameters}
    llm.training_args = {k: v for k, v in llm.training_args.items() if k not in names}
    llm.lora_config = {k: v for k, v in llm.lora_config.items() if core_params.LORA_PREFIX + k not in names}


def _llm_spec(spec: TuneSpec) -> tuple[contract.LLMSpec, list[dict[str, Any]], str, list[FieldError]]:
    """The :class:`LLMSpec` ``tune()``'s arguments describe, the Katib parameters, the argument they
    came from, and credential findings the core made in provider parameters."""
    llm = contract.LLMSpec()
    extra_space, leaks = _objective_fields(spec, llm)
    parameters, space_argument = _space(spec, extra_space)
    _unshadow(llm, parameters)
    shape = worker_shape(spec.resources_per_trial, spec.num_workers, spec.num_procs_per_worker,
                         spec.resources_per_worker)
    llm.workers, llm.procs_per_worker, llm.resources = shape.workers, shape.procs, shape.per_worker
    if spec.num_workers is not None:
        llm.given.add(contract.WORKERS)
    if spec.num_procs_per_worker is not None:
        llm.given.add(contract.PROCS_PER_WORKER)
    llm.env = _env(spec.env_per_trial)
    llm.retain_trials = bool(spec.retain_trials)
    llm.trial_template = spec.trial_template or None
    llm.queue = spec.queue or None
    llm.tracking_secret = spec.tracking_secret
    if spec.report_to is not None:  # transformers' TrainingArguments.report_to; the core judges it
        llm.training_args = {**llm.training_args, "report_to": [spec.report_to] if isinstance(spec.report_to, str)
                             else spec.report_to if not isinstance(spec.report_to, (list, tuple)) else list(spec.report_to)}
    if spec.dataset_config:
        llm.dataset_config = {**llm.dataset_config, **spec.dataset_config}
    storage_fields(spec.storage_config, llm)
    return llm, parameters, space_argument, leaks


def _limits(spec: TuneSpec, llm: contract.LLMSpec) -> None:
    """budget=, trial_active_deadline_seconds= and warm_start_from= typed by the core's parser of
    their annotation (the spec renders them); a bad one is the core's denial of that annotation,
    raised against its argument, as it would be on a cluster."""
    texts: dict[str, str] = {}
    if spec.budget is not None:
        try:
            texts[contract.BUDGET] = spec.budget if isinstance(spec.budget, str) else json.dumps(spec.budget, sort_keys=True)
        except (TypeError, ValueError):
            raise TuneArgumentError("budget", 'must be a dict such as {"train_steps": 20000, "wall_clock": "6h", '
                                              '"gpu_hours": 40}') from None
    if spec.trial_active_deadline_seconds is not None:
        texts[contract.TRIAL_DEADLINE] = str(spec.trial_active_deadline_seconds)
    warm = warm_start_annotation(spec.warm_start_from)
    if warm is not None:  # local backend only: the core denies it for a cluster
        texts[contract.WARM_START] = warm
    if spec.objectives is not None:  # local backend only: the core denies it for a cluster
        texts[contract.OBJECTIVES] = objectives_annotation(spec.objectives)
    objective = {"type": spec.objective_type, "objectiveMetricName": spec.objective_metric_name,
                 "additionalMetricNames": spec.additional_metric_names or []}
    for name, text in texts.items():
        value, errors = contract.parse_value(name, text, objective=objective)
        if errors:
            raise denial(errors)
        setattr(llm, contract.BY_NAME[name].attr or "", value)


def build_experiment(spec: TuneSpec) -> dict[str, Any]:
    """The labelled Experiment for ``spec`` (before admission).

    Raises :class:`TuneArgumentError` for arguments no Experiment field can carry; everything
    an Experiment carries is judged by the core when ``tune()`` admits it."""
    llm, parameters, space_argument, leaks = _llm_spec(spec)
    if leaks:
        raise denial(leaks, parameters, space_argument)
    _limits(spec, llm)
    max_trials = spec.max_trial_count
    parallel = spec.parallel_trial_count
    if parallel is None and isinstance(max_trials, int) and not isinstance(max_trials, bool) and max_trials > 0:
        parallel = min(DEFAULT_PARALLEL, max_trials)  # Katib's default 3 would exceed a smaller budget
    metric = spec.objective_metric_name
    experiment_spec: dict[str, Any] = {
        "objective": {"type": spec.objective_type,
                      "objectiveMetricName": metric.strip() if isinstance(metric, str) else metric},
        "algorithm": {"algorithmName": spec.algorithm_name},
        "parameters": parameters,
    }
    extra_metrics = _strings(spec.additional_metric_names, "additional_metric_names")
    if extra_metrics:
        experiment_spec["objective"]["additionalMetricNames"] = extra_metrics
    if spec.objective_goal is not None:
        goal = spec.objective_goal
        experiment_spec["objective"]["goal"] = float(goal) if isinstance(goal, (int, float)) \
            and not isinstance(goal, bool) else goal
    settings = _algorithm_settings(spec.algorithm_settings, "algorithm_settings")
    if settings:
        experiment_spec["algorithm"]["algorithmSettings"] = settings
    for key, value in (("maxTrialCount", max_trials), ("parallelTrialCount", parallel),
                       ("maxFailedTrialCount", spec.max_failed_trial_count)):
        if value is not None:
            experiment_spec[key] = value
    early = early_stopping_spec(spec.early_stopping)
    if early:
        experiment_spec["earlyStopping"] = early
    return {
        "apiVersion": API_VERSION,
        "kind": "Experiment",
        "metadata": {"name": spec.name, "namespace": spec.namespace,
                     "labels": {contract.LABEL: contract.LABEL_VALUE},
                     "annotations": {**spec.annotations, **contract.render(llm)}},
        "spec": experiment_spec,
    }


def argument_denial(errors: list[FieldError], experiment: dict[str, Any], spec: TuneSpec) -> Exception:
    """The exception for the core's denial of the Experiment :func:`build_experiment` made."""
    space_argument = "parameters" if spec.parameters is not None else "hp_space"
    return denial(errors, experiment.get("spec", {}).get("parameters") or [], space_argument,
                  "resources_per_trial" if spec.resources_per_worker is None and spec.resources_per_trial is not None
                  else "resources_per_worker")


def warm_start_annotation(value: Any) -> str | None:
    """``warm_start_from`` (a work dir, or a list of them) as the warm-start annotation's JSON list.

    Only the Python types are checked here; the references themselves are validated by the core
    (``contract.parse_warm_start``) when the Experiment is admitted.
    """
    if value is None:
        return None
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    if not all(isinstance(v, (str, os.PathLike)) for v in items):
        raise TuneArgumentError("warm_start_from", "must be an earlier run's work dir (str or Path) or a list "
                                                   f"of them, got {value!r}")
    return json.dumps([os.fspath(v) for v in items])


def objectives_annotation(value: Any) -> str:
    """``objectives`` (``{"eval_loss": "minimize"}``, ``["eval_loss:minimize"]`` or the annotation's
    own text) as the objectives annotation's text; the core parses and judges it."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return ",".join(f"{metric}:{direction}" for metric, direction in value.items())
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    raise TuneArgumentError("objectives", 'must be a dict of metric -> "minimize" / "maximize", or a list of '
                                          f'"metric:direction" strings, got {type(value).__name__}')


STORAGE_KEYS = ("size", "storage_class", "access_modes", "claim_name", "retain")


def storage_fields(storage: dict[str, Any] | None, llm: contract.LLMSpec) -> None:
    """``storage_config`` → the spec's claim fields. An existing claim is named; a size/class/modes
    request names the claim ``tune()`` creates (see :func:`storage_request`)."""
    if not storage:
        return
    if not isinstance(storage, dict):
        raise TuneArgumentError("storage_config", 'must be a dict like {"size": "50Gi", "storage_class": "nfs", '
                                                  '"access_modes": ["ReadWriteMany"]} or {"claim_name": "my-pvc"}')
    unknown = set(storage) - set(STORAGE_KEYS)
    if unknown:
        raise TuneArgumentError(f"storage_config.{sorted(unknown)[0]}", "unknown key; accepted: " + ", ".join(STORAGE_KEYS))
    llm.retain_volume = bool(storage.get("retain"))
    if storage.get("claim_name"):
        llm.volume_claim = str(storage["claim_name"])


def storage_request(storage: dict[str, Any] | None) -> dict[str, Any] | None:
    """Admin-values ``storage`` overrides for the claim ``tune()`` creates, or None."""
    if not storage or storage.get("claim_name"):
        return None
    out: dict[str, Any] = {}
    if storage.get("size"):
        out["size"] = str(storage["size"])
    if storage.get("storage_class"):
        out["storageClassName"] = str(storage["storage_class"])
    if storage.get("access_modes"):
        modes = storage["access_modes"]
        out["accessModes"] = [modes] if isinstance(modes, str) else list(modes)
    return out or None
