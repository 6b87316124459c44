"""The user-facing contract: the selector label and the annotations under our prefix.

Everything a data scientist says about an LLM tuning Experiment is said here. Parsing is pure
and returns every error with the annotation it concerns.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import FieldError
from .uris import StorageURI, parse_uri

GROUP = "llm.katib.kubeflow.org"
LABEL = f"{GROUP}/tune"
LABEL_VALUE = "true"
PREFIX = f"{GROUP}/"

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
    PACKAGES, PIP_INDEX_URLS, BASE_IMAGE, ENV, ADMITTED, WARM_START, OBJECTIVES,
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
_QUANTITY = re.compile(r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$")


def annotation_path(name: str) -> str:
    return f"metadata.annotations[{PREFIX}{name}]"


def is_labelled(experiment: Any) -> bool:
    meta = experiment.get("metadata") if isinstance(experiment, dict) else None
    labels = meta.get("labels") if isinstance(meta, dict) else None
    return isinstance(labels, dict) and labels.get(LABEL) == LABEL_VALUE


@dataclass
class Resources:
    """Per-worker resources, already normalised to Kubernetes quantity strings."""

    gpu: int = 0
    cpu: str | None = None
    memory: str | None = None


@dataclass
class LLMSpec:
    """The annotations, parsed and typed."""

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
    warm_start: list[str] = field(default_factory=list)
    objectives: list[tuple[str, str]] = field(default_factory=list)
    # Annotation names the user actually set (defaults must not override a user's own spec).
    given: set[str] = field(default_factory=set)


def _check_dataset_config(raw: dict[str, Any], errors: list[FieldError]) -> None:
    """Known keys with values of the right JSON type (null allowed: the runtime default)."""
    for key, value in raw.items():
        types = DATASET_CONFIG_KEYS.get(key)
        if types is None:
            errors.append(FieldError(annotation_path(DATASET_CONFIG), "dataset-config.key",
                                     f"unknown key {key!r}; accepted: " + ", ".join(sorted(DATASET_CONFIG_KEYS))))
        elif value is not None and (isinstance(value, bool) or not isinstance(value, types)):
            errors.append(FieldError(annotation_path(DATASET_CONFIG), "dataset-config.type",
                                     f"{key} takes a {types[0].__name__}, got {value!r}"))


def _json(raw: str, name: str, errors: list[FieldError], expect: type, form: str) -> Any:
    try:
        value = json.loads(raw)
    except (ValueError, TypeError) as exc:
        errors.append(FieldError(annotation_path(name), "annotation.json",
                                 f"is not valid JSON ({exc}); expected {form}"))
        return None
    if not isinstance(value, expect):
        errors.append(FieldError(annotation_path(name), "annotation.type",
                                 f"must be {form}, got {type(value).__name__}"))
        return None
    return value


def _positive_int(raw: str, name: str, errors: list[FieldError], limit: int) -> int | None:
    text = raw.strip()
    if not text.isdigit() or not 1 <= int(text) <= limit:
        errors.append(FieldError(annotation_path(name), "annotation.int",
                                 f"must be an integer between 1 and {limit}, got {raw!r}"))
        return None
    return int(text)


def quantity(value: Any) -> str | None:
    """Turn a number or quantity string into a Kubernetes quantity string (None if invalid).

    The seed writes ``{"cpu": 5, "memory": "10G"}``; kubernetes 37's models reject raw
    numbers (brief, trap 2), so numbers become strings here.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value) if value >= 0 else None
    if isinstance(value, float):
        if value < 0 or value != value or value in (float("inf"),):
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str) and _QUANTITY.match(value.strip()):
        text = value.strip()
        try:
            if float(re.match(r"^[+-]?[0-9.]+", text).group(0)) < 0:  # type: ignore[union-attr]
                return None
        except ValueError:
            return None
        return text
    return None


def parse_resources(raw: Any, path: str, errors: list[FieldError]) -> Resources | None:
    """Parse ``{"gpu": 2, "cpu": 5, "memory": "10G"}`` (numbers or quantity strings)."""
    form = 'a JSON object like {"gpu": 2, "cpu": 5, "memory": "10G"}'
    if not isinstance(raw, dict):
        errors.append(FieldError(path, "resources.type", f"must be {form}"))
        return None
    res = Resources()
    ok = True
    for key, value in raw.items():
        if key == "gpu":
            if isinstance(value, bool) or not isinstance(value, (int, float, str)):
                ok = False
            else:
                try:
                    as_float = float(value)
                    ok = as_float >= 0 and as_float.is_integer()
                    res.gpu = int(as_float) if ok else 0
                except ValueError:
                    ok = False
            if not ok:
                errors.append(FieldError(f"{path}.gpu", "resources.gpu",
                                         f"must be a whole number of GPUs >= 0, got {value!r}"))
                return None
        elif key in ("cpu", "memory"):
            q = quantity(value)
            if q is None:
                example = '5 or "500m"' if key == "cpu" else '"10G" or "16Gi"'
                errors.append(FieldError(f"{path}.{key}", "resources.quantity",
                                         f"must be a number or Kubernetes quantity such as "
                                         f"{example}, got {value!r}"))
                return None
            setattr(res, key, q)
        else:
            errors.append(FieldError(f"{path}.{key}", "resources.unknown",
                                     "unknown resource; accepted keys are gpu, cpu, memory"))
            return None
    return res


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


