"""Katib v0.19's StdOut/File metrics collector as it really runs, ported as checks.

Upstream (github.com/kubeflow/katib, tag v0.19.0):

* ``pkg/webhook/v1beta1/pod/utils.go``, ``wrapWorkerContainer``: the primary container's
  command and args are joined with single spaces (no quoting) into ``sh -c "<cmd> 1>FILE 2>&1
  [|| <early-stopped check>] && echo completed > DIR/$$$$.pid"``.
* ``pkg/metricscollector/v1beta1/common/pns.go``, ``GetMainProcesses``: the main process is the
  one whose command line holds ``echo completed > DIR`` (the wrapped shell).
* ``cmd/metricscollector/v1beta1/file-metricscollector/main.go``, ``watchMetricsFile`` (only when
  the trial has early-stopping rules): every line naming a rule's metric is matched with the
  filters; each match's value goes through ``strconv.ParseFloat`` and a failure is
  ``klog.Fatalf`` (the collector exits, the trial fails); ``updateStopRules`` compares the
  objective's best value so far (other metrics their latest) with each rule after its
  ``startStep``-th value; when every rule has fired the collector writes the early-stopped mark,
  refuses a main process with other than exactly one child (``klog.Fatalf("Multiple children
  processes are not supported...")``), terminates that child and reports.
* ``main``/``reportMetrics`` and ``pkg/metricscollector/v1beta1/file-metricscollector/
  file-metricscollector.go``, ``CollectObservationLog``: the observation log is sent to the DB
  once, when the main process ends or at the early stop, never during the run; a missing
  objective is reported as the value ``unavailable``.
* ``pkg/metricscollector/v1beta1/common/const.go``: ``DefaultFilter``.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from typing import Any, Iterable

DEFAULT_FILTER = r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"
UNAVAILABLE = "unavailable"  # pkg/controller.v1beta1/consts: UnavailableMetricValue
_GO_FLOAT = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$|^[+-]?(inf|infinity|nan)$", re.IGNORECASE)


def parse_float(text: str) -> float:
    """``strconv.ParseFloat(s, 64)`` for decimal text; raises ValueError on what Go rejects ("")."""
    if not _GO_FLOAT.match(text):
        raise ValueError(f"strconv.ParseFloat: parsing {text!r}: invalid syntax")
    return float(text)


def _matches(line: str, filters: list[str]) -> list[tuple[str, str]]:
    out = []
    for rx in (re.compile(f) for f in (filters or [DEFAULT_FILTER])):
        for match in rx.finditer(line):
            groups = (match.group(0),) + match.groups()
            if len(groups) >= 3:
                out.append((groups[1].strip(), (groups[2] or "").strip()))
    return out


def observation_log(lines: Iterable[str], metrics: list[str], filters: list[str]) -> list[tuple[str, str]]:
    """``CollectObservationLog`` (TEXT format): (name, value) of every wanted metric match; the
    value is kept as text, as the DB stores it. No objective value: ``[(objective, unavailable)]``."""
    logs = []
    for line in lines:
        if not any(m in line for m in metrics):
            continue
        logs += [(name, value) for name, value in _matches(line, filters) if name in metrics]
    if not any(name == metrics[0] for name, _ in logs):
        return [(metrics[0], UNAVAILABLE)]
    return logs


@dataclass(frozen=True)
class StopRule:
    name: str
    value: str
    comparison: str  # equal | less | greater
    start_step: int = 0


@dataclass
class CollectorRun:
    """What one collector sidecar did with a metrics file."""

    fatal: str | None = None        # the klog.Fatalf message: the collector died, the trial fails
    early_stopped_after: int | None = None  # lines read when every stop rule had fired
    reports: list[list[tuple[str, str]]] = field(default_factory=list)  # each ReportObservationLog


def _rule_fires(rule: StopRule, value: float) -> bool:
    limit = parse_float(rule.value)
    return ((rule.comparison == "equal" and value == limit) or (rule.comparison == "less" and value < limit)
            or (rule.comparison == "greater" and value > limit))


def run_collector(lines: list[str], metrics: list[str], objective_type: str, filters: list[str],
                  rules: list[StopRule] = (), children_of_main: int = 1) -> CollectorRun:
    """The collector over a finished metrics file: ``watchMetricsFile`` when there are stop rules,
    then ``reportMetrics`` at the stop or when the main process ends."""
    run = CollectorRun()
    pending, best = list(rules), None
    countdown = {r.name: r.start_step for r in rules if r.start_step}
    for read, line in enumerate(lines if rules else (), start=1):
        if not any(r.name in line for r in pending):
            continue
        for name, text in _matches(line, filters):
            try:
                value = parse_float(text)
            except ValueError:
                run.fatal = f"Unable to parse value {text!r} to float for metric {name}"
                return run
            for rule in [r for r in pending if r.name == name]:
                if name == metrics[0]:
                    better = best is None or (value > best if objective_type == "maximize" else value < best)
                    best = value if better else best
                    value = best
                if name in countdown:
                    countdown[name] -= 1
                    if countdown[name] != 0:
                        continue
                if _rule_fires(rule, value):
                    pending.remove(rule)
        if rules and not pending:
            if children_of_main != 1:
                run.fatal = "Multiple children processes are not supported."
                return run
            run.early_stopped_after = read
            run.reports.append(observation_log(lines[:read], metrics, filters))
            return run
    run.reports.append(observation_log(lines, metrics, filters))
    return run


def main_process(processes: list[tuple[int, int, str]], own_pid: int, metrics_dir: str = "/var/log/katib") -> int | None:
    """``GetMainProcesses``: among (pid, ppid, cmdline) of the pod's shared PID namespace, the
    container entry processes (ppid 0; not pid 1, the pause container, nor the collector) are
    candidates; the main one is the first, unless one's command line holds the completion marker
    ``echo completed > <metrics dir>`` (the wrapped primary container), which wins."""
    main = None
    for pid, ppid, cmdline in processes:
        if pid in (1, own_pid) or ppid != 0:
            continue
        if main is None or f"echo completed > {metrics_dir}" in cmdline:
            main = pid
    return main


def run_reported_values(run: CollectorRun, metric: str) -> list[float]:
    """The values of ``metric`` Katib's DB received (what the trial controller reads)."""
    return [float(v) for report in run.reports for n, v in report if n == metric and v != UNAVAILABLE]


