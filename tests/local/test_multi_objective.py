"""Several objectives: the dominance stopping rule on recorded curves, the Pareto front in results and report."""

from __future__ import annotations

import json

import pytest
from tests.local.local_helpers import cheap_experiment

from katib_llm.core.admit import admit
from katib_llm.core.contract import parse_objectives
from katib_llm.io import admin_config
from katib_llm.local import run_experiment
from katib_llm.local.algorithms import AlgorithmError, plan
from katib_llm.local.multiobjective import DominanceRule, dominates, pareto_front, point_at, should_stop
from katib_llm.local.space import search_space

ANN = "llm.katib.kubeflow.org/objectives"
MINMAX = ["minimize", "maximize"]
# Recorded: eval_loss and eval_accuracy at each of 5 evaluations of real LoRA fine-tunes
# (MiniLM on the 4-topic headlines task, 8 steps between evaluations).
RECORDED = {
    "lr1e-2": ([1.015, 0.357, 0.080, 0.072, 0.042], [0.62, 0.94, 0.99, 0.995, 1.0]),
    "lr3e-3": ([1.329, 1.154, 0.842, 0.649, 0.586], [0.41, 0.68, 0.93, 0.985, 0.995]),
    "lr5e-3-r16": ([1.087, 0.553, 0.282, 0.168, 0.137], [0.55, 0.90, 0.97, 0.99, 1.0]),
    "lr1e-5": ([1.385, 1.385, 1.385, 1.385, 1.385], [0.25, 0.25, 0.255, 0.26, 0.26]),
    "lr1e-1": ([1.553, 1.527, 1.395, 1.471, 1.424], [0.25, 0.25, 0.25, 0.25, 0.25]),
    "lr1e-2-r32": ([1.144, 0.388, 0.088, 0.054, 0.040], [0.58, 0.93, 0.99, 1.0, 1.0]),
}
NAMES = ["eval_loss", "eval_accuracy"]


def _curves(key):
    loss, acc = RECORDED[key]
    return {"eval_loss": loss, "eval_accuracy": acc}


def _first_stop(key, finished_keys, rule):
    finished = [_curves(k) for k in finished_keys]
    for step in range(1, 6):
        point = point_at(_curves(key), NAMES, step)
        at_step = [p for c in finished if (p := point_at(c, NAMES, step)) is not None]
        if should_stop(point, step, at_step, MINMAX, rule):
            return step
    return None


def test_dominance_and_front():
    assert dominates((0.1, 0.9), (0.2, 0.9), MINMAX) and not dominates((0.1, 0.9), (0.1, 0.9), MINMAX)
    assert not dominates((0.1, 0.8), (0.2, 0.9), MINMAX)  # better loss, worse accuracy: a trade-off
    assert pareto_front([(0.1, 0.8), (0.2, 0.9), (0.3, 0.85), (0.1, 0.8)], MINMAX) == [0, 1, 3]


def test_rule_on_recorded_curves():
    rule = DominanceRule(min_trials_required=3, start_step=1, fraction=0.5)
    good = ["lr1e-2", "lr3e-3", "lr5e-3-r16"]
    # Chance-level trials are dominated by all three finished ones at the 1st evaluation.
    assert _first_stop("lr1e-5", good, rule) == 1
    assert _first_stop("lr1e-1", good, rule) == 1
    # A trial as good as the best finished one is never stopped.
    assert _first_stop("lr1e-2-r32", good, rule) is None
    # start_step delays the first decision; too few finished trials: no decision at all.
    assert _first_stop("lr1e-5", good, DominanceRule(3, 3, 0.5)) == 3
    assert _first_stop("lr1e-5", good[:2], rule) is None
    # fraction 1: stopped only when every finished trial dominates it. All three dominate
    # lr1e-5 at the 1st evaluation; at the 1st evaluation lr3e-3 (loss 1.329, accuracy 0.41)
    # does not dominate lr5e-3-r16 (1.087, 0.55), and by the 5th only lr1e-2 ... never all three.
    assert _first_stop("lr1e-5", good, DominanceRule(3, 1, 1.0)) == 1
    assert _first_stop("lr5e-3-r16", ["lr1e-2", "lr3e-3", "lr1e-2-r32"], DominanceRule(3, 1, 1.0)) is None


