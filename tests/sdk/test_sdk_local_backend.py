"""KatibClient(backend="local"): tune() runs the same Experiment here, no cluster, no kubeconfig."""

from __future__ import annotations

import pytest

from katib_llm import KatibClient, search
from katib_llm.sdk.errors import ExperimentDenied


def objective(parameters):
    return {"loss": (parameters["x"] - 1) ** 2, "x_seen": parameters["x"]}


@pytest.mark.slow
def test_local_backend_runs_function_trials(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("KATIB_LLM_CACHE_DIR", str(tmp_path / "cache"))
    result = KatibClient(backend="local", workdir=str(tmp_path / "run")).tune(
        name="local-fn", objective=objective, hp_space={"x": search.double(-2, 2)},
        objective_metric_name="loss", objective_type="minimize", additional_metric_names=["x_seen"],
        max_trial_count=2, parallel_trial_count=1, progress=False)
    assert [t.state for t in result.trials] == ["Succeeded", "Succeeded"]
    for trial in result.trials:
        # The function got a float and its metrics came back through the metric lines.
        assert trial.series["x_seen"] == [trial.parameters["x"]] and trial.metrics["x_seen"] == trial.parameters["x"]
        assert abs(trial.objective - (trial.parameters["x"] - 1) ** 2) < 1e-12
    assert result.best.objective == min(t.objective for t in result.trials)


@pytest.mark.slow
def test_tune_warm_start_from_an_earlier_local_run(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "no-kubeconfig"))
    monkeypatch.setenv("KATIB_LLM_CACHE_DIR", str(tmp_path / "cache"))
    space = {"x": search.double(-2, 2)}
    common = dict(objective=objective, hp_space=space, objective_metric_name="loss", objective_type="minimize",
                  parallel_trial_count=1, progress=False, algorithm_name="tpe",
                  algorithm_settings={"n_startup_trials": "3", "random_state": "0"})
    KatibClient(backend="local", workdir=str(tmp_path / "a")).tune(name="warm-a", max_trial_count=3, **common)
    result = KatibClient(backend="local", workdir=str(tmp_path / "b")).tune(
        name="warm-b", max_trial_count=2, warm_start_from=tmp_path / "a", **common)
    assert result.warm_start["total"] == 3 and len(result.trials) == 2


def test_tune_warm_start_is_denied_for_a_cluster_and_type_checked():
    from katib_llm.sdk.errors import ExperimentDenied, TuneArgumentError

    common = dict(objective=objective, hp_space={"x": search.double(-2, 2)}, objective_metric_name="loss",
                  objective_type="minimize", max_trial_count=2, parallel_trial_count=1, dry_run=True)
    with pytest.raises(ExperimentDenied, match="warm-start.local-only"):
        KatibClient().tune(name="warm-c", warm_start_from="runs/earlier", **common)
    with pytest.raises(TuneArgumentError, match="warm_start_from"):
        KatibClient().tune(name="warm-c", warm_start_from=[3], **common)
    with pytest.raises(ExperimentDenied, match="warm-start.reference"):
        KatibClient(backend="local").tune(name="warm-c", warm_start_from=[""], **common)
    exp = KatibClient(backend="local").tune(name="warm-c", warm_start_from=["runs/a", "runs/b"], **common)
    assert exp["metadata"]["name"] == "warm-c"


def test_local_backend_admits_as_its_runner_does():
    """tune(backend="local") admits with the local runner's configuration: successive halving
    (the runner is the early-stopping service) where a cluster without it registered denies."""
    def score(params):
        return {"score": params["x"]}

    args = dict(name="sha", objective=score, hp_space={"x": search.double(0.0, 1.0)},
                objective_metric_name="score", max_trial_count=2, dry_run=True,
                early_stopping={"algorithm": "successivehalving", "min_resource": 1})
    admitted = KatibClient(backend="local").tune(**args)
    assert admitted["spec"]["earlyStopping"]["algorithmName"] == "successivehalving"
    with pytest.raises(ExperimentDenied, match="successivehalving is not registered"):
        KatibClient(namespace="kubeflow").tune(**args)
