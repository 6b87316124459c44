"""One trial's execution: start its process, read its log while it runs, judge each value, record the end.

Each trial runs the admitted trial template's commands (:mod:`.steps`) in its own warm process
(:mod:`.pool`); the trial log is read with the Experiment's own metricsCollector filter
(:func:`katib_llm.core.metrics.parse_metrics`) and each objective value is reported to the
pruner, so early stopping ends a trial promptly. :class:`TrialExecution` holds these steps for
:class:`~katib_llm.local.runner.Runner`, which owns the state they read (the Experiment's
metrics, the study, the running trials) and decides when trials start.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import optuna
import yaml

from katib_llm.core import limits
from katib_llm.core.metrics import metric_value, parse_metrics
from katib_llm.core.substitute import substitute_trial
from katib_llm.core.trialenv import TrialEnv

from . import algorithms, failures, multiobjective, pool, state, warmstart
from .steps import local_steps
from .workdir import Paths



@dataclass
class RunningTrial:
    trial: optuna.trial.Trial
    name: str
    assignments: dict[str, str]
    proc: pool.TrialProcess
    directory: Path
    offset: int = 0
    partial: str = ""
    metrics: dict[str, list[float]] = field(default_factory=dict)
    objective_values: list[float] = field(default_factory=list)
    pruned: bool = False
    ended_by: str = ""  # BudgetExhausted | DeadlineExceeded: the runner stopped it


def trial_name(exp_name: str, number: int) -> str:
    return f"{exp_name}-{number:03d}"


def alive_group(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
        return True
    except (ProcessLookupError, PermissionError, OSError):
        return False



class TrialExecution:
    """The steps of one trial, as methods of the :class:`~katib_llm.local.runner.Runner` that runs it."""

    spec: dict[str, Any]
    name: str
    namespace: str
    paths: Paths
    mode: str
    mount: str
    threads: int
    plan: algorithms.Plan
    objectives: list[tuple[str, str]]
    metric_names: list[str]
    filters: list[str] | None
    strategy: str
    strategies: dict[str, str]
    finished_curves: list[dict[str, list[float]]]
    step_metric: str | None
    known: dict[str, tuple[str, float]]
    running: dict[int, RunningTrial]
    study: optuna.Study | None
    on_event: Callable[[str, Any], None]
    deadline: int | None
    ended: list[failures.Ended]  # trials this runner finished, in order (failures.repeated_failure)

    # ---- one trial ------------------------------------------------------------------------
    def _launch(self, trial: optuna.trial.Trial, assignments: dict[str, str], attempts: int) -> None:
        name = trial_name(self.name, trial.number)
        directory = self.paths.trials / name
        directory.mkdir(parents=True, exist_ok=True)
        log = directory / "stdout.log"
        if log.exists():  # an interrupted attempt: keep its log beside the new one
            log.replace(directory / f"stdout.attempt{attempts - 1}.log")
        (directory / "steps.json").unlink(missing_ok=True)
        job = substitute_trial(self.spec["trialTemplate"], assignments, name, self.namespace)
        steps = local_steps(job, self.spec["trialTemplate"]["primaryContainerName"],
                            self.mount, self.paths.volume, self.paths.cache)
        (directory / "job.yaml").write_text(yaml.safe_dump(job, sort_keys=False))
        output = next((s.env.get(TrialEnv.OUTPUT_DIR) for s in reversed(steps) if TrialEnv.OUTPUT_DIR in s.env), None)
        for key, value in (("name", name), ("assignments", assignments), ("attempts", attempts),
                           ("output_dir", output)):
            trial.set_user_attr(key, value)
        proc = pool.start_trial(steps, dict(os.environ), directory, self.threads, self.mode)
        trial.set_user_attr("pid", proc.pid)
        trial.set_user_attr("started", proc.started)
        self.running[trial.number] = RunningTrial(trial, name, assignments, proc, directory)

    def _read(self, run: RunningTrial) -> None:
        try:
            with open(run.proc.log_path, "rb") as f:
                f.seek(run.offset)
                chunk = f.read()
        except FileNotFoundError:
            return
        run.offset += len(chunk)
        text = run.partial + chunk.decode("utf-8", "replace")
        lines = text.split("\n")
        run.partial = lines.pop()
        self._observe(run, lines)

    def _observe(self, run: RunningTrial, lines: list[str]) -> None:
        objective = self.metric_names[0]
        for obs in parse_metrics(lines, self.metric_names, self.filters):
            value = metric_value(obs.value)
            if value is None:
                continue
            run.metrics.setdefault(obs.name, []).append(value)
            if self.objectives:
                self._judge(run)
            elif obs.name == objective:
                run.objective_values.append(value)
                step = len(run.objective_values)
                run.trial.report(value, step)
                if not run.pruned and run.trial.should_prune():
                    run.pruned = True
                    run.proc.kill()  # stop promptly: Katib's early stopping kills the trial
                    self.on_event("pruned", self)

    def _judge(self, run: RunningTrial) -> None:
        """Several objectives: the dominance rule at each evaluation every objective has reported."""
        rule = self.plan.rule
        names = [n for n, _ in self.objectives]
        while not run.pruned:
            step = len(run.objective_values) + 1
            point = multiobjective.point_at(run.metrics, names, step)
            if point is None:
                return
            run.objective_values.append(point[0])
            if rule is None:
                continue
            finished = [p for c in self.finished_curves if (p := multiobjective.point_at(c, names, step)) is not None]
            if multiobjective.should_stop(point, step, finished, [d for _, d in self.objectives], rule):
                run.pruned = True
                run.proc.kill()
                self.on_event("pruned", self)

    def _values(self, run: RunningTrial) -> list[float] | None:
        """Several objectives: each objective's value by its metric strategy (None if one is missing)."""
        out = []
        for name, _ in self.objectives:
            v = state.objective_value(run.metrics.get(name) or [], self.strategies.get(name, "latest"))
            if v is None:
                return None
            out.append(v)
        return out

    def _timings(self, directory: Path) -> tuple[list[dict[str, Any]], float | None]:
        try:
            timings = json.loads((directory / "steps.json").read_text())
        except (FileNotFoundError, ValueError):
            return [], None
        primary = [t for t in timings if not t.get("init")]
        return timings, (primary[-1]["end"] - primary[-1]["start"]) if primary else None

    def _finish(self, run: RunningTrial, exit_code: int | None) -> None:
        assert self.study is not None
        if run.partial:
            self._observe(run, [run.partial])
            run.partial = ""
        wall = time.time() - run.proc.started
        timings, trainer_time = self._timings(run.directory)
        primary = (run.metrics.get(self.metric_names[0]) or []) if self.objectives else run.objective_values
        value = state.objective_value(primary, self.strategy)
        values = self._values(run) if self.objectives else None
        if self.objectives and values is None:
            value = None
        if run.ended_by == "DeadlineExceeded":  # as Kubernetes fails a job past activeDeadlineSeconds
            katib, tell_state, tell_value = state.FAILED, optuna.trial.TrialState.FAIL, None
        elif run.pruned or run.ended_by:  # a budget stop keeps the partial result
            katib, tell_state, tell_value = state.EARLY_STOPPED, optuna.trial.TrialState.PRUNED, None
        elif exit_code != 0:
            katib, tell_state, tell_value = state.FAILED, optuna.trial.TrialState.FAIL, None
        elif value is None:
            katib, tell_state, tell_value = state.METRICS_UNAVAILABLE, optuna.trial.TrialState.FAIL, None
        else:
            katib, tell_state, tell_value = state.SUCCEEDED, optuna.trial.TrialState.COMPLETE, values or value
            if not self.objectives:
                self.known[warmstart.assignment_key(run.assignments)] = (run.name, value)
            else:
                self.finished_curves.append(run.metrics)
        init_failed = bool(timings) and bool(timings[-1].get("init")) and timings[-1].get("exit_code") != 0 \
            and not failures.initializers_take_parameters(self.spec["trialTemplate"])
        cause = failures.trial_cause(run.proc.log_path, katib, exit_code, self.metric_names[0], run.ended_by,
                                     init_failed, self.deadline)
        self.ended.append(failures.Ended(katib, cause, bool(run.objective_values), init_failed))
        attrs = {"katib_state": katib, "exit_code": exit_code, "wall_time": wall, "message": cause,
                 "trainer_time": trainer_time, "metrics": run.metrics, "objective": value,
                 "train_steps": self._steps(run.metrics), "reason": run.ended_by,
                 "objectives": dict(zip([n for n, _ in self.objectives], values)) if values else None}
        for key, val in attrs.items():
            run.trial.set_user_attr(key, val)
        self.study.tell(run.trial, tell_value, state=tell_state)
        self.running.pop(run.trial.number, None)
        self.on_event("finished", self)

    def _steps(self, metrics: dict[str, list[float]]) -> int:
        steps = metrics.get(self.step_metric, []) if self.step_metric else []
        return limits.trial_steps(steps, len(metrics.get(self.metric_names[0], [])))
