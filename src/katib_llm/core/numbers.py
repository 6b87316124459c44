"""Numbers as people type them: ASCII digits, finite, within a sane magnitude.

Python's ``int()`` and ``float()`` accept what Katib's Go services and the trial's argument
parsing do not (``"١٢"``, ``"inf"``, ``"nan"``, ``"1e999"``), so a feasible space or a fixed
setting that passes here is a number every component reads the same way.
"""

from __future__ import annotations

from typing import Any

from . import values
from .errors import FieldError

MAX_MAGNITUDE = values.MAX_MAGNITUDE


def number_problem(value: Any) -> str | None:
    """Why ``value`` (a JSON number or a string holding one) is not a sane number, or None
    (:func:`katib_llm.core.values.number`)."""
    try:
        values.number(value)
    except values.Invalid as exc:
        return str(exc)
    return None


def check_number(value: Any, path: str, errors: list[FieldError]) -> bool:
    """Append a ``number.invalid`` error for a bad number; True when it is sane."""
    problem = number_problem(value)
    if problem:
        errors.append(FieldError(path, "number.invalid", problem))
    return problem is None


def check_json_numbers(value: Any, path: str, errors: list[FieldError]) -> None:
    """Every number inside a parsed JSON value must be finite and of sane magnitude."""
    if isinstance(value, dict):
        for key, item in value.items():
            check_json_numbers(item, f"{path}.{key}", errors)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_json_numbers(item, f"{path}[{i}]", errors)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        check_number(value, path, errors)


def check_feasible_spaces(parameters: Any) -> list[FieldError]:
    """Numeric bounds and list values of every ``spec.parameters[*].feasibleSpace``."""
    errors: list[FieldError] = []
    for i, p in enumerate(parameters if isinstance(parameters, list) else []):
        if not isinstance(p, dict) or not isinstance(p.get("feasibleSpace"), dict):
            continue
        space, ptype = p["feasibleSpace"], p.get("parameterType")
        path = f"spec.parameters[{i}].feasibleSpace"
        if ptype in ("int", "double"):
            for key in ("min", "max", "step"):
                if space.get(key) not in (None, ""):
                    check_number(space[key], f"{path}.{key}", errors)
        elif ptype == "discrete" and isinstance(space.get("list"), list):
            for j, item in enumerate(space["list"]):
                check_number(item, f"{path}.list[{j}]", errors)
    return errors


def check_spec_numbers(spec: dict[str, Any]) -> list[FieldError]:
    """The numbers of an Experiment spec a user writes: feasible spaces and the objective goal
    (YAML can write ``.inf`` and ``.nan``, which Katib's Go types carry but no trial can reach)."""
    errors = check_feasible_spaces(spec.get("parameters"))
    objective = spec.get("objective")
    if isinstance(objective, dict) and objective.get("goal") is not None:
        check_number(objective["goal"], "spec.objective.goal", errors)
    return errors
