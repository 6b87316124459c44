"""The user-facing contract: the selector label and the annotations under our prefix.

Everything a data scientist says about an LLM tuning Experiment is said here, in both
directions. :data:`ANNOTATIONS` is the contract as data: for every annotation its name, the kind
of value it holds, the :class:`LLMSpec` attribute it fills, the ``tune()`` argument that sets it,
whether only the local backend honours it, and its documentation line. From that one table come
:data:`KNOWN_ANNOTATIONS`, :func:`parse` (typed :class:`LLMSpec` and every error with the
annotation it concerns), :func:`render` (an :class:`LLMSpec` back as annotations; the SDK writes
annotations only through it), the SDK's argument map (``katib_llm.sdk.arguments``) and the
annotation table of ``docs/contract.md`` (``scripts/gen_contract_doc.py``). Every name under
``llm.katib.kubeflow.org/`` is defined here and nowhere else; every value is read by a parser of
``core/values.py``.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from typing import Any, Callable

from . import credentials, dataset_config
from . import values as v
from .errors import FieldError
from .limits import Budget
from .numbers import check_json_numbers
from .params import LORA_FIELDS, TRAINING_FIELDS, check_fixed
from .quantity import MIN_UNITLESS_MEMORY, split, unitless
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

# Annotation names (without the prefix): each is written once, here, and used by the table below.
MODEL = "model"
MODEL_CLASS = "model-class"
MODEL_PARAMETERS = "model-parameters"
DATASET = "dataset"
DATASET_CONFIG = "dataset-config"
TRIAL_TEMPLATE = "trial-template"
WORKERS = "workers"
PROCS_PER_WORKER = "procs-per-worker"
RESOURCES_PER_WORKER = "resources-per-worker"
TRAINING_ARGS = "training-args"
LORA_CONFIG = "lora-config"
VOLUME_CLAIM = "volume-claim"
RETAIN_VOLUME = "retain-volume"
RETAIN_TRIALS = "retain-trials"
FUNCTION = "function"
PACKAGES = "packages-to-install"
PIP_INDEX_URLS = "pip-index-urls"
BASE_IMAGE = "base-image"
ENV = "env"
QUEUE = "queue"
BUDGET = "budget"
TRIAL_DEADLINE = "trial-active-deadline-seconds"
TRACKING_SECRET = "tracking-secret"
WARM_START = "warm-start"
OBJECTIVES = "objectives"
ADMITTED = "admitted"

WARM_START_MAX_REFERENCES = 32
MAX_OBJECTIVES = 8
MAX_PROCS_PER_WORKER = 64
MAX_DEADLINE = 366 * 24 * 3600
MAX_GPU_HOURS = 1e9
MAX_LIST_ITEMS = 256
# The keys of the dataset-config annotation (the runtime's DatasetConfig reads the same table).
DATASET_CONFIG_KEYS = dataset_config.KEYS

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

_RESOURCES_FORM = 'a JSON object like {"gpu": 2, "cpu": 5, "memory": "10G"}'
_SETTINGS_FORM = "a JSON object of field names to values"
_ENV_FORM = 'a JSON object of environment variables, e.g. {"HF_HUB_OFFLINE": "1"}'
BUDGET_FORM = ('a JSON object with any of train_steps (integer > 0), wall_clock ("6h", "90m", "1h30m" or '
               'seconds > 0) and gpu_hours (number > 0), e.g. {"train_steps": 20000, "wall_clock": "6h"}')
BUDGET_KEYS: dict[str, v.Key] = {
    "train_steps": v.Key(v.json_int(1, int(v.MAX_MAGNITUDE)), "an integer > 0", nullable=False),
    "wall_clock": v.Key(v.duration, v.DURATION_FORM, nullable=False),
    "gpu_hours": v.Key(v.json_float(0.0, MAX_GPU_HOURS, open_low=True), "a number > 0", nullable=False),
}
# Known fields whose names look credential-like but whose values are not credentials.
_NOT_CREDENTIALS = {k for k, f in {**TRAINING_FIELDS, **LORA_FIELDS}.items() if f.get("type") != "str"}


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
    return {k[len(PREFIX):]: val for k, val in annotations.items() if isinstance(k, str) and k.startswith(PREFIX)}


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


@dataclass
class _Parse:
    """What one annotation's parser needs: where to report, and the admission's context."""

    name: str
    errors: list[FieldError]
    providers: set[str]
    max_workers: int
    objective: Any = None

    @property
    def path(self) -> str:
        return annotation_path(self.name)

    def deny(self, code: str, message: str, key: str | None = None) -> None:
        self.errors.append(FieldError(self.path + (f".{key}" if key is not None else ""), code, message))


Parser = Callable[[str, _Parse], Any]
Renderer = Callable[[Any], "str | None"]


@dataclass(frozen=True)
class Annotation:
    """One annotation of the contract.

    ``kind`` names the value kind (the parser of ``core/values.py`` it goes through); ``code`` is
    the denial code of a value not of that kind (JSON annotations report per key as well);
    ``argument`` is the ``tune()`` argument that sets it (None: tune() does not) and
    ``key_form`` how a key inside it is written in that argument (``.`` → ``arg.key``,
    ``[]`` → ``arg['key']``); ``attr`` is the :class:`LLMSpec` attribute (None: written by the core
    itself). ``doc``, ``form`` and ``default`` are the documentation row."""

    name: str
    kind: str
    code: str
    attr: str | None
    argument: str | None
    doc: str
    form: str
    default: str
    parse: Parser
    render: Renderer
    key_form: str = "."
    local_only: bool = False


# ---- parsers of annotation values (each through a parser of core/values.py) ----------------


def _value(kind: Callable[[Any], Any], code: str) -> Parser:
    """An annotation whose whole text is one value of ``kind``; one error with ``code`` if not."""
    def parse(raw: str, ctx: _Parse) -> Any:
        try:
            return kind(raw)
        except v.Invalid as exc:
            ctx.deny(code, str(exc))
            return None
    return parse


def _json(raw: str, ctx: _Parse, expect: type, form: str) -> Any:
    """JSON text of type ``expect`` whose numbers are finite and bounded, else None (errors reported)."""
    try:
        value = v.json_text(raw, form)
    except v.Invalid as exc:
        ctx.deny("annotation.json", str(exc))
        return None
    if not isinstance(value, expect):
        ctx.deny("annotation.type", f"must be {form}, got {type(value).__name__}")
        return None
    before = len(ctx.errors)
    check_json_numbers(value, ctx.path, ctx.errors)
    return value if len(ctx.errors) == before else None


def _uri(kind: str) -> Parser:
    def parse(raw: str, ctx: _Parse) -> StorageURI | None:
        return parse_uri(raw, ctx.path, kind, ctx.providers, ctx.errors)
    return parse


def _model_class(raw: str, ctx: _Parse) -> str | None:
    value = raw.strip(" \t\r\n").removeprefix("transformers.")
    if value in SUPPORTED_MODEL_CLASSES:
        return value
    hint = difflib.get_close_matches(value, SUPPORTED_MODEL_CLASSES, n=1) if len(value) <= 64 else []
    ctx.deny("model-class.unknown", f"unknown model class {v.shown(raw, 80)}" + (f"; did you mean {hint[0]}?" if hint
                                    else "") + "; accepted: " + ", ".join(SUPPORTED_MODEL_CLASSES))
    return None


def _workers(raw: str, ctx: _Parse) -> Any:
    return _value(lambda x: v.decimal_int(x, 1, ctx.max_workers, digits_only=True), "annotation.int")(raw, ctx)


def _procs(raw: str, ctx: _Parse) -> Any:
    return _value(lambda x: v.decimal_int(x, 1, MAX_PROCS_PER_WORKER, digits_only=True), "annotation.int")(raw, ctx)


def _deadline(raw: str, ctx: _Parse) -> Any:
    try:
        return v.decimal_int(raw, 1, MAX_DEADLINE, digits_only=True)
    except v.Invalid:
        ctx.deny("trial-deadline.invalid", f"must be a whole number of seconds from 1 to {MAX_DEADLINE} "
                                           f"(ASCII digits), got {v.shown(raw)}")
        return None


def _resources(raw: str, ctx: _Parse) -> Resources | None:
    obj = _json(raw, ctx, dict, _RESOURCES_FORM)
    return parse_resources(obj, ctx.path, ctx.errors) if obj is not None else None


def _settings(section: str) -> Parser:
    """training-args / lora-config: a JSON object typed by the trainer's field tables (core/params.py)."""
    def parse(raw: str, ctx: _Parse) -> dict[str, Any] | None:
        obj = _json(raw, ctx, dict, _SETTINGS_FORM)
        if obj is None:
            return None
        found = check_fixed(section, obj, ctx.path)
        ctx.errors.extend(found)
        return None if found else obj
    return parse


