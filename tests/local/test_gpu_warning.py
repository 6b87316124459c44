"""The local backend says before the first trial that GPU trials will refuse to run on CPU."""

from __future__ import annotations

import json
import warnings

import pytest

from katib_llm.local.api import requested_gpus, warn_if_gpus_missing
from katib_llm.local.runner import admit_for_local


def _experiment(resources: dict) -> dict:
    return {
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
        "metadata": {"name": "gpus", "namespace": "kubeflow", "labels": {"llm.katib.kubeflow.org/tune": "true"},
                     "annotations": {"llm.katib.kubeflow.org/model": "hf://google-bert/bert-base-cased",
                                     "llm.katib.kubeflow.org/dataset": "hf://yelp_review_full",
                                     "llm.katib.kubeflow.org/resources-per-worker": json.dumps(resources)}},
        "spec": {"objective": {"type": "maximize", "objectiveMetricName": "eval_accuracy"},
                 "algorithm": {"algorithmName": "random"}, "maxTrialCount": 4,
                 "parameters": [{"name": "learning_rate", "parameterType": "double",
                                 "feasibleSpace": {"min": "1e-05", "max": "5e-05"}}]},
    }


def test_the_local_backend_warns_before_running_trials_that_will_refuse_cpu():
    torch = pytest.importorskip("torch")
    admitted, _ = admit_for_local(_experiment({"gpu": 2}), None)
    assert requested_gpus(admitted) == 2
    assert requested_gpus(admit_for_local(_experiment({"cpu": 2}), None)[0]) == 0
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_gpus_missing(admitted)
    assert any("asks for 2 GPU(s) per worker" in str(w.message) and "CUDA sees none" in str(w.message)
               for w in caught)
