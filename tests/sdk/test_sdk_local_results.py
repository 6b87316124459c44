"""The result calls on the local backend after a real short run: the same calls as on the cluster
(kubeflow-katib's return types), from the client that ran it and from a new Python process given
the work dir; trials_dataframe, the report (inline HTML and files) and ``katib-llm report``."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

from katib_llm import KatibClient, search
from katib_llm.cli.main import main
from tests.sdk.test_sdk_notebook_path import fake_ipython


def objective(parameters):
    return {"loss": (parameters["x"] - 1) ** 2, "x_seen": parameters["x"]}


NAME = "local-results"


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("local-results")
    env = {"KUBECONFIG": str(root / "no-kubeconfig"), "KATIB_LLM_CACHE_DIR": str(root / "cache")}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    shown: list = []
    patch = pytest.MonkeyPatch()
    fake_ipython(patch, shown)  # tune() as in a Jupyter kernel: its live view goes to one output area
    try:
        client = KatibClient(backend="local", workdir=str(root / "run"))
        result = client.tune(name=NAME, objective=objective, hp_space={"x": search.double(-2, 2), "k": search.int(1, 4)},
                             objective_metric_name="loss", objective_type="minimize", additional_metric_names=["x_seen"],
                             max_trial_count=3, parallel_trial_count=1)
    finally:
        patch.undo()
        for key, value in saved.items():
            os.environ.pop(key, None) if value is None else os.environ.__setitem__(key, value)
    client.progress = False
    client.shown = shown
    return client, result, root


@pytest.mark.slow
def test_tune_progress_is_one_live_output_area_in_jupyter(run):
    client, result, _ = run
    kinds = [kind for kind, _ in client.shown]
    assert kinds[0] == "display" and set(kinds[1:]) == {"update"}
    assert f"{NAME}: 3/3 done" in client.shown[-1][1] and result.best.name in client.shown[-1][1]


@pytest.mark.slow
def test_the_cluster_calls_answer_from_the_local_run(run):
    from kubeflow.katib import models

    client, result, _ = run
    assert [t.state for t in result.trials] == ["Succeeded"] * 3
    experiment = client.wait_for_experiment_condition(name=NAME)
    # One result type: what tune() returned; quiet (one line), kubeflow-katib's model on request.
    assert type(experiment) is type(result) and experiment.name == NAME and experiment.best.name == result.best.name
    assert isinstance(experiment.to_model(), models.V1beta1Experiment)
    assert repr(experiment).startswith(f"<Experiment {NAME}: Succeeded (ExperimentMaxTrialsReached); 3 succeeded")
    assert "\n" not in repr(experiment) and f"<td>{result.best.name} &#9733;</td>" in experiment._repr_html_()
    assert client.is_experiment_succeeded(NAME)
    assert experiment.status.conditions[-1].reason == "ExperimentMaxTrialsReached"
    assert experiment.status.trials_succeeded == 3
    assert experiment.status.current_optimal_trial.best_trial_name == result.best.name
    best = client.get_optimal_hyperparameters(NAME)
    assert best.trial_name == result.best.name and best.parameters == result.optimal_hyperparameters
    assert best.objective_value == result.best.objective
    trials = client.list_trials(NAME)
    assert [t.metadata.name for t in trials] == [t.name for t in result.trials]
    assert all(t.metadata.labels == {"katib.kubeflow.org/experiment": NAME} for t in trials)
    assert {d["name"] for d in client.get_success_trial_details(NAME)} == {t.name for t in result.trials}
    logs = client.get_trial_metrics(result.best.name)
    assert {(m.metric.name, float(m.metric.value)) for m in logs} == {
        ("loss", result.best.objective), ("x_seen", result.best.parameters["x"])}
    assert client.get_trial(result.best.name).status.conditions[-1].type == "Succeeded"
    with pytest.raises(RuntimeError):  # Failed is never reached: the run succeeded
        client.wait_for_experiment_condition(name=NAME, expected_condition="Restarting", timeout=1, progress=False)


@pytest.mark.slow
def test_trials_dataframe_one_row_per_trial(run):
    client, result, _ = run
    frame = client.trials_dataframe(NAME)
    assert list(frame.columns) == ["name", "state", "loss", "x_seen", "x", "k", "start", "end", "wall_time_s",
                                   "reports", "stop_reason"]
    assert list(frame["name"]) == [t.name for t in result.trials]
    for row, trial in zip(frame.itertuples(), result.trials):
        assert row.state == "Succeeded" and row.stop_reason.startswith("TrialSucceeded")
        assert row.loss == trial.objective and row.x == trial.parameters["x"] and row.k == trial.parameters["k"]
        assert isinstance(row.k, int) and row.x_seen == trial.parameters["x"] and row.reports == 1
        assert row.end >= row.start and 0 <= row.wall_time_s < 600
        assert abs(row.wall_time_s - trial.wall_time) < 2  # sub-second timestamps locally


@pytest.mark.slow
def test_report_inline_and_files(run, tmp_path):
    client, result, root = run
    report = client.report(NAME)
    keys = [key for key, _ in report.figures]
    assert keys == ["best-so-far", "best-over-compute", "slices", "parallel-coordinates", "intermediate"]
    html = report._repr_html_()
    assert html.count('src="data:image/png;base64,') == len(keys) and "<script" not in html
    assert "importance: not drawn, 3 trials with an objective" in html and html.count("<td>TrialSucceeded</td>") == 3
    # The run wrote the same report into its work dir.
    page = (root / "run" / "report.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(keys) and "<script" not in page
    assert main(["report", str(root / "run"), "--out", str(tmp_path / "out")]) == 0
    assert (tmp_path / "out" / "report.html").read_text().count("data:image/png") == len(keys)
    assert sorted(p.name for p in (tmp_path / "out").glob("report-*.png")) == sorted(f"report-{k}.png" for k in keys)
    csv = (tmp_path / "out" / "trials.csv").read_text().splitlines()
    assert len(csv) == 1 + len(result.trials) and csv[0].startswith("name,state,loss,x_seen,x,k,")


@pytest.mark.slow
def test_a_new_process_reads_the_same_results(run):
    client, result, root = run
    # By the default work dir (runs/<name> under the current directory) and by an explicit one.
    (root / "runs").mkdir(exist_ok=True)
    link = root / "runs" / NAME
    if not link.exists():
        link.symlink_to(root / "run")
    code = (
        "import json\n"
        "from katib_llm import KatibClient\n"
        f"for client in (KatibClient(backend='local'), KatibClient(backend='local', workdir={str(root / 'run')!r})):\n"
        f"    exp = client.wait_for_experiment_condition(name={NAME!r}, progress=False)\n"
        f"    best = client.get_optimal_hyperparameters({NAME!r})\n"
        f"    frame = client.trials_dataframe({NAME!r})\n"
        "    print(json.dumps([exp.status.conditions[-1].type, best.trial_name, best.parameters,"
        " [t.metadata.name for t in client.list_trials(" + repr(NAME) + ")], list(frame['loss'])]))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "KUBECONFIG": str(root / "no-kubeconfig")})
    assert out.returncode == 0, out.stderr[-2000:]
    expected = ["Succeeded", result.best.name, result.optimal_hyperparameters, [t.name for t in result.trials],
                [t.objective for t in result.trials]]
    lines = out.stdout.strip().splitlines()
    assert [json.loads(line) for line in lines] == [expected, expected]
    assert not any(math.isnan(v) for v in expected[4])