def _dataset_config(raw: str, ctx: _Parse) -> dict[str, Any] | None:
    obj = _json(raw, ctx, dict, _SETTINGS_FORM)
    if obj is None:
        return None
    _, problems = dataset_config.check(obj)
    for key, problem, message in problems:
        if problem == "unknown":
            hint = difflib.get_close_matches(key, list(DATASET_CONFIG_KEYS), n=1) if len(key) <= 64 else []
            ctx.deny("dataset-config.key", f"unknown key {v.shown(key)}" + (f"; did you mean {hint[0]}?" if hint
                     else "") + "; accepted: " + ", ".join(sorted(DATASET_CONFIG_KEYS)), key)
        else:
            ctx.deny("dataset-config.type", message, key)
    return None if problems else obj


def _strings(check: Callable[[str], str] | None = None) -> Parser:
    """A JSON list of non-empty strings (each checked by ``check``)."""
    def parse(raw: str, ctx: _Parse) -> Any:
        items = _json(raw, ctx, list, "a JSON list of strings")
        if items is None:
            return None
        if len(items) > MAX_LIST_ITEMS or not all(isinstance(x, str) and x.strip() and len(x) <= v.MAX_URI
                                                  and not v.has_control(x) for x in items):
            ctx.deny("annotation.type", f"must be a JSON list of at most {MAX_LIST_ITEMS} non-empty strings "
                                        "without control characters")
            return None
        for i, item in enumerate(items):
            try:
                check(item) if check else None
            except v.Invalid as exc:
                ctx.errors.append(FieldError(f"{ctx.path}[{i}]", "annotation.type", str(exc)))
        return items
    return parse


