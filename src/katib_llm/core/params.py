"""Hyperparameters: which names the trainer understands, and how values reach it.

A parameter name is a TrainingArguments field (``learning_rate``) or ``lora_config.<field>``
(``lora_config.r``), as in the ``hp_space`` of the Katib LLM tuning proposal (kubeflow/katib#2291).
The field tables are generated from
the locked transformers and peft (``scripts/gen_field_tables.py``, run by ``scripts/lock.py``) and
shipped as data naming those versions, so the core needs neither library.

Values reach every pod through one environment variable, ``KATIB_LLM_HPARAMS``: a JSON object
whose values are Katib placeholders. Environment variables survive Katib's metrics-collector
rewrite of the primary container (``sh -c`` with argv joined by spaces, kubeflow/katib#2587), and the
same variable is set on master and workers alike.
"""

from __future__ import annotations

import difflib
import json
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

from .errors import FieldError
from . import values
from .trialenv import TrialEnv

HPARAMS_ENV = TrialEnv.HPARAMS
LORA_PREFIX = "lora_config."
TRAINING_PREFIX = "training_args."
# Removed from TrainingArguments in transformers 5, still tuned by users: the trainer
# translates it to warmup_steps.
TRANSLATED_FIELDS = {"warmup_ratio": {"type": "float"}}


def _table(name: str) -> dict[str, dict[str, Any]]:
    """A shipped table's fields (beside them, ``generated_from`` names the library version)."""
    text = resources.files(__package__).joinpath("data", name).read_text()
    table: dict[str, dict[str, Any]] = json.loads(text)["fields"]
    return table


TRAINING_FIELDS: dict[str, dict[str, Any]] = {**_table("training_arguments.json"), **TRANSLATED_FIELDS}
LORA_FIELDS: dict[str, dict[str, Any]] = _table("lora_config.json")
# Fields that make no sense to tune or to set per trial: the runtime owns them.
RESERVED_TRAINING_FIELDS = {"output_dir", "local_rank", "deepspeed", "hub_token", "push_to_hub",
                            "hub_model_id", "logging_dir"}


@dataclass(frozen=True)
class FieldRef:
    """Where a parameter lands in the trainer: ``section`` is training_args or lora_config."""

    section: str
    field: str
    spec: dict[str, Any]


def resolve(name: str) -> FieldRef | None:
    """Map a parameter name to a trainer field, or None if it names none."""
    if name.startswith(LORA_PREFIX):
        key = name[len(LORA_PREFIX):]
        spec = LORA_FIELDS.get(key)
        return FieldRef("lora_config", key, spec) if spec else None
    key = name.removeprefix(TRAINING_PREFIX)
    if key in RESERVED_TRAINING_FIELDS:
        return None
    spec = TRAINING_FIELDS.get(key)
    return FieldRef("training_args", key, spec) if spec else None


MAX_SUGGEST_LENGTH = 64  # longer names get no hint: difflib's cost grows with the name's length


def suggest_names(name: str, limit: int = 3) -> list[str]:
    """Close known names, for "did you mean" hints."""
    if len(name) > MAX_SUGGEST_LENGTH:
        return []
    pool = list(TRAINING_FIELDS) + [LORA_PREFIX + k for k in LORA_FIELDS]
    return difflib.get_close_matches(name, pool, n=limit, cutoff=0.6)


def trial_parameter_name(name: str, taken: set[str]) -> str:
    """A Katib trialParameters name for parameter ``name`` (no dots, braces or spaces)."""
    base = re.sub(r"[^A-Za-z0-9_-]", "_", name) or "param"
    candidate, i = base, 2
    while candidate in taken:
        candidate, i = f"{base}_{i}", i + 1
    return candidate


def _number(text: Any) -> float | None:
    """A sane number (ASCII digits, finite, bounded: core/values.py), else None."""
    try:
        return values.number(text)
    except values.Invalid:
        return None


def check_parameter(index: int, param: dict[str, Any], ref: FieldRef) -> list[FieldError]:
    """Check that a parameter's type and feasible space fit the trainer field it maps to."""
    errors: list[FieldError] = []
    path = f"spec.parameters[{index}]"
    ptype = param.get("parameterType")
    space = param.get("feasibleSpace") or {}
    ftype = ref.spec.get("type")
    where = f"{ref.section}.{ref.field}"
    if ftype == "int" and ptype == "double":
        errors.append(FieldError(f"{path}.parameterType", "parameter.type",
                                 f"{where} is an integer field; use parameterType int (or categorical/discrete)"))
    if ftype in ("bool", "str", "enum", "list") and ptype in ("int", "double"):
        errors.append(FieldError(f"{path}.parameterType", "parameter.type",
                                 f"{where} takes {ftype} values; use parameterType categorical"))
    values = space.get("list") if isinstance(space, dict) else None
    if ptype in ("categorical", "discrete") and isinstance(values, list):
        for j, value in enumerate(values):
            vpath = f"{path}.feasibleSpace.list[{j}]"
            text = str(value)
            if any(c in text for c in '"\\') or any(ord(c) < 32 for c in text):
                errors.append(FieldError(vpath, "parameter.value-chars",
                                         "values must not contain quotes, backslashes or control characters "
                                         "(Katib substitutes them into the trial spec verbatim)"))
            elif ftype == "enum" and text not in ref.spec.get("choices", []):
                errors.append(FieldError(vpath, "parameter.choice",
                                         f"{text!r} is not a valid {where}; accepted: "
                                         + ", ".join(ref.spec["choices"])))
            elif ftype == "bool" and text.lower() not in ("true", "false"):
                errors.append(FieldError(vpath, "parameter.bool", f"{where} takes true or false"))
            elif ftype in ("int", "float") and _number(text) is None:
                errors.append(FieldError(vpath, "parameter.number", f"{where} takes numbers, got {text!r}"))
            elif ftype == "int" and not (_number(text) or 0.0).is_integer():
                errors.append(FieldError(vpath, "parameter.number", f"{where} takes integers, got {text!r}"))
    return errors


