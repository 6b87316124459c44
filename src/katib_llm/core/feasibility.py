"""Feasibility pre-check: will a trial's peak accelerator memory fit the GPU the admin declares?

Pure (no I/O, no torch): the parameter count comes from the ``model-parameters`` annotation or
from a size in the model repo name (``-7b``, ``1.5B``, ``125m``); without one the check is
skipped silently. The estimate of one trial's peak memory per GPU (bytes) is::

    weights      = P * w                      w = 2 with bf16/fp16, else 4 (frozen base)
    lora         = N_lora * 4                 trainable adapter, fp32 master copy
    grads        = N_lora * 4                 only the adapter has gradients
    optimizer    = N_lora * k                 k = 8 AdamW, 4 Adafactor/RMSprop/Lion, 2 8-bit
    activations  = L * 34 * s * b * d * (w / 2)
                   (Korthikanti et al. 2022, per layer, without their 5·a·s²·b attention-score
                   term because transformers' default SDPA/flash kernels do not store the
                   score matrix; with gradient checkpointing:
                   L * 2 * s * b * d * (w/2) + one layer's full activations)
                 + causal LM logits: 6 * b * s * V * 4   (fp32 logits, the shifted copy and the
                   log-softmax the loss makes, and the gradient of each; measured in
                   docs/advanced.md, this term dominates small causal LMs)
    overhead     = 1 GiB                      CUDA context, allocator slack

where ``N_lora = L * r * sum(d_in + d_out over target modules)``, hidden size ``d`` and depth
``L`` come from ``P`` by a typical aspect ratio (``d ≈ (100 P / 12) ** (1/3)``,
``L = P / (12 d²)``) unless given, ``s`` is the sequence length and ``b``
the per-device batch size. The search space's corners are evaluated: the smallest
configuration must fit (else a denial naming the parameter and both memory figures), the
largest may not (a warning saying which part of the space will run out of memory).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable

from . import values as values_
from .config import AdminConfig
from .contract import MODEL, MODEL_PARAMETERS, TRAINING_ARGS, LLMSpec, annotation_path
from .contract import parse_parameter_count as parse_parameter_count  # re-exported: the size grammar lives in the contract
from .errors import FieldError

GIB = 1024 ** 3
OVERHEAD_BYTES = 1 * GIB
DEFAULT_BATCH = 8          # the trainer's default per_device_train_batch_size
DEFAULT_RANK = 8           # the trainer's default lora r
DEFAULT_SEQ = 128          # runtime DatasetConfig.max_length default
DEFAULT_VOCAB = 32_000     # causal LM logits when the vocabulary is unknown
LOGIT_COPIES = 6           # logits, shifted copy, log-softmax, and a gradient of each
# Modules whose LoRA pair is d x 4d (MLP) rather than d x d (attention).
_MLP_NAMES = ("mlp", "fc", "up", "down", "gate", "w1", "w2", "w3", "ffn", "intermediate", "output.dense", "wi", "wo")
_DEFAULT_TARGETS = ("q", "v")  # what PEFT targets by default for common architectures
_ALL_LINEAR = ("q", "k", "v", "o", "gate", "up", "down")
_OPTIM_BYTES = {"sgd": 0, "adafactor": 4, "rmsprop": 4, "adagrad": 4, "lion_32bit": 4, "paged_lion_32bit": 4,
                "lomo": 0, "adalomo": 0}
_NAME_SIZE = re.compile(r"(?<![A-Za-z0-9.])(?:([0-9]{1,6})x)?([0-9]{1,9}(?:\.[0-9]{1,6})?)([mMbB])(?![A-Za-z0-9])")
_UNITS = {"": 1, "k": 10 ** 3, "m": 10 ** 6, "b": 10 ** 9, "t": 10 ** 12}


def parameters_from_name(location: str) -> int | None:
    """A size written in a model repo name: ``Llama-2-7b-hf`` → 7e9, ``opt-125m`` → 1.25e8."""
    name = location.rstrip("/").rsplit("/", 1)[-1].split("@", 1)[0]
    found = _NAME_SIZE.findall(name)
    if not found:
        return None
    experts, size, unit = found[-1]
    return int(values_.number(size) * _UNITS[unit.lower()] * (int(experts) if experts else 1))


def optimizer_bytes(optim: str) -> int:
    """Bytes of optimizer state per trainable parameter for a TrainingArguments ``optim``."""
    name = optim.lower()
    if name in _OPTIM_BYTES:
        return _OPTIM_BYTES[name]
    if "8bit" in name:
        return 2
    if "4bit" in name:
        return 1
    if name.startswith(("lion", "paged_lion", "schedule_free_sgd")):
        return 4
    return 8  # AdamW and relatives keep two fp32 moments


@dataclass(frozen=True)
class Shape:
    """A transformer's size: parameter count, hidden size, depth, vocabulary."""

    parameters: int
    hidden: int
    layers: int
    vocab: int = DEFAULT_VOCAB

    @classmethod
    def from_parameters(cls, parameters: int, hidden: int | None = None, layers: int | None = None,
                        vocab: int | None = None) -> "Shape":
        d = hidden or max(64, round((100 * parameters / 12) ** (1 / 3) / 64) * 64)
        n = layers or max(1, round(parameters / (12 * d * d)))
        return cls(parameters, d, n, vocab or DEFAULT_VOCAB)