def _index_url(text: str) -> str:
    found = v.scheme_of(v.uri_text(text))
    if found is None or found[0] not in ("http", "https", "file") or not found[1]:
        raise v.Invalid("must be a package index URL such as https://pypi.org/simple")
    return text


def _env(raw: str, ctx: _Parse) -> dict[str, str] | None:
    obj = _json(raw, ctx, dict, _ENV_FORM)
    if obj is None:
        return None
    env: dict[str, str] = {}
    for key, value in obj.items():
        try:
            v.env_name(key)
        except v.Invalid:
            ok = False
        else:
            ok = isinstance(value, (str, int, float, bool)) and not (isinstance(value, str) and len(value) > v.MAX_JSON_TEXT)
        if not ok:
            ctx.deny("env.invalid", f"environment variable names must be {v.ENV_NAME_FORM} "
                                    "and values must be strings or numbers", str(key)[:256])
        else:
            env[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return env if len(env) == len(obj) else None


def _budget(raw: str, ctx: _Parse) -> Budget | None:
    obj = _json(raw, ctx, dict, BUDGET_FORM)
    if obj is None:
        return None
    parsed, problems = v.object_keys(obj, BUDGET_KEYS)
    unknown = sorted(key[:40] for key, problem, _ in problems if problem == "unknown")
    if not obj or problems:
        key = problems[0][0] if problems else ""
        what = ("must be a non-empty JSON object" if not obj else f"unknown key(s) {unknown}" if unknown
                else f"{key} must be {BUDGET_KEYS[key].form}, got {v.shown(obj[key])}")
        ctx.deny("budget.invalid", f"{what}; expected {BUDGET_FORM}")
        return None
    return Budget(parsed.get("train_steps"), parsed.get("wall_clock"), parsed.get("gpu_hours"))


def _text(limit: int) -> Callable[[Any], str]:
    """Free text (a template name, the function's encoding): bounded, trimmed, no control characters."""
    def parse(raw: Any) -> str:
        if not isinstance(raw, str) or len(raw) > limit or v.has_control(raw.strip(" \t\r\n")):
            raise v.Invalid(f"must be text of at most {limit} characters without control characters")
        return raw.strip(" \t\r\n")
    return parse


def parse_parameter_count(text: Any) -> int | None:
    """``"7B"`` → 7e9, ``"125m"`` → 1.25e8, ``"6738415616"`` → itself; None if not a count."""
    try:
        return v.parameter_count(text)
    except v.Invalid:
        return None


def _local_only(raw: str, ctx: _Parse, parse: Callable[[str, _Parse], list[Any]], why: str, code: str) -> list[Any]:
    """Annotations only the local backend honours: parsed, then denied for a cluster (the local
    runner takes them out before it admits the Experiment)."""
    found = parse(raw, ctx)
    if found:
        ctx.deny(code, why)
    return found


# Katib hands a suggestion service only this Experiment and its own Trials (GetSuggestionsRequest);
# seeding from another Experiment would need a suggestion service of our own with read access to
# Experiments, which is not built. Katib optimizes one objective (spec.objective); its suggestion
# and early-stopping services know no others.
_WARM_LOCAL = ("warm start runs only on the local backend (katib-llm tune --local, KatibClient(backend=\"local\")): "
               "Katib's suggestion API gives an algorithm only this Experiment's own trials; remove the annotation "
               "to submit to a cluster")
_OBJECTIVES_LOCAL = ("several objectives run only on the local backend: Katib optimizes spec.objective alone; "
                     "remove the annotation to submit to a cluster")


def _json_text(value: Any) -> str:
    # default=str: a value JSON cannot hold becomes its text, for parse to judge (never a crash).
    if isinstance(value, dict):
        value = {str(k): item for k, item in value.items()}
    return json.dumps(value, sort_keys=True, default=str)


def _render_resources(res: Resources | None) -> str | None:
    if res is None:
        return None
    out: dict[str, Any] = {"gpu": res.gpu} if res.gpu else {}
    out.update({k: val for k, val in (("cpu", res.cpu), ("memory", res.memory)) if val is not None})
    return _json_text(out) if out else None


def _as_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _as_json(value: Any) -> str | None:
    return _json_text(value) if value else None


def _as_bool(value: Any) -> str | None:
    return "true" if value else "false"


def _no_render(_value: Any) -> None:
    return None


_URI_FORM = ("`hf://<repo>[@<revision>]`, `s3://<bucket>/<prefix>`, `file:///<abs dir>`, `pkg://<python package>/"
             "<dir>`, or `<scheme>://…` of a registered custom provider")

ANNOTATIONS: tuple[Annotation, ...] = (
    Annotation(MODEL, "uri", "uri.form", "model", "model_provider_parameters", "model to fine-tune", _URI_FORM,
               "required for the trainer", _uri("model"), lambda u: u.raw if u else None),
    Annotation(MODEL_CLASS, "choice", "model-class.unknown", "model_class", "model_provider_parameters.transformer_type",
               "transformers Auto class", "`AutoModelForSequenceClassification`, `AutoModelForCausalLM` (trained end to "
               "end); `AutoModelForTokenClassification`, `AutoModelForSeq2SeqLM`, `AutoModelForQuestionAnswering`, "
               "`AutoModel` accepted for custom entrypoints", f"`{DEFAULT_MODEL_CLASS}`", _model_class, _as_text),
    Annotation(DATASET, "uri", "uri.form", "dataset", "dataset_provider_parameters", "dataset",
               "as `model`, plus `?split=<HF split>` (e.g. `train[:3000]`), `?config=<name>`",
               "required for the trainer", _uri("dataset"), lambda u: u.raw if u else None),
    Annotation(DATASET_CONFIG, "json-object", "dataset-config.type", "dataset_config", "dataset_config",
               "JSON: how to read the dataset", "keys " + ", ".join(f"`{k}`" for k in dataset_config.KEYS)
               + ', e.g. `{"text_column": "text", "label_column": "label", "eval_split": "test", "max_length": 128}`',
               "runtime defaults", _dataset_config, _as_json, key_form="[]"),
    Annotation(TRIAL_TEMPLATE, "text", "annotation.type", "trial_template", "trial_template", "which shipped template",
               "a file name in `trial-templates/` without `.yaml`", "admin's `defaultTemplate` (`hf-lora-pytorchjob`)",
               _value(_text(253), "annotation.type"), _as_text),
    Annotation(WORKERS, "integer", "annotation.int", "workers", "num_workers", "pods per trial, master included",
               "integer 1…admin `maxWorkers`", "1", _workers, _as_text),
    Annotation(PROCS_PER_WORKER, "integer", "annotation.int", "procs_per_worker", "num_procs_per_worker",
               "processes per pod (torchrun `--nproc-per-node`)", f"integer 1…{MAX_PROCS_PER_WORKER}", "1", _procs,
               _as_text),
    Annotation(RESOURCES_PER_WORKER, "json-object", "resources.type", "resources", "resources_per_worker",
               "JSON: gpu, cpu, memory per pod", '`{"gpu": 2, "cpu": 5, "memory": "10G"}` — numbers or quantity strings',
               "admin `defaultResourcesPerWorker`", _resources, _render_resources),
    Annotation(TRAINING_ARGS, "json-object", "fixed-field.type", "training_args", "trainer_parameters.training_parameters",
               "JSON of fixed (untuned) TrainingArguments fields", '`{"save_strategy": "no"}`', "—",
               _settings("training_args"), _as_json),
    Annotation(LORA_CONFIG, "json-object", "fixed-field.type", "lora_config", "trainer_parameters.lora_config",
               "JSON of fixed LoraConfig fields", '`{"lora_alpha": 8, "lora_dropout": 0.1}`', "—",
               _settings("lora_config"), _as_json),
    Annotation(VOLUME_CLAIM, "dns-1123-subdomain", "volume-claim.name", "volume_claim", "storage_config.claim_name",
               "use an existing PVC (e.g. a namespace-wide cache)", "PVC name (DNS-1123 subdomain)",
               "a per-experiment claim `<experiment>-llm-cache`", _value(v.dns1123_subdomain, "volume-claim.name"),
               _as_text),
    Annotation(RETAIN_VOLUME, "boolean", "annotation.bool", "retain_volume", "storage_config.retain",
               "keep the per-experiment claim after the Experiment is deleted", '`"true"` / `"false"`', '`"false"`',
               _value(v.boolean, "annotation.bool"), _as_bool),
    Annotation(RETAIN_TRIALS, "boolean", "annotation.bool", "retain_trials", "retain_trials",
               "keep trial jobs and pods (sets `spec.trialTemplate.retain`)", '`"true"` / `"false"`', '`"false"`',
               _value(v.boolean, "annotation.bool"), _as_bool),
    Annotation(MODEL_PARAMETERS, "parameter-count", "model-parameters.format", "model_parameters", None,
               "model size for the GPU-memory feasibility pre-check ([advanced](advanced.md))",
               '`"7B"`, `"1.5B"`, `"125M"`', "parsed from the model repo name (`-7b`), else no check",
               _value(v.parameter_count, "model-parameters.format"), lambda n: str(n) if n else None),
    Annotation(QUEUE, "dns-1123-label", "queue.name", "queue", "queue",
               "Kueue LocalQueue of the trial jobs (label `kueue.x-k8s.io/queue-name`)",
               "LocalQueue name (DNS-1123 label) in the Experiment's namespace", "admin's `kueue.localQueue` (none)",
               _value(v.dns1123_label, "queue.name"), _as_text),
    Annotation(ENV, "json-object", "env.invalid", "env", "env_per_trial",
               "JSON of extra environment variables for trial containers",
               '`{"HF_HUB_OFFLINE": "1"}` — credentials are refused: use Secrets', "—", _env, _as_json, key_form="[]"),
    Annotation(BUDGET, "json-object", "budget.invalid", "budget", "budget",
               "JSON: what the whole Experiment may spend ([below](#budget-and-trial-deadline))",
               'any of `{"train_steps": 20000, "wall_clock": "6h", "gpu_hours": 40}`; `wall_clock` as `"6h"`, `"90m"`, '
               '`"1h30m"`, `"45s"`, `"2d"` or seconds', "no limit", _budget,
               lambda b: b.to_json() if b else None),
    Annotation(TRIAL_DEADLINE, "integer", "trial-deadline.invalid", "trial_deadline", "trial_active_deadline_seconds",
               "seconds one trial may run: the job's `activeDeadlineSeconds`", f"integer 1…{MAX_DEADLINE}", "none",
               _deadline, _as_text),
    Annotation(TRACKING_SECRET, "dns-1123-subdomain", "tracking-secret.name", "tracking_secret", "tracking_secret",
               "a Secret in the Experiment's namespace holding an experiment tracker's credentials "
               "(`MLFLOW_TRACKING_TOKEN`, `MLFLOW_TRACKING_USERNAME`, `MLFLOW_TRACKING_PASSWORD`, `WANDB_API_KEY`; "
               "those present reach the trainer by `secretKeyRef`)", "Secret name (DNS-1123 subdomain), e.g. "
               "`mlflow-credentials`", "—", _value(v.dns1123_subdomain, "tracking-secret.name"), _as_text),
    Annotation(WARM_START, "run-references", "warm-start.reference", "warm_start", "warm_start_from",
               "earlier runs whose finished trials seed the search — **local backend only**, denied for a cluster "
               "(`warm-start.local-only`; [local](local.md#warm-start))",
               f"an earlier run's work dir, or a JSON list of up to {WARM_START_MAX_REFERENCES}: "
               '`["runs/a", "/abs/runs/b"]`', "—",
               lambda raw, ctx: _local_only(raw, ctx, lambda r, c: parse_warm_start(r, c.errors), _WARM_LOCAL,
                                            "warm-start.local-only"),
               lambda refs: json.dumps(list(refs)) if refs else None, local_only=True),
    Annotation(OBJECTIVES, "objective-list", "objectives.format", "objectives", "objectives",
               "several objectives searched together, trials stopped by Pareto dominance — **local backend only**, "
               "denied for a cluster (`objectives.local-only`; [local](local.md#several-objectives-with-early-stopping))",
               "`metric:direction` pairs over the objective metric and `additionalMetricNames`: "
               '`"eval_loss:minimize,eval_runtime:minimize"`', "—",
               lambda raw, ctx: _local_only(raw, ctx, lambda r, c: parse_objectives(r, c.objective, c.errors),
                                            _OBJECTIVES_LOCAL, "objectives.local-only"),
               lambda pairs: ",".join(f"{n}:{d}" for n, d in pairs) if pairs else None, local_only=True),
    Annotation(FUNCTION, "text", "annotation.type", "function", "objective",
               "a Python objective function (written by the SDK's `tune(objective=fn)`)", "base64 JSON", "—",
               _value(_text(v.MAX_JSON_TEXT), "annotation.type"), _as_text),
    Annotation(PACKAGES, "string-list", "annotation.type", "packages", "packages_to_install",
               "pip packages a function trial installs first", "JSON list of requirement strings", "—",
               _strings(), _as_json),
    Annotation(PIP_INDEX_URLS, "uri-list", "annotation.type", "pip_index_urls", "pip_index_urls",
               "package indexes for `packages-to-install`", "JSON list of `https://…` URLs", "—",
               _strings(_index_url), _as_json),
    Annotation(BASE_IMAGE, "image", "annotation.image", "base_image", "base_image",
               "the image of a function trial", "container image reference", "admin's runtime image",
               _value(v.image, "annotation.image"), _as_text),
    Annotation(ADMITTED, "text", "annotation.type", None, None, "written by the core: marks an Experiment it admitted",
               "(set by katib-llm)", "—", _value(_text(253), "annotation.type"), _no_render),
)
BY_NAME: dict[str, Annotation] = {a.name: a for a in ANNOTATIONS}
KNOWN_ANNOTATIONS = frozenset(BY_NAME)
_USER_NAMES = sorted(a.name for a in ANNOTATIONS if a.attr is not None)


def _split_ours(annotations: Any) -> tuple[dict[str, str], list[FieldError]]:
    if not isinstance(annotations, dict):
        return {}, [FieldError("metadata.annotations", "annotation.type", "must be a map of strings")]
    ours = {k[len(PREFIX):]: val for k, val in annotations.items() if isinstance(k, str) and k.startswith(PREFIX)}
    errors = []
    for name, raw in ours.items():
        if name not in KNOWN_ANNOTATIONS:
            hint = difflib.get_close_matches(name, _USER_NAMES, n=1) if len(name) <= 64 else []
            errors.append(FieldError(annotation_path(name[:253]), "annotation.unknown",
                                     "unknown annotation" + (f"; did you mean {PREFIX}{hint[0]}?" if hint else "")
                                     + f"; known names under {PREFIX} are: " + ", ".join(_USER_NAMES)))
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
            raw = v.json_text(ours[name], "JSON")
        except v.Invalid:
            continue  # reported as annotation.json by the parser
        if not isinstance(raw, dict):
            continue
        if name == ENV:
            errors += credentials.check_env_names([k for k in raw if isinstance(k, str)],
                                                  lambda k: f"{annotation_path(ENV)}.{k}")
        else:
            errors += credentials.check_keys(raw, annotation_path(name), _NOT_CREDENTIALS)
    return errors


def _apply(entry: Annotation, raw: str, spec: LLMSpec, ctx: _Parse) -> None:
    """Parse one annotation into its spec attribute (left at its default when the value is denied)."""
    if entry.attr is None:
        return
    ctx.name = entry.name
    before = len(ctx.errors)
    value = entry.parse(raw, ctx)
    if len(ctx.errors) == before and value is not None:
        setattr(spec, entry.attr, value)


def parse(annotations: Any, providers: set[str], max_workers: int = 64) -> tuple[LLMSpec, list[FieldError]]:
    """Read our annotations (an object's ``metadata.annotations``) into an :class:`LLMSpec`.

    Returns the spec and every error. Credentials are looked for first; when one is found only
    those errors are returned, so no other message can repeat the value. The local-only
    annotations are parsed by :func:`parse_annotations` (they need the Experiment's objective)."""
    spec = LLMSpec()
    ours, errors = _split_ours(annotations)
    if errors:
        return spec, errors
    errors = _credentials(ours)
    if errors:
        return spec, errors
    spec.given = set(ours)
    ctx = _Parse("", errors, providers, max_workers)
    for entry in ANNOTATIONS:
        if entry.name in ours and not entry.local_only:
            _apply(entry, ours[entry.name], spec, ctx)
    return spec, errors


def parse_annotations(experiment: dict[str, Any], providers: set[str],
                      max_workers: int = 64) -> tuple[LLMSpec, list[FieldError]]:
    """:func:`parse` of an Experiment's annotations, the local-only ones included (denied for a cluster)."""
    meta = experiment.get("metadata") if isinstance(experiment, dict) else None
    annotations = (meta or {}).get("annotations") or {} if isinstance(meta, dict) else {}
    spec, errors = parse(annotations, providers, max_workers)
    if spec.given:  # parsed past the credential check: the local-only ones need the objective too
        exp_spec = experiment.get("spec")
        ctx = _Parse("", errors, providers, max_workers,
                     exp_spec.get("objective") if isinstance(exp_spec, dict) else None)
        for entry in ANNOTATIONS:
            if entry.local_only and entry.name in spec.given and entry.attr is not None:
                ctx.name = entry.name
                value = entry.parse(annotations[annotation_key(entry.name)], ctx)  # parsed, then denied
                if value:
                    setattr(spec, entry.attr, value)  # what the local backend runs with
    return spec, errors


def parse_value(name: str, raw: str, providers: frozenset[str] | set[str] = frozenset(), objective: Any = None,
                max_workers: int = 64) -> tuple[Any, list[FieldError]]:
    """One annotation's text parsed alone: its typed value (None when denied) and the errors.

    The SDK uses it for arguments it hands to the local backend before admission (warm start)
    and to type budget and deadline arguments for its spec; the errors are the core's own."""
    entry = BY_NAME[name]
    errors: list[FieldError] = []
    ctx = _Parse(name, errors, set(providers), max_workers, objective)
    value = _LOCAL_VALUE[name](raw, ctx) if entry.local_only else entry.parse(raw, ctx)
    return (value if not errors else None), errors


def parse_warm_start(raw: str, errors: list[FieldError]) -> list[str]:
    """The ``warm-start`` annotation: one earlier run, or a JSON list of them.

    A reference names an earlier run: locally its work dir (absolute, or relative to the
    current directory). Accepted: a non-empty string without control characters, at most 1024
    characters, at most ``WARM_START_MAX_REFERENCES`` of them, no duplicates.
    """
    path = annotation_path(WARM_START)
    form = 'an earlier run\'s work dir, or a JSON list of them such as ["runs/a", "runs/b"]'
    text = raw.strip(" \t\r\n") if isinstance(raw, str) and len(raw) <= 64 * 1024 else ""
    refs: Any = text
    if text.startswith("["):
        try:
            refs = v.json_text(text, form)
        except v.Invalid as exc:
            errors.append(FieldError(path, "annotation.json", str(exc)))
            return []
    refs = refs if isinstance(refs, list) else [refs]
    bad = [r for r in refs if not isinstance(r, str) or not r.strip() or len(r) > 1024 or v.has_control(r)]
    if not refs or bad:
        errors.append(FieldError(path, "warm-start.reference",
                                 f"must be {form} (non-empty strings of at most 1024 characters, no control "
                                 f"characters); got {v.shown(raw, 200)}"))
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
    items = [x.strip() for x in raw.split(",", 4 * MAX_OBJECTIVES) if x.strip()] if isinstance(raw, str) else []
    if len(items) > 2 * MAX_OBJECTIVES or not isinstance(raw, str) or len(raw) > 4096:
        errors.append(FieldError(path, "objectives.count", f"needs 2 to {MAX_OBJECTIVES} distinct metrics"))
        return []
    pairs: list[tuple[str, str]] = []
    before = len(errors)  # errors may already hold other annotations' findings
    for item in items:
        name, _, direction = item.rpartition(":")
        name, direction = name.strip(), direction.strip()
        if not name or direction not in ("minimize", "maximize"):
            errors.append(FieldError(path, "objectives.format", f"{v.shown(item)}: each objective is metric:direction "
                                     "with direction minimize or maximize, e.g. \"eval_loss:minimize,eval_runtime:minimize\""))
        elif name not in known:
            errors.append(FieldError(path, "objectives.metric", f"{v.shown(name)} is neither spec.objective."
                                     "objectiveMetricName nor in spec.objective.additionalMetricNames; accepted: "
                                     + ", ".join(map(str, known))))
        elif name == primary and direction != primary_dir:
            errors.append(FieldError(path, "objectives.direction", f"{name} is the objective metric: its direction is "
                                     f"spec.objective.type ({primary_dir}), got {direction}"))
        else:
            pairs.append((name, direction))
    if len(errors) > before:
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


# The value of each local-only annotation without the cluster denial (what the local backend uses).
_LOCAL_VALUE: dict[str, Callable[[str, _Parse], Any]] = {
    WARM_START: lambda raw, ctx: parse_warm_start(raw, ctx.errors),
    OBJECTIVES: lambda raw, ctx: parse_objectives(raw, ctx.objective, ctx.errors),
}


def uri(raw: str) -> StorageURI:
    """An unchecked URI for :func:`render` (the scheme and form are judged by :func:`parse`)."""
    scheme, _, location = raw.strip().partition("://")
    return StorageURI(raw=raw.strip(), scheme=scheme, location=location)


def _parse_gpu(value: Any, path: str, errors: list[FieldError]) -> int | None:
    try:
        return v.decimal_int(value, 0, int(v.MAX_MAGNITUDE))
    except v.Invalid as exc:
        errors.append(FieldError(f"{path}.gpu", "resources.gpu", f"must be a whole number of GPUs >= 0; {exc}"))
        return None


def _parse_quantity(key: str, value: Any, path: str, errors: list[FieldError]) -> str | None:
    example = '5 or "500m"' if key == "cpu" else '"10G" or "16Gi"'
    try:
        q = v.quantity(value)
    except v.Invalid:
        errors.append(FieldError(f"{path}.{key}", "resources.quantity",
                                 f"must be a number or Kubernetes quantity such as {example}, got {v.shown(value)}"))
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
            errors.append(FieldError(f"{path}.{str(key)[:64]}", "resources.unknown",
                                     "unknown resource; accepted keys are gpu, cpu, memory"))
    return res if len(errors) == before else None


def experiment_limits(experiment: dict[str, Any]) -> tuple[Budget | None, int | None, int]:
    """(budget, trial deadline seconds, GPUs per trial) of an admitted Experiment, for the runners."""
    spec, _ = parse_annotations(experiment, set())  # admitted already: errors (e.g. URI schemes) do not matter
    gpus = (spec.resources.gpu if spec.resources else 0) * spec.workers
    return spec.budget, spec.trial_deadline, gpus


def render(spec: LLMSpec) -> dict[str, str]:
    """Our annotations (full keys) for ``spec``: every field that differs from its default or was given.

    ``parse(render(spec))`` gives ``spec`` back (for a valid spec); the SDK builds Experiments this way."""
    default = LLMSpec()
    out: dict[str, str] = {}
    for entry in ANNOTATIONS:
        if entry.attr is None:
            continue
        value = getattr(spec, entry.attr)
        text = entry.render(value)
        if text is not None and (value != getattr(default, entry.attr) or entry.name in spec.given):
            out[annotation_key(entry.name)] = text
    return out
