"""The proposal's example executed as a notebook in a real ipykernel (nbclient): one result type
with a short text and an HTML view, static plots in a report with a trials table, a quiet wait,
the best adapter loaded with peft's AutoPeftModel and its label names; and a typo'd dataset
that fails after one trial and names the cause."""

from __future__ import annotations

import json

import pytest

from tests.sdk import notebook_example as nb

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    server = nb.start_hub(tmp_path_factory.mktemp("hub"))
    yield server
    server.stop()


def test_a_successful_run_in_a_notebook(hub, tmp_path):
    notebook = nb.execute(nb.SUCCESS_CELLS, tmp_path, hub)
    _, tune, report, frame, wait, adapter = notebook.cells
    # tune(): one result, a one-line text and an HTML summary with a row per trial.
    (text,) = nb.outputs(tune, "text/plain")
    assert text.startswith("<Experiment sentiment: Succeeded (ExperimentMaxTrialsReached); 3 succeeded; best sentiment-")
    (html,) = nb.outputs(tune, "text/html")
    assert html.count("<tr>") == 1 + 3 and "Best trial <b>sentiment-" in html and "<script" not in html
    # The report: static PNGs, no plotly.js, the trials table and the best parameters.
    (page,) = nb.outputs(report, "text/html")
    assert nb.outputs(report, "text/plain") == ["<Report 'Experiment sentiment: 3 finished trials, 3 with an objective': "
                                                "5 static figures, 1 notes>"]
    assert "<script" not in page and page.count('src="data:image/png;base64,') == 5
    assert "<b>Best trial</b> sentiment-" in page and "learning_rate=" in page and "TrialSucceeded &times;3" in page
    assert "importance: not drawn, 3 trials with an objective" in page
    assert len(page) < 600_000  # plotly.js alone is ~4.8 MB
    assert nb.outputs(frame, "text/html") and "eval_accuracy" in nb.outputs(frame, "text/html")[0]
    # wait_for_experiment_condition: the same type, quietly (one line, not a 300-line object).
    (waited,) = nb.outputs(wait, "text/plain")
    assert waited.startswith("<Experiment sentiment: Succeeded") and "\n" not in waited
    # The adapter: the base model by its Hub id, the dataset's label names.
    # The printed line (transformers' "Loading weights" progress shares the cell's streams).
    (printed,) = [line for line in "".join(nb.outputs(adapter, "stream")).splitlines()
                  if line.startswith(nb.MODEL_REPO)]
    base, rest = printed.split(" ", 1)
    assert base == nb.MODEL_REPO and rest.startswith("['negative', 'positive'] [")
    assert set(json.loads(rest.split("] ", 1)[1].replace("'", '"'))) <= {"negative", "positive"}
    # The notebook file stays small (no plotly.js per output).
    import nbformat

    assert len(nbformat.writes(notebook)) < 1_500_000


def test_a_typo_in_the_dataset_fails_after_one_trial_naming_the_cause(hub, tmp_path):
    notebook = nb.execute(nb.TYPO_CELLS, tmp_path, hub)
    _, tune, view = notebook.cells
    printed = "".join(nb.outputs(tune, "stream"))
    assert printed.startswith("Experiment typo failed (ExperimentTrialsFailedAlike): stopped after 1 trial(s)")
    assert f"repository '{nb.TYPO}' not found" in printed
    (text,) = nb.outputs(view, "text/plain")
    assert text.startswith("<Experiment typo: Failed (ExperimentTrialsFailedAlike); 1 failed; last failure: typo-000: ")
    (html,) = nb.outputs(view, "text/html")
    assert html.count("<tr>") == 1 + 1  # one trial ran, not the budget of 4
    assert f"repository &#x27;{nb.TYPO}&#x27; not found" in html
