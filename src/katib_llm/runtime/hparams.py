"""Typing trial settings: Katib hands every hyperparameter over as a string.

``KATIB_LLM_HPARAMS`` maps a parameter name to a string (Katib substitutes placeholders into
JSON text), and the fixed ``KATIB_LLM_TRAINING_ARGS`` / ``KATIB_LLM_LORA_CONFIG`` objects may
carry strings too. Each value is typed with the field tables the core ships
(``katib_llm.core.params.resolve``), so this module needs neither transformers nor peft.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from katib_llm.core.params import LORA_PREFIX, resolve, suggest_names

from .errors import RuntimeInputError

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass
class TrialSettings:
    """Typed keyword arguments for TrainingArguments and LoraConfig."""

    training_args: dict[str, Any] = field(default_factory=dict)
    lora_config: dict[str, Any] = field(default_factory=dict)


def parse_json_object(text: str | None, source: str) -> dict[str, Any]:
    """A JSON object from an environment variable, or a one-line error naming it."""
    if text is None or not text.strip():
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RuntimeInputError(f"{source} is not valid JSON ({exc.msg} at position {exc.pos}); "
                                f"expected a JSON object such as {{\"learning_rate\": \"3e-05\"}}") from None
    if not isinstance(value, dict):
        raise RuntimeInputError(f"{source} must be a JSON object, got {type(value).__name__}")
    return value


def coerce(value: Any, spec: Mapping[str, Any], where: str) -> Any:
    """Type one value for a field of type int/float/bool/str/enum/list/dict."""
    ftype = spec.get("type")
    if value is None:
        return None
    if ftype == "int":
        return _to_int(value, where)
    if ftype == "float":
        return _to_float(value, where)
    if ftype == "bool":
        return _to_bool(value, where)
    if ftype == "list":
        return _to_list(value, where)
    if ftype == "dict":
        return _to_dict(value, where)
    if ftype == "enum":
        choices = spec.get("choices") or []
        text = str(value)
        if text in choices:
            return text
        if text.lower() in _TRUE | _FALSE and not any(c.lower() in _TRUE | _FALSE for c in choices):
            # e.g. lora_config.init_lora_weights also accepts true/false.
            return _to_bool(text, where)
        if any("[" in c for c in choices):  # pattern choices such as pissa_niter_[number of iters]
            return text
        raise RuntimeInputError(f"{where}: {text!r} is not accepted; accepted: {', '.join(choices)}")
    return value if isinstance(value, str) else str(value) if not isinstance(value, (list, dict)) else value


def _to_float(value: Any, where: str) -> float:
    if isinstance(value, bool):
        raise RuntimeInputError(f"{where} takes a number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise RuntimeInputError(f"{where} takes a number (e.g. 3e-05), got {value!r}") from None


def _to_int(value: Any, where: str) -> int:
    number = _to_float(value, where)
    if not number.is_integer():
        raise RuntimeInputError(f"{where} takes an integer (e.g. 16), got {value!r}")
    return int(number)


def _to_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise RuntimeInputError(f"{where} takes true or false, got {value!r}")


def _to_list(value: Any, where: str) -> list[Any]:
    if isinstance(value, list):
        return value
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            raise RuntimeInputError(f"{where} takes a JSON list or a comma-separated list, got {value!r}") from None
        if isinstance(parsed, list):
            return parsed
    return [part.strip() for part in text.split(",") if part.strip()]


def _to_dict(value: Any, where: str) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(str(value))
    except json.JSONDecodeError:
        parsed = None
    if not isinstance(parsed, dict):
        raise RuntimeInputError(f"{where} takes a JSON object, got {value!r}")
    return parsed


def _unknown(name: str, source: str) -> RuntimeInputError:
    hints = suggest_names(name)
    hint = f"; did you mean {', '.join(hints)}?" if hints else ""
    return RuntimeInputError(f"{source}: unknown hyperparameter {name!r}: names are TrainingArguments fields "
                             f"(learning_rate) or {LORA_PREFIX}<LoraConfig field> (lora_config.r){hint}")


def _put(args: dict[str, Any], field_name: str, value: Any) -> None:
    """Set a TrainingArguments value; later calls win (fixed settings first, then tuned ones).

    warmup_ratio was removed from TrainingArguments in transformers 5; warmup_steps < 1 is read as a
    ratio of the total steps, so the ratio becomes warmup_steps.
    """
    if field_name == "warmup_ratio":
        if value is None:
            return
        if not 0.0 <= value < 1.0:
            raise RuntimeInputError(f"warmup_ratio must be in [0, 1), got {value!r}")
        field_name = "warmup_steps"
    args[field_name] = value


def settings_from(hparams: Mapping[str, Any], training_args: Mapping[str, Any],
                  lora_config: Mapping[str, Any]) -> TrialSettings:
    """Merge fixed settings and tuned hyperparameters (tuned values win), all typed."""
    out = TrialSettings()
    for key, value in training_args.items():
        ref = resolve(key)
        if ref is None or ref.section != "training_args":
            raise _unknown(key, "KATIB_LLM_TRAINING_ARGS")
        _put(out.training_args, ref.field, coerce(value, ref.spec, f"KATIB_LLM_TRAINING_ARGS.{key}"))
    for key, value in lora_config.items():
        ref = resolve(LORA_PREFIX + key)
        if ref is None:
            raise _unknown(LORA_PREFIX + key, "KATIB_LLM_LORA_CONFIG")
        out.lora_config[ref.field] = coerce(value, ref.spec, f"KATIB_LLM_LORA_CONFIG.{key}")
    for name, value in hparams.items():
        ref = resolve(name)
        if ref is None:
            raise _unknown(name, "KATIB_LLM_HPARAMS")
        typed = coerce(value, ref.spec, f"hyperparameter {name}")
        if ref.section == "lora_config":
            out.lora_config[ref.field] = typed
        else:
            _put(out.training_args, ref.field, typed)
    return out
