"""What a trial runs: the LLM objective (model + dataset + trainer settings) or a Python function.

The example of the Katib LLM tuning proposal (https://github.com/kubeflow/katib/issues/2291) writes
its objective with the training SDK::

    def objective(exp_name):
        result = TrainingClient().train(name=exp_name, model_provider_parameters=...,
                                        dataset_provider_parameters=..., trainer_parameters=...)
        return result.metrics

    katib_client.tune(..., objective=objective(exp_name), ...)

With ``from katib_llm import TrainingClient``, ``train()`` submits nothing: it records its
arguments and returns a result whose ``.metrics`` is an :class:`LLMObjective`, which ``tune()``
turns into annotations (the webhook builds the trials). No torch or transformers import happens
here: parameter objects are read by attribute.
"""

from __future__ import annotations

import base64
import dataclasses
import enum
import inspect
import json
import textwrap
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from katib_llm.core import contract, credentials
from katib_llm.core import params as core_params
from katib_llm.core.errors import FieldError

from .errors import TuneArgumentError
from .search import Param

# The core's wording (core/credentials.py), for the references tune() cannot carry.
CREDENTIAL_HINT = credentials.ENV_HINT


@dataclass
class LLMObjective:
    """The LLM fine-tuning objective: what ``TrainingClient().train(...)`` was asked to do."""

    model_provider_parameters: Any = None
    dataset_provider_parameters: Any = None
    trainer_parameters: Any = None
    # Other train() arguments (num_workers, num_procs_per_worker, resources_per_worker, ...),
    # used by tune() when it is not given them itself.
    train_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class TrainResult:
    """What :meth:`TrainingClient.train` returns; ``metrics`` is the objective ``tune()`` reads."""

    name: str | None
    metrics: LLMObjective


class TrainingClient:
    """Stand-in for kubeflow-training's ``TrainingClient`` inside a ``tune()`` objective.

    ``train()`` records the model, dataset and trainer parameters and returns a
    :class:`TrainResult`; nothing is created on a cluster. Every trial of the Experiment runs
    that fine-tuning with its own hyperparameters.

    >>> result = TrainingClient().train(name="exp", model_provider_parameters="hf://org/model",
    ...                                 dataset_provider_parameters="hf://org/data?split=train")
    >>> type(result.metrics).__name__
    'LLMObjective'
    """

    def __init__(self, *args: Any, **kwargs: Any):
        # Accepts kubeflow-training's constructor arguments (config_file, namespace, ...).
        self.namespace = kwargs.get("namespace")

    def train(self, name: str | None = None, *, model_provider_parameters: Any = None,
              dataset_provider_parameters: Any = None, trainer_parameters: Any = None,
              **kwargs: Any) -> TrainResult:
        return TrainResult(name, LLMObjective(model_provider_parameters, dataset_provider_parameters,
                                              trainer_parameters, dict(kwargs)))


# --------------------------------------------------------------------------- function objectives

def encode_function(fn: Callable[..., Any], argument: str = "objective") -> str:
    """The ``function`` annotation: base64 of ``{"name": ..., "source": ...}``.

    Like Katib's function trials, the function must be self-contained: imports inside it, no
    closure variables; it takes one dict of hyperparameters and returns a dict of metrics.
    """
    name = getattr(fn, "__name__", "")
    if not inspect.isfunction(fn) or name == "<lambda>":
        raise TuneArgumentError(argument, "must be a function defined with def (its source is shipped to the "
                                          "trial), or the LLM objective from TrainingClient().train(...)")
    try:
        source = textwrap.dedent(inspect.getsource(fn))
    except (OSError, TypeError) as exc:
        raise TuneArgumentError(argument, f"the function's source is not available ({exc}); define it in a "
                                          "file or notebook cell") from None
    if "TrainingClient" in source and ".train(" in source:
        raise TuneArgumentError(argument, f"{name}() builds the LLM objective with TrainingClient().train(...): "
                                          f"pass its result, objective={name}(exp_name), not the function")
    if fn.__code__.co_freevars:
        raise TuneArgumentError(argument, "the function uses variables from an enclosing function "
                                          f"({', '.join(fn.__code__.co_freevars)}); trials only get its source")
    payload = json.dumps({"name": name, "source": source}, sort_keys=True)
    return base64.b64encode(payload.encode()).decode()


