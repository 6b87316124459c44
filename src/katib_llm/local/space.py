"""Katib's search space → Optuna distributions, and suggestions back to Katib's value strings.

Katib parameters carry ``parameterType`` (double, int, categorical, discrete) and a
``feasibleSpace`` of strings (min, max, step, list, distribution). Optuna has no normal prior,
so ``normal`` samples uniformly over [min, max] and ``logNormal`` log-uniformly; documented in
docs/local.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from optuna.distributions import (BaseDistribution, CategoricalDistribution, FloatDistribution,
                                  IntDistribution)


class SpaceError(ValueError):
    """A parameter that cannot be turned into a search space (names the field)."""


@dataclass(frozen=True)
class Parameter:
    """One Katib parameter with its Optuna distribution."""

    name: str
    type: str
    distribution: BaseDistribution
    grid: tuple[Any, ...] | None  # the values grid search walks, None if not enumerable

    def to_katib(self, value: Any) -> str:
        """The assignment string Katib would put in the trial (``"0.001"``, ``"8"``)."""
        if self.type == "int":
            return str(int(value))
        if self.type == "double":
            return repr(float(value))
        return str(value)

    def typed(self, value: str) -> Any:
        """The Python value of an assignment string (int, float, or the categorical string)."""
        if self.type == "int":
            return int(float(value))
        if self.type == "double":
            return float(value)
        if self.type == "discrete":
            number = float(value)
            return int(number) if number.is_integer() and "." not in value and "e" not in value.lower() else number
        return value


def _number(fs: dict[str, Any], key: str, path: str, cast: type) -> Any:
    try:
        value = cast(float(fs[key])) if cast is int else float(fs[key])
    except (KeyError, TypeError, ValueError):
        raise SpaceError(f"{path}.feasibleSpace.{key}: must be a number string, got {fs.get(key)!r}") from None
    return value


def parameter(index: int, p: dict[str, Any]) -> Parameter:
    """Build one :class:`Parameter` from ``spec.parameters[index]``."""
    path = f"spec.parameters[{index}]"
    name, ptype = p.get("name"), p.get("parameterType")
    fs = p.get("feasibleSpace") or {}
    dist = fs.get("distribution") or "uniform"
    log = dist in ("logUniform", "logNormal")
    if ptype in ("categorical", "discrete"):
        values = [str(v) for v in fs.get("list") or []]
        if not values:
            raise SpaceError(f"{path}.feasibleSpace.list: must list at least one value")
        return Parameter(name, ptype, CategoricalDistribution(values), tuple(values))
    if ptype not in ("int", "double"):
        raise SpaceError(f"{path}.parameterType: {ptype!r} is not supported locally; accepted: "
                         "double, int, categorical, discrete")
    cast = int if ptype == "int" else float
    low, high = _number(fs, "min", path, cast), _number(fs, "max", path, cast)
    if low > high:
        raise SpaceError(f"{path}.feasibleSpace: min {low} is greater than max {high}")
    if log and low <= 0:
        raise SpaceError(f"{path}.feasibleSpace.min: a {dist} distribution needs min > 0")
    step = _number(fs, "step", path, cast) if fs.get("step") not in (None, "") else None
    if step is not None and step <= 0:
        raise SpaceError(f"{path}.feasibleSpace.step: must be positive")
    if ptype == "int":
        istep = int(step or 1)
        d: BaseDistribution = IntDistribution(int(low), int(high), log=log, step=1 if log else istep)
        grid = tuple(range(int(low), int(high) + 1, istep))
    else:
        # Optuna cannot combine a step with a log scale; the step then only shapes the grid.
        d = FloatDistribution(low, high, log=log, step=None if log or step is None else step)
        grid = None
        if step is not None:
            n = int(math.floor((high - low) / step + 1e-9))
            grid = tuple(round(low + i * step, 12) for i in range(n + 1))
    return Parameter(name, ptype, d, grid)


def search_space(spec: dict[str, Any]) -> list[Parameter]:
    """All parameters of an admitted Experiment's spec, in order."""
    return [parameter(i, p) for i, p in enumerate(spec.get("parameters") or [])]