# Shell syntax with a meaning in sh: a word holding one changes the command when the wrapper joins
# the arguments with spaces into `sh -c`.
_SHELL_SPECIAL = set("|&;<>()$`\\\"' \t\n*?[{}")


def wrapped_command(command: list[str], metrics_file: str = "/var/log/katib/metrics.log",
                    early_stopping: bool = False) -> list[str]:
    """``wrapWorkerContainer`` for the StdOut collector: the primary container's new argv."""
    shell, args = ["sh", "-c"], list(command)
    if len(args) >= 2 and args[0] in ("sh", "bash") and args[1] == "-c":
        shell, args = args[:2], args[2:]
    args.append(f"1>{metrics_file} 2>&1")
    directory = metrics_file.rsplit("/", 1)[0]
    if early_stopping:
        args += ["||", f"if test -f {directory}/$$$$.pid && [ $(head -n 1 {directory}/$$.pid) = early-stopped ]; "
                       "then echo Training Container was Early Stopped; else echo Training Container was Failed; exit 1; fi"]
    args += ["&&", f"echo completed > {directory}/$$$$.pid"]
    return shell + [" ".join(args)]


def _top_level(script: str) -> str:
    """``script`` with the text of command substitutions (``$(...)``, backquotes) and quotes
    blanked: those run in a subshell, one child of the main shell however many they start."""
    out, depth, quote, i = [], 0, "", 0
    while i < len(script):
        ch = script[i]
        if quote:
            quote = "" if ch == quote else quote
            out.append(" ")
        elif depth and ch == ")":
            depth -= 1
            out.append(" ")
        elif script.startswith("$(", i):
            depth += 1
            out.append("  ")
            i += 1
        elif depth:
            depth += ch == "("
            out.append(" ")
        elif ch in "'\"`":
            quote = ch
            out.append(" ")
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def wrap_errors(command: list[str]) -> list[str]:
    """Whether the wrapped command still runs ``command`` as written, as one child of the shell.

    * Outside ``sh -c``, each argument becomes a shell word unquoted: an argument the shell would
      split, expand or reinterpret runs a different command than the container spec says.
    * Inside ``sh -c``, the script must run its commands one after another (``&&``, ``||``, ``;``):
      a pipeline or a background job makes two children of the main process, which the
      collector refuses at an early stop ("Multiple children processes are not supported")."""
    if not command:
        return ["the primary container has no command: Katib's wrapper needs it in the container spec"]
    if len(command) >= 2 and command[0] in ("sh", "bash") and command[1] == "-c":
        lexer = shlex.shlex(_top_level(" ".join(command[2:])), posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        bad = [t for t in lexer if t in ("|", "&", "|&", ";&")]
        return [f"the shell script runs {t!r} at its top level: more than one child of the main process at once"
                for t in bad]
    errors = []
    for arg in command:
        if arg == "" or arg[0] in "#~" or any(ch in _SHELL_SPECIAL for ch in arg):
            errors.append(f"argument {arg!r} is not one plain shell word: the collector's `sh -c` wrapper "
                          "(arguments joined with spaces) would run something else")
    return errors


def firing_rules(experiment: dict[str, Any]) -> list[StopRule]:
    """Stop rules on the Experiment's objective that fire at its first value: they drive the
    collector's early-stop path (rule evaluation, the child-process check, the report at the stop)."""
    objective = experiment["spec"]["objective"]
    comparison = "less" if objective["type"] == "maximize" else "greater"
    bound = "1e300" if comparison == "less" else "-1e300"
    return [StopRule(objective["objectiveMetricName"], bound, comparison, 1)]
