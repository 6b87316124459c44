"""A local run's work dir read back as Katib objects: the Experiment with its status, its Trials.

The SDK's result calls (``get_experiment``, ``list_trials``, ``get_optimal_hyperparameters``,
``trials_dataframe``, ...) read these dicts for ``backend="local"`` exactly as they read the
cluster's, so one code path serves both. Everything comes from the work dir (``experiment.yaml``
and the Optuna journal ``study.journal``), so a new Python process given the work dir answers
the same. Shapes follow Katib v1beta1's Experiment and Trial status.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from . import state

CONDITION_ATTR = "katib_condition"
WARM_ATTR = "warm_start_from"      # user attr of a seeded (warm-start) trial: the reference it came from
DUPLICATE_ATTR = "duplicate_of"    # user attr of a suggestion not run: the known trial it repeats
LOCK_FILE = ".lock"  # the runner's lock (katib_llm.local.workdir.Paths.lock)
# A trial left running by a run that stopped (kernel interrupt, Ctrl-C, kill): it is neither
# running nor finished; the next run of the same Experiment and work dir runs it again.
INTERRUPTED = "Interrupted"
INTERRUPTED_REASON = "TrialInterrupted"
TRIAL_INTERRUPTED = ("its run stopped before it finished (kernel interrupt, Ctrl-C or kill); running the same "
                     "tune() or katib-llm tune again with the same work dir resumes it")
EXPERIMENT_INTERRUPTED = ("the run stopped before the Experiment ended (no process is running it); running the "
                          "same tune() or katib-llm tune again with the same work dir resumes it")
EXPERIMENT_LABEL = "katib.kubeflow.org/experiment"
# Katib's trial condition reasons by final state.
_TRIAL_REASONS = {state.SUCCEEDED: "TrialSucceeded", state.FAILED: "TrialFailed",
                  state.EARLY_STOPPED: "TrialEarlyStopped", state.METRICS_UNAVAILABLE: "MetricsUnavailable"}


class NoLocalRun(LookupError):
    """The work dir holds no local run (no experiment.yaml / study.journal)."""


@dataclass
class LocalRun:
    """A work dir's Experiment (with ``status``), Trials and per-trial metric series."""

    workdir: Path
    experiment: dict[str, Any]
    trials: list[dict[str, Any]]
    metrics: dict[str, dict[str, list[float]]]


def _time(value: Any) -> str | None:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.astimezone()
        # Microseconds (valid RFC 3339; Katib writes whole seconds): local trials can be sub-second.
        return value.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return None


def _condition(kind: str, reason: str, message: str, when: str | None) -> dict[str, Any]:
    return {"type": kind, "status": "True", "reason": reason, "message": message,
            "lastTransitionTime": when, "lastUpdateTime": when}


def _observation(series: dict[str, list[float]], names: list[str]) -> dict[str, Any]:
    metrics = []
    for name in names:
        values = series.get(name) or []
        if values:
            metrics.append({"name": name, "min": repr(min(values)), "max": repr(max(values)),
                            "latest": repr(values[-1])})
        else:  # as Katib records a metric that was never reported
            metrics.append({"name": name, "min": "unavailable", "max": "unavailable", "latest": "unavailable"})
    return {"metrics": metrics}


