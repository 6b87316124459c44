"""The user-facing contract: the selector label and the annotations under our prefix.

Everything a data scientist says about an LLM tuning Experiment is said here, in both
directions: :func:`parse` reads annotations into a typed :class:`LLMSpec` (returning every error
with the annotation it concerns) and :func:`render` writes an :class:`LLMSpec` back as
annotations. The SDK fills an :class:`LLMSpec` and renders it; the webhook, the CLI and the local
backend parse. Every name under ``llm.katib.kubeflow.org/`` is defined here and nowhere else.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from . import credentials
from .errors import FieldError
from .limits import Budget, parse_budget, parse_deadline
from .numbers import check_json_numbers, number_problem
from .params import LORA_FIELDS, TRAINING_FIELDS, check_fixed
from .quantity import MIN_UNITLESS_MEMORY, quantity, split, unitless
from .uris import StorageURI, parse_uri

GROUP = "llm.katib.kubeflow.org"
LABEL = f"{GROUP}/tune"
LABEL_VALUE = "true"
PREFIX = f"{GROUP}/"

# Labels and annotations katib-llm writes on objects it creates (full names).
EXPERIMENT_LABEL = f"{GROUP}/experiment"   # on the volume claim and deployed adapters
PROVIDER_LABEL = f"{GROUP}/provider"       # on a ConfigMap that declares a storage provider
BEST_TRIAL = f"{GROUP}/best-trial"         # on a deployed InferenceService
BEST_PARAMETERS = f"{GROUP}/best-parameters"
DESCRIPTION = f"{GROUP}/description"       # on the shipped trial templates

# Annotation names (without the prefix).
MODEL = "model"
MODEL_CLASS = "model-class"
# Parameter count of the model ("7B", "125M"): feeds the feasibility pre-check without I/O.
MODEL_PARAMETERS = "model-parameters"
DATASET = "dataset"
DATASET_CONFIG = "dataset-config"
# Keys of the dataset-config annotation and their JSON types; the trainer reads exactly these
# (katib_llm.runtime.data.DatasetConfig), so a misspelt key is denied at admission, not at trial time.
DATASET_CONFIG_KEYS: dict[str, tuple[type, ...]] = {
    "text_column": (str,), "text_pair_column": (str,), "label_column": (str,), "eval_split": (str,),
    "eval_fraction": (float, int), "max_length": (int,), "num_labels": (int,), "seed": (int,),
}
TRIAL_TEMPLATE = "trial-template"
WORKERS = "workers"
PROCS_PER_WORKER = "procs-per-worker"
RESOURCES_PER_WORKER = "resources-per-worker"
TRAINING_ARGS = "training-args"
LORA_CONFIG = "lora-config"
VOLUME_CLAIM = "volume-claim"
RETAIN_VOLUME = "retain-volume"
# Keep trial resources (pods, jobs) after completion: sets spec.trialTemplate.retain, which the
# SDK cannot set itself when the webhook supplies the trialTemplate.
RETAIN_TRIALS = "retain-trials"
FUNCTION = "function"
PACKAGES = "packages-to-install"
PIP_INDEX_URLS = "pip-index-urls"
BASE_IMAGE = "base-image"
ENV = "env"
# Kueue LocalQueue of the trial jobs (label kueue.x-k8s.io/queue-name); overrides the admin's.
QUEUE = "queue"
# What the whole Experiment may spend, and seconds one trial may run (core/limits.py).
BUDGET = "budget"
TRIAL_DEADLINE = "trial-active-deadline-seconds"
# A Secret in the Experiment's namespace whose keys become the trainer's environment (envFrom):
# the experiment tracker's credentials (WANDB_API_KEY, MLFLOW_TRACKING_TOKEN, ...).
TRACKING_SECRET = "tracking-secret"
# Earlier runs whose finished trials seed this Experiment's search (local backend only).
WARM_START = "warm-start"
WARM_START_MAX_REFERENCES = 32
# Several objectives (local backend only): "metric:direction" pairs over the objective metric
# and additionalMetricNames.
OBJECTIVES = "objectives"
MAX_OBJECTIVES = 8
# Written by the core itself: marks an Experiment it has admitted (idempotence check aid).
ADMITTED = "admitted"
# Earlier runs whose finished trials seed this Experiment's search (local backend only).
WARM_START = "warm-start"
WARM_START_MAX_REFERENCES = 32
# Several objectives (local backend only): "metric:direction" pairs over the objective metric
# and additionalMetricNames.
OBJECTIVES = "objectives"
MAX_OBJECTIVES = 8

KNOWN_ANNOTATIONS = {
    MODEL, MODEL_CLASS, MODEL_PARAMETERS, DATASET, DATASET_CONFIG, TRIAL_TEMPLATE, WORKERS, PROCS_PER_WORKER,
    RESOURCES_PER_WORKER, TRAINING_ARGS, LORA_CONFIG, VOLUME_CLAIM, RETAIN_VOLUME, RETAIN_TRIALS, FUNCTION,
    PACKAGES, PIP_INDEX_URLS, BASE_IMAGE, ENV, QUEUE, ADMITTED, BUDGET, TRIAL_DEADLINE, TRACKING_SECRET, WARM_START, OBJECTIVES,
}

# transformers Auto classes the trainer supports end to end, and the ones it accepts for
# custom entrypoints (documented in docs/contract.md).
SUPPORTED_MODEL_CLASSES = (
    "AutoModelForSequenceClassification",
    "AutoModelForCausalLM",
    "AutoModelForTokenClassification",
    "AutoModelForSeq2SeqLM",
    "AutoModelForQuestionAnswering",
    "AutoModel",
)
DEFAULT_MODEL_CLASS = "AutoModelForSequenceClassification"

_DNS1123 = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")
_RESOURCES_FORM = 'a JSON object like {"gpu": 2, "cpu": 5, "memory": "10G"}'
# Known fields whose names look credential-like but whose values are not credentials.
_NOT_CREDENTIALS = {k for k, v in {**TRAINING_FIELDS, **LORA_FIELDS}.items() if v.get("type") != "str"}


def annotation_key(name: str) -> str:
    """The full annotation key of one of our annotation names (``model`` → ``llm.katib.kubeflow.org/model``)."""
    return f"{PREFIX}{name}"


def annotation_path(name: str) -> str:
    return f"metadata.annotations[{PREFIX}{name}]"


def label_value(experiment: Any) -> str | None:
    """The value of our selector label, None when absent."""
    meta = experiment.get("metadata") if isinstance(experiment, dict) else None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    value = labels.get(LABEL) if isinstance(labels, dict) else None
    return None if value is None else str(value)


def is_labelled(experiment: Any) -> bool:
    return label_value(experiment) == LABEL_VALUE


def our_annotations(experiment: Any) -> dict[str, Any]:
    """Our annotations of an object, by name without the prefix."""
    meta = experiment.get("metadata") if isinstance(experiment, dict) else None
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    if not isinstance(annotations, dict):
        return {}
    return {k[len(PREFIX):]: v for k, v in annotations.items() if isinstance(k, str) and k.startswith(PREFIX)}


@dataclass
class Resources:
    """Per-worker resources, already normalised to Kubernetes quantity strings."""

    gpu: int = 0
    cpu: str | None = None
    memory: str | None = None


@dataclass
class LLMSpec:
    """The annotations, parsed and typed (:func:`parse`), or to be written (:func:`render`)."""

    model: StorageURI | None = None
    model_class: str = DEFAULT_MODEL_CLASS
    model_parameters: int | None = None
    dataset: StorageURI | None = None
    dataset_config: dict[str, Any] = field(default_factory=dict)
    trial_template: str | None = None
    workers: int = 1
    procs_per_worker: int = 1
    resources: Resources | None = None
    training_args: dict[str, Any] = field(default_factory=dict)
    lora_config: dict[str, Any] = field(default_factory=dict)
    volume_claim: str | None = None
    retain_volume: bool = False
    retain_trials: bool = False
    function: str | None = None
    packages: list[str] = field(default_factory=list)
    pip_index_urls: list[str] = field(default_factory=list)
    base_image: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    queue: str | None = None
    budget: Budget | None = None
    trial_deadline: int | None = None
    tracking_secret: str | None = None
    warm_start: list[str] = field(default_factory=list)
    objectives: list[tuple[str, str]] = field(default_factory=list)
    # Annotation names the user actually set (defaults must not override a user's own spec).
    given: set[str] = field(default_factory=set)


def uri(raw: str) -> StorageURI:
    """An unchecked URI for :func:`render` (the scheme and form are judged by :func:`parse`)."""
    scheme, _, location = raw.strip().partition("://")
    return StorageURI(raw=raw.strip(), scheme=scheme, location=location)


def parse_parameter_count(text: Any) -> int | None:
    """``"7B"`` → 7e9, ``"125m"`` → 1.25e8, ``"6738415616"`` → itself; None if not a count."""
    match = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMbBtT]?)\s*$", text) if isinstance(text, str) else None
    if not match:
        return None
    count = float(match.group(1)) * {"": 1, "k": 10 ** 3, "m": 10 ** 6, "b": 10 ** 9, "t": 10 ** 12}[
        match.group(2).lower()]
    return int(count) if 1 <= count <= 1e15 else None


def _check_dataset_config(raw: dict[str, Any], errors: list[FieldError]) -> None:
    """Known keys with values of the right JSON type (null allowed: the runtime default)."""
    for key, value in raw.items():
        types = DATASET_CONFIG_KEYS.get(key)
        if types is None:
            hint = difflib.get_close_matches(str(key), list(DATASET_CONFIG_KEYS), n=1)
            errors.append(FieldError(f"{annotation_path(DATASET_CONFIG)}.{key}", "dataset-config.key",
                                     f"unknown key {key!r}" + (f"; did you mean {hint[0]}?" if hint else "")
                                     + "; accepted: " + ", ".join(sorted(DATASET_CONFIG_KEYS))))
        elif value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            errors.append(FieldError(f"{annotation_path(DATASET_CONFIG)}.{key}", "dataset-config.type",
                                     f"{key} takes a {types[0].__name__}, got {type(value).__name__}"))


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _json(raw: str, name: str, errors: list[FieldError], expect: type, form: str) -> Any:
    try:
        value = json.loads(raw, parse_constant=_reject_constant)  # no NaN / Infinity
    except (ValueError, TypeError, RecursionError) as exc:
        errors.append(FieldError(annotation_path(name), "annotation.json",
                                 f"is not valid JSON ({str(exc)[:120]}); expected {form}"))
        return None
    if not isinstance(value, expect):
        errors.append(FieldError(annotation_path(name), "annotation.type",
                                 f"must be {form}, got {type(value).__name__}"))
        return None
    before = len(errors)
    check_json_numbers(value, annotation_path(name), errors)
    return value if len(errors) == before else None


def _positive_int(raw: str, name: str, errors: list[FieldError], limit: int) -> int | None:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()) or not 1 <= int(text) <= limit:
        errors.append(FieldError(annotation_path(name), "annotation.int",
                                 f"must be an integer between 1 and {limit} (ASCII digits), got {raw[:40]!r}"))
        return None
    return int(text)


def _parse_gpu(value: Any, path: str, errors: list[FieldError]) -> int | None:
    problem = number_problem(value) if not isinstance(value, bool) and isinstance(value, (int, float, str)) \
        else "is not a number"
    if problem is None and (float(value) < 0 or not float(value).is_integer()):
        problem = "is not a whole number >= 0"
    if problem:
        errors.append(FieldError(f"{path}.gpu", "resources.gpu", f"must be a whole number of GPUs >= 0; the value {problem}"))
        return None
    return int(float(value))


def _parse_quantity(key: str, value: Any, path: str, errors: list[FieldError]) -> str | None:
    q = quantity(value)
    example = '5 or "500m"' if key == "cpu" else '"10G" or "16Gi"'
    if q is None:
        errors.append(FieldError(f"{path}.{key}", "resources.quantity",
                                 f"must be a number or Kubernetes quantity such as {example}, got {str(value)[:40]!r}"))
        return None
    if key == "memory" and unitless(q) and split(q)[0] < MIN_UNITLESS_MEMORY:
        errors.append(FieldError(f"{path}.memory", "resources.memory-unit",
                                 f"{q} without a unit means {q} bytes; write the unit, e.g. \"{q}Gi\""))
        return None
    return q


def parse_resources(raw: Any, path: str, errors: list[FieldError]) -> Resources | None:
    """Parse ``{"gpu": 2, "cpu": 5, "memory": "10G"}`` (numbers or quantity strings)."""
    if not isinstance(raw, dict):
        errors.append(FieldError(path, "resources.type", f"must be {_RESOURCES_FORM}"))
        return None
    res, before = Resources(), len(errors)
    for key, value in raw.items():
        if key == "gpu":
            res.gpu = _parse_gpu(value, path, errors) or 0
        elif key in ("cpu", "memory"):
            setattr(res, key, _parse_quantity(key, value, path, errors))
        else:
            errors.append(FieldError(f"{path}.{key}", "resources.unknown",
                                     "unknown resource; accepted keys are gpu, cpu, memory"))
    return res if len(errors) == before else None


def _split_ours(annotations: Any) -> tuple[dict[str, str], list[FieldError]]:
    if not isinstance(annotations, dict):
        return {}, [FieldError("metadata.annotations", "annotation.type", "must be a map of strings")]
    ours = {k[len(PREFIX):]: v for k, v in annotations.items() if isinstance(k, str) and k.startswith(PREFIX)}
    errors = []
    for name, raw in ours.items():
        if name not in KNOWN_ANNOTATIONS:
            hint = difflib.get_close_matches(name, sorted(KNOWN_ANNOTATIONS - {ADMITTED}), n=1)
            errors.append(FieldError(annotation_path(name), "annotation.unknown",
                                     "unknown annotation" + (f"; did you mean {PREFIX}{hint[0]}?" if hint else "")
                                     + f"; known names under {PREFIX} are: "
                                     + ", ".join(sorted(KNOWN_ANNOTATIONS - {ADMITTED}))))
        elif not isinstance(raw, str):
            errors.append(FieldError(annotation_path(name), "annotation.type", "must be a string"))
    return ours, errors


def _credentials(ours: dict[str, str]) -> list[FieldError]:
    """Credentials anywhere in our annotations; checked first, so no later message repeats one."""
    errors = credentials.scan_annotations(ours, annotation_path, FUNCTION)
    flagged = {e.path for e in errors}
    for name in (ENV, TRAINING_ARGS, LORA_CONFIG, DATASET_CONFIG):
        if name not in ours or annotation_path(name) in flagged:
            continue
        try:
            raw = json.loads(ours[name])
        except (ValueError, RecursionError):
            continue  # reported as annotation.json by the parser
        if not isinstance(raw, dict):
            continue
        if name == ENV:
            errors += credentials.check_env_names([k for k in raw if isinstance(k, str)],
                                                  lambda k: f"{annotation_path(ENV)}.{k}")
        else:
            errors += credentials.check_keys(raw, annotation_path(name), _NOT_CREDENTIALS)
    return errors


def _parse_sources(ours: dict[str, str], spec: LLMSpec, providers: set[str], errors: list[FieldError]) -> None:
    if MODEL in ours:
        spec.model = parse_uri(ours[MODEL], annotation_path(MODEL), "model", providers, errors)
    if DATASET in ours:
        spec.dataset = parse_uri(ours[DATASET], annotation_path(DATASET), "dataset", providers, errors)
    if MODEL_CLASS in ours:
        value = ours[MODEL_CLASS].strip().removeprefix("transformers.")
        if value not in SUPPORTED_MODEL_CLASSES:
            hint = difflib.get_close_matches(value, SUPPORTED_MODEL_CLASSES, n=1)
            errors.append(FieldError(annotation_path(MODEL_CLASS), "model-class.unknown",
                                     f"unknown model class {ours[MODEL_CLASS][:80]!r}"
                                     + (f"; did you mean {hint[0]}?" if hint else "")
                                     + "; accepted: " + ", ".join(SUPPORTED_MODEL_CLASSES)))
        else:
            spec.model_class = value
    if MODEL_PARAMETERS in ours:
        spec.model_parameters = parse_parameter_count(ours[MODEL_PARAMETERS])
        if spec.model_parameters is None:
            errors.append(FieldError(annotation_path(MODEL_PARAMETERS), "model-parameters.format",
                                     f"must be a parameter count such as \"7B\", \"1.5B\", \"125M\" or "
                                     f"\"6738415616\", got {ours[MODEL_PARAMETERS][:40]!r}"))


def _parse_shape(ours: dict[str, str], spec: LLMSpec, max_workers: int, errors: list[FieldError]) -> None:
    if TRIAL_TEMPLATE in ours:
        spec.trial_template = ours[TRIAL_TEMPLATE].strip()
    if WORKERS in ours:
        spec.workers = _positive_int(ours[WORKERS], WORKERS, errors, max_workers) or 1
    if PROCS_PER_WORKER in ours:
        spec.procs_per_worker = _positive_int(ours[PROCS_PER_WORKER], PROCS_PER_WORKER, errors, 64) or 1
    if RESOURCES_PER_WORKER in ours:
        raw = _json(ours[RESOURCES_PER_WORKER], RESOURCES_PER_WORKER, errors, dict, _RESOURCES_FORM)
        if raw is not None:
            spec.resources = parse_resources(raw, annotation_path(RESOURCES_PER_WORKER), errors)


def _parse_settings(ours: dict[str, str], spec: LLMSpec, errors: list[FieldError]) -> None:
    """training-args, lora-config, dataset-config: JSON objects checked against the field tables."""
    for name, attr in ((TRAINING_ARGS, "training_args"), (LORA_CONFIG, "lora_config"),
                       (DATASET_CONFIG, "dataset_config")):
        if name not in ours:
            continue
        raw = _json(ours[name], name, errors, dict, "a JSON object of field names to values")
        if raw is None:
            continue
        before = len(errors)
        if name == DATASET_CONFIG:
            _check_dataset_config(raw, errors)
        else:
            errors.extend(check_fixed(attr, raw, annotation_path(name)))
        if len(errors) == before:
            setattr(spec, attr, raw)


def _parse_storage(ours: dict[str, str], spec: LLMSpec, errors: list[FieldError]) -> None:
    if VOLUME_CLAIM in ours:
        claim = ours[VOLUME_CLAIM].strip()
        if not _DNS1123.match(claim) or len(claim) > 253:
            errors.append(FieldError(annotation_path(VOLUME_CLAIM), "volume-claim.name",
                                     "must be the name of an existing PersistentVolumeClaim "
                                     "(lower-case DNS-1123 name)"))
        else:
            spec.volume_claim = claim
    for name, attr in ((RETAIN_VOLUME, "retain_volume"), (RETAIN_TRIALS, "retain_trials")):
        if name in ours:
            value = ours[name].strip().lower()
            if value not in ("true", "false"):
                errors.append(FieldError(annotation_path(name), "annotation.bool",
                                         f"must be \"true\" or \"false\", got {ours[name][:40]!r}"))
            setattr(spec, attr, value == "true")


def _parse_queue(ours: dict[str, str], spec: LLMSpec, errors: list[FieldError]) -> None:
    if QUEUE not in ours:
        return
    queue = ours[QUEUE].strip()
    if not _DNS1123.match(queue) or len(queue) > 63:
        errors.append(FieldError(annotation_path(QUEUE), "queue.name",
                                 f"must be the name of a Kueue LocalQueue in the Experiment's namespace "
                                 f"(lower-case DNS-1123 label), got {ours[QUEUE][:70]!r}"))
    else:
        spec.queue = queue


def _parse_tracking_secret(ours: dict[str, str], spec: LLMSpec, errors: list[FieldError]) -> None:
    if TRACKING_SECRET not in ours:
        return
    secret = ours[TRACKING_SECRET].strip()
    if not _DNS1123.match(secret) or len(secret) > 253:
        errors.append(FieldError(annotation_path(TRACKING_SECRET), "tracking-secret.name",
                                 "must be the name of a Secret in the Experiment's namespace "
                                 "(lower-case DNS-1123 name)"))
    else:
        spec.tracking_secret = secret


def _parse_limits(ours: dict[str, str], spec: LLMSpec, errors: list[FieldError]) -> None:
    """The budget and trial-active-deadline-seconds annotations (core/limits.py)."""
    if BUDGET in ours:
        spec.budget, found = parse_budget(ours[BUDGET], annotation_path(BUDGET))
        errors.extend(found)
    if TRIAL_DEADLINE in ours:
        spec.trial_deadline, found = parse_deadline(ours[TRIAL_DEADLINE], annotation_path(TRIAL_DEADLINE))
        errors.extend(found)


def _parse_function(ours: dict[str, str], spec: LLMSpec, errors: list[FieldError]) -> None:
    if FUNCTION in ours:
        spec.function = ours[FUNCTION]
    for name, attr in ((PACKAGES, "packages"), (PIP_INDEX_URLS, "pip_index_urls")):
        if name in ours:
            raw = _json(ours[name], name, errors, list, "a JSON list of strings")
            if raw is not None:
                if not all(isinstance(x, str) and x.strip() for x in raw):
                    errors.append(FieldError(annotation_path(name), "annotation.type",
                                             "must be a JSON list of non-empty strings"))
                else:
                    setattr(spec, attr, raw)
    if BASE_IMAGE in ours:
        image = ours[BASE_IMAGE].strip()
        if not image or any(c.isspace() for c in image):
            errors.append(FieldError(annotation_path(BASE_IMAGE), "annotation.image",
                                     "must be a container image reference without spaces"))
        spec.base_image = image


def _parse_env(ours: dict[str, str], spec: LLMSpec, errors: list[FieldError]) -> None:
    if ENV not in ours:
        return
    raw = _json(ours[ENV], ENV, errors, dict, 'a JSON object of environment variables, e.g. {"HF_HUB_OFFLINE": "1"}')
    for key, value in (raw or {}).items():
        if not _ENV_NAME.match(key) or not isinstance(value, (str, int, float, bool)):
            errors.append(FieldError(f"{annotation_path(ENV)}.{key}", "env.invalid",
                                     "environment variable names must match [-._a-zA-Z][-._a-zA-Z0-9]* "
                                     "and values must be strings or numbers"))
        else:
            spec.env[key] = str(value).lower() if isinstance(value, bool) else str(value)


def parse(annotations: Any, providers: set[str], max_workers: int = 64) -> tuple[LLMSpec, list[FieldError]]:
    """Read our annotations (an object's ``metadata.annotations``) into an :class:`LLMSpec`.

    Returns the spec and every error. Credentials are looked for first; when one is found only
    those errors are returned, so no other message can repeat the value."""
    spec = LLMSpec()
    ours, errors = _split_ours(annotations)
    if errors:
        return spec, errors
    errors = _credentials(ours)
    if errors:
        return spec, errors
    spec.given = set(ours)
    _parse_sources(ours, spec, providers, errors)
    _parse_shape(ours, spec, max_workers, errors)
    _parse_settings(ours, spec, errors)
    _parse_storage(ours, spec, errors)
    _parse_queue(ours, spec, errors)
    _parse_limits(ours, spec, errors)
    _parse_tracking_secret(ours, spec, errors)
    _parse_function(ours, spec, errors)
    _parse_env(ours, spec, errors)
    return spec, errors


def parse_annotations(experiment: dict[str, Any], providers: set[str],
                      max_workers: int = 64) -> tuple[LLMSpec, list[FieldError]]:
    """:func:`parse` of an Experiment's annotations."""
    meta = experiment.get("metadata") if isinstance(experiment, dict) else None
    annotations = (meta or {}).get("annotations") or {} if isinstance(meta, dict) else {}
    spec, errors = parse(annotations, providers, max_workers)
    if spec.given:  # parsed past the credential check: the local-only ones need the objective too
        _parse_local_only({name: annotations[annotation_key(name)] for name in spec.given},
                          experiment, spec, errors)
    return spec, errors


def parse_warm_start(raw: str, errors: list[FieldError]) -> list[str]:
    """The ``warm-start`` annotation: one earlier run, or a JSON list of them.

    A reference names an earlier run: locally its work dir (absolute, or relative to the
    current directory). Accepted: a non-empty string without control characters, at most 1024
    characters, at most ``WARM_START_MAX_REFERENCES`` of them, no duplicates.
    """
    path = annotation_path(WARM_START)
    form = 'an earlier run\'s work dir, or a JSON list of them such as ["runs/a", "runs/b"]'
    text = raw.strip()
    refs: Any = text
    if text.startswith("["):
        try:
            refs = json.loads(text)
        except ValueError as exc:
            errors.append(FieldError(path, "annotation.json", f"is not valid JSON ({exc}); expected {form}"))
            return []
    refs = refs if isinstance(refs, list) else [refs]
    bad = [r for r in refs if not isinstance(r, str) or not r.strip() or len(r) > 1024
           or any(ord(c) < 32 or ord(c) == 127 for c in r)]
    if not refs or bad:
        errors.append(FieldError(path, "warm-start.reference",
                                 f"must be {form} (non-empty strings of at most 1024 characters, no control "
                                 f"characters); got {raw[:200]!r}"))
        return []
    if len(refs) > WARM_START_MAX_REFERENCES or len(set(refs)) != len(refs):
        errors.append(FieldError(path, "warm-start.count", f"at most {WARM_START_MAX_REFERENCES} distinct "
                                                           f"earlier runs, got {len(refs)} ({len(set(refs))} distinct)"))
        return []
    return [r.strip() for r in refs]


def parse_objectives(raw: str, objective: Any, errors: list[FieldError]) -> list[tuple[str, str]]:
    """The ``objectives`` annotation: ``"eval_loss:minimize,train_seconds:minimize"``.

    Every metric must be ``spec.objective.objectiveMetricName`` or one of its
    ``additionalMetricNames``; directions are ``minimize`` / ``maximize``. The objective metric
    is the primary objective, always first, with ``spec.objective.type`` as its direction (it
    may be omitted from the list; listed with another direction is an error). At least two and
    at most ``MAX_OBJECTIVES`` distinct metrics.
    """
    path = annotation_path(OBJECTIVES)
    objective = objective if isinstance(objective, dict) else {}
    primary = objective.get("objectiveMetricName")
    primary_dir = "maximize" if objective.get("type") == "maximize" else "minimize"
    known = [primary, *(objective.get("additionalMetricNames") or [])]
    pairs: list[tuple[str, str]] = []
    for item in [x.strip() for x in raw.split(",") if x.strip()]:
        name, _, direction = item.rpartition(":")
        name, direction = name.strip(), direction.strip()
        if not name or direction not in ("minimize", "maximize"):
            errors.append(FieldError(path, "objectives.format", f"{item!r}: each objective is metric:direction with "
                                     "direction minimize or maximize, e.g. \"eval_loss:minimize,eval_runtime:minimize\""))
        elif name not in known:
            errors.append(FieldError(path, "objectives.metric", f"{name!r} is neither spec.objective.objectiveMetricName "
                                     "nor in spec.objective.additionalMetricNames; accepted: " + ", ".join(map(str, known))))
        elif name == primary and direction != primary_dir:
            errors.append(FieldError(path, "objectives.direction", f"{name} is the objective metric: its direction is "
                                     f"spec.objective.type ({primary_dir}), got {direction}"))
        else:
            pairs.append((name, direction))
    if errors:
        return []
    if primary not in [n for n, _ in pairs]:
        pairs.insert(0, (primary, primary_dir))
    pairs.sort(key=lambda p: p[0] != primary)  # the primary first, the others in the given order
    names = [n for n, _ in pairs]
    if len(set(names)) != len(names) or not 2 <= len(names) <= MAX_OBJECTIVES:
        errors.append(FieldError(path, "objectives.count", f"needs 2 to {MAX_OBJECTIVES} distinct metrics (the "
                                 f"objective metric included), got {names}"))
        return []
    return pairs



def _parse_local_only(ours: dict[str, str], experiment: dict[str, Any], spec: LLMSpec,
                      errors: list[FieldError]) -> None:
    """Annotations only the local backend honours: parsed here, denied for a cluster."""
    if WARM_START in ours:
        # Katib hands a suggestion service only this Experiment and its own Trials
        # (GetSuggestionsRequest); seeding from another Experiment would need a suggestion
        # service of our own with read access to Experiments, which is not built. The local
        # runner takes the annotation out before admission (katib_llm.local.warmstart).
        spec.warm_start = parse_warm_start(ours[WARM_START], errors)
        if spec.warm_start:
            errors.append(FieldError(annotation_path(WARM_START), "warm-start.local-only",
                                     "warm start runs only on the local backend (katib-llm tune --local, "
                                     "KatibClient(backend=\"local\")): Katib's suggestion API gives an algorithm "
                                     "only this Experiment's own trials; remove the annotation to submit to a cluster"))
    if OBJECTIVES in ours:
        # Katib optimizes one objective (spec.objective); its suggestion and early-stopping
        # services know no others. The local runner takes it out before admission.
        exp_spec = experiment.get("spec")
        spec.objectives = parse_objectives(ours[OBJECTIVES], exp_spec.get("objective") if isinstance(exp_spec, dict)
                                           else None, errors)
        if spec.objectives:
            errors.append(FieldError(annotation_path(OBJECTIVES), "objectives.local-only",
                                     "several objectives run only on the local backend: Katib optimizes "
                                     "spec.objective alone; remove the annotation to submit to a cluster"))


def experiment_limits(experiment: dict[str, Any]) -> tuple[Budget | None, int | None, int]:
    """(budget, trial deadline seconds, GPUs per trial) of an admitted Experiment, for the runners."""
    spec, _ = parse_annotations(experiment, set())  # admitted already: errors (e.g. URI schemes) do not matter
    gpus = (spec.resources.gpu if spec.resources else 0) * spec.workers
    return spec.budget, spec.trial_deadline, gpus


def _json_text(value: Any) -> str:
    # default=str: a value JSON cannot hold becomes its text, for parse to judge (never a crash).
    if isinstance(value, dict):
        value = {str(k): v for k, v in value.items()}
    return json.dumps(value, sort_keys=True, default=str)


def render(spec: LLMSpec) -> dict[str, str]:
    """Our annotations (full keys) for ``spec``: every field that differs from its default or was given.

    ``parse(render(spec))`` gives ``spec`` back (for a valid spec); the SDK builds Experiments this way."""
    default = LLMSpec()
    fields: list[tuple[str, Any, Any]] = [
        (MODEL, spec.model.raw if spec.model else None, None),
        (MODEL_CLASS, spec.model_class, default.model_class),
        (MODEL_PARAMETERS, str(spec.model_parameters) if spec.model_parameters else None, None),
        (DATASET, spec.dataset.raw if spec.dataset else None, None),
        (DATASET_CONFIG, _json_text(spec.dataset_config) if spec.dataset_config else None, None),
        (TRIAL_TEMPLATE, spec.trial_template, None),
        (WORKERS, str(spec.workers), str(default.workers)),
        (PROCS_PER_WORKER, str(spec.procs_per_worker), str(default.procs_per_worker)),
        (RESOURCES_PER_WORKER, _render_resources(spec.resources), None),
        (TRAINING_ARGS, _json_text(spec.training_args) if spec.training_args else None, None),
        (LORA_CONFIG, _json_text(spec.lora_config) if spec.lora_config else None, None),
        (VOLUME_CLAIM, spec.volume_claim, None),
        (RETAIN_VOLUME, "true" if spec.retain_volume else None, None),
        (RETAIN_TRIALS, "true" if spec.retain_trials else None, None),
        (FUNCTION, spec.function, None),
        (PACKAGES, _json_text(spec.packages) if spec.packages else None, None),
        (PIP_INDEX_URLS, _json_text(spec.pip_index_urls) if spec.pip_index_urls else None, None),
        (BASE_IMAGE, spec.base_image, None),
        (ENV, _json_text(spec.env) if spec.env else None, None),
        (QUEUE, spec.queue, None),
        (TRACKING_SECRET, spec.tracking_secret, None),
        (BUDGET, spec.budget.to_json() if spec.budget else None, None),
        (TRIAL_DEADLINE, str(spec.trial_deadline) if spec.trial_deadline is not None else None, None),
    ]
    return {annotation_key(name): value for name, value, unset in fields
            if value is not None and (value != unset or name in spec.given)}


def _render_resources(res: Resources | None) -> str | None:
    if res is None:
        return None
    out: dict[str, Any] = {"gpu": res.gpu} if res.gpu else {}
    out.update({k: v for k, v in (("cpu", res.cpu), ("memory", res.memory)) if v is not None})
    return _json_text(out) if out else None