def parse_annotations(experiment: dict[str, Any], providers: set[str],
                      max_workers: int = 64) -> tuple[LLMSpec, list[FieldError]]:
    """Read our annotations into an :class:`LLMSpec`, collecting every error."""
    meta = experiment.get("metadata") or {}
    annotations = meta.get("annotations") or {}
    errors: list[FieldError] = []
    spec = LLMSpec()
    if not isinstance(annotations, dict):
        return spec, [FieldError("metadata.annotations", "annotation.type", "must be a map of strings")]
    ours = {k[len(PREFIX):]: v for k, v in annotations.items()
            if isinstance(k, str) and k.startswith(PREFIX)}
    for name, raw in ours.items():
        if name not in KNOWN_ANNOTATIONS:
            known = ", ".join(sorted(KNOWN_ANNOTATIONS - {ADMITTED}))
            errors.append(FieldError(annotation_path(name), "annotation.unknown",
                                     f"unknown annotation; known names under {PREFIX} are: {known}"))
        elif not isinstance(raw, str):
            errors.append(FieldError(annotation_path(name), "annotation.type", "must be a string"))
    if errors:
        return spec, errors
    spec.given = set(ours)

    if MODEL in ours:
        spec.model = parse_uri(ours[MODEL], annotation_path(MODEL), "model", providers, errors)
    if DATASET in ours:
        spec.dataset = parse_uri(ours[DATASET], annotation_path(DATASET), "dataset", providers, errors)
    if MODEL_CLASS in ours:
        value = ours[MODEL_CLASS].strip().removeprefix("transformers.")
        if value not in SUPPORTED_MODEL_CLASSES:
            errors.append(FieldError(annotation_path(MODEL_CLASS), "model-class.unknown",
                                     f"unknown model class {ours[MODEL_CLASS]!r}; accepted: "
                                     + ", ".join(SUPPORTED_MODEL_CLASSES)))
        else:
            spec.model_class = value
    if MODEL_PARAMETERS in ours:
        from .feasibility import parse_parameter_count

        spec.model_parameters = parse_parameter_count(ours[MODEL_PARAMETERS])
        if spec.model_parameters is None:
            errors.append(FieldError(annotation_path(MODEL_PARAMETERS), "model-parameters.format",
                                     f"must be a parameter count such as \"7B\", \"1.5B\", \"125M\" or "
                                     f"\"6738415616\", got {ours[MODEL_PARAMETERS]!r}"))
    if TRIAL_TEMPLATE in ours:
        spec.trial_template = ours[TRIAL_TEMPLATE].strip()
    if WORKERS in ours:
        spec.workers = _positive_int(ours[WORKERS], WORKERS, errors, max_workers) or 1
    if PROCS_PER_WORKER in ours:
        spec.procs_per_worker = _positive_int(ours[PROCS_PER_WORKER], PROCS_PER_WORKER, errors, 64) or 1
    if RESOURCES_PER_WORKER in ours:
        raw = _json(ours[RESOURCES_PER_WORKER], RESOURCES_PER_WORKER, errors, dict,
                    'a JSON object like {"gpu": 2, "cpu": 5, "memory": "10G"}')
        if raw is not None:
            spec.resources = parse_resources(raw, annotation_path(RESOURCES_PER_WORKER), errors)
    for name, attr in ((TRAINING_ARGS, "training_args"), (LORA_CONFIG, "lora_config"),
                       (DATASET_CONFIG, "dataset_config")):
        if name in ours:
            raw = _json(ours[name], name, errors, dict, "a JSON object of field names to values")
            if raw is not None and name == DATASET_CONFIG:
                _check_dataset_config(raw, errors)
            if raw is not None:
                setattr(spec, attr, raw)
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
                                         f"must be \"true\" or \"false\", got {ours[name]!r}"))
            setattr(spec, attr, value == "true")
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
    if ENV in ours:
        raw = _json(ours[ENV], ENV, errors, dict, 'a JSON object of environment variables, e.g. {"HF_HUB_OFFLINE": "1"}')
        if raw is not None:
            for key, value in raw.items():
                if not _ENV_NAME.match(key) or not isinstance(value, (str, int, float, bool)):
                    errors.append(FieldError(f"{annotation_path(ENV)}.{key}", "env.invalid",
                                             "environment variable names must match [-._a-zA-Z][-._a-zA-Z0-9]* "
                                             "and values must be strings or numbers"))
                elif key.upper().startswith(("AWS_SECRET", "HF_TOKEN")) or "PASSWORD" in key.upper():
                    errors.append(FieldError(f"{annotation_path(ENV)}.{key}", "env.credential",
                                             "credentials never travel in the Experiment: ask your admin "
                                             "to set the provider's credentials Secret instead"))
                else:
                    spec.env[key] = str(value).lower() if isinstance(value, bool) else str(value)
    _parse_local_only(ours, experiment, spec, errors)
    return spec, errors


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
