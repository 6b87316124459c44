"""Run an admitted Katib Experiment on this machine: ask Optuna, run the trial, parse, tell.

The loop is Katib's controller in miniature: at most ``parallelTrialCount`` trials run; each
trial runs the admitted trial template's commands (:mod:`.steps`) in its own warm process
(:mod:`.pool`); the trial log is read while it runs with the Experiment's own metricsCollector
filter (:func:`katib_llm.core.metrics.parse_metrics`) and each objective value is reported to
the pruner, so early stopping ends a trial promptly. All state lives in the work dir: the
Optuna journal (``study.journal``) and one directory per trial, so a killed run resumes.

Resume rule: a trial still RUNNING in the journal when a run starts was interrupted. If its
log shows every step finished, its result is read from the log; otherwise it is run again
(same trial, same parameters) once. A trial interrupted a second time is marked Failed, so a
trial that kills the runner cannot loop forever.
"""

from __future__ import annotations

import copy
import fcntl
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import optuna
import yaml

from katib_llm.core import contract
from katib_llm.core.admit import AdmissionResult, admit
from katib_llm.core.config import AdminConfig
from katib_llm.core import limits
from katib_llm.core.contract import experiment_limits
from katib_llm.core.early_stopping import Finished
from katib_llm.core.katib_rules import OUR_EARLY_STOPPING
from katib_llm.core.contract import LABEL, LABEL_VALUE
from katib_llm.core.errors import AdmissionDenied, FieldError
from katib_llm.core.metrics import metric_value, parse_metrics
from katib_llm.core.substitute import substitute_trial
from katib_llm.core.trialenv import TrialEnv
from katib_llm.io import admin_config, local_values

from . import algorithms, multiobjective, pool, state, warmstart
from .space import Parameter, search_space
from .steps import local_steps

optuna.logging.set_verbosity(optuna.logging.WARNING)
MAX_ATTEMPTS = 2
POLL_SECONDS = 0.1
# Suggestions in a row that repeat a finished configuration before the search counts as exhausted.
MAX_REPEATS = 100
DUPLICATE = warmstart.DUPLICATE_ATTR
MO_ANNOTATION = contract.annotation_key(contract.OBJECTIVES)


class LocalRunError(RuntimeError):
    """The run cannot start or continue (the message says why and what to do)."""


@dataclass
class TrialResult:
    """One trial as Katib would report it."""

    name: str
    number: int
    parameters: dict[str, Any]
    assignments: dict[str, str]
    state: str
    objective: float | None
    metrics: dict[str, list[float]]
    wall_time: float | None
    trainer_time: float | None
    directory: Path
    output_dir: Path | None = None
    attempts: int = 1
    reason: str = ""  # why a trial ended early: BudgetExhausted, DeadlineExceeded, ...
    objectives: dict[str, float] | None = None  # several objectives: each one's value

    @property
    def overhead(self) -> float | None:
        """Wall time not spent in the primary container (process start, initializers, exit)."""
        if self.wall_time is None or self.trainer_time is None:
            return None
        return self.wall_time - self.trainer_time


@dataclass
class LocalResult:
    """The outcome of :func:`run_experiment`."""

    experiment: dict[str, Any]
    trials: list[TrialResult]
    best: TrialResult | None
    optimal_hyperparameters: dict[str, Any]
    workdir: Path
    condition: str = state.SUCCEEDED
    reason: str = ""
    artifacts: dict[str, Path] = field(default_factory=dict)
    message: str = ""
    budget: list[tuple[str, str, str]] = field(default_factory=list)  # (limit, used, left)
    # Warm start: references, trials added / skipped per reference, suggestions not re-run.
    warm_start: dict[str, Any] = field(default_factory=dict)
    # Several objectives: (metric, direction), primary first, and the Succeeded trials on the
    # Pareto front (``best`` is then the best for the primary objective).
    objectives: list[tuple[str, str]] = field(default_factory=list)
    pareto_front: list[TrialResult] = field(default_factory=list)


