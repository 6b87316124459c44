"""Run an admitted Katib Experiment on this machine: ask Optuna, run the trial, parse, tell.

The loop is Katib's controller in miniature: at most ``parallelTrialCount`` trials run; each
trial runs in its own warm process (:mod:`.execution`, one trial's steps); admission is
:mod:`.admission` and the result types :mod:`.results`. All state lives in the work dir: the
Optuna journal (``study.journal``) and one directory per trial, so a killed run resumes.

Resume rule: a trial still RUNNING in the journal when a run starts was interrupted. If its
log shows every step finished, its result is read from the log; otherwise it is run again
(same trial, same parameters) once. A trial interrupted a second time is marked Failed, so a
trial that kills the runner cannot loop forever.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any, Callable

import optuna
import yaml

from katib_llm.core import limits
from katib_llm.core.contract import experiment_limits
from katib_llm.core.early_stopping import Finished

from . import algorithms, changes, failures, multiobjective, pool, state, warmstart
from .admission import MO_ANNOTATION, admit_for_local, admit_local, local_config
from .execution import RunningTrial, TrialExecution, alive_group, trial_name
from .results import LocalResult, LocalRunError, TrialResult
from .status import record_end
from .workdir import Paths, clear_stale_journal_lock, discard_run
from .space import Parameter, search_space

__all__ = ["Runner", "LocalResult", "LocalRunError", "TrialResult", "admit_for_local", "admit_local",
           "local_config", "MO_ANNOTATION"]

optuna.logging.set_verbosity(optuna.logging.WARNING)
MAX_ATTEMPTS = 2
POLL_SECONDS = 0.1
# Suggestions in a row that repeat a finished configuration before the search counts as exhausted.
MAX_REPEATS = 100
DUPLICATE = warmstart.DUPLICATE_ATTR


def _take_lock(lock: Any) -> bool:
    """The work dir's exclusive lock; a reader asking whether a runner is alive
    (:func:`.status.runner_alive`) holds it shared for an instant, so retry briefly."""
    for _ in range(20):
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            time.sleep(0.05)
    return False


class Runner(TrialExecution):
    """One local run of one admitted Experiment (see module docstring)."""

    def __init__(self, admitted: dict[str, Any], workdir: Path, *, mount: str = "/workspace", mode: str = "warm",
                 cache_dir: Path | None = None, seed: int | None = None,
                 on_event: Callable[[str, "Runner"], None] | None = None, overwrite: bool = False):
        self.exp = admitted
        self.overwrite = overwrite
        self.spec = admitted["spec"]
        self.meta = admitted.get("metadata") or {}
        self.name = str(self.meta.get("name") or "experiment")
        self.namespace = str(self.meta.get("namespace") or "default")
        self.paths = Paths(workdir, cache_dir)
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
        self.running: dict[int, RunningTrial] = {}
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
        self.ended: list[failures.Ended] = []

    # ---- state ---------------------------------------------------------------------------
    def _prepare_workdir(self) -> None:
        """Record the Experiment in the work dir (under the lock), or check it is the one recorded."""
        root = self.paths.root
        text = yaml.safe_dump(self.exp, sort_keys=True)
        if self.paths.experiment.exists():
            before = yaml.safe_load(self.paths.experiment.read_text()) or {}
            after = yaml.safe_load(text)
            if before != after and not self.overwrite:
                old = (before.get("metadata") or {}).get("name")
                what = "a changed spec" if old == self.name else f"another Experiment ({old!r})"
                raise LocalRunError(
                    f"{root} holds a run of {what}: {changes.summary(before, after)}. To discard that run and start "
                    "over pass overwrite=True to tune() (katib-llm tune FILE --local --overwrite); to keep it, "
                    "give this run another work dir (workdir= / --workdir) or name")
            if before != after:
                discard_run(self.paths)
        if not self.paths.experiment.exists():
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

    def _end(self, run: RunningTrial, why: str) -> None:
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
            if pid and alive_group(int(pid)):
                pool.kill_group(int(pid))
            trial = optuna.trial.Trial(self.study, frozen._trial_id)
            name = attrs.get("name") or trial_name(self.name, frozen.number)
            directory = self.paths.trials / name
            assignments = attrs.get("assignments") or {p.name: p.to_katib(frozen.params[p.name]) for p in self.space}
            timings, _ = self._timings(directory)
            finished = bool(timings) and not timings[-1].get("init")
            if finished:  # it ended before the runner could record it: read the result
                proc = pool.TrialProcess(None, directory / "stdout.log", float(attrs.get("started") or time.time()))
                run = RunningTrial(trial, name, assignments, proc, directory)
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
        self.paths.root.mkdir(parents=True, exist_ok=True)
        with open(self.paths.lock, "a+") as lock:  # "a+": a refused second runner must not erase the pid
            if not _take_lock(lock):
                raise LocalRunError(f"another run is using {self.paths.root}; wait for it or use another --workdir")
            lock.truncate(0)
            lock.write(f"{os.getpid()}\n")  # who runs it: readers tell a live run from an interrupted one
            lock.flush()
            self._prepare_workdir()
            clear_stale_journal_lock(self.paths)  # an interrupted run's: Optuna would wait 30 s and warn
            self.study = self._open_study()
            self.elapsed_before, self.run_started = self._load_elapsed(), time.time()
            self._seed_warm_start()
            queue = self._resume()
            if self.mode == "warm":
                self.pool_start_seconds = pool.warm_up()
            try:
                self._loop(queue)
                if self.stop is not None:  # recorded under the lock: readers never see an ended run as interrupted
                    record_end(self.study, self.stop[0], self.stop[1], self.stop_message)
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
            if self.stop is None or self.stop[0] != state.FAILED:  # Failed is final, as on Katib
                self.stop = state.stop_reason(self.spec, counts, self.best_value(), self.plan.max_trials)
                if self.stop is None or self.stop[0] == state.FAILED:
                    self._explain_failure()
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

    def _explain_failure(self) -> None:
        """Fail on Katib's maxFailedTrialCount with the last failure's cause, or stop a run whose
        first trials all fail the same way (:func:`.failures.repeated_failure`)."""
        if self.stop is None:
            repeated = failures.repeated_failure(self.ended, self.spec.get("maxTrialCount"))
            if repeated is None:
                return
            self.stop, self.stop_message = (state.FAILED, repeated[0]), repeated[1]
        elif not self.stop_message:
            causes = [e.cause for e in self.ended if e.cause]
            self.stop_message = state.MAX_FAILED_MESSAGE + (f"; last failure: {causes[-1]}" if causes else "")

    # ---- results --------------------------------------------------------------------------
    def result(self) -> LocalResult:
        out = []
        for t in self.trials():
            attrs = t.user_attrs
            assignments = attrs.get("assignments") or {}
            name = attrs.get("name") or trial_name(self.name, t.number)
            out.append(TrialResult(
                name=name, number=t.number,
                parameters={k: self.by_name[k].typed(v) for k, v in assignments.items() if k in self.by_name},
                assignments=assignments, state=attrs.get("katib_state", state.RUNNING),
                objective=attrs.get("objective"), metrics=attrs.get("metrics") or {},
                wall_time=attrs.get("wall_time"), trainer_time=attrs.get("trainer_time"),
                directory=self.paths.trials / name,
                output_dir=Path(attrs["output_dir"]) if attrs.get("output_dir") else None,
                attempts=int(attrs.get("attempts") or 1), reason=str(attrs.get("reason") or ""),
                message=str(attrs.get("message") or ""),
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