def runner_alive(workdir: Path) -> bool:
    """Whether a runner holds the work dir now (its lock, :mod:`.runner`). Asked with a shared
    lock taken for an instant: it tells an interrupted run (a kernel interrupt leaves its process,
    and so its pid, alive) from a live one in this or another process."""
    try:
        fd = os.open(workdir / LOCK_FILE, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def _trial(frozen: Any, experiment: dict[str, Any], names: list[str], interrupted: bool = False) -> dict[str, Any]:
    meta, spec = experiment["metadata"], experiment["spec"]
    attrs = frozen.user_attrs
    katib = attrs.get("katib_state", state.RUNNING)
    start, end = _time(frozen.datetime_start), _time(frozen.datetime_complete)
    conditions = [_condition("Created", "TrialCreated", "Trial is created", start)]
    if katib == state.RUNNING and interrupted:  # its runner is gone: not running, not finished
        conditions.append({**_condition("Running", INTERRUPTED_REASON, TRIAL_INTERRUPTED, start), "status": "False"})
    elif katib == state.RUNNING:
        conditions.append(_condition("Running", "TrialRunning", "Trial is running", start))
    else:
        # The cause (katib_llm.local.failures.trial_cause) where there is one: Katib's Trial
        # controller likewise carries the job's failure message into the Failed condition.
        message = attrs.get("message") or attrs.get("reason") or (
            f"exit code {attrs['exit_code']}" if attrs.get("exit_code") else f"Trial is {katib}")
        conditions.append(_condition(katib, _TRIAL_REASONS.get(katib, katib), str(message), end))
    status: dict[str, Any] = {"startTime": start, "conditions": conditions,
                              "observation": _observation(attrs.get("metrics") or {}, names)}
    if end is not None:
        status["completionTime"] = end
    name = attrs.get("name") or f"{meta['name']}-{frozen.number:03d}"
    return {"apiVersion": "kubeflow.org/v1beta1", "kind": "Trial",
            "metadata": {"name": name, "namespace": meta.get("namespace", "default"),
                         "labels": {EXPERIMENT_LABEL: meta["name"]}, "creationTimestamp": start},
            "spec": {"objective": spec["objective"],
                     "parameterAssignments": [{"name": k, "value": v}
                                              for k, v in (attrs.get("assignments") or {}).items()]},
            "status": status}


def _best(trials: list[dict[str, Any]], frozen: list[Any], spec: dict[str, Any]) -> dict[str, Any]:
    sign = 1 if spec["objective"].get("type") == "maximize" else -1
    done = [(f.user_attrs.get("objective"), t) for f, t in zip(frozen, trials)
            if f.user_attrs.get("katib_state") == state.SUCCEEDED and f.user_attrs.get("objective") is not None]
    if not done:
        return {}
    _, best = max(done, key=lambda pair: sign * pair[0])
    return {"bestTrialName": best["metadata"]["name"],
            "parameterAssignments": best["spec"]["parameterAssignments"],
            "observation": best["status"]["observation"]}


def _experiment_status(experiment: dict[str, Any], frozen: list[Any], trials: list[dict[str, Any]],
                       ended: dict[str, Any] | None, interrupted: bool = False) -> dict[str, Any]:
    states = [f.user_attrs.get("katib_state", state.RUNNING) for f in frozen]
    if interrupted:
        states = [INTERRUPTED if s == state.RUNNING else s for s in states]
    counts = state.count(states)
    starts = [t["status"]["startTime"] for t in trials if t["status"].get("startTime")]
    start = min(starts) if starts else None
    conditions = [_condition("Created", "ExperimentCreated", "Experiment is created", start)]
    if interrupted:
        conditions.append({**_condition("Running", "ExperimentInterrupted", EXPERIMENT_INTERRUPTED, start),
                           "status": "False"})
    elif ended:
        conditions.append({**_condition("Running", "ExperimentRunning", "Experiment is running", start),
                           "status": "False"})
        conditions.append(_condition(ended["condition"], ended.get("reason") or ended["condition"],
                                     ended.get("message") or
                                     f"Experiment has {ended['condition'].lower()} ({ended.get('reason')})",
                                     ended.get("time")))
    else:
        conditions.append(_condition("Running", "ExperimentRunning", "Experiment is running", start))
    by_state = {s: [t["metadata"]["name"] for t, st in zip(trials, states) if st == s] for s in state.TERMINAL}
    status = {"startTime": start, "conditions": conditions, "currentOptimalTrial": _best(trials, frozen, experiment["spec"]),
              "trials": len(trials), "trialsSucceeded": counts.succeeded, "trialsFailed": counts.failed,
              "trialsEarlyStopped": counts.early_stopped, "trialMetricsUnavailable": counts.metrics_unavailable,
              "trialsRunning": counts.running,
              "succeededTrialList": by_state[state.SUCCEEDED], "failedTrialList": by_state[state.FAILED],
              "earlyStoppedTrialList": by_state[state.EARLY_STOPPED],
              "metricsUnavailableTrialList": by_state[state.METRICS_UNAVAILABLE],
              "runningTrialList": [t["metadata"]["name"] for t, st in zip(trials, states) if st == state.RUNNING]}
    if ended and ended.get("time"):
        status["completionTime"] = ended["time"]
    return status


def open_study(workdir: Path, name: str) -> Any:
    """The run's Optuna study (journal storage in the work dir)."""
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    storage = JournalStorage(JournalFileBackend(str(workdir / "study.journal")))
    return optuna.load_study(study_name=name, storage=storage)


def read_run(workdir: str | Path) -> LocalRun:
    """The Experiment (with status) and Trials of the local run kept in ``workdir``."""
    root = Path(workdir).resolve()
    exp_file = root / "experiment.yaml"
    if not exp_file.is_file() or not (root / "study.journal").is_file():
        raise NoLocalRun(f"{root} holds no local run (no experiment.yaml and study.journal); "
                         "run tune() with backend='local' or `katib-llm tune FILE --local` first")
    experiment = yaml.safe_load(exp_file.read_text())
    spec = experiment["spec"]
    names = [spec["objective"]["objectiveMetricName"]] + list(spec["objective"].get("additionalMetricNames") or [])
    # Asked before the journal is read: a runner records the end before it releases the lock.
    alive = runner_alive(root)
    study = open_study(root, experiment["metadata"]["name"])
    # This Experiment's own trials: not the warm-start history nor suggestions that repeated it.
    frozen = sorted((t for t in study.get_trials(deepcopy=False)
                     if not {WARM_ATTR, DUPLICATE_ATTR} & set(t.user_attrs)), key=lambda t: t.number)
    ended = study.user_attrs.get(CONDITION_ATTR)
    interrupted = not ended and not alive
    trials = [_trial(f, experiment, names, interrupted) for f in frozen]
    experiment = {**experiment, "status": _experiment_status(experiment, frozen, trials, ended, interrupted)}
    metrics = {t["metadata"]["name"]: dict(f.user_attrs.get("metrics") or {}) for f, t in zip(frozen, trials)}
    return LocalRun(root, experiment, trials, metrics)


def record_end(study: Any, condition: str, reason: str, message: str = "") -> None:
    """Keep how the run ended in the journal (read back as the Experiment's final condition)."""
    study.set_user_attr(CONDITION_ATTR, {"condition": condition, "reason": reason, "message": message,
                                         "time": _time(dt.datetime.now(dt.timezone.utc))})


DEFAULT_RUNS_DIR = "runs"


def default_workdir(name: str) -> Path:
    """Where a local run of Experiment ``name`` keeps its state by default: ``runs/<name>``
    (relative to the current directory), for the CLI and the SDK alike."""
    return Path(DEFAULT_RUNS_DIR) / name


def run_name(workdir: str | Path) -> str | None:
    """The Experiment name of the local run in ``workdir``; None if it holds none."""
    exp_file = Path(workdir) / "experiment.yaml"
    try:
        return str(yaml.safe_load(exp_file.read_text())["metadata"]["name"])
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None


_STATES = ("Succeeded", "Failed", "EarlyStopped", "MetricsUnavailable", "Killed", "Running", "Created")


def interrupted_message(experiment: dict[str, Any]) -> str | None:
    """The message of a local run that stopped before its Experiment ended (None otherwise)."""
    for cond in (experiment.get("status") or {}).get("conditions") or []:
        if cond.get("type") == "Running" and cond.get("reason") == "ExperimentInterrupted":
            return str(cond.get("message") or EXPERIMENT_INTERRUPTED)
    return None


def trial_state(trial: dict[str, Any]) -> tuple[str, str]:
    """(state, stop reason) of a Trial from its conditions: the final condition that is true,
    and its ``reason: message`` (empty while it runs)."""
    conditions = (trial.get("status") or {}).get("conditions") or []
    true = [c for c in conditions if c.get("status") == "True"]
    stale = [c for c in conditions if c.get("reason") == INTERRUPTED_REASON]
    if stale and not any(c.get("type") not in ("Created", "Running") for c in true):
        return INTERRUPTED, f"{INTERRUPTED_REASON}: {stale[-1].get('message') or ''}"
    for kind in _STATES:
        for cond in true:
            if cond.get("type") == kind:
                if kind in ("Running", "Created"):
                    return kind, ""
                reason = cond.get("reason") or ""
                message = cond.get("message") or ""
                return kind, f"{reason}: {message}" if message else reason
    return "Pending", ""