def test_objectives_annotation_is_parsed_by_the_core_and_denied_for_a_cluster():
    objective = {"objectiveMetricName": "eval_loss", "type": "minimize", "additionalMetricNames": ["eval_runtime"]}
    errors = []
    assert parse_objectives("eval_runtime:minimize", objective, errors) == [
        ("eval_loss", "minimize"), ("eval_runtime", "minimize")]
    assert parse_objectives("eval_runtime:minimize, eval_loss:minimize", objective, errors)[0] == ("eval_loss", "minimize")
    assert errors == []
    for raw, code in (("eval_runtime", "objectives.format"), ("x:minimize", "objectives.metric"),
                      ("eval_loss:maximize,eval_runtime:minimize", "objectives.direction"),
                      ("eval_loss:minimize", "objectives.count"),
                      ("eval_runtime:minimize,eval_runtime:maximize", "objectives.count")):
        errors = []
        assert parse_objectives(raw, objective, errors) == [] and [e.code for e in errors] == [code], raw
    exp = cheap_experiment("mo-cluster")
    exp["spec"]["objective"]["additionalMetricNames"] = ["cost"]
    exp["metadata"]["annotations"] = {ANN: "cost:minimize"}
    result = admit(exp, admin_config(None))
    assert [e.code for e in result.errors] == ["objectives.local-only"]


def test_samplers_and_stopping_accepted_with_several_objectives():
    spec = cheap_experiment()["spec"]
    space = search_space(spec)
    with pytest.raises(AlgorithmError, match="cannot search several objectives"):
        plan({**spec, "algorithm": {"algorithmName": "cmaes"}}, space, 0, objectives=2)
    with pytest.raises(AlgorithmError, match="accepted: medianstop"):
        plan({**spec, "earlyStopping": {"algorithmName": "successivehalving"}}, space, 0, objectives=2)
    with pytest.raises(AlgorithmError, match="dominated_fraction"):
        plan({**spec, "earlyStopping": {"algorithmName": "medianstop", "algorithmSettings": [
            {"name": "dominated_fraction", "value": "0"}]}}, space, 0, objectives=2)
    built = plan({**spec, "algorithm": {"algorithmName": "tpe"}, "earlyStopping": {
        "algorithmName": "medianstop", "algorithmSettings": [{"name": "start_step", "value": "2"}]}}, space, 0, 2)
    assert built.rule == DominanceRule(3, 2, 0.5)


def test_runner_searches_two_objectives_stops_dominated_trials_and_reports_the_front(tmp_path, cache_dir):
    from katib_llm import KatibClient

    exp = cheap_experiment("mo", algorithm="tpe", settings={"random_state": "2", "n_startup_trials": "4"},
                           max_trials=12, parallel=1, env={"OBJ_COST": "1", "OBJ_STEPS": "3"},
                           earlyStopping={"algorithmName": "medianstop", "algorithmSettings": [
                               {"name": "min_trials_required", "value": "2"}, {"name": "start_step", "value": "1"}]})
    exp["spec"]["objective"]["additionalMetricNames"] = ["cost"]
    exp["metadata"]["annotations"] = {ANN: "score:maximize,cost:minimize"}
    result = run_experiment(exp, tmp_path / "run", progress=False, cache_dir=cache_dir)
    assert result.objectives == [("score", "maximize"), ("cost", "minimize")]
    assert len(result.trials) == 12
    stopped = [t for t in result.trials if t.state == "EarlyStopped"]
    assert stopped, [t.state for t in result.trials]
    # Each stop is the rule applied to what had finished before it (recomputed from the records).
    done = []
    for t in sorted(result.trials, key=lambda t: t.number):
        if t.state == "EarlyStopped":
            step = len(t.metrics["score"])
            finished = [p for c in done if (p := point_at(c, ["score", "cost"], step))]
            assert should_stop(point_at(t.metrics, ["score", "cost"], step), step, finished,
                               ["maximize", "minimize"], DominanceRule(2, 1, 0.5))
        elif t.state == "Succeeded":
            done.append(t.metrics)
    # The front: Succeeded trials no other dominates; score peaks at x = 0.3 and cost = x, so
    # nothing above 0.3 is on it.
    succeeded = [t for t in result.trials if t.state == "Succeeded"]
    front = {t.name for t in result.pareto_front}
    for t in succeeded:
        dominated = any(dominates((o.objectives["score"], o.objectives["cost"]),
                                  (t.objectives["score"], t.objectives["cost"]), ["maximize", "minimize"])
                        for o in succeeded)
        assert (t.name in front) == (not dominated)
    assert all(t.parameters["x"] <= 0.3 + 1e-9 for t in result.pareto_front)
    assert result.best.objective == max(t.objective for t in succeeded)
    saved = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {f["name"] for f in saved["pareto_front"]} == front
    assert (tmp_path / "run" / "pareto.png").stat().st_size > 0
    optimal = KatibClient(backend="local", workdir=str(tmp_path / "run")).get_optimal_hyperparameters("mo")
    assert optimal.trial_name == result.best.name and {f.trial_name for f in optimal.pareto_front} == front
    assert all(set(f.metrics) == {"score", "cost"} for f in optimal.pareto_front)