@dataclass(frozen=True)
class TrialConfig:
    """One point of the search space, as far as memory is concerned."""

    batch_size: int = DEFAULT_BATCH
    rank: int = DEFAULT_RANK
    seq_len: int = DEFAULT_SEQ
    targets: tuple[str, ...] = _DEFAULT_TARGETS
    half: bool = False
    optim: str = "adamw_torch"
    checkpointing: bool = False
    causal: bool = False


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak memory of one trial on one accelerator, by component (bytes)."""

    weights: int
    lora: int
    grads: int
    optimizer: int
    activations: int
    overhead: int = OVERHEAD_BYTES

    @property
    def fixed(self) -> int:
        """Everything that does not depend on batch size or sequence length."""
        return self.weights + self.lora + self.grads + self.optimizer + self.overhead

    @property
    def total(self) -> int:
        return self.fixed + self.activations


def lora_parameters(shape: Shape, rank: int, targets: Iterable[str]) -> int:
    """Adapter size: per layer, ``r * (d_in + d_out)`` for every targeted module."""
    per_layer = 0
    for name in targets:
        mlp = any(token in name.lower() for token in _MLP_NAMES)
        per_layer += rank * (shape.hidden + (4 * shape.hidden if mlp else shape.hidden))
    return shape.layers * per_layer


def estimate(shape: Shape, trial: TrialConfig) -> MemoryEstimate:
    """Estimate a trial's peak accelerator memory (see the module docstring for the formula)."""
    w = 2 if trial.half else 4
    n_lora = lora_parameters(shape, trial.rank, trial.targets)
    s, b, d, layers = trial.seq_len, trial.batch_size, shape.hidden, shape.layers
    full_layer = 34 * s * b * d * (w / 2)
    acts = layers * 2 * s * b * d * (w / 2) + full_layer if trial.checkpointing else layers * full_layer
    if trial.causal:
        acts += LOGIT_COPIES * b * s * shape.vocab * 4
    return MemoryEstimate(weights=shape.parameters * w, lora=n_lora * 4, grads=n_lora * 4,
                          optimizer=n_lora * optimizer_bytes(trial.optim), activations=int(acts))


# ---- the search space -------------------------------------------------------------------

@dataclass(frozen=True)
class _Axis:
    """One memory-relevant setting: its smallest and largest value, and where it comes from."""

    low: Any
    high: Any
    path: str | None  # spec.parameters[i] when tuned, else None


def _numbers(p: dict[str, Any]) -> list[float]:
    fs = p.get("feasibleSpace") or {}
    values: list[Any] = list(fs.get("list") or []) or [fs.get("min"), fs.get("max")]
    out = []
    for v in values:
        try:
            out.append(values_.number(v))
        except values_.Invalid:
            continue
    return out


def _flags(p: dict[str, Any]) -> list[bool]:
    values = (p.get("feasibleSpace") or {}).get("list") or []
    return [str(v).strip().lower() == "true" for v in values]


def _axis(parameters: list[Any], name: str, fixed: Any, kind: str) -> _Axis:
    for i, p in enumerate(parameters):
        if isinstance(p, dict) and p.get("name") in (name, f"training_args.{name}"):
            if kind == "number":
                nums = _numbers(p)
                if nums:
                    return _Axis(int(min(nums)), int(max(nums)), f"spec.parameters[{i}]")
            elif kind == "flag":
                flags = _flags(p)
                if flags:
                    return _Axis(min(flags), max(flags), f"spec.parameters[{i}]")
            else:
                values = [str(v) for v in (p.get("feasibleSpace") or {}).get("list") or []]
                if values:
                    ordered = sorted(values, key=optimizer_bytes)
                    return _Axis(ordered[0], ordered[-1], f"spec.parameters[{i}]")
    return _Axis(fixed, fixed, None)


def _int(value: Any, default: int) -> int:
    try:
        return int(values_.number(value)) if not isinstance(value, bool) else default
    except values_.Invalid:
        return default


def _targets(lora_config: dict[str, Any]) -> tuple[str, ...]:
    raw = lora_config.get("target_modules")
    if isinstance(raw, str):
        return _ALL_LINEAR if raw == "all-linear" else (raw,)
    if isinstance(raw, list) and raw and all(isinstance(x, str) for x in raw):
        return tuple(raw)
    return _DEFAULT_TARGETS


def _gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


