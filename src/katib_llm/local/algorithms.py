"""Katib algorithm names and settings → Optuna samplers and pruners.

One builder per Katib name; each reads only the ``algorithmSettings`` Katib documents for it
(name/value strings) and rejects others naming the accepted ones. Early stopping
(``spec.earlyStopping``) maps to a pruner the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import optuna
from optuna.pruners import BasePruner, HyperbandPruner, NopPruner
from optuna.samplers import (BaseSampler, CmaEsSampler, GPSampler, GridSampler, QMCSampler, RandomSampler,
                             TPESampler)

from katib_llm.core import early_stopping as es_rules

from .multiobjective import DominanceRule
from .space import Parameter


class AlgorithmError(ValueError):
    """An unknown algorithm name or setting (the message names the field and accepted form)."""


@dataclass(frozen=True)
class Plan:
    """What drives a study: the sampler, the pruner, and a cap on trials the space allows."""

    sampler: BaseSampler
    pruner: BasePruner
    max_trials: int | None = None  # grid: the number of grid points
    rule: DominanceRule | None = None  # several objectives: the runner's stopping rule (no pruner)


Settings = dict[str, str]


def _settings(section: dict[str, Any] | None, path: str) -> Settings:
    out: Settings = {}
    for i, s in enumerate((section or {}).get("algorithmSettings") or []):
        if not isinstance(s, dict) or not s.get("name"):
            raise AlgorithmError(f"spec.{path}.algorithmSettings[{i}]: must be an object with name and value")
        out[str(s["name"])] = str(s.get("value", ""))
    return out


def _take(settings: Settings, allowed: dict[str, Callable[[str], Any]], where: str) -> dict[str, Any]:
    unknown = sorted(set(settings) - set(allowed))
    if unknown:
        raise AlgorithmError(f"{where}: unknown setting(s) {unknown}; accepted: {', '.join(sorted(allowed)) or '(none)'}")
    out = {}
    for name, value in settings.items():
        try:
            out[name] = allowed[name](value)
        except ValueError:
            raise AlgorithmError(f"{where}: setting {name}={value!r} is not a valid "
                                 f"{allowed[name].__name__}") from None
    return out


def _seed(taken: dict[str, Any], default: int | None) -> int | None:
    return taken.get("random_state", default)


def _random(s: Settings, space: list[Parameter], seed: int | None, where: str) -> Plan:
    t = _take(s, {"random_state": int}, where)
    return Plan(RandomSampler(seed=_seed(t, seed)), NopPruner())


# katib-llm's default for TPE's random start-up trials (Optuna's is 10). Measured on a synthetic
# LoRA-like landscape (tests/local/test_search_defaults.py) and the HPO benchmark
# (docs/benchmarks.md): 10 random trials are half of a 20-full-trial budget, and with early
# stopping TPE models pruned trials from the start.
TPE_STARTUP_TRIALS = 5


def _tpe(multivariate: bool) -> Callable[..., Plan]:
    def build(s: Settings, space: list[Parameter], seed: int | None, where: str) -> Plan:
        t = _take(s, {"random_state": int, "n_startup_trials": int, "n_ei_candidates": int}, where)
        sampler = TPESampler(n_startup_trials=t.get("n_startup_trials", TPE_STARTUP_TRIALS),
                             n_ei_candidates=t.get("n_ei_candidates", 24), seed=_seed(t, seed),
                             multivariate=multivariate, constant_liar=True)
        return Plan(sampler, NopPruner())
    return build


class _Grid(GridSampler):
    """GridSampler without its ``study.stop()`` (only valid inside ``optimize``); the runner
    stops at the grid's size instead (:attr:`Plan.max_trials`)."""

    def after_trial(self, study: Any, trial: Any, state: Any, values: Any) -> None:
        return None


def _grid(s: Settings, space: list[Parameter], seed: int | None, where: str) -> Plan:
    t = _take(s, {"random_state": int}, where)
    grid: dict[str, list[Any]] = {}
    for p in space:
        if p.grid is None:
            raise AlgorithmError(f"spec.parameters: grid needs feasibleSpace.step for double parameter {p.name!r}")
        grid[p.name] = list(p.grid)
    size = 1
    for values in grid.values():
        size *= len(values)
    return Plan(_Grid(grid, seed=_seed(t, seed)), NopPruner(), max_trials=size)


