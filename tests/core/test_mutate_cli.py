"""`katib-llm mutate` / `validate`: a dry run admins and users can trust."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from tests.builders import example, experiment
from tests.conformance.schemas import admitted_errors


REPO = Path(__file__).resolve().parents[2]


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "katib_llm.cli", *args], capture_output=True, text=True,
                          input=stdin, cwd=REPO)


def test_mutate_prints_admitted_experiment():
    out = cli("mutate", "examples/bert-lora-experiment.yaml")
    assert out.returncode == 0, out.stderr
    (exp,) = list(yaml.safe_load_all(out.stdout))
    assert admitted_errors(exp) == []
    assert exp["spec"]["trialTemplate"]["trialSpec"]["kind"] == "PyTorchJob"


def test_mutate_unlabelled_example_unchanged(tmp_path):
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(experiment(labelled=False)))
    out = cli("mutate", str(path))
    assert out.returncode == 0
    assert list(yaml.safe_load_all(out.stdout)) == [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_mutate_denial_exits_nonzero_naming_field(tmp_path):
    exp = example()
    exp["metadata"]["annotations"]["llm.katib.kubeflow.org/resources-per-worker"] = "{gpu: 2}"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(exp))
    out = cli("mutate", str(bad))
    assert out.returncode == 1
    assert out.stdout == ""
    assert "metadata.annotations[llm.katib.kubeflow.org/resources-per-worker]" in out.stderr
    assert "JSON" in out.stderr
    assert "Traceback" not in out.stderr


def test_mutate_reads_values_and_stdin(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("config:\n  images:\n    runtime: registry.local/runtime:2\n")
    out = cli("mutate", "-", "--values", str(values), stdin=(REPO / "examples" / "bert-lora-experiment.yaml").read_text())
    assert out.returncode == 0, out.stderr
    assert "registry.local/runtime:2" in out.stdout


def test_bad_values_and_missing_file_are_clear_errors(tmp_path):
    values = tmp_path / "values.yaml"
    values.write_text("config:\n  gpu:\n    maxPerWorker: lots\n")
    out = cli("mutate", "examples/bert-lora-experiment.yaml", "--values", str(values))
    assert out.returncode == 2 and "config.gpu.maxPerWorker" in out.stderr and "Traceback" not in out.stderr
    out = cli("mutate", str(tmp_path / "nope.yaml"))
    assert out.returncode == 2 and "nope.yaml" in out.stderr and "Traceback" not in out.stderr
    garbage = tmp_path / "garbage.yaml"
    garbage.write_text("a: [unclosed\n")
    out = cli("validate", str(garbage))
    assert out.returncode == 2 and "Traceback" not in out.stderr


def test_validate_reports_each_document():
    out = cli("validate", "examples/bert-lora-experiment.yaml")
    assert out.returncode == 0 and "valid: llm-hp-optimization-test" in out.stdout