@dataclass
class _Running:
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


class _Paths:
    def __init__(self, workdir: Path, cache_dir: Path | None):
        self.root = workdir
        self.experiment = workdir / "experiment.yaml"
        self.journal = workdir / "study.journal"
        self.trials = workdir / "trials"
        self.volume = workdir / "volume"
        self.cache = Path(cache_dir or os.environ.get(TrialEnv.CACHE_DIR)
                          or Path.home() / ".cache" / "katib-llm")
        self.lock = workdir / ".lock"
        self.budget = workdir / "budget.json"  # wall-clock time spent by earlier runs


def default_cache_dir() -> Path:
    return Path(os.environ.get(TrialEnv.CACHE_DIR) or Path.home() / ".cache" / "katib-llm").resolve()


def local_config(values: dict[str, Any] | str | Path | None) -> AdminConfig:
    """The admin configuration of a run on this machine: the local values (``file://`` anywhere
    on it, see io.local_values), and every early-stopping algorithm of ours counts as registered
    (locally the runner is the early-stopping service; a cluster's chart registers it)."""
    config = admin_config(local_values(values))
    return AdminConfig(values={**config.values, "earlyStoppingAlgorithms": list(OUR_EARLY_STOPPING)},
                       templates=config.templates, extra_providers=config.extra_providers)


def admit_local(experiment: dict[str, Any], config: AdminConfig) -> AdmissionResult:
    """The core's verdict on ``experiment`` for a run on this machine (``config``: :func:`local_config`).

    The ``warm-start`` and ``objectives`` annotations, which the core denies for a cluster, are
    held aside during admission (validated by the core's parser) and put back into the admitted
    Experiment; a malformed one raises AdmissionDenied naming it."""
    exp, warm = warmstart.take_annotation(copy.deepcopy(experiment))
    exp, objectives = multiobjective.take_annotation(exp)
    result = admit(exp, config)
    if result.allowed and result.labelled:
        annotations = result.experiment["metadata"].setdefault("annotations", {})
        if warm:  # recorded in experiment.yaml for the runner
            annotations[warmstart.ANNOTATION] = json.dumps(warm)
        if objectives:
            annotations[MO_ANNOTATION] = ",".join(f"{n}:{d}" for n, d in objectives)
    return result


def admit_for_local(experiment: dict[str, Any],
                    values: dict[str, Any] | str | Path | None) -> tuple[dict[str, Any], str]:
    """Admit exactly as the webhook would, for this machine (:func:`admit_local`); raise
    AdmissionDenied with field errors. Returns the admitted Experiment and the volume's mount path."""
    if not isinstance(experiment, dict):
        raise AdmissionDenied([FieldError("object", "experiment.type", "must be a Katib Experiment object")])
    config = local_config(values)
    result = admit_local(experiment, config)
    if not result.labelled:
        raise AdmissionDenied([FieldError("metadata.labels", "local.unlabelled",
                                          "the local runner needs a labelled Experiment: set the label "
                                          f"{LABEL}: \"{LABEL_VALUE}\"")])
    if not result.allowed:
        raise AdmissionDenied(result.errors)
    return result.experiment, config.mount_path


def _trial_name(exp_name: str, number: int) -> str:
    return f"{exp_name}-{number:03d}"


def _alive_group(pid: int) -> bool:
    try:
        os.killpg(pid, 0)
        return True
    except (ProcessLookupError, PermissionError, OSError):
        return False


