"""Metrics: the line format our trainer prints and Katib's StdOut collector parses.

One metric per line, optionally after an RFC 3339 timestamp::

    2026-11-29T19:40:00.123456Z katib-llm-metric eval_accuracy=0.8125

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
UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class Observation:
    """One metric value as Katib records it in the observation log."""

    name: str
    value: str
    timestamp: str


def format_metric_line(name: str, value: float, when: datetime | None = None) -> str:
    """The line the trainer prints for one metric (NaN/inf become Katib's 'unavailable')."""
    stamp = (when or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    text = repr(float(value)) if math.isfinite(float(value)) else UNAVAILABLE
    return f"{stamp} {MARKER} {name}={text}"


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


# What katib_llm.runtime.trainer prints after every evaluation: transformers' Trainer.evaluate()
# metrics (loss, speed, model preparation time, and memory deltas when skip_memory_metrics is
# false), the epoch, the accuracy (all model classes but causal LMs) or the perplexity (causal
# LMs), and train_loss once at the end. tests/core/test_trainer_metrics.py runs the printer.
TRAINER_COMMON_METRICS = (
    "eval_loss", "eval_runtime", "eval_samples_per_second", "eval_steps_per_second", "eval_model_preparation_time",
    "eval_mem_cpu_alloc_delta", "eval_mem_cpu_peaked_delta", "eval_mem_gpu_alloc_delta", "eval_mem_gpu_peaked_delta",
    "epoch", "train_loss")
CAUSAL_LM = "AutoModelForCausalLM"


def trainer_metrics(model_class: str) -> tuple[str, ...]:
    """The metric names our shipped trainer prints for a model class."""
    task = ("eval_perplexity",) if model_class == CAUSAL_LM else ("eval_accuracy",)
    return task + TRAINER_COMMON_METRICS
