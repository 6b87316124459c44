"""Warm start: an earlier local run's finished trials seed the search; known configurations are not re-run."""

from __future__ import annotations

import json

import pytest
from tests.local.local_helpers import cheap_experiment

from katib_llm.core.admit import admit
from katib_llm.core.contract import parse_warm_start
from katib_llm.core.errors import AdmissionDenied
from katib_llm.io import admin_config
from katib_llm.local import LocalRunError, run_experiment

ANN = "llm.katib.kubeflow.org/warm-start"
GRID = [{"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0.0", "max": "1.0", "step": "0.25"}}]


def _with_warm(exp, value):
    exp["metadata"].setdefault("annotations", {})[ANN] = value
    return exp


def _run(exp, path, cache_dir):
    return run_experiment(exp, path, progress=False, cache_dir=cache_dir, report=False)


def test_parse_warm_start_forms():
    errors = []
    assert parse_warm_start("runs/a", errors) == ["runs/a"]
    assert parse_warm_start('["runs/a", "/abs/b"]', errors) == ["runs/a", "/abs/b"]
    assert errors == []
    for bad, code in (("[]", "warm-start.reference"), ('["a", 3]', "warm-start.reference"),
                      ("[not json", "annotation.json"), ('["a", "a"]', "warm-start.count"),
                      ("a\nb", "warm-start.reference"), (json.dumps(["r%d" % i for i in range(33)]), "warm-start.count")):
        errors = []
        assert parse_warm_start(bad, errors) == []
        assert [e.code for e in errors] == [code], bad
        assert errors[0].path == f"metadata.annotations[{ANN}]"


def test_cluster_admission_denies_warm_start_naming_why():
    exp = _with_warm(cheap_experiment("warm-cluster"), "runs/earlier")
    result = admit(exp, admin_config(None))
    assert not result.allowed
    [err] = [e for e in result.errors if e.code == "warm-start.local-only"]
    assert "local backend" in err.message and "suggestion API" in err.message


def test_warm_start_seeds_and_skips_known_configurations(tmp_path, cache_dir):
    first = cheap_experiment("warm-a", algorithm="grid", max_trials=3, parallel=1, parameters=GRID)
    before = _run(first, tmp_path / "a", cache_dir)
    assert [t.state for t in before.trials] == ["Succeeded"] * 3
    ran_before = {t.assignments["x"] for t in before.trials}

    ledger = tmp_path / "ledger"
    second = _with_warm(cheap_experiment("warm-b", algorithm="grid", max_trials=5, parallel=1, parameters=GRID,
                                         env={"OBJ_LEDGER": str(ledger)}), str(tmp_path / "a"))
    after = _run(second, tmp_path / "b", cache_dir)
    # The grid has 5 points, 3 known from the first run: only the 2 others run, then the search is exhausted.
    ran_after = {t.assignments["x"] for t in after.trials}
    assert len(after.trials) == 2 and ran_after.isdisjoint(ran_before)
    assert ran_after | ran_before == {"0.0", "0.25", "0.5", "0.75", "1.0"}
    assert len(ledger.read_text().splitlines()) == 2
    assert after.reason == "SearchSpaceExhausted"
    assert after.warm_start["added"] == {str(tmp_path / "a"): 3}
    assert after.warm_start["repeats_not_run"] >= 3
    # The best comes from this run's own trials; the seeded ones are history only.
    assert after.best is not None and after.best.name.startswith("warm-b-")

    # Resume: rerunning the same command seeds nothing twice and runs nothing again.
    again = _run(second, tmp_path / "b", cache_dir)
    assert len(again.trials) == 2 and len(ledger.read_text().splitlines()) == 2


def test_warm_start_tpe_skips_start_up_with_enough_history(tmp_path, cache_dir):
    first = cheap_experiment("warm-r", algorithm="random", settings={"random_state": "1"}, max_trials=6, parallel=1)
    _run(first, tmp_path / "r", cache_dir)
    # 6 seeded trials >= n_startup_trials 4: TPE models from its first suggestion (not random).
    second = _with_warm(cheap_experiment("warm-t", algorithm="tpe", max_trials=3, parallel=1,
                                         settings={"random_state": "1", "n_startup_trials": "4"}),
                        json.dumps([str(tmp_path / "r")]))
    result = _run(second, tmp_path / "t", cache_dir)
    assert result.warm_start["total"] == 6 and len(result.trials) == 3
    # score peaks at x = 0.3; TPE started from 6 points lands near it.
    assert min(abs(t.parameters["x"] - 0.3) for t in result.trials) < 0.15


def test_warm_start_mismatch_is_a_clear_error(tmp_path, cache_dir):
    _run(cheap_experiment("warm-m", max_trials=1, parallel=1), tmp_path / "m", cache_dir)
    other = [{"name": "y", "parameterType": "double", "feasibleSpace": {"min": "0.0", "max": "1.0"}}]
    exp = _with_warm(cheap_experiment("warm-n", max_trials=1, parallel=1, parameters=other), str(tmp_path / "m"))
    with pytest.raises(LocalRunError, match=r"parameters \['y'\] are not in it.*\['x'\]"):
        _run(exp, tmp_path / "n", cache_dir)
    flipped = _with_warm(cheap_experiment("warm-o", max_trials=1, parallel=1), str(tmp_path / "m"))
    flipped["spec"]["objective"]["type"] = "minimize"
    with pytest.raises(LocalRunError, match="objective.type is 'maximize' there, 'minimize' here"):
        _run(flipped, tmp_path / "o", cache_dir)
    with pytest.raises(LocalRunError, match="holds no local run"):
        _run(_with_warm(cheap_experiment("warm-p", max_trials=1, parallel=1), str(tmp_path / "nothing")), tmp_path / "p",
             cache_dir)
    with pytest.raises(AdmissionDenied, match="warm-start"):
        _run(_with_warm(cheap_experiment("warm-q", max_trials=1, parallel=1), "[1, 2]"), tmp_path / "q", cache_dir)


def test_warm_start_skips_trials_outside_the_space(tmp_path, cache_dir):
    _run(cheap_experiment("warm-s", algorithm="grid", max_trials=5, parallel=1, parameters=GRID),
         tmp_path / "s", cache_dir)
    narrow = [{"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0.0", "max": "0.5"}}]
    exp = _with_warm(cheap_experiment("warm-u", max_trials=1, parallel=1, parameters=narrow), str(tmp_path / "s"))
    result = _run(exp, tmp_path / "u", cache_dir)
    key = str(tmp_path / "s")
    assert result.warm_start["added"] == {key: 3} and result.warm_start["skipped_outside_space"] == {key: 2}
