"""KatibClient(backend="local"): tune() runs the same Experiment here, no cluster, no kubeconfig."""

from __future__ import annotations

import pytest

from katib_llm import KatibClient, search


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
        assert trial.metrics["x_seen"] == [trial.parameters["x"]]
        assert abs(trial.objective - (trial.parameters["x"] - 1) ** 2) < 1e-12
    assert result.best.objective == min(t.objective for t in result.trials)
