"""Admission warnings for settings that silently do nothing.

Two kinds, both about katib-llm's own trainer (a function objective or a custom template has
its own schedule, unknown here):

* a **tuned parameter that a fixed argument overrides**: transformers' ``TrainingArguments``
  ignores ``num_train_epochs`` when ``max_steps > 0``, and ``eval_steps`` / ``logging_steps`` /
  ``save_steps`` unless the matching ``*_strategy`` is ``"steps"``. Trials then differ only in
  a value nobody reads, and the search learns noise;
* an **early-stopping rule that can never stop a trial**: the rule acts at one report (Katib's
  medianstop at ``start_step``, successive halving at its rung), and every objective value the
  trainer prints is one report, one per evaluation. When the evaluation schedule gives every
  trial at most that many evaluations, the rule can only act after training ended (or never).

Pure: the Experiment's ``spec`` and the parsed annotations in, warning strings out.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from . import early_stopping, params
from .contract import LLMSpec

# What katib-llm's trainer uses when the training-args annotation does not say
# (katib_llm.runtime.trainer builds TrainingArguments from these).
TRAINER_DEFAULTS: dict[str, Any] = {
    "eval_strategy": "epoch", "save_strategy": "no", "report_to": [], "disable_tqdm": True,
    "logging_strategy": "epoch", "num_train_epochs": 1.0, "per_device_train_batch_size": 8,
    "per_device_eval_batch_size": 8, "seed": 42, "dataloader_num_workers": 0,
}

def _positive(value: Any) -> bool:
    number = _num(value)
    return number is not None and number > 0


# (tuned field, the fixed field that can override it, is it overridden?, why)
_OVERRIDES: tuple[tuple[str, str, Callable[[Any], bool], str], ...] = (
    ("num_train_epochs", "max_steps", _positive,
     "max_steps > 0 sets the training length and TrainingArguments then ignores num_train_epochs"),
    ("eval_steps", "eval_strategy", lambda v: str(v) != "steps",
     "eval_steps is read only with eval_strategy 'steps'"),
    ("logging_steps", "logging_strategy", lambda v: str(v) != "steps",
     "logging_steps is read only with logging_strategy 'steps'"),
    ("save_steps", "save_strategy", lambda v: str(v) != "steps",
     "save_steps is read only with save_strategy 'steps'"),
)


def _num(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _tuned(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """TrainingArguments fields the search tunes -> their Katib parameter."""
    out = {}
    for param in spec.get("parameters") or []:
        ref = params.resolve(str(param.get("name") or "")) if isinstance(param, dict) else None
        if ref is not None and ref.section == "training_args":
            out[ref.field] = param
    return out


def override_warnings(tuned: dict[str, dict[str, Any]], fixed: dict[str, Any]) -> list[str]:
    """A tuned field that a fixed training argument makes irrelevant."""
    out = []
    for field, controller, overrides, why in _OVERRIDES:
        if field in tuned and controller not in tuned and controller in fixed and overrides(fixed[controller]):
            out.append(f"spec.parameters: {tuned[field]['name']!r} is tuned but has no effect: {why} "
                       f"({controller}={fixed[controller]!r} is fixed in training-args); tune {controller} "
                       f"instead or drop it from training-args")
    return out


def _upper(name: str, tuned: dict[str, dict[str, Any]], fixed: dict[str, Any], lowest: bool = False) -> float | None:
    """A training argument's value, or its bound over the search space when tuned (the largest,
    or the smallest with ``lowest``); None if unknown."""
    if name in tuned:
        space = tuned[name].get("feasibleSpace") or {}
        values = [_num(v) for v in space.get("list") or []] or [_num(space.get("min")), _num(space.get("max"))]
        known = [v for v in values if v is not None]
        if not known:
            return None
        return min(known) if lowest else max(known)
    return _num(fixed.get(name))


def max_evaluations(tuned: dict[str, dict[str, Any]], fixed: dict[str, Any]) -> tuple[int, str] | None:
    """The most evaluations (objective reports) any trial can make, and the settings that say so;
    None when it depends on the dataset's size (an epoch-long schedule with max_steps, or a
    step schedule without it)."""
    if "eval_strategy" in tuned:
        return None
    strategy = str(fixed.get("eval_strategy", "no"))
    max_steps = _upper("max_steps", tuned, fixed)
    if strategy == "no":  # the trainer evaluates once, after training
        return 1, "eval_strategy='no' (one evaluation, after training)"
    if strategy == "epoch":
        if max_steps is not None and max_steps > 0:
            return None
        epochs = _upper("num_train_epochs", tuned, fixed)
        if epochs is None or epochs <= 0:
            return None
        count = max(1, math.ceil(epochs))
        return count, f"eval_strategy='epoch' with num_train_epochs={epochs:g}"
    if strategy == "steps":
        every = _upper("eval_steps", tuned, fixed, lowest=True)
        if max_steps is None or max_steps <= 0 or every is None or every <= 0:
            return None
        every_steps = every * max_steps if every < 1 else every  # below 1: a ratio of the training steps
        count = max(1, math.ceil(max_steps / max(1.0, math.floor(every_steps))))
        return count, f"eval_strategy='steps' every {every:g} of max_steps={max_steps:g}"
    return None


def _rule_report(early: dict[str, Any]) -> tuple[int, str] | None:
    """The report at which the Experiment's early-stopping rule acts, and how it is set."""
    algorithm = str(early.get("algorithmName") or "")
    try:
        settings = early_stopping.parse_settings(algorithm, early_stopping.spec_settings(early))
    except early_stopping.SettingsError:
        return None  # denied elsewhere (early-stopping.settings)
    if algorithm == early_stopping.MEDIANSTOP:
        return settings["start_step"], f"medianstop compares a trial at report start_step={settings['start_step']}"
    rung = early_stopping.rung(settings)
    return rung, f"successivehalving compares a trial at its rung, report {rung}"


def early_stopping_warnings(spec: dict[str, Any], evaluations: tuple[int, str] | None) -> list[str]:
    """An early-stopping rule that acts at or after the last report any trial makes."""
    early = spec.get("earlyStopping")
    if not isinstance(early, dict) or evaluations is None:
        return []
    at = _rule_report(early)
    if at is None:
        return []
    report, how = at
    count, schedule = evaluations
    if count > report:
        return []
    when = "never" if count < report else "only at the last evaluation, after training ended"
    return [f"spec.earlyStopping: the rule can stop no trial early: {how}, but each trial reports its objective "
            f"at most {count} time(s) ({schedule}), so it acts {when}; evaluate more often "
            f"(training-args eval_strategy 'steps' with eval_steps) or make the rule act earlier "
            f"(medianstop start_step, successivehalving min_resource)"]


def noop_warnings(spec: dict[str, Any], llm: LLMSpec) -> list[str]:
    """Every silent no-op of an Experiment whose trials run katib-llm's trainer."""
    tuned = _tuned(spec)
    fixed = {**TRAINER_DEFAULTS, **llm.training_args}
    return override_warnings(tuned, fixed) + early_stopping_warnings(spec, max_evaluations(tuned, fixed))
