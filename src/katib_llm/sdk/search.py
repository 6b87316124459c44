"""Search-space helpers: ``search.double``, ``search.int``, ``search.categorical``.

Each returns a :class:`Param` that becomes one Katib ``spec.parameters`` entry. kubeflow-katib's
``katib.search`` objects and raw Katib parameter dicts are accepted by ``tune()`` as well.

>>> from katib_llm import search
>>> search.double(1e-5, 5e-5, log=True).to_katib("learning_rate")["feasibleSpace"]
{'min': '1e-05', 'max': '5e-05', 'distribution': 'logUniform'}
>>> search.int(min=8, max=32).to_katib("lora_config.r")["parameterType"]
'int'
>>> search.categorical(["adamw_torch", "sgd"]).to_katib("optim")["feasibleSpace"]
{'list': ['adamw_torch', 'sgd']}
"""

from __future__ import annotations

import builtins
import math
from dataclasses import dataclass, field
from typing import Any, Sequence

from katib_llm.core import katib_rules

from .errors import TuneArgumentError

__all__ = ["Param", "double", "int", "categorical", "to_katib_parameter"]

_DISTRIBUTIONS = ("uniform", "logUniform", "normal", "logNormal")


def _text(value: Any) -> str:
    """A Katib bound as a string (Katib's feasibleSpace bounds are strings)."""
    if isinstance(value, builtins.float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)  # keep "0.0" a double-looking bound
    return str(value)


@dataclass(frozen=True)
class Param:
    """One hyperparameter's search space, as Katib describes it."""

    parameter_type: str  # double | int | categorical
    min: Any = None
    max: Any = None
    step: Any = None
    distribution: str | None = None
    values: tuple[Any, ...] = field(default_factory=tuple)

    def to_katib(self, name: str) -> dict[str, Any]:
        """The ``spec.parameters`` entry for parameter ``name``."""
        space: dict[str, Any]
        if self.parameter_type == "categorical":
            space = {"list": [str(v) for v in self.values]}
        else:
            space = {"min": _text(self.min), "max": _text(self.max)}
            if self.step is not None:
                space["step"] = _text(self.step)
            if self.distribution:
                space["distribution"] = self.distribution
        return {"name": name, "parameterType": self.parameter_type, "feasibleSpace": space}


def _number(value: Any, argument: str, integer: bool) -> builtins.int | builtins.float:
    kind = builtins.int if integer else (builtins.int, builtins.float)
    if isinstance(value, bool) or not isinstance(value, kind) or (
            isinstance(value, builtins.float) and not math.isfinite(value)):
        raise TuneArgumentError(argument, f"must be a{'n integer' if integer else ' finite number'}, "
                                          f"got {value!r}")
    return value


def _judged_by_core(param: Param) -> Param:
    """``param`` once the core's feasibleSpace rules accept it (katib_rules.check_bounds: the rule
    the webhook applies to spec.parameters); the first error names min, max or step."""
    space = param.to_katib("search")["feasibleSpace"]
    errors = katib_rules.check_bounds("search", param.parameter_type, space)
    if errors:
        raise TuneArgumentError(errors[0].path.rsplit(".", 1)[-1], errors[0].message)
    return param


def _numbers(lo: Any, hi: Any, step: Any, integer: bool) -> None:
    """The arguments' Python types (what no feasibleSpace string can say)."""
    _number(lo, "min", integer)
    _number(hi, "max", integer)
    if step is not None:
        _number(step, "step", integer)


def double(min: float, max: float, step: float | None = None, log: bool = False) -> Param:
    """A float sampled between ``min`` and ``max`` (``log=True``: log-uniformly).

    >>> double(min=1e-05, max=5e-05).to_katib("learning_rate")
    {'name': 'learning_rate', 'parameterType': 'double', 'feasibleSpace': {'min': '1e-05', 'max': '5e-05'}}
    >>> double(0.0, 1.0, step=0.25).to_katib("weight_decay")["feasibleSpace"]
    {'min': '0.0', 'max': '1.0', 'step': '0.25'}
    """
    _numbers(min, max, step, integer=False)
    return _judged_by_core(Param("double", min, max, step, "logUniform" if log else None))


def int(min: builtins.int, max: builtins.int, step: builtins.int | None = None, log: bool = False) -> Param:
    """An integer sampled between ``min`` and ``max`` inclusive.

    >>> int(min=8, max=64).to_katib("per_device_train_batch_size")["feasibleSpace"]
    {'min': '8', 'max': '64'}
    """
    _numbers(min, max, step, integer=True)
    return _judged_by_core(Param("int", min, max, step, "logUniform" if log else None))


def categorical(list: Sequence[Any]) -> Param:
    """One value of ``list`` (strings, numbers or booleans; they reach the trial as strings).

    >>> categorical(["linear", "cosine"]).to_katib("lr_scheduler_type")["feasibleSpace"]
    {'list': ['linear', 'cosine']}
    """
    if isinstance(list, (str, bytes)) or not isinstance(list, (builtins.list, tuple)) or not list:
        raise TuneArgumentError("list", f"must be a non-empty list of values, got {list!r}")
    for value in list:
        if not isinstance(value, (str, builtins.int, builtins.float, bool)):
            raise TuneArgumentError("list", f"values must be strings, numbers or booleans, got {value!r}")
    texts = [str(v).lower() if isinstance(v, bool) else str(v) for v in list]
    if len(set(texts)) != len(texts):
        raise TuneArgumentError("list", f"values must be distinct, got {texts!r}")
    return Param("categorical", values=tuple(texts))


def to_katib_parameter(name: str, value: Any, argument: str) -> dict[str, Any]:
    """Turn one search-space entry (ours, kubeflow-katib's or a raw dict) into a Katib parameter."""
    if isinstance(value, Param):
        return value.to_katib(name)
    if hasattr(value, "parameter_type") and hasattr(value, "feasible_space"):
        # kubeflow.katib.search.* returns V1beta1ParameterSpec.
        fs = value.feasible_space
        space: dict[str, Any] = {}
        for key in ("min", "max", "step", "distribution"):
            if getattr(fs, key, None) is not None:
                space[key] = str(getattr(fs, key))
        if getattr(fs, "list", None) is not None:
            space["list"] = [str(v) for v in fs.list]
        elif value.parameter_type in ("categorical", "discrete") and isinstance(fs.distribution, (list, tuple)):
            # kubeflow-katib 0.19's search.categorical passes the list positionally, so it lands
            # in feasible_space.distribution (katib#2625): read it back as the list.
            space.pop("distribution", None)
            space["list"] = [str(v) for v in fs.distribution]
        return {"name": name, "parameterType": value.parameter_type, "feasibleSpace": space}
    if isinstance(value, dict) and "parameterType" in value:
        out = {"name": name, **{k: v for k, v in value.items() if k != "name"}}
        return out
    raise TuneArgumentError(argument, "must be a search space: search.double(min, max), search.int(min, max), "
                                      f"search.categorical([...]) or kubeflow-katib's katib.search.*; got {value!r}")