def _cmaes(s: Settings, space: list[Parameter], seed: int | None, where: str) -> Plan:
    t = _take(s, {"random_state": int, "sigma": float, "restart_strategy": str}, where)
    if t.get("restart_strategy", "none") not in ("none", "", "ipop", "bipop"):
        raise AlgorithmError(f"{where}: restart_strategy must be none, ipop or bipop")
    # Optuna >= 4.4 ignores restart_strategy (accepted for Katib compatibility; docs/local.md).
    kwargs: dict[str, Any] = {"sigma0": t["sigma"]} if "sigma" in t else {}
    return Plan(CmaEsSampler(seed=_seed(t, seed), warn_independent_sampling=False, **kwargs), NopPruner())


def _sobol(s: Settings, space: list[Parameter], seed: int | None, where: str) -> Plan:
    t = _take(s, {"random_state": int, "scramble": lambda v: v.lower() in ("1", "true", "yes")}, where)
    return Plan(QMCSampler(qmc_type="sobol", scramble=t.get("scramble", True), seed=_seed(t, seed),
                           warn_asynchronous_seeding=False, warn_independent_sampling=False), NopPruner())


def _bayes(s: Settings, space: list[Parameter], seed: int | None, where: str) -> Plan:
    # Katib's skopt settings; the Gaussian-process sampler has no estimator/acquisition choice.
    t = _take(s, {"random_state": int, "n_initial_points": int, "base_estimator": str, "acq_func": str,
                  "acq_optimizer": str}, where)
    return Plan(GPSampler(seed=_seed(t, seed), n_startup_trials=t.get("n_initial_points", 10),
                          warn_independent_sampling=False), NopPruner())


def _hyperband(s: Settings, space: list[Parameter], seed: int | None, where: str) -> Plan:
    # Katib's settings: eta (reduction factor), r_l (max resource), resource_name. Locally the
    # resource is the count of reported objective values; see docs/local.md.
    t = _take(s, {"random_state": int, "eta": float, "r_l": float, "resource_name": str}, where)
    eta = int(t.get("eta", 3))
    if eta < 2:
        raise AlgorithmError(f"{where}: eta must be at least 2")
    max_resource: str | int = int(t["r_l"]) if "r_l" in t else "auto"
    return Plan(RandomSampler(seed=_seed(t, seed)), HyperbandPruner(min_resource=1, max_resource=max_resource,
                                                                    reduction_factor=eta))


SAMPLERS: dict[str, Callable[..., Plan]] = {
    "random": _random,
    "grid": _grid,
    "tpe": _tpe(False),
    "multivariate-tpe": _tpe(True),
    "cmaes": _cmaes,
    "sobol": _sobol,
    "bayesianoptimization": _bayes,
    "hyperband": _hyperband,
}

# Katib's medianstop, and successive halving (our Katib early-stopping service, katib_llm.earlystopping).
EARLY_STOPPING = es_rules.ALGORITHMS


class RulePruner(BasePruner):
    """Stops a trial exactly as Katib's metrics collector would with the trial's rules.

    The runner computes the rules when it creates the trial (:func:`trial_rules`, as Katib's
    early-stopping service does) and stores them in the trial's ``early_stopping_rules`` user
    attribute; each report is one objective value, so the resource unit is one evaluation.
    """

    def __init__(self, algorithm: str, settings: dict[str, int], metric: str, maximize: bool):
        self.algorithm, self.settings, self.metric, self.maximize = algorithm, settings, metric, maximize

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        rules = [es_rules.rule_from_dict(r) for r in trial.user_attrs.get("early_stopping_rules") or []]
        reports = [(self.metric, trial.intermediate_values[s]) for s in sorted(trial.intermediate_values)]
        return es_rules.collector_stop_step(rules, self.metric, self.maximize, reports) is not None

    def trial_rules(self, finished: list[es_rules.Finished]) -> list[dict[str, Any]]:
        """The rules for a trial created now (stored on the trial as plain dicts)."""
        rules = es_rules.rules_for_new_trial(self.algorithm, self.settings, self.metric, self.maximize, finished)
        return [es_rules.rule_to_dict(r) for r in rules]


