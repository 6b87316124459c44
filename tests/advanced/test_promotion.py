"""Adapter promotion: best adapter to a stable best/, the others pruned unless retained."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from katib_llm.deploy.adapters import PromotionError, TrialResult, main, promote

TRIALS = [TrialResult("exp-a", 0.70), TrialResult("exp-b", 0.91), TrialResult("exp-c", 0.85),
          TrialResult("exp-d", None, succeeded=False)]


def _tree(root: Path) -> Path:
    exp = root / "experiments" / "exp"
    for i, t in enumerate(TRIALS):
        d = exp / t.name
        d.mkdir(parents=True)
        if t.succeeded:
            (d / "adapter_config.json").write_text(json.dumps({"peft_type": "LORA", "r": 4 + i}))
            (d / "adapter_model.safetensors").write_bytes(bytes([i]) * 64)
            (d / "metrics.json").write_text(json.dumps({"final": {"eval_accuracy": t.objective}}))
    (root / "inputs" / "0123456789abcdef").mkdir(parents=True)
    return exp


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_best_is_promoted_and_others_pruned(tmp_path):
    exp = _tree(tmp_path)
    result = promote(exp, TRIALS)
    assert result.trial == "exp-b" and result.best == exp / "best"
    assert (exp / "best" / "adapter_model.safetensors").read_bytes() == bytes([1]) * 64
    assert json.loads((exp / "best" / "trial.json").read_text()) == {"objective": 0.91, "trial": "exp-b"}
    assert sorted(result.pruned) == ["exp-a", "exp-c", "exp-d"]
    assert sorted(p.name for p in exp.iterdir()) == ["best", "exp-b"]  # best trial's own dir is kept
    assert (tmp_path / "inputs" / "0123456789abcdef").is_dir()  # never touches anything else


def test_retain_trials_keeps_every_trial(tmp_path):
    exp = _tree(tmp_path)
    result = promote(exp, TRIALS, retain=True)
    assert result.pruned == [] and sorted(result.kept) == ["exp-a", "exp-c", "exp-d"]
    assert sorted(p.name for p in exp.iterdir()) == ["best", "exp-a", "exp-b", "exp-c", "exp-d"]


def test_katibs_best_trial_wins_and_minimize_is_honoured(tmp_path):
    exp = _tree(tmp_path)
    assert promote(exp, TRIALS, "exp-c", retain=True).trial == "exp-c"
    assert promote(exp, TRIALS, retain=True, maximize=False).trial == "exp-a"
    assert json.loads((exp / "best" / "trial.json").read_text())["trial"] == "exp-a"  # replaced, not merged
    assert (exp / "best" / "adapter_config.json").read_text() == (exp / "exp-a" / "adapter_config.json").read_text()


def test_promotion_is_idempotent(tmp_path):
    exp = _tree(tmp_path)
    promote(exp, TRIALS)
    first = _snapshot(exp)
    again = promote(exp, TRIALS)
    assert again.pruned == [] and _snapshot(exp) == first
    assert not [p for p in exp.iterdir() if p.name.startswith(".")]  # no staging left behind


@pytest.mark.parametrize("trials, best, message", [
    (TRIALS, "exp-d", "has no adapter"),
    (TRIALS, "exp-z", "not among the trials"),
    (TRIALS, "../evil", "not a trial name"),
    (TRIALS + [TrialResult("best", 1.0)], None, "not a trial name"),
    ([TrialResult("exp-d", None, succeeded=False)], None, "no succeeded trial"),
])
def test_bad_promotions_change_nothing(tmp_path, trials, best, message):
    exp = _tree(tmp_path)
    before = _snapshot(tmp_path)
    with pytest.raises(PromotionError, match=message):
        promote(exp, trials, best)
    assert _snapshot(tmp_path) == before


def test_the_job_entrypoint_picks_the_best_from_metrics_json(tmp_path, capsys):
    exp = _tree(tmp_path)
    args = ["--experiment-dir", str(exp), "--objective-metric", "eval_accuracy"]
    for t in TRIALS:
        args += ["--trial", t.name]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["trial"] == "exp-b" and sorted(out["pruned"]) == ["exp-a", "exp-c", "exp-d"]
    assert main(["--experiment-dir", str(tmp_path / "nope"), "--trial", "exp-a"]) == 2
    assert "does not exist" in capsys.readouterr().err