# ---- values: one typing rule for admission and for the trial ---------------------------

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def _to_float(value: Any, where: str) -> float:
    try:
        return values.number(value)
    except values.Invalid as exc:
        raise ValueError(f"{where} takes a number (e.g. 3e-05): it {exc}") from None


def _to_int(value: Any, where: str) -> int:
    number = _to_float(value, where)
    if not number.is_integer():
        raise ValueError(f"{where} takes an integer (e.g. 16), got a fraction")
    return int(number)


def _to_bool(value: Any, where: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE | _FALSE:
        return text in _TRUE
    raise ValueError(f"{where} takes true or false")


def _to_list(value: Any, where: str) -> list[Any]:
    if isinstance(value, list):
        return value
    text = str(value).strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"{where} takes a JSON list or a comma-separated list") from None
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
        raise ValueError(f"{where} takes a JSON object")
    return parsed


def _to_choice(value: Any, spec: dict[str, Any] | Any, where: str) -> Any:
    choices = spec.get("choices") or []
    text = str(value)
    if text in choices:
        return text
    if text.lower() in _TRUE | _FALSE and not any(c.lower() in _TRUE | _FALSE for c in choices):
        # e.g. lora_config.init_lora_weights also accepts true/false.
        return _to_bool(text, where)
    if any("[" in c for c in choices):  # pattern choices such as pissa_niter_[number of iters]
        return text
    hint = difflib.get_close_matches(text, choices, n=1, cutoff=0.6) if len(text) <= MAX_SUGGEST_LENGTH else []
    raise ValueError(f"{where}: {values.shown(text)} is not accepted; accepted: {', '.join(choices)}"
                     + (f"; did you mean {hint[0]}?" if hint else ""))


_COERCE = {"int": _to_int, "float": _to_float, "bool": _to_bool, "list": _to_list, "dict": _to_dict}


def coerce_value(value: Any, spec: Any, where: str) -> Any:
    """Type one value for a field of type int/float/bool/str/enum/list/dict; ValueError if it cannot be.

    The trial runtime types every fixed setting and tuned value with this function, and admission
    checks fixed settings with it, so what admission accepts is what the trial can read."""
    ftype = spec.get("type")
    if value is None:
        return None
    if ftype in _COERCE:
        return _COERCE[ftype](value, where)
    if ftype == "enum":
        return _to_choice(value, spec, where)
    return value if isinstance(value, str) else str(value) if not isinstance(value, (list, dict)) else value


def check_fixed(section: str, raw: dict[str, Any], path: str) -> list[FieldError]:
    """Fixed ``training-args`` / ``lora-config`` keys and values against the field tables.

    ``section`` is ``training_args`` or ``lora_config``. Unknown keys get a "did you mean";
    fields the runtime owns are refused; values are typed exactly as the trial will type them.
    """
    errors: list[FieldError] = []
    prefix = LORA_PREFIX if section == "lora_config" else ""
    for key, value in raw.items():
        if section == "training_args" and key in RESERVED_TRAINING_FIELDS:
            errors.append(FieldError(f"{path}.{key}", "fixed-field.reserved",
                                     f"{key} is set by the katib-llm runtime for every trial; remove it"))
            continue
        ref = resolve(prefix + key)
        if ref is None or ref.section != section:
            hint = [h.removeprefix(prefix) for h in suggest_names(prefix + key) if h.startswith(prefix)
                    and (prefix or not h.startswith(LORA_PREFIX))]
            errors.append(FieldError(f"{path}.{key}", "fixed-field.unknown",
                                     f"{key!r} is not a {'LoraConfig' if prefix else 'TrainingArguments'} field"
                                     + (f"; did you mean {', '.join(hint)}?" if hint else "")))
            continue
        try:
            coerce_value(value, ref.spec, key)
        except ValueError as exc:
            code = "fixed-field.choice" if ref.spec.get("type") == "enum" else "fixed-field.type"
            errors.append(FieldError(f"{path}.{key}", code, str(exc)))
    return errors