def _pruner(spec: dict[str, Any]) -> BasePruner | None:
    es = spec.get("earlyStopping")
    if not es:
        return None
    name = es.get("algorithmName")
    if name not in EARLY_STOPPING:
        raise AlgorithmError(f"spec.earlyStopping.algorithmName: unknown {name!r}; accepted: {', '.join(EARLY_STOPPING)}")
    _settings(es, "earlyStopping")  # shape check: name/value objects
    try:
        settings = es_rules.parse_settings(name, es_rules.spec_settings(es))
    except es_rules.SettingsError as exc:
        raise AlgorithmError(f"spec.earlyStopping.algorithmSettings: {exc}") from None
    return RulePruner(name, settings, spec["objective"]["objectiveMetricName"], direction(spec) == "maximize")


# Samplers Optuna runs with several objectives (TPE's multi-objective mode, MOTPE).
MULTI_OBJECTIVE_SAMPLERS = ("random", "grid", "sobol", "tpe", "multivariate-tpe")
MEDIAN_DEFAULTS = {"min_trials_required": 3, "start_step": 4}  # Katib's medianstop defaults


def dominance_rule(es: dict[str, Any] | None) -> DominanceRule | None:
    """Early stopping with several objectives: ``medianstop``'s settings, stopping by dominance."""
    if not es:
        return None
    if es.get("algorithmName") != "medianstop":
        raise AlgorithmError(f"spec.earlyStopping.algorithmName: {es.get('algorithmName')!r} cannot stop trials of "
                             "several objectives; accepted: medianstop (stops a trial dominated by enough "
                             "finished trials, see docs/local.md)")
    where = "spec.earlyStopping.algorithmSettings"
    t = _take(_settings(es, "earlyStopping"), {"min_trials_required": int, "start_step": int,
                                               "dominated_fraction": float}, where)
    fraction = t.get("dominated_fraction", 0.5)
    if not 0 < fraction <= 1:
        raise AlgorithmError(f"{where}: dominated_fraction must be in (0, 1], got {fraction}")
    return DominanceRule(t.get("min_trials_required", MEDIAN_DEFAULTS["min_trials_required"]),
                         t.get("start_step", MEDIAN_DEFAULTS["start_step"]), fraction)


def plan(spec: dict[str, Any], space: list[Parameter], seed: int | None = None, objectives: int = 1) -> Plan:
    """The sampler and pruner (or, with several ``objectives``, stopping rule) for ``spec``."""
    algo = spec.get("algorithm") or {}
    name = algo.get("algorithmName")
    if name not in SAMPLERS:
        raise AlgorithmError(f"spec.algorithm.algorithmName: {name!r} cannot run locally; accepted: "
                             + ", ".join(SAMPLERS))
    if objectives > 1 and name not in MULTI_OBJECTIVE_SAMPLERS:
        raise AlgorithmError(f"spec.algorithm.algorithmName: {name!r} cannot search several objectives; accepted: "
                             + ", ".join(MULTI_OBJECTIVE_SAMPLERS))
    built = SAMPLERS[name](_settings(algo, "algorithm"), space, seed, "spec.algorithm.algorithmSettings")
    if objectives > 1:
        return Plan(built.sampler, NopPruner(), built.max_trials, dominance_rule(spec.get("earlyStopping")))
    pruner = _pruner(spec)
    if pruner is not None:
        built = Plan(built.sampler, pruner, built.max_trials)
    return built


def direction(spec: dict[str, Any]) -> str:
    return "maximize" if (spec.get("objective") or {}).get("type") == "maximize" else "minimize"


__all__ = ["AlgorithmError", "EARLY_STOPPING", "MULTI_OBJECTIVE_SAMPLERS", "Plan", "RulePruner", "SAMPLERS",
           "direction", "dominance_rule", "plan", "optuna"]
