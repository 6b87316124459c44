"""Which ``tune()`` argument set a field the admission core judged.

The SDK validates nothing itself: it renders its arguments into an Experiment (through the
core's :func:`~katib_llm.core.contract.render`), the core parses and admits it, and a denial is
raised against the argument that set the denied field. This module is only that map from the
core's :class:`~katib_llm.core.errors.FieldError` paths to argument names.
"""

from __future__ import annotations

import re
from typing import Any, Sequence

from katib_llm.core import contract as c
from katib_llm.core.errors import FieldError

from .errors import ArgumentDenied, ExperimentDenied

# Annotation → (argument, key form), from the contract's table: ``[]`` marks arguments whose
# keys are written argument['key'], ``.`` those written argument.key (the forms tune()'s users
# already see). An annotation no tune() argument sets is absent (its denial names no argument).
_ANNOTATIONS: dict[str, tuple[str, str]] = {a.name: (a.argument, a.key_form) for a in c.ANNOTATIONS
                                            if a.argument is not None}
_SPEC: dict[str, str] = {
    "metadata.name": "name",
    "spec.objective.type": "objective_type",
    "spec.objective.objectiveMetricName": "objective_metric_name",
    "spec.objective.additionalMetricNames": "additional_metric_names",
    "spec.objective.goal": "objective_goal",
    "spec.algorithm.algorithmName": "algorithm_name",
    "spec.algorithm.algorithmSettings": "algorithm_settings",
    "spec.maxTrialCount": "max_trial_count",
    "spec.parallelTrialCount": "parallel_trial_count",
    "spec.maxFailedTrialCount": "max_failed_trial_count",
    "spec.earlyStopping": "early_stopping",
}
_PARAMETER = re.compile(r"^spec\.parameters\[(\d+)\]")
_ANNOTATION = re.compile(r"^metadata\.annotations\[" + re.escape(c.PREFIX) + r"([^\]]+)\](?:\.(.+))?$")


def argument_of(error: FieldError, parameters: Sequence[Any] = (), space: str = "hp_space",
                resources: str = "resources_per_worker") -> str | None:
    """The ``tune()`` argument that set the field ``error`` judges, or None (an admin-side field).

    ``parameters`` are the Experiment's ``spec.parameters`` (index → name), ``space`` the
    argument they came from; ``resources`` the argument the resources annotation came from."""
    m = _ANNOTATION.match(error.path)
    if m:
        name, key = m.group(1), m.group(2)
        if name not in _ANNOTATIONS:
            return None
        argument, form = _ANNOTATIONS[name]
        argument = resources if name == c.RESOURCES_PER_WORKER else argument
        if key is None:
            return argument
        return f"{argument}[{key!r}]" if form == "[]" else f"{argument}.{key}"
    m = _PARAMETER.match(error.path)
    if m:
        i = int(m.group(1))
        name = parameters[i].get("name") if i < len(parameters) and isinstance(parameters[i], dict) else None
        return f"{space}[{name!r}]" if name is not None else space
    if error.path == "spec" and error.code == "katib.parameters":
        return space
    for prefix, argument in _SPEC.items():
        if error.path == prefix or error.path.startswith((prefix + ".", prefix + "[")):
            return argument
    return None


def denial(errors: list[FieldError], parameters: Sequence[Any] = (), space: str = "hp_space",
           resources: str = "resources_per_worker") -> ExperimentDenied:
    """The exception for a core denial: :class:`ArgumentDenied` naming the argument of the first
    error an argument set (all errors attached), else :class:`ExperimentDenied`."""
    for i, error in enumerate(errors):
        argument = argument_of(error, parameters, space, resources)
        if argument is not None:
            return ArgumentDenied(argument, [error] + errors[:i] + errors[i + 1:])
    return ExperimentDenied(errors)
