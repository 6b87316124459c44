"""Why a trial failed, and when failing trials mean the whole run should stop.

**The cause of a trial** (:func:`trial_cause`) is one line a person can act on: for a trial
that exited non-zero, the last error line of its log (a Python exception's final line, or the
one-line ``error:`` message katib-llm's runtime prints), else its last line; for a trial that
exited 0 without the objective metric, which metric was missing and what the log printed
instead. It is stored with the trial (the ``message`` user attribute) and becomes the Trial's
final condition message, where the SDK, the DataFrame and the exceptions read it.

**Stopping early** (:func:`repeated_failure`): Katib's ``maxFailedTrialCount`` is the budget for
failures; this rule catches a broken Experiment before that budget is spent. While no trial of
this run has reported an objective value:

* a trial whose **initializer** failed (the storage initializer downloads the model and dataset;
  it takes no hyperparameters, so every trial would fail there the same way) stops the run
  after that one trial — a dataset typo costs one trial (not when an init container of the
  template uses a trial parameter: :func:`initializers_take_parameters`);
* **two** trials that failed before reporting any metric **with the same cause** stop it (one
  failure could be a hyperparameter's, e.g. a batch size that does not fit; the same cause
  twice from different hyperparameters is the Experiment's).

Only trials finished by the current runner count, so resuming after a transient failure (a
network outage) tries again. The run ends ``Failed`` with reason :data:`REPEATED_FAILURE`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import state

REPEATED_FAILURE = "ExperimentTrialsFailedAlike"
TAIL_BYTES = 64 * 1024
MAX_CAUSE_CHARS = 400
# "SomeError: text", "pkg.mod.SomeError: text", "SystemExit: 2", "KeyboardInterrupt"
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failure)\b(?::.*)?$")
_OUR_ERROR = re.compile(r"\berror:\s")


def _tail(log: Path) -> list[str]:
    try:
        with open(log, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - TAIL_BYTES))
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return []
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def _short(line: str) -> str:
    line = line.strip()
    return line if len(line) <= MAX_CAUSE_CHARS else line[:MAX_CAUSE_CHARS - 1] + "…"


def last_error_line(lines: list[str]) -> str:
    """The line of a log that says why it failed: the last exception line, else the last
    ``error:`` line, else the last line that is not a traceback frame."""
    for pattern in (_EXCEPTION_LINE, _OUR_ERROR):
        for line in reversed(lines):
            if pattern.search(line.strip()):
                return _short(line)
    for line in reversed(lines):
        if not line.startswith((" ", "\t")) and not line.startswith("Traceback"):
            return _short(line)
    return ""


def trial_cause(log: Path, katib_state: str, exit_code: int | None, objective_metric: str,
                ended_by: str = "", init_failed: bool = False, deadline: int | None = None) -> str:
    """One line saying why the trial ended as it did ("" for a trial that succeeded or was stopped)."""
    if ended_by == "DeadlineExceeded":
        return f"ran longer than trial-active-deadline-seconds ({deadline} s) and was killed"
    if katib_state == state.FAILED:
        where = "initializer " if init_failed else ""
        line = last_error_line(_tail(log))
        ending = f"exit code {exit_code}" if exit_code is not None else "no exit code"
        return f"{line} ({where}{ending})" if line else f"{where}{ending}, nothing in its log".strip()
    if katib_state == state.METRICS_UNAVAILABLE:
        others = [n for n in _metric_names_in(_tail(log)) if n != objective_metric]
        seen = f"; it printed {', '.join(others[:8])}" if others else "; it printed no metric"
        return f"the trial exited 0 without reporting the objective metric {objective_metric!r}{seen}"
    return ""


_NAME_VALUE = re.compile(r"([A-Za-z_][\w./-]*)\s*=\s*[+-]?(?:\d+\.?\d*|\.\d+)(?:[Ee][+-]?\d+)?\b")


def _metric_names_in(lines: list[str]) -> list[str]:
    """Names printed as ``name=value``, Katib's default metric form (what the objective could have been)."""
    names: list[str] = []
    for line in lines:
        for match in _NAME_VALUE.finditer(line[:1000]):  # bounded: the pattern backtracks within a word
            if match.group(1) not in names:
                names.append(match.group(1))
    return names


def initializers_take_parameters(trial_template: dict[str, Any]) -> bool:
    """Whether an init container (or a TrainJob initializer) of the trial template uses a trial
    parameter: then its failure can be a hyperparameter's, and one failure does not stop the run."""
    found = False

    def walk(node: Any) -> None:
        nonlocal found
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("initContainers", "initializer") and "${trialParameters." in json.dumps(value):
                    found = True
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(trial_template.get("trialSpec"))
    return found


@dataclass(frozen=True)
class Ended:
    """A trial finished by this runner, as the early-stop rule sees it."""

    state: str
    cause: str
    reported: bool  # it reported at least one objective value
    init_failed: bool


def repeated_failure(ended: list[Ended], max_trials: int | None) -> tuple[str, str] | None:
    """(reason, message) when the trials this runner finished show the Experiment cannot work
    (see module docstring); None otherwise."""
    if not ended or any(e.reported or e.state not in (state.FAILED, state.METRICS_UNAVAILABLE) for e in ended):
        return None
    budget = f" of maxTrialCount {max_trials}" if max_trials else ""
    last = ended[-1]
    if last.init_failed:
        return REPEATED_FAILURE, (
            f"stopped after {len(ended)} trial(s){budget}: a trial initializer failed, and the initializers "
            f"(model and dataset download) take no hyperparameters, so every trial would fail there: {last.cause}")
    same = [e for e in ended if e.cause == last.cause]
    if len(same) >= 2:
        return REPEATED_FAILURE, (
            f"stopped after {len(ended)} trial(s){budget}: {len(same)} trials failed the same way before "
            f"reporting any metric: {last.cause}")
    return None
