"""The report from Katib dicts (cluster and local alike): figures, stopped trials marked, notes
instead of figures that cannot be drawn; and the optimal trial's kubeflow-katib attribute names."""

from __future__ import annotations

import json
from pathlib import Path

from katib_llm.local.studyreport import build_report, to_study
from katib_llm.sdk.results import optimal_from_status

DATA = Path(__file__).resolve().parent / "data"
EXPERIMENT = {"metadata": {"name": "rep"}, "spec": {
    "objective": {"type": "maximize", "objectiveMetricName": "eval_accuracy"},
    "parameters": [{"name": "learning_rate", "parameterType": "double", "feasibleSpace": {"min": "1e-05", "max": "5e-05"}},
                   {"name": "lora_config.r", "parameterType": "int", "feasibleSpace": {"min": "8", "max": "32"}},
                   {"name": "optim", "parameterType": "categorical", "feasibleSpace": {"list": ["adamw_torch", "sgd"]}}]}}


def _trial(name, kind, values, lr, r, optim, start="2026-11-29T18:00:00Z", end="2026-11-29T18:10:00Z"):
    return {"metadata": {"name": name}, "spec": {"parameterAssignments": [
        {"name": "learning_rate", "value": lr}, {"name": "lora_config.r", "value": r}, {"name": "optim", "value": optim}]},
        "status": {"startTime": start, "completionTime": end,
                   "conditions": [{"type": kind, "status": "True", "reason": f"Trial{kind}"}],
                   "observation": {"metrics": [{"name": "eval_accuracy", "min": str(min(values)), "max": str(max(values)),
                                                "latest": str(values[-1])}]}}}


TRIALS = [_trial("rep-1", "Succeeded", [0.5, 0.6, 0.7], "2e-05", "8", "sgd"),
          _trial("rep-2", "EarlyStopped", [0.3, 0.31], "4e-05", "16", "adamw_torch"),
          _trial("rep-3", "Succeeded", [0.6, 0.8], "3e-05", "32", "adamw_torch"),
          _trial("rep-4", "Succeeded", [0.55], "1e-05", "24", "sgd")]
SERIES = {t["metadata"]["name"]: {"eval_accuracy": [float(v) for v in vals]}
          for t, vals in zip(TRIALS, ([0.5, 0.6, 0.7], [0.3, 0.31], [0.6, 0.8], [0.55]))}


def _many(count):
    """``count`` finished trials spread over the space (enough for parameter importance)."""
    return [_trial(f"rep-{i}", "Succeeded", [0.5 + i / 100], f"{1 + i % 4}e-05", str(8 + i), ("sgd", "adamw_torch")[i % 2])
            for i in range(count)]


def test_static_report_renders_without_script_and_has_a_table(tmp_path):
    report = build_report(EXPERIMENT, TRIALS, SERIES)
    keys = [key for key, _ in report.figures]
    # Importance from 3 finished trials would rank noise: a note with the count instead.
    assert keys == ["best-so-far", "best-over-compute", "slices", "parallel-coordinates", "intermediate"]
    assert "importance: not drawn, 3 trials with an objective; it needs 10 to mean something" in report.notes
    assert all(png.startswith(b"\x89PNG") for png in report.images.values())
    html = report._repr_html_()
    assert "<script" not in html and html.count('src="data:image/png;base64,') == len(keys)
    assert "Best trial</b> rep-3: eval_accuracy = 0.8" in html and "learning_rate=3e-05" in html
    assert "TrialSucceeded &times;3" in html and "TrialEarlyStopped &times;1" in html
    assert html.count("<tr>") == 1 + len(TRIALS) and "<td>rep-3 *</td>" in html
    assert len(html) < 400_000  # plotly.js alone is about 4.8 MB
    paths = report.save(tmp_path)
    page = paths["html"].read_text()
    assert page.startswith("<!DOCTYPE html>") and "<script" not in page
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["report.html", *[f"report-{key}.png" for key in keys]])


def test_importance_is_drawn_once_enough_trials_support_it():
    report = build_report(EXPERIMENT, _many(10))
    assert "importance" in dict(report.figures)
    assert report.captions["importance"] == "importance: from 10 trials with an objective"
    assert "from 10 trials with an objective" in report._repr_html_()
    assert "importance" not in dict(build_report(EXPERIMENT, _many(9)).figures)


def test_interactive_report_marks_stopped_trials_and_loads_plotly_once(tmp_path, monkeypatch):
    from katib_llm.local import reportpage

    monkeypatch.setattr(reportpage, "_PLOTLYJS_SENT", False)
    report = build_report(EXPERIMENT, TRIALS, SERIES, interactive=True)
    keys = dict(report.figures)
    assert list(keys) == ["best-so-far", "best-over-compute", "slices", "parallel-coordinates", "intermediate"]
    stopped = [t for t in keys["intermediate"].data if getattr(t.marker, "symbol", None) == "x"]
    assert len(stopped) == 1 and list(stopped[0].y) == [0.31]
    compute = keys["best-over-compute"].data[0]
    assert list(compute.x) == [600.0, 1200.0, 1800.0, 2400.0] and list(compute.y) == [0.7, 0.7, 0.8, 0.8]
    first, second = report._repr_html_(), build_report(EXPERIMENT, TRIALS, SERIES, interactive=True)._repr_html_()
    assert first.count("Plotly.newPlot") == 5 and len(first) > 3_000_000  # plotly.js, in the first output only
    assert second.count("Plotly.newPlot") == 5 and len(second) < 300_000
    page = report.save(tmp_path)["html"].read_text()
    assert page.startswith("<!DOCTYPE html>") and page.count("Plotly.newPlot") == 5
    assert "<script src=" not in page  # plotly.js embedded once: opens offline


def test_cluster_report_without_intermediate_values_says_why():
    report = build_report(EXPERIMENT, TRIALS, None)
    assert "intermediate" not in dict(report.figures)
    assert any("get_trial_metrics" in note for note in report.notes)
    study = to_study(EXPERIMENT, TRIALS)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "PRUNED", "COMPLETE", "COMPLETE"]
    assert study.best_trial.params == {"learning_rate": 3e-05, "lora_config.r": 32, "optim": "adamw_torch"}


def test_no_objective_yet_is_a_note_not_an_error():
    running = [{**TRIALS[0], "status": {"conditions": [{"type": "Running", "status": "True"}]}}]
    report = build_report(EXPERIMENT, running)
    assert report.figures == [] and "No trial reported" in report._repr_html_()
    assert "<b>Ended</b>: Pending" in report.summary


def test_optimal_trial_answers_kubeflow_katib_attribute_names():
    status = json.loads((DATA / "experiment_status_succeeded.json").read_text())
    exp = {"spec": {"objective": {"type": "maximize", "objectiveMetricName": "eval_accuracy"}}, "status": status}
    best = optimal_from_status(exp)
    assert best.best_trial_name == best.trial_name
    assert [(a.name, a.value) for a in best.parameter_assignments][0] == ("learning_rate", "3.1862946028473366e-05")
    assert best.observation.metrics[0].max == "0.6133333333333333"