def decode_function(value: str) -> tuple[str, str]:
    """(name, source) from a ``function`` annotation value."""
    data = json.loads(base64.b64decode(value.encode(), validate=True).decode())
    if not isinstance(data, dict) or not isinstance(data.get("name"), str) or not isinstance(data.get("source"), str):
        raise ValueError('expected base64 of {"name": ..., "source": ...}')
    return data["name"], data["source"]


# --------------------------------------------------------------------------- LLM objectives

def _is_search(value: Any) -> bool:
    return isinstance(value, Param) or (hasattr(value, "parameter_type") and hasattr(value, "feasible_space"))


def _jsonable(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (set, frozenset)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise TypeError(type(value).__name__)


def split_fields(obj: Any, argument: str, prefix: str,
                 reserved: set[str] = frozenset()) -> tuple[dict[str, Any], dict[str, Any]]:
    """(fixed non-default fields as JSON values, search-space fields by parameter name).

    ``obj`` is a dataclass such as ``transformers.TrainingArguments`` or ``peft.LoraConfig``, or
    a plain dict. Fixed fields are compared with a default instance of the same class, so only
    what the user set travels. ``reserved`` fields (set by the runtime, e.g. ``output_dir``) are
    left out, except credential-named ones: those travel so that the core denies them.
    """
    if obj is None:
        return {}, {}
    if isinstance(obj, dict):
        items, default = dict(obj), {}
    elif dataclasses.is_dataclass(obj):
        names = [f.name for f in dataclasses.fields(obj) if f.init]
        items = {n: getattr(obj, n) for n in names if hasattr(obj, n)}
        try:
            base = type(obj)()
            default = {n: getattr(base, n, dataclasses.MISSING) for n in names}
        except Exception:  # noqa: BLE001 - a class without a no-argument constructor: keep all fields
            default = {}
    else:
        raise TuneArgumentError(argument, f"must be a dataclass (e.g. transformers.TrainingArguments, "
                                          f"peft.LoraConfig) or a dict, got {type(obj).__name__}")
    fixed: dict[str, Any] = {}
    searched: dict[str, Any] = {}
    for key, value in items.items():
        if _is_search(value):
            searched[prefix + key] = value
            continue
        if key in reserved and not (value and credentials.is_credential_name(key)):
            continue
        if key in default and _same(value, default[key]):
            continue
        try:
            fixed[key] = _jsonable(value)
        except TypeError as exc:
            raise TuneArgumentError(f"{argument}.{key}", f"must be a JSON value (string, number, bool, list, "
                                                         f"dict), got {exc}") from None
    return fixed, searched


def _same(a: Any, b: Any) -> bool:
    try:
        return _jsonable(a) == _jsonable(b)
    except TypeError:
        return a is b


def _with_scheme(uri: str, scheme: str = "hf") -> str:
    return uri if "://" in uri else f"{scheme}://{uri}"


# Fields of kubeflow-training's provider parameter classes that hold credentials: they are
# handed to the core's credential rule (credentials.check_keys), which denies them.
_SECRET_FIELDS = ("access_token", "token", "hub_token", "access_key", "secret_key", "password")


def _leaks(params: Any, annotation: str) -> list[FieldError]:
    given = {k: True for k in _SECRET_FIELDS if getattr(params, k, None)}
    return credentials.check_keys(given, contract.annotation_path(annotation))


def model_fields(model: Any, spec: contract.LLMSpec) -> list[FieldError]:
    """Fill ``spec.model`` and ``spec.model_class`` from model parameters; the core's findings."""
    if isinstance(model, str):
        spec.model = contract.uri(_with_scheme(model))
        return []
    if isinstance(model, dict):
        model = _Attrs(model)
    uri = getattr(model, "model_uri", None)
    if not isinstance(uri, str) or not uri.strip():
        raise TuneArgumentError("model_provider_parameters.model_uri",
                                "must be a model URI such as hf://google-bert/bert-base-cased")
    spec.model = contract.uri(_with_scheme(uri.strip()))
    ttype = getattr(model, "transformer_type", None)
    if ttype is not None:
        spec.model_class = ttype if isinstance(ttype, str) else getattr(ttype, "__name__", str(ttype))
        spec.given.add(contract.MODEL_CLASS)
    return _leaks(model, contract.MODEL)


def dataset_fields(dataset: Any, spec: contract.LLMSpec) -> list[FieldError]:
    """Fill ``spec.dataset`` (``hf://repo?split=...`` or ``s3://bucket/key``); the core's findings."""
    if isinstance(dataset, str):
        spec.dataset = contract.uri(_with_scheme(dataset))
        return []
    if isinstance(dataset, dict):
        dataset = _Attrs(dataset)
    if hasattr(dataset, "repo_id"):
        uri = _with_scheme(str(dataset.repo_id).strip())
        split = getattr(dataset, "split", None)
        spec.dataset = contract.uri(f"{uri}?split={split}" if split else uri)
    elif hasattr(dataset, "bucket_name"):
        if getattr(dataset, "endpoint_url", None):
            warnings.warn("dataset_provider_parameters.endpoint_url is not sent with the Experiment: the S3 "
                          "endpoint comes from the admin's S3 credentials Secret (AWS_ENDPOINT_URL)", stacklevel=5)
        key = str(getattr(dataset, "file_key", "") or "").strip("/")
        spec.dataset = contract.uri(f"s3://{dataset.bucket_name}/{key}" if key else f"s3://{dataset.bucket_name}")
    else:
        raise TuneArgumentError("dataset_provider_parameters", "must be HuggingFaceDatasetParams, S3DatasetParams, "
                                f"a dict with repo_id, or a dataset URI, got {type(dataset).__name__}")
    return _leaks(dataset, contract.DATASET)


@dataclass
class LLMParts:
    """An LLM objective as a filled :class:`LLMSpec`, the search space found inside trainer
    parameters, and what the core's credential rule found in the provider parameters."""

    spec: contract.LLMSpec
    searched: dict[str, Any]
    leaks: list[FieldError] = field(default_factory=list)


def llm_parts(model: Any, dataset: Any, trainer: Any) -> LLMParts:
    """Model, dataset and fixed trainer settings into an :class:`LLMSpec`; tuned fields found inside them."""
    if model is None:
        raise TuneArgumentError("model_provider_parameters", "the LLM objective needs a model, e.g. "
                                "HuggingFaceModelParams(model_uri='hf://google-bert/bert-base-cased', ...)")
    if dataset is None:
        raise TuneArgumentError("dataset_provider_parameters", "the LLM objective needs a dataset, e.g. "
                                "HuggingFaceDatasetParams(repo_id='yelp_review_full', split='train[:3000]')")
    spec = contract.LLMSpec()
    leaks = model_fields(model, spec) + dataset_fields(dataset, spec)
    num_labels = model.get("num_labels") if isinstance(model, dict) else getattr(model, "num_labels", None)
    if num_labels is not None:
        spec.dataset_config["num_labels"] = num_labels
    searched: dict[str, Any] = {}
    if trainer is not None:
        if isinstance(trainer, dict):
            trainer = _Attrs(trainer)
        fixed, found = split_fields(getattr(trainer, "training_parameters", None),
                                    "trainer_parameters.training_parameters", "", core_params.RESERVED_TRAINING_FIELDS)
        searched.update(found)
        spec.training_args = fixed
        lora_fixed, lora_found = split_fields(getattr(trainer, "lora_config", None), "trainer_parameters.lora_config",
                                              core_params.LORA_PREFIX)
        searched.update(lora_found)
        spec.lora_config = lora_fixed
    return LLMParts(spec, searched, leaks)


class _Attrs:
    """Read a dict by attribute (parameters given as plain dicts)."""

    def __init__(self, data: dict[str, Any]):
        self.__dict__.update(data)
