"""Build the labelled Experiment ``tune()`` submits: metadata, label, annotations, objective,
algorithm, parameters, budget, early stopping. No trial spec: the webhook (the core) injects it.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any

from katib_llm.core import contract, katib_rules
from katib_llm.core import params as core_params

from . import objective as obj
from .errors import TuneArgumentError
from .resources import worker_shape
from .search import to_katib_parameter

API_VERSION = "kubeflow.org/v1beta1"
_NAME = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_CREDENTIAL_ENV = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|ACCESS_KEY|API_KEY|CREDENTIAL)", re.I)
# Katib's medianstop settings (pkg/earlystopping/v1beta1/medianstop).
EARLY_STOPPING_SETTINGS = {"medianstop": ("min_trials_required", "start_step")}
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
    warm_start_from: Any = None
    annotations: dict[str, str] = field(default_factory=dict)


def _space(spec: TuneSpec, extra: dict[str, Any], llm: bool) -> list[dict[str, Any]]:
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
    if not space:
        raise TuneArgumentError(argument, "the search space is empty: give at least one hyperparameter, e.g. "
                                          '{"learning_rate": search.double(min=1e-05, max=5e-05)}')
    out = []
    for name, value in space.items():
        path = f"{argument}[{name!r}]"
        if not isinstance(name, str) or not name:
            raise TuneArgumentError(argument, f"names must be non-empty strings, got {name!r}")
        if llm and core_params.resolve(name) is None:
            hint = core_params.suggest_names(name)
            raise TuneArgumentError(path, "maps to no TrainingArguments field and no lora_config.<field>" +
                                    (f"; did you mean {', '.join(hint)}?" if hint else
                                     "; use a TrainingArguments field (learning_rate) or lora_config.<field> "
                                     "(lora_config.r)"))
        out.append(to_katib_parameter(name, value, path))
    return out


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
    if name not in EARLY_STOPPING_SETTINGS:
        raise TuneArgumentError("early_stopping", f"unknown algorithm {name!r}; accepted: "
                                + ", ".join(EARLY_STOPPING_SETTINGS))
    known = EARLY_STOPPING_SETTINGS[name]
    out = []
    for key, value in settings.items():
        if key not in known:
            raise TuneArgumentError(f"early_stopping.{key}", f"unknown {name} setting; accepted: {', '.join(known)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if key == "min_trials_required" else 0):
            raise TuneArgumentError(f"early_stopping.{key}", f"must be a non-negative integer, got {value!r}")
        out.append({"name": key, "value": str(value)})
    spec: dict[str, Any] = {"algorithmName": name}
    if out:
        spec["algorithmSettings"] = out
    return spec


def _env(raw: Any) -> dict[str, str]:
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
    out = {}
    for key, value in items:
        if _CREDENTIAL_ENV.search(str(key)):
            raise TuneArgumentError(f"env_per_trial[{key!r}]", obj.CREDENTIAL_HINT)
        if not isinstance(value, (str, int, float, bool)):
            raise TuneArgumentError(f"env_per_trial[{key!r}]", f"must be a string or number, got {value!r}")
        out[str(key)] = str(value).lower() if isinstance(value, bool) else str(value)
    return out


def _count(value: Any, argument: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TuneArgumentError(argument, f"must be an integer >= 1, got {value!r}")
    return value


def _strings(value: Any, argument: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(x, str) and x.strip() for x in value):
        raise TuneArgumentError(argument, f"must be a list of non-empty strings, got {value!r}")
    return [x.strip() for x in value]


def build_experiment(spec: TuneSpec) -> dict[str, Any]:
    """The labelled Experiment for ``spec`` (before admission). Raises TuneArgumentError."""
    if not isinstance(spec.name, str) or not _NAME.match(spec.name) or len(spec.name) > 40:
        raise TuneArgumentError("name", "must be a lower-case DNS-1035 label (a-z, 0-9, '-', starting with a "
                                        f"letter, at most 40 characters), got {spec.name!r}")
    annotations: dict[str, str] = {}
    objective = spec.objective
    llm_given = any(x is not None for x in (spec.model_provider_parameters, spec.dataset_provider_parameters,
                                           spec.trainer_parameters))
    if isinstance(objective, obj.TrainResult):
        objective = objective.metrics
    extra_space: dict[str, Any] = {}
    if isinstance(objective, obj.LLMObjective) or (objective is None and llm_given):
        if isinstance(objective, obj.LLMObjective) and llm_given:
            raise TuneArgumentError("objective", "the objective already names model, dataset and trainer "
                                                 "parameters; do not also pass model_provider_parameters etc.")
        o = objective if isinstance(objective, obj.LLMObjective) else obj.LLMObjective(
            spec.model_provider_parameters, spec.dataset_provider_parameters, spec.trainer_parameters)
        for key in ("num_workers", "num_procs_per_worker", "resources_per_worker"):
            if getattr(spec, key) is None and o.train_kwargs.get(key) is not None:
                setattr(spec, key, o.train_kwargs[key])
        parts = obj.llm_parts(o.model_provider_parameters, o.dataset_provider_parameters, o.trainer_parameters)
        annotations.update(parts.annotations)
        extra_space = parts.searched
        llm = True
        for arg in ("packages_to_install",):
            if getattr(spec, arg):
                raise TuneArgumentError(arg, "only applies to a Python function objective; the LLM objective runs "
                                             "the katib-llm trainer image")
    elif callable(objective):
        if llm_given:
            raise TuneArgumentError("objective", "give either a Python function objective or model/dataset/trainer "
                                                 "parameters, not both")
        annotations[contract.FUNCTION] = obj.encode_function(objective)
        packages = _strings(spec.packages_to_install, "packages_to_install")
        if packages:
            annotations[contract.PACKAGES] = json.dumps(packages)
            urls = _strings(spec.pip_index_urls, "pip_index_urls")
            if urls:
                annotations[contract.PIP_INDEX_URLS] = json.dumps(urls)
        if spec.base_image:
            annotations[contract.BASE_IMAGE] = spec.base_image.strip()
        llm = False
    elif objective is None:
        raise TuneArgumentError("objective", "missing: give the LLM objective (TrainingClient().train(...).metrics, "
                                             "or model_provider_parameters + dataset_provider_parameters + "
                                             "trainer_parameters) or a Python function")
    else:
        raise TuneArgumentError("objective", "must be a Python function or the LLM objective returned by "
                                             f"katib_llm.TrainingClient().train(...).metrics, got {type(objective).__name__}"
                                             " (with kubeflow-training's TrainingClient, train() runs a job and "
                                             "returns no objective: import TrainingClient from katib_llm)")
    parameters = _space(spec, extra_space, llm)
    # Fixed settings must not shadow tuned ones.
    for key, prefix in ((contract.TRAINING_ARGS, ""), (contract.LORA_CONFIG, core_params.LORA_PREFIX)):
        if key in annotations:
            fixed = json.loads(annotations[key])
            tuned = {p["name"].removeprefix(prefix) for p in parameters if p["name"].startswith(prefix)}
            fixed = {k: v for k, v in fixed.items() if k not in tuned}
            if fixed:
                annotations[key] = json.dumps(fixed, sort_keys=True)
            else:
                del annotations[key]

    if spec.objective_type not in ("minimize", "maximize"):
        raise TuneArgumentError("objective_type", f'must be "minimize" or "maximize", got {spec.objective_type!r}')
    if not isinstance(spec.objective_metric_name, str) or not spec.objective_metric_name.strip():
        raise TuneArgumentError("objective_metric_name", "missing: name the metric to optimise, e.g. eval_accuracy")
    if spec.algorithm_name not in katib_rules.ALGORITHMS:
        raise TuneArgumentError("algorithm_name", f"unknown algorithm {spec.algorithm_name!r}; accepted: "
                                + ", ".join(katib_rules.ALGORITHMS))
    max_trials = _count(spec.max_trial_count, "max_trial_count")
    parallel = _count(spec.parallel_trial_count, "parallel_trial_count")
    max_failed = _count(spec.max_failed_trial_count, "max_failed_trial_count")
    if parallel is not None and max_trials is not None and parallel > max_trials:
        raise TuneArgumentError("parallel_trial_count", f"{parallel} parallel trials exceeds max_trial_count "
                                                        f"({max_trials})")
    if parallel is None and max_trials is not None:
        parallel = min(DEFAULT_PARALLEL, max_trials)  # Katib's default 3 would exceed a smaller budget

    shape = worker_shape(spec.resources_per_trial, spec.num_workers, spec.num_procs_per_worker,
                         spec.resources_per_worker)
    if shape.workers != 1 or spec.num_workers is not None:
        annotations[contract.WORKERS] = str(shape.workers)
    if shape.procs != 1 or spec.num_procs_per_worker is not None:
        annotations[contract.PROCS_PER_WORKER] = str(shape.procs)
    if shape.per_worker:
        annotations[contract.RESOURCES_PER_WORKER] = json.dumps(shape.per_worker, sort_keys=True)
    env = _env(spec.env_per_trial)
    if env:
        annotations[contract.ENV] = json.dumps(env, sort_keys=True)
    if spec.retain_trials:
        annotations[contract.RETAIN_TRIALS] = "true"
    if spec.trial_template:
        annotations[contract.TRIAL_TEMPLATE] = spec.trial_template
    if spec.dataset_config:
        merged = {**json.loads(annotations.get(contract.DATASET_CONFIG, "{}")), **spec.dataset_config}
        annotations[contract.DATASET_CONFIG] = json.dumps(merged, sort_keys=True)
    annotations.update(storage_annotations(spec.storage_config, spec.name))
    warm = warm_start_annotation(spec.warm_start_from)
    if warm is not None:
        annotations[contract.WARM_START] = warm

    experiment_spec: dict[str, Any] = {
        "objective": {"type": spec.objective_type, "objectiveMetricName": spec.objective_metric_name.strip()},
        "algorithm": {"algorithmName": spec.algorithm_name},
        "parameters": parameters,
    }
    extra_metrics = _strings(spec.additional_metric_names, "additional_metric_names")
    if extra_metrics:
        experiment_spec["objective"]["additionalMetricNames"] = extra_metrics
    if spec.objective_goal is not None:
        if isinstance(spec.objective_goal, bool) or not isinstance(spec.objective_goal, (int, float)):
            raise TuneArgumentError("objective_goal", f"must be a number, got {spec.objective_goal!r}")
        experiment_spec["objective"]["goal"] = float(spec.objective_goal)
    settings = _algorithm_settings(spec.algorithm_settings, "algorithm_settings")
    if settings:
        experiment_spec["algorithm"]["algorithmSettings"] = settings
    for key, value in (("maxTrialCount", max_trials), ("parallelTrialCount", parallel),
                       ("maxFailedTrialCount", max_failed)):
        if value is not None:
            experiment_spec[key] = value
    early = early_stopping_spec(spec.early_stopping)
    if early:
        experiment_spec["earlyStopping"] = early
    all_annotations = {**spec.annotations, **{contract.PREFIX + k: v for k, v in annotations.items()}}
    return {
        "apiVersion": API_VERSION,
        "kind": "Experiment",
        "metadata": {"name": spec.name, "namespace": spec.namespace,
                     "labels": {contract.LABEL: contract.LABEL_VALUE},
                     "annotations": all_annotations},
        "spec": experiment_spec,
    }


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


STORAGE_KEYS = ("size", "storage_class", "access_modes", "claim_name", "retain")


def storage_annotations(storage: dict[str, Any] | None, name: str) -> dict[str, str]:
    """``storage_config`` → annotations. An existing claim is named; a size/class/modes request
    names the claim ``tune()`` creates (see :func:`storage_request`)."""
    if not storage:
        return {}
    if not isinstance(storage, dict):
        raise TuneArgumentError("storage_config", 'must be a dict like {"size": "50Gi", "storage_class": "nfs", '
                                                  '"access_modes": ["ReadWriteMany"]} or {"claim_name": "my-pvc"}')
    unknown = set(storage) - set(STORAGE_KEYS)
    if unknown:
        raise TuneArgumentError(f"storage_config.{sorted(unknown)[0]}", "unknown key; accepted: " + ", ".join(STORAGE_KEYS))
    out = {}
    if storage.get("retain"):
        out[contract.RETAIN_VOLUME] = "true"
    if storage.get("claim_name"):
        out[contract.VOLUME_CLAIM] = str(storage["claim_name"])
    return out


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
