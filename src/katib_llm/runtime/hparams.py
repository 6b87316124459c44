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

from katib_llm.core.params import LORA_PREFIX, coerce_value, resolve, suggest_names
from katib_llm.core.trialenv import TrialEnv

from .errors import RuntimeInputError

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
    """Type one value for a field (the core's rule, so admission and the trial agree)."""
    try:
        return coerce_value(value, spec, where)
    except ValueError as exc:
        raise RuntimeInputError(str(exc)) from None


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
            raise _unknown(key, TrialEnv.TRAINING_ARGS)
        _put(out.training_args, ref.field, coerce(value, ref.spec, f"{TrialEnv.TRAINING_ARGS}.{key}"))
    for key, value in lora_config.items():
        ref = resolve(LORA_PREFIX + key)
        if ref is None:
            raise _unknown(LORA_PREFIX + key, TrialEnv.LORA_CONFIG)
        out.lora_config[ref.field] = coerce(value, ref.spec, f"{TrialEnv.LORA_CONFIG}.{key}")
    for name, value in hparams.items():
        ref = resolve(name)
        if ref is None:
            raise _unknown(name, TrialEnv.HPARAMS)
        typed = coerce(value, ref.spec, f"hyperparameter {name}")
        if ref.section == "lora_config":
            out.lora_config[ref.field] = typed
        else:
            _put(out.training_args, ref.field, typed)
    return out
