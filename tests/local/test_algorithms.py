"""Every Katib algorithm name runs locally with Katib's settings; bad names and settings are named."""

from __future__ import annotations

import pytest

from katib_llm.local import run_experiment
from katib_llm.local.algorithms import AlgorithmError, SAMPLERS, plan
from katib_llm.local.space import search_space

from tests.local.local_helpers import cheap_experiment

SETTINGS = {
    "random": {"random_state": "3"},
    "grid": {},
    "tpe": {"n_startup_trials": "2", "n_ei_candidates": "8", "random_state": "3"},
    "multivariate-tpe": {"n_startup_trials": "2", "random_state": "3"},
    "cmaes": {"sigma": "0.2", "restart_strategy": "ipop", "random_state": "3"},
    "sobol": {"random_state": "3"},
    "bayesianoptimization": {"n_initial_points": "2", "random_state": "3"},
    "hyperband": {"eta": "3", "r_l": "4"},
}
PARAMS = [
    {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0.0", "max": "1.0", "step": "0.25"}},
    {"name": "n", "parameterType": "int", "feasibleSpace": {"min": "1", "max": "3"}},
    {"name": "opt", "parameterType": "categorical", "feasibleSpace": {"list": ["adamw_torch", "sgd"]}},
]


def test_every_katib_algorithm_name_is_covered():
    assert set(SAMPLERS) == set(SETTINGS)


@pytest.mark.parametrize("name", sorted(SETTINGS))
def test_algorithm_runs_trials(name, tmp_path, cache_dir):
    exp = cheap_experiment(f"algo-{name}", algorithm=name, settings=SETTINGS[name], max_trials=3,
                           parallel=1, parameters=PARAMS)
    result = run_experiment(exp, tmp_path / "run", progress=False, cache_dir=cache_dir, report=False)
    allowed = {"Succeeded", "EarlyStopped"} if name == "hyperband" else {"Succeeded"}
    assert len(result.trials) == 3 and {t.state for t in result.trials} <= allowed
    assert result.trials[0].state == "Succeeded"
    for t in result.trials:
        assert 0.0 <= t.parameters["x"] <= 1.0 and t.parameters["x"] * 4 == int(t.parameters["x"] * 4)
        assert isinstance(t.parameters["n"], int) and 1 <= t.parameters["n"] <= 3
        assert t.parameters["opt"] in ("adamw_torch", "sgd")
    done = [t for t in result.trials if t.state == "Succeeded"]
    assert result.best is not None and result.best.objective == max(t.objective for t in done)
    assert result.optimal_hyperparameters == result.best.parameters


def test_grid_stops_when_the_grid_is_exhausted(tmp_path, cache_dir):
    params = [{"name": "x", "parameterType": "discrete", "feasibleSpace": {"list": ["0.1", "0.3", "0.9"]}}]
    exp = cheap_experiment("grid-small", algorithm="grid", max_trials=10, parallel=2, parameters=params)
    result = run_experiment(exp, tmp_path / "run", progress=False, cache_dir=cache_dir, report=False)
    assert sorted(t.assignments["x"] for t in result.trials) == ["0.1", "0.3", "0.9"]
    assert result.best.parameters == {"x": 0.3}


@pytest.mark.parametrize("algo,settings,needle", [
    ("tpe", {"n_startups": "3"}, "n_startup_trials"),
    ("random", {"random_state": "abc"}, "random_state"),
    ("cmaes", {"restart_strategy": "sometimes"}, "restart_strategy"),
])
def test_bad_settings_name_the_accepted_form(algo, settings, needle):
    spec = cheap_experiment(algorithm=algo, settings=settings)["spec"]
    with pytest.raises(AlgorithmError, match="spec.algorithm.algorithmSettings") as info:
        plan(spec, search_space(spec))
    assert needle in str(info.value)


def test_algorithms_katib_cannot_run_locally_are_named():
    spec = cheap_experiment(algorithm="enas")["spec"]
    with pytest.raises(AlgorithmError, match="spec.algorithm.algorithmName.*accepted: random"):
        plan(spec, search_space(spec))


def test_grid_needs_a_step_for_doubles():
    spec = cheap_experiment(algorithm="grid")["spec"]
    with pytest.raises(AlgorithmError, match="feasibleSpace.step"):
        plan(spec, search_space(spec))
