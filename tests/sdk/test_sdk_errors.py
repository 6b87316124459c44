"""tune() refuses bad arguments before anything is submitted, naming the argument."""

from __future__ import annotations

import warnings

import pytest

from katib_llm import KatibClient, TrainingClient, search
from katib_llm.sdk.errors import ExperimentDenied, TuneArgumentError


def _llm(model="hf://google-bert/bert-base-cased", dataset="hf://yelp_review_full?split=train[:300]", **kw):
    return TrainingClient().train(model_provider_parameters=model, dataset_provider_parameters=dataset,
                                  **kw).metrics


BASE = dict(name="errs", hp_space={"learning_rate": search.double(1e-5, 5e-5)},
            objective_metric_name="eval_accuracy", max_trial_count=4)


def _tune(**overrides):
    kwargs = {**BASE, "objective": _llm(), **overrides}
    return KatibClient(namespace="kubeflow").tune(dry_run=True, **kwargs)


@pytest.mark.parametrize("overrides, argument", [
    ({"hp_space": {"learnin_rate": search.double(1e-5, 5e-5)}}, "hp_space['learnin_rate']"),
    ({"hp_space": {}}, "hp_space"),
    ({"objective_type": "maximise"}, "objective_type"),
    ({"parallel_trial_count": 5}, "parallel_trial_count"),
    ({"resources_per_trial": {"gpu": 6}, "num_workers": 4}, "resources_per_trial.gpu"),
    ({"resources_per_trial": {"gpu": 8}, "num_workers": 4, "resources_per_worker": {"gpu": 1}},
     "resources_per_trial.gpu"),
    ({"resources_per_worker": {"gpu": 3}, "num_procs_per_worker": 2}, "num_procs_per_worker"),
    ({"resources_per_worker": {"gpu": 1, "disk": "1Gi"}}, "resources_per_worker.disk"),
    ({"resources_per_worker": {"memory": "ten gigs"}}, "resources_per_worker.memory"),
    ({"env_per_trial": {"HF_TOKEN": "hf_abc"}}, "env_per_trial['HF_TOKEN']"),
    ({"env_per_trial": {"AWS_SECRET_ACCESS_KEY": "x"}}, "env_per_trial['AWS_SECRET_ACCESS_KEY']"),
    ({"objective": _llm(model={"model_uri": "hf://org/m", "access_token": "hf_secret"})},
     "model_provider_parameters.access_token"),
    ({"objective": _llm(dataset={"bucket_name": "data", "file_key": "k", "secret_key": "s"})},
     "dataset_provider_parameters.secret_key"),
    ({"objective": None}, "objective"),
    ({"objective": {"eval_accuracy": 0.9}}, "objective"),
    ({"objective": lambda p: {"x": 1}}, "objective"),
    ({"name": "Bad_Name"}, "name"),
    ({"algorithm_name": "bayesian"}, "algorithm_name"),
    ({"early_stopping": "hyperband"}, "early_stopping"),
    ({"early_stopping": {"algorithm": "medianstop", "min_trials": 2}}, "early_stopping.min_trials"),
    ({"storage_config": {"sise": "10Gi"}}, "storage_config.sise"),
    ({"metrics_collector_config": {"kind": "Push"}}, "metrics_collector_config"),
    ({"packages_to_install": ["numpy"]}, "packages_to_install"),
    ({"max_trail_count": 4}, "max_trail_count"),  # given together with max_trial_count
    ({"max_trial_cont": 4}, "max_trial_cont"),
])
def test_bad_argument_is_named(overrides, argument):
    with pytest.raises(TuneArgumentError) as info:
        _tune(**overrides)
    assert info.value.argument == argument
    assert str(info.value).startswith(argument + ": ")


def test_unknown_name_suggests_the_close_one():
    with pytest.raises(TuneArgumentError, match="did you mean learning_rate"):
        _tune(hp_space={"learnin_rate": search.double(1e-5, 5e-5)})


def test_inline_credentials_point_to_secrets():
    with pytest.raises(TuneArgumentError, match="Secret"):
        _tune(env_per_trial={"HF_TOKEN": "hf_abc"})


def test_seed_misspellings_are_deprecated_aliases():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exp = KatibClient(namespace="kubeflow").tune(
            dry_run=True, objective=_llm(), **{**{k: v for k, v in BASE.items() if k != "max_trial_count"}},
            max_trail_count=6, parallel_trail_count=2, max_failed_trail_count=1,
            algorithm_setting={"random_state": 7}, resources_per_trail={"cpu": 2, "memory": "4Gi"})
    assert {str(w.message).split(":")[1].split()[0] for w in caught if w.category is DeprecationWarning} == {
        "max_trail_count", "parallel_trail_count", "max_failed_trail_count", "algorithm_setting",
        "resources_per_trail"}
    spec = exp["spec"]
    assert (spec["maxTrialCount"], spec["parallelTrialCount"], spec["maxFailedTrialCount"]) == (6, 2, 1)
    assert spec["algorithm"]["algorithmSettings"] == [{"name": "random_state", "value": "7"}]


def test_core_denial_is_raised_with_field_errors():
    with pytest.raises(ExperimentDenied) as info:
        _tune(objective=_llm(model="gcs://bucket/model"))
    assert [e.code for e in info.value.errors] == ["uri.scheme"]


def test_no_cluster_needed_for_dry_run(tmp_path, monkeypatch):
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.setenv("HOME", str(tmp_path))
    client = KatibClient()
    from kubeflow.katib import KatibClient as UpstreamKatibClient

    assert isinstance(client, UpstreamKatibClient)
    assert _tune()["kind"] == "Experiment"
    from katib_llm.io.kube import ClusterUnavailable

    with pytest.raises(ClusterUnavailable, match="dry_run=True"):
        client.get_optimal_hyperparameters("anything")


def test_env_per_trial_accepts_env_vars_and_refuses_secret_references():
    from kubernetes import client as k8s

    exp = _tune(env_per_trial=[k8s.V1EnvVar(name="HF_HUB_OFFLINE", value="1")])
    assert exp["metadata"]["annotations"]["llm.katib.kubeflow.org/env"] == '{"HF_HUB_OFFLINE": "1"}'
    for bad in ([k8s.V1EnvFromSource(secret_ref=k8s.V1SecretEnvSource(name="hf"))],
                [k8s.V1EnvVar(name="X", value_from=k8s.V1EnvVarSource(
                    secret_key_ref=k8s.V1SecretKeySelector(name="s", key="k")))]):
        with pytest.raises(TuneArgumentError, match="Secret") as info:
            _tune(env_per_trial=bad)
        assert info.value.argument == "env_per_trial"


def seed_style_objective(exp_name):
    result = TrainingClient().train(name=exp_name, model_provider_parameters="hf://a/b",
                                    dataset_provider_parameters="hf://c/d")
    return result.metrics


def test_uncalled_seed_objective_says_to_call_it():
    with pytest.raises(TuneArgumentError, match=r"objective=seed_style_objective\(exp_name\)"):
        _tune(objective=seed_style_objective)
    assert _tune(objective=seed_style_objective("errs"))["kind"] == "Experiment"
