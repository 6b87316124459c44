"""Metrics: the line format our trainer prints and Katib's StdOut collector parses.

One metric per line, optionally after an RFC 3339 timestamp::

    2026-11-29T19:40:00.123456Z katib-llm-metric eval_accuracy=0.8125

Only finite values are printed. Katib's collector (v0.19, ``file-metricscollector/main.go``)
matches ``name=`` with an empty value on ``name=nan``, ``name=inf`` or any word, and when the
trial has early-stopping rules it calls ``ParseFloat("")`` and exits (``klog.Fatalf``): the
trial fails. So a NaN or infinite value is left out and one notice line without ``=`` says so
(:func:`metric_lines`); the trial goes on, its observation log holds its finite values, and a
trial whose objective never had one ends ``MetricsUnavailable`` on the cluster (Katib reports
``unavailable`` itself) and on the local backend alike (:func:`metric_value` is the rule both
read lines with).

``METRICS_FILTER`` is set as the Experiment's ``metricsCollectorSpec.source.filter`` so that
Trainer log lines such as ``Num examples = 3,000`` are never mistaken for metrics. The parser
here follows Katib's file-metricscollector (``parseLogs``) so the local backend reads logs the
way the cluster does.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

MARKER = "katib-llm-metric"
METRICS_FILTER = MARKER + r" ([\w|-]+)=([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"
# Katib's default StdOut filter (pkg/metricscollector/v1beta1/common/const.go).
KATIB_DEFAULT_FILTER = r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"
# Starts the notice about values left out: no "=" in it, so no filter can match it.
SKIPPED = MARKER + "-skipped"


@dataclass(frozen=True)
class Observation:
    """One metric value as Katib records it in the observation log."""

    name: str
    value: str
    timestamp: str


def _stamp(when: datetime | None) -> str:
    return (when or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_metric_line(name: str, value: float, when: datetime | None = None) -> str:
    """The line printed for one finite metric value (ValueError for NaN or infinity)."""
    if not math.isfinite(float(value)):
        raise ValueError(f"metric {name} is {value}: only finite values are printed")
    return f"{_stamp(when)} {MARKER} {name}={float(value)!r}"


def metric_lines(values: dict[str, float], when: datetime | None = None) -> list[str]:
    """The lines printed for one set of values: one per finite value, then one notice naming the
    values left out (NaN, infinity), a line no metrics filter matches."""
    lines = [format_metric_line(name, value, when) for name, value in values.items() if math.isfinite(float(value))]
    left_out = [f"{name} ({float(value)})" for name, value in values.items() if not math.isfinite(float(value))]
    if left_out:
        lines.append(f"{_stamp(when)} {SKIPPED} not finite, not reported: {', '.join(left_out)}")
    return lines


def metric_value(text: str) -> float | None:
    """The value a printed metric carries, or None when it is not a finite number (what a
    collector must not record)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _timestamp(token: str) -> bool:
    try:
        datetime.fromisoformat(token.replace("Z", "+00:00"))
        return "T" in token
    except ValueError:
        return False


def parse_metrics(lines: Iterable[str], metric_names: list[str],
                  filters: list[str] | None = None) -> list[Observation]:
    """Katib's ``parseLogs``: keep lines naming a wanted metric, apply each filter."""
    compiled = [re.compile(f) for f in (filters or [KATIB_DEFAULT_FILTER])]
    wanted = set(metric_names)
    out: list[Observation] = []
    for raw in lines:
        line = raw.rstrip("\n")
        if not any(m in line for m in wanted):
            continue
        stamp = "0001-01-01T00:00:00Z"
        head, _, rest = line.partition(" ")
        if rest and _timestamp(head):
            stamp, line = head, rest
        for rx in compiled:
            for match in rx.finditer(line):
                if match.lastindex is None or match.lastindex < 2:
                    continue
                name, value = match.group(1).strip(), match.group(2).strip()
                if name in wanted and value not in ("", "+", "-", "."):
                    out.append(Observation(name, value, stamp))
    return out


# What katib_llm.runtime.trainer prints, the names transformers' Trainer reports: after every
# evaluation what Trainer.evaluate() returns (loss, speed, model preparation time, memory deltas
# when skip_memory_metrics is false) plus the epoch, eval_accuracy (a causal LM's is next-token
# accuracy, as transformers' run_clm.py example computes it) and a causal LM's eval_perplexity;
# at the end what Trainer.train() returns (runtime, speed, total_flos, train_loss, memory). The
# admission's "never printed" rule (core/rules.py) reads this list; tests/runtime/test_trainer.py
# runs the trainer and checks what it prints against it.
EVAL_METRICS = (
    "eval_loss", "eval_accuracy", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second",
    "eval_model_preparation_time", "eval_mem_cpu_alloc_delta", "eval_mem_cpu_peaked_delta",
    "eval_mem_gpu_alloc_delta", "eval_mem_gpu_peaked_delta", "epoch")
TRAIN_METRICS = (
    "train_runtime", "train_samples_per_second", "train_steps_per_second", "total_flos", "train_loss", "epoch",
    "train_mem_cpu_alloc_delta", "train_mem_cpu_peaked_delta", "train_mem_gpu_alloc_delta", "train_mem_gpu_peaked_delta",
    "init_mem_cpu_alloc_delta", "init_mem_cpu_peaked_delta", "init_mem_gpu_alloc_delta", "init_mem_gpu_peaked_delta",
    "before_init_mem_cpu", "before_init_mem_gpu")
CAUSAL_LM = "AutoModelForCausalLM"


def trainer_metrics(model_class: str) -> tuple[str, ...]:
    """The metric names our shipped trainer prints for a model class."""
    causal = ("eval_perplexity",) if model_class == CAUSAL_LM else ()
    return tuple(dict.fromkeys(EVAL_METRICS + causal + TRAIN_METRICS))
