"""ASHA settings replayed on recorded learning curves: would other defaults reach the target sooner?

No training: a configuration a search proposes gets the learning curve (5 ``eval_loss`` reports,
8 steps apart) of the nearest finished trial recorded by ``benchmarks/hpo_efficiency.py`` in the
results files given (nearest in log learning rate, log ``lora_alpha / r``, log r, dropout and
weight decay; the learning rate and ``alpha / r`` decide the curve on the topics task, see
docs/benchmarks.md). On that surrogate it runs, per seed, until a finished trial reaches
``--target`` or ``--budget`` steps are spent:

* plain Optuna as in the fixed-target benchmark (``TPESampler(seed)`` + ``SuccessiveHalvingPruner()``
  defaults, reported at the global step: rungs at steps 1, 4, 16 once a first trial finished);
* katib-llm's ``multivariate-tpe`` plan (``katib_llm.local.algorithms.plan``, the runner's
  sampler) with ASHA (``katib_llm.core.asha.Ladder``, the runner's rule) under each setting in
  ``SETTINGS``: ``(min_resource, reduction_factor, n_startup_trials)``.

The surrogate is biased towards good regions (most recorded curves come from TPE runs), so it
compares settings with each other, not with the real task's step counts. Seeds default to
100-123, none of which the fixed-target benchmark reports.

Run: .venv/bin/python benchmarks/asha_settings.py docs/img/hpo_efficiency.json,docs/img/hpo_fixed_target.json
(``--synthetic``: the synthetic landscape of ``tests/local/test_search_defaults.py`` instead; the
results argument is then ignored).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import optuna

ROOT = Path(__file__).resolve().parents[1]
EVALS, EVAL_STEPS = 5, 8
# (min_resource, reduction_factor, n_startup_trials); None: katib-llm's default (5).
SETTINGS = ((1, 4, None), (1, 2, None), (1, 3, None), (1, 6, None), (1, 8, None), (1, 16, None), (2, 2, None),
            (1, 4, 3), (1, 4, 10), (1, 2, 10))


def recorded_curves(paths: list[Path]) -> list[tuple[dict[str, float], list[float]]]:
    out = []
    for path in paths:
        data = json.loads(path.read_text())
        for runs in (data.get("curves") or {}).values():
            for curve in runs or []:
                for point in curve or []:
                    if (isinstance(point, dict) and point.get("state") == "Succeeded" and point.get("params")
                            and len(point.get("evals", [])) == EVALS):
                        out.append(({k: float(v) for k, v in point["params"].items()}, point["evals"]))
    return out


def features(p: dict[str, float]) -> list[float]:
    return [math.log10(p["learning_rate"]) / 0.05, math.log10(p["lora_config.lora_alpha"] / p["lora_config.r"]) / 0.1,
            math.log2(p["lora_config.r"]), p["lora_config.lora_dropout"] / 0.1, p["weight_decay"] / 0.1]


class Surrogate:
    def __init__(self, curves: list[tuple[dict[str, float], list[float]]]):
        self.x = np.array([features(p) for p, _ in curves])
        self.curves = [c for _, c in curves]

    def __call__(self, params: dict[str, float]) -> list[float]:
        return self.curves[int(np.argmin(((self.x - np.array(features(params))) ** 2).sum(1)))]


def steps_to_target(study: optuna.Study, distributions: dict[str, Any], curve: Callable[[dict], list[float]],
                    step_of: Callable[[int], int], target: float, budget: int, ladder: Any = None) -> int | None:
    from katib_llm.core import asha

    spent = 0
    while spent < budget:
        trial = study.ask(distributions)
        values = curve(trial.params)
        for k, value in enumerate(values, 1):
            trial.report(value, step_of(k))
            spent += EVAL_STEPS
            stop = (ladder.record(f"t{trial.number}", values[:k]).decision == asha.STOP if ladder is not None
                    else trial.should_prune())
            if k < EVALS and stop:
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
                break
        else:
            study.tell(trial, values[-1])
            if values[-1] <= target:
                return spent
    return None


def space_spec() -> dict[str, Any]:
    from benchmarks.hpo_efficiency import SPACE
    return {"objective": {"type": "minimize", "objectiveMetricName": "eval_loss"}, "parameters": list(SPACE)}


def plain(seed: int, curve: Callable, target: float, budget: int) -> int | None:
    from katib_llm.local.space import search_space

    study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=seed),
                                pruner=optuna.pruners.SuccessiveHalvingPruner())
    distributions = {p.name: p.distribution for p in search_space(space_spec())}
    return steps_to_target(study, distributions, curve, lambda k: k * EVAL_STEPS, target, budget)


def katib_llm(seed: int, setting: tuple[int, int, int | None], curve: Callable, target: float,
              budget: int) -> int | None:
    from katib_llm.core import asha
    from katib_llm.local.algorithms import plan
    from katib_llm.local.space import search_space

    min_resource, reduction_factor, startup = setting
    settings = [{"name": "random_state", "value": str(seed)}]
    if startup is not None:
        settings.append({"name": "n_startup_trials", "value": str(startup)})
    spec = {**space_spec(), "algorithm": {"algorithmName": "multivariate-tpe", "algorithmSettings": settings}}
    space = search_space(spec)
    study = optuna.create_study(sampler=plan(spec, space).sampler)
    ladder = asha.Ladder(asha.AshaSettings(min_resource, reduction_factor, 0), maximize=False)
    return steps_to_target(study, {p.name: p.distribution for p in space}, curve, lambda k: k, target, budget, ladder)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", help="comma-separated results files of benchmarks/hpo_efficiency.py")
    ap.add_argument("--target", type=float, default=0.1)
    ap.add_argument("--budget", type=int, default=800)
    ap.add_argument("--seeds", default="100-123")
    ap.add_argument("--synthetic", action="store_true",
                    help="replay on tests/local/test_search_defaults.py's synthetic landscape instead of recorded curves")
    ap.add_argument("--out", default=str(ROOT / "docs" / "img" / "asha_settings.json"))
    args = ap.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    first, _, last = args.seeds.partition("-")
    seeds = range(int(first), int(last or first) + 1)
    if args.synthetic:  # the landscape the search-defaults test uses (known optimum, ~5 % of draws reach 0.1)
        from tests.local.test_search_defaults import curve as synthetic_curve
        curves: list[tuple[dict[str, float], list[float]]] = []
        curve: Callable[[dict], list[float]] = synthetic_curve
    else:
        curves = recorded_curves([Path(p) for p in args.results.split(",")])
        curve = Surrogate(curves)
    rows: dict[str, list[int | None]] = {"plain Optuna": [plain(s, curve, args.target, args.budget) for s in seeds]}
    for setting in SETTINGS:
        name = "katib-llm min_resource {} reduction_factor {} n_startup_trials {}".format(*setting)
        rows[name] = [katib_llm(s, setting, curve, args.target, args.budget) for s in seeds]
    summary = {}
    for name, runs in rows.items():
        counted = [args.budget if r is None else r for r in runs]
        summary[name] = {"median": statistics.median(counted), "mean": statistics.fmean(counted),
                         "not_reached": sum(r is None for r in runs)}
        print(f"{name}: median {summary[name]['median']}, mean {summary[name]['mean']:.0f}, "
              f"not reached {summary[name]['not_reached']}", flush=True)
    Path(args.out).write_text(json.dumps({
        "results_files": args.results.split(","), "recorded_curves": len(curves), "target": args.target,
        "budget": args.budget, "seeds": list(seeds),
        "synthetic": args.synthetic,
        "fraction_of_curves_at_target": (sum(c[-1] <= args.target for _, c in curves) / len(curves)) if curves else None,
        "steps_per_seed": rows, "summary": summary}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