def check(llm: LLMSpec, spec: dict[str, Any], config: AdminConfig, errors: list[FieldError],
          warnings: list[str]) -> None:
    """Deny an Experiment whose smallest configuration cannot fit; warn when only part fits.

    ``llm`` is the parsed :class:`~katib_llm.core.contract.LLMSpec`, ``config`` the
    :class:`~katib_llm.core.config.AdminConfig` (``gpu.memoryGiB``; GPUs per worker from
    ``defaultResourcesPerWorker`` when the Experiment sets none). Skipped for CPU trials,
    function trials and models of unknown size.
    """
    try:
        gpu_memory_gib = float(config.values["gpu"].get("memoryGiB") or 0)
        default_gpu = float((config.values.get("defaultResourcesPerWorker") or {}).get("gpu") or 0)
    except (TypeError, ValueError, AttributeError):
        return  # a malformed admin value is the config checker's business
    gpu = llm.resources.gpu if llm.resources else default_gpu
    if not gpu or llm.function or not gpu_memory_gib:
        return
    count = llm.model_parameters or (parameters_from_name(llm.model.location) if llm.model else None)
    if not count:
        return
    source = annotation_path(MODEL_PARAMETERS if llm.model_parameters else MODEL)
    shape = Shape.from_parameters(count)
    params: list[Any] = spec["parameters"] if isinstance(spec.get("parameters"), list) else []
    ta, lc = llm.training_args, llm.lora_config
    if not isinstance(llm.dataset_config, dict):
        return
    batch = _axis(params, "per_device_train_batch_size", _int(ta.get("per_device_train_batch_size"), DEFAULT_BATCH), "number")
    rank = _axis(params, "lora_config.r", _int(lc.get("r"), DEFAULT_RANK), "number")
    ckpt = _axis(params, "gradient_checkpointing", bool(ta.get("gradient_checkpointing")), "flag")
    optim = _axis(params, "optim", str(ta.get("optim") or "adamw_torch"), "optim")
    half = bool(ta.get("bf16") or ta.get("fp16"))
    common: dict[str, Any] = dict(seq_len=_int(llm.dataset_config.get("max_length"), DEFAULT_SEQ), targets=_targets(lc),
                  half=half, causal=llm.model_class == "AutoModelForCausalLM")
    capacity = gpu_memory_gib * GIB
    smallest = TrialConfig(batch_size=max(1, batch.low), rank=max(1, rank.low), optim=optim.low,
                           checkpointing=bool(ckpt.high), **common)
    low = estimate(shape, smallest)
    where = f"{count / 1e9:.3g}B-parameter model, {'16' if half else '32'}-bit weights"
    if low.fixed > capacity:
        errors.append(FieldError(source, "feasibility.model",
                                 f"the {where} needs ~{_gib(low.fixed)} per GPU before any activations, but the "
                                 f"admin declares {gpu_memory_gib:g} GiB per GPU; use a smaller model or set "
                                 "\"bf16\": true in training-args"))
        return
    if low.total > capacity:
        path = batch.path or (annotation_path(TRAINING_ARGS) if "per_device_train_batch_size" in ta else source)
        errors.append(FieldError(path, "feasibility.memory",
                                 f"even the smallest configuration (per_device_train_batch_size={smallest.batch_size}, "
                                 f"lora_config.r={smallest.rank}, sequence length {smallest.seq_len}) of the {where} "
                                 f"needs ~{_gib(low.total)} per GPU, but the admin declares {gpu_memory_gib:g} GiB; "
                                 "lower per_device_train_batch_size or max_length, or enable gradient_checkpointing"))
        return
    largest = TrialConfig(batch_size=max(1, batch.high), rank=max(1, rank.high), optim=optim.high,
                          checkpointing=bool(ckpt.low), **common)
    high = estimate(shape, largest)
    if high.total > capacity:
        fits = _largest_batch(shape, largest, capacity)
        tuned = ", ".join(f"{name} up to {value}" for name, value, axis in (
            ("per_device_train_batch_size", largest.batch_size, batch), ("lora_config.r", largest.rank, rank))
            if axis.path) or "the fixed settings"
        warnings.append(f"{batch.path or rank.path or source}: part of the search space will not fit the GPU: "
                        f"{tuned} needs ~{_gib(high.total)} per GPU (admin declares {gpu_memory_gib:g} GiB); "
                        f"at the largest other settings per_device_train_batch_size <= {fits} fits "
                        "[feasibility.partial]")


def _largest_batch(shape: Shape, trial: TrialConfig, capacity: float) -> int:
    """The largest batch size that fits with the other settings of ``trial`` (0 if none)."""
    lo, hi = 0, trial.batch_size
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if estimate(shape, TrialConfig(**{**trial.__dict__, "batch_size": mid})).total <= capacity:
            lo = mid
        else:
            hi = mid - 1
    return lo
