"""Katib parameter types and distributions → Optuna distributions, and back to Katib strings."""

from __future__ import annotations

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from katib_llm.local.space import SpaceError, parameter


def test_types_and_distributions():
    lr = parameter(0, {"name": "lr", "parameterType": "double",
                       "feasibleSpace": {"min": "1e-5", "max": "1e-2", "distribution": "logUniform"}})
    assert lr.distribution == FloatDistribution(1e-5, 1e-2, log=True)
    assert lr.to_katib(0.001) == "0.001" and lr.typed("0.001") == 0.001
    r = parameter(1, {"name": "r", "parameterType": "int", "feasibleSpace": {"min": "4", "max": "16", "step": "4"}})
    assert r.distribution == IntDistribution(4, 16, step=4) and r.grid == (4, 8, 12, 16)
    assert r.to_katib(8) == "8" and r.typed("8") == 8
    d = parameter(2, {"name": "bs", "parameterType": "discrete", "feasibleSpace": {"list": ["8", "16", "0.5"]}})
    assert d.distribution == CategoricalDistribution(["8", "16", "0.5"])
    assert (d.typed("16"), d.typed("0.5")) == (16, 0.5)
    c = parameter(3, {"name": "optim", "parameterType": "categorical", "feasibleSpace": {"list": ["sgd", "adamw_torch"]}})
    assert c.typed("sgd") == "sgd"
    w = parameter(4, {"name": "wd", "parameterType": "double",
                      "feasibleSpace": {"min": "0", "max": "0.1", "step": "0.05", "distribution": "normal"}})
    assert w.distribution == FloatDistribution(0.0, 0.1, step=0.05) and w.grid == (0.0, 0.05, 0.1)


@pytest.mark.parametrize("p,needle", [
    ({"name": "x", "parameterType": "double", "feasibleSpace": {"min": "a", "max": "1"}}, "feasibleSpace.min"),
    ({"name": "x", "parameterType": "double", "feasibleSpace": {"min": "2", "max": "1"}}, "greater than max"),
    ({"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1", "distribution": "logUniform"}},
     "min > 0"),
    ({"name": "x", "parameterType": "categorical", "feasibleSpace": {"list": []}}, "feasibleSpace.list"),
])
def test_bad_spaces_name_the_field(p, needle):
    with pytest.raises(SpaceError, match=r"spec\.parameters\[5\]") as info:
        parameter(5, p)
    assert needle in str(info.value)