class Runner:
    """One local run of one admitted Experiment (see module docstring)."""

    def __init__(self, admitted: dict[str, Any], workdir: Path, *, mount: str = "/workspace", mode: str = "warm",
                 cache_dir: Path | None = None, seed: int | None = None,
                 on_event: Callable[[str, "Runner"], None] | None = None):
        self.exp = admitted
        self.spec = admitted["spec"]
        self.meta = admitted.get("metadata") or {}
        self.name = str(self.meta.get("name") or "experiment")
        self.namespace = str(self.meta.get("namespace") or "default")
        self.paths = _Paths(workdir, cache_dir)
        self.mode = mode
        self.mount = mount
        self.space: list[Parameter] = search_space(self.spec)
        self.by_name = {p.name: p for p in self.space}
        _, self.objectives = multiobjective.take_annotation(admitted)  # [(metric, direction)], primary first
        self.plan = algorithms.plan(self.spec, self.space, seed, max(1, len(self.objectives)))
        self.metric_names = [self.spec["objective"]["objectiveMetricName"]] + list(
            self.spec["objective"].get("additionalMetricNames") or [])
        self.finished_curves: list[dict[str, list[float]]] = []  # several objectives: finished trials' metrics
        source = (self.spec.get("metricsCollectorSpec") or {}).get("source") or {}
        self.filters = list((source.get("filter") or {}).get("metricsFormat") or []) or None
        strategies = {s["name"]: s.get("value", "latest") for s in self.spec["objective"].get("metricStrategies") or []}
        self.strategy = strategies.get(self.metric_names[0], "latest")
        self.strategies = strategies
        self.parallel = max(1, int(self.spec.get("parallelTrialCount") or 1))
        self.threads = max(1, (os.cpu_count() or 1) // self.parallel)
        self.running: dict[int, _Running] = {}
        self.on_event = on_event or (lambda kind, runner: None)
        self.study: optuna.Study | None = None
        self.stop: tuple[str, str] | None = None
        self.stop_message = ""
        self.pool_start_seconds: float | None = None
        self.budget, self.deadline, self.gpus = experiment_limits(admitted)
        self.step_metric = limits.STEP_METRIC if limits.STEP_METRIC in self.metric_names else None
        self.elapsed_before = 0.0
        self.run_started = self._saved_at = time.time()
        _, self.warm_refs = warmstart.take_annotation(admitted)
        self.warm: warmstart.Seeded | None = None
        self.known: dict[str, tuple[str, float]] = {}  # assignments -> (trial name, objective) not to re-run
        self.exhausted = False

    # ---- state ---------------------------------------------------------------------------
    def _prepare_workdir(self) -> None:
        root = self.paths.root
        root.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(self.exp, sort_keys=True)
        if self.paths.experiment.exists():
            before = yaml.safe_load(self.paths.experiment.read_text())
            if before != yaml.safe_load(text):
                raise LocalRunError(
                    f"{root} holds a run of a different Experiment ({(before or {}).get('metadata', {}).get('name')!r} "
                    "or a changed spec); use another --workdir, or delete this one to start over")
        else:
            tmp = self.paths.experiment.with_suffix(".tmp")
            tmp.write_text(text)
            tmp.replace(self.paths.experiment)
        for d in (self.paths.trials, self.paths.volume, self.paths.cache):
            d.mkdir(parents=True, exist_ok=True)

    def _open_study(self) -> optuna.Study:
        from optuna.storages import JournalStorage
        from optuna.storages.journal import JournalFileBackend

        storage = JournalStorage(JournalFileBackend(str(self.paths.journal)))
        if self.objectives:
            return optuna.create_study(storage=storage, study_name=self.name, sampler=self.plan.sampler,
                                       pruner=self.plan.pruner, directions=[d for _, d in self.objectives],
                                       load_if_exists=True)
        return optuna.create_study(storage=storage, study_name=self.name, sampler=self.plan.sampler,
                                   pruner=self.plan.pruner, direction=algorithms.direction(self.spec),
                                   load_if_exists=True)

    def trials(self) -> list[optuna.trial.FrozenTrial]:
        """This Experiment's trials (not the warm-start history nor suggestions that repeated it)."""
        assert self.study is not None
        return [t for t in self.study.get_trials(deepcopy=False)
                if warmstart.WARM_ATTR not in t.user_attrs and warmstart.DUPLICATE_ATTR not in t.user_attrs]

    def _seed_warm_start(self) -> None:
        assert self.study is not None
        if self.warm_refs:
            try:
                self.warm = warmstart.seed(self.study, self.spec, self.space, self.warm_refs, self.paths.root)
            except warmstart.WarmStartError as exc:
                raise LocalRunError(str(exc)) from None
        if self.objectives:
            if self.warm_refs:
                raise LocalRunError("warm start with several objectives is not supported: the earlier runs' "
                                    "trials carry one objective value; remove one of the two annotations")
            self.finished_curves = [t.user_attrs.get("metrics") or {} for t in self.trials()
                                    if t.state == optuna.trial.TrialState.COMPLETE]
            return
        for t in self.study.get_trials(deepcopy=False):
            if t.state == optuna.trial.TrialState.COMPLETE and t.user_attrs.get("assignments") \
                    and DUPLICATE not in t.user_attrs:
                self.known[warmstart.assignment_key(t.user_attrs["assignments"])] = (
                    str(t.user_attrs.get("name")), float(t.value))

    def katib_states(self) -> list[str]:
        return [t.user_attrs.get("katib_state", state.RUNNING) for t in self.trials()]

    def best_value(self) -> float | None:
        values = [t.user_attrs["objective"] for t in self.trials()
                  if t.user_attrs.get("katib_state") == state.SUCCEEDED and t.user_attrs.get("objective") is not None]
        if not values:
            return None
        return max(values) if algorithms.direction(self.spec) == "maximize" else min(values)

    # ---- one trial ------------------------------------------------------------------------
    def _launch(self, trial: optuna.trial.Trial, assignments: dict[str, str], attempts: int) -> None:
        name = _trial_name(self.name, trial.number)
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
        self.running[trial.number] = _Running(trial, name, assignments, proc, directory)
        self.on_event("started", self)

    def _ask(self) -> bool:
        """Start a trial with a new configuration; False if the sampler only repeats known ones.

        A suggestion equal to a finished trial's (this run's or a warm-start one's) is not run
        again: Optuna is told that trial's value and asked again.
        """
        assert self.study is not None
        for _ in range(MAX_REPEATS):
            trial = self.study.ask({p.name: p.distribution for p in self.space})
            assignments = {p.name: p.to_katib(trial.params[p.name]) for p in self.space}
            known = self.known.get(warmstart.assignment_key(assignments))
            if known is None:
                if isinstance(self.plan.pruner, algorithms.RulePruner):  # fixed at creation, as on Katib
                    trial.set_user_attr("early_stopping_rules", self.plan.pruner.trial_rules(self._finished()))
                self._launch(trial, assignments, 1)
                return True
            trial.set_user_attr(DUPLICATE, known[0])
            trial.set_user_attr("assignments", assignments)
            self.study.tell(trial, known[1])
        return False

    def _finished(self) -> list[Finished]:
        """Finished trials with their objective values, as Katib's DB manager holds them."""
        out = []
        for t in self.trials():
            katib = t.user_attrs.get("katib_state")
            if katib in state.TERMINAL:
                values = tuple(t.intermediate_values[s] for s in sorted(t.intermediate_values))
                out.append(Finished(str(katib), values))
        return out

    def _read(self, run: _Running) -> None:
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

    def _observe(self, run: _Running, lines: list[str]) -> None:
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

    def _judge(self, run: _Running) -> None:
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

    def _values(self, run: _Running) -> list[float] | None:
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

    def _finish(self, run: _Running, exit_code: int | None) -> None:
        assert self.study is not None
        if run.partial:
            self._observe(run, [run.partial])
            run.partial = ""
        wall = time.time() - run.proc.started
        _, trainer_time = self._timings(run.directory)
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
        attrs = {"katib_state": katib, "exit_code": exit_code, "wall_time": wall,
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

    def usage(self) -> limits.Usage:
        """What the run has spent: finished trials' records plus the running trials so far."""
        steps, gpu_seconds, now = 0, 0.0, time.time()
        for t in self.trials():
            if t.number in self.running:
                run = self.running[t.number]
                steps += self._steps(run.metrics)
                gpu_seconds += (now - run.proc.started) * self.gpus
            else:
                steps += int(t.user_attrs.get("train_steps") or 0)
                gpu_seconds += float(t.user_attrs.get("wall_time") or 0.0) * self.gpus
        return limits.Usage(steps, self.elapsed_before + now - self.run_started, gpu_seconds / 3600)

    def budget_rows(self) -> list[tuple[str, str, str]]:
        """(limit, used, left) for the live display and the final table."""
        return limits.summary(self.budget, self.usage())

    def _end(self, run: _Running, why: str) -> None:
        if not run.ended_by and not run.pruned:
            run.ended_by = why
            run.proc.kill()

    def _enforce_limits(self) -> str | None:
        """Stop trials past their deadline; once the budget is spent, stop the running ones."""
        if self.deadline is not None:
            for run in list(self.running.values()):
                if time.time() - run.proc.started > self.deadline:
                    self._end(run, "DeadlineExceeded")
        if self.budget is None:
            return None
        if time.time() - self._saved_at > 5.0:  # a killed runner loses at most 5 s of wall clock
            self._save_elapsed()
        spent = limits.exhausted(self.budget, self.usage())
        if spent:
            for run in list(self.running.values()):
                self._end(run, "BudgetExhausted")
        return spent

    def _poll(self) -> None:
        for run in list(self.running.values()):
            self._read(run)
            code = run.proc.exit_code()
            if code is not None:
                run.proc.process.join()
                self._read(run)
                self._finish(run, code)

    # ---- resume ---------------------------------------------------------------------------
    def _resume(self) -> list[tuple[optuna.trial.Trial, dict[str, str], int]]:
        """Settle trials a previous run left RUNNING; return those to run again."""
        assert self.study is not None
        again = []
        for frozen in self.trials():
            if frozen.state != optuna.trial.TrialState.RUNNING:
                continue
            attrs = frozen.user_attrs
            pid = attrs.get("pid")
            if pid and _alive_group(int(pid)):
                pool.kill_group(int(pid))
            trial = optuna.trial.Trial(self.study, frozen._trial_id)
            name = attrs.get("name") or _trial_name(self.name, frozen.number)
            directory = self.paths.trials / name
            assignments = attrs.get("assignments") or {p.name: p.to_katib(frozen.params[p.name]) for p in self.space}
            timings, _ = self._timings(directory)
            finished = bool(timings) and not timings[-1].get("init")
            if finished:  # it ended before the runner could record it: read the result
                proc = pool.TrialProcess(None, directory / "stdout.log", float(attrs.get("started") or time.time()))
                run = _Running(trial, name, assignments, proc, directory)
                self._read(run)
                self._finish(run, int(timings[-1].get("exit_code", 1)))
                continue
            attempts = int(attrs.get("attempts") or 1)
            if attempts >= MAX_ATTEMPTS:
                trial.set_user_attr("katib_state", state.FAILED)
                trial.set_user_attr("reason", f"interrupted {attempts} times")
                self.study.tell(trial, None, state=optuna.trial.TrialState.FAIL)
                continue
            again.append((trial, assignments, attempts + 1))
        return again

    # ---- the loop -------------------------------------------------------------------------
    def run(self) -> None:
        self._prepare_workdir()
        with open(self.paths.lock, "w") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise LocalRunError(f"another run is using {self.paths.root}; wait for it or use another --workdir") from None
            self.study = self._open_study()
            self.elapsed_before, self.run_started = self._load_elapsed(), time.time()
            self._seed_warm_start()
            queue = self._resume()
            if self.mode == "warm":
                self.pool_start_seconds = pool.warm_up()
            try:
                self._loop(queue)
            except BaseException:
                for run in list(self.running.values()):
                    run.proc.kill(grace=1.0)  # left RUNNING in the journal: the next run resumes them
                raise
            finally:
                self._save_elapsed()

    def _load_elapsed(self) -> float:
        try:
            return float(json.loads(self.paths.budget.read_text())["elapsed"])
        except (FileNotFoundError, ValueError, KeyError, TypeError):
            return 0.0

    def _save_elapsed(self) -> None:
        self._saved_at = time.time()
        tmp = self.paths.budget.with_suffix(".tmp")
        tmp.write_text(json.dumps({"elapsed": self.elapsed_before + time.time() - self.run_started}))
        tmp.replace(self.paths.budget)

    def _loop(self, queue: list[tuple[optuna.trial.Trial, dict[str, str], int]]) -> None:
        while True:
            counts = state.count(self.katib_states())
            self.stop = state.stop_reason(self.spec, counts, self.best_value(), self.plan.max_trials)
            spent = self._enforce_limits()
            if self.stop is None and spent:
                self.stop, self.stop_message = (state.SUCCEEDED, "ExperimentBudgetExhausted"), spent
            limit = min(x for x in (self.spec.get("maxTrialCount"), self.plan.max_trials) if x is not None) \
                if (self.spec.get("maxTrialCount") or self.plan.max_trials) else None
            while self.stop is None and not self.exhausted and len(self.running) < self.parallel:
                if queue:
                    self._launch(*queue.pop(0))
                    continue
                if limit is not None and len(self.trials()) >= limit:
                    break
                if not self._ask():
                    self.exhausted = True
                    break
            if not self.running:
                if self.stop is None and self.exhausted:
                    self.stop = (state.SUCCEEDED, "SearchSpaceExhausted")
                if self.stop is None and not queue:
                    self.stop = (state.SUCCEEDED, "ExperimentMaxTrialsReached")
                if self.stop is not None:
                    return
            self._poll()
            self.on_event("tick", self)
            time.sleep(POLL_SECONDS)

    # ---- results --------------------------------------------------------------------------
    def result(self) -> LocalResult:
        out = []
        for t in self.trials():
            attrs = t.user_attrs
            assignments = attrs.get("assignments") or {}
            name = attrs.get("name") or _trial_name(self.name, t.number)
            out.append(TrialResult(
                name=name, number=t.number,
                parameters={k: self.by_name[k].typed(v) for k, v in assignments.items() if k in self.by_name},
                assignments=assignments, state=attrs.get("katib_state", state.RUNNING),
                objective=attrs.get("objective"), metrics=attrs.get("metrics") or {},
                wall_time=attrs.get("wall_time"), trainer_time=attrs.get("trainer_time"),
                directory=self.paths.trials / name,
                output_dir=Path(attrs["output_dir"]) if attrs.get("output_dir") else None,
                attempts=int(attrs.get("attempts") or 1), reason=str(attrs.get("reason") or ""),
                objectives=attrs.get("objectives")))
        done = [t for t in out if t.state == state.SUCCEEDED and t.objective is not None]
        sign = 1 if algorithms.direction(self.spec) == "maximize" else -1
        best = max(done, key=lambda t: sign * t.objective) if done else None
        condition, reason = self.stop or (state.SUCCEEDED, "")
        warm: dict[str, Any] = {}
        if self.warm_refs:
            warm = {**(self.warm.as_dict() if self.warm else {"references": self.warm_refs}),
                    "repeats_not_run": sum(DUPLICATE in t.user_attrs for t in self.study.get_trials(deepcopy=False))}
        return LocalResult(self.exp, out, best, dict(best.parameters) if best else {}, self.paths.root,
                           condition, reason, message=self.stop_message,
                           budget=limits.summary(self.budget, self.usage()), warm_start=warm,
                           objectives=list(self.objectives), pareto_front=self._front(out))

    def _front(self, trials: list[TrialResult]) -> list[TrialResult]:
        if not self.objectives:
            return []
        names = [n for n, _ in self.objectives]
        done = [t for t in trials if t.state == state.SUCCEEDED and t.objectives]
        points = [[t.objectives[n] for n in names] for t in done]  # type: ignore[index]
        return [done[i] for i in multiobjective.pareto_front(points, [d for _, d in self.objectives])]
