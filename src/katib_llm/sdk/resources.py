"""Trial and worker resources: numbers → quantity strings, and the worker shape check.

The Katib LLM tuning proposal (kubeflow/katib#2291) gives both ``resources_per_trial`` (the whole
trial) and ``resources_per_worker``;
kubeflow-katib 0.19 gives a ``TrainerResources`` (num_workers, num_procs_per_worker,
resources_per_worker). Either way the Experiment carries one per-worker shape, and a request
no shape satisfies is refused here, naming the argument.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from katib_llm.core.contract import quantity

from .errors import TuneArgumentError

_SUFFIX = {"": 1, "m": Fraction(1, 1000), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12, "P": 10**15,
           "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_Q = re.compile(r"^([0-9]+(?:\.[0-9]+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$")
GPU_KEYS = ("gpu", "nvidia.com/gpu")


@dataclass
class Shape:
    """Workers per trial, processes per worker, per-worker resources (quantity strings)."""

    workers: int = 1
    procs: int = 1
    per_worker: dict[str, Any] | None = None


def parse_quantity(text: str, argument: str) -> tuple[Fraction, str]:
    m = _Q.match(text)
    if not m:
        raise TuneArgumentError(argument, f"must be a number or Kubernetes quantity such as 5, \"500m\", "
                                          f"\"10G\" or \"16Gi\", got {text!r}")
    return Fraction(m.group(1)) * _SUFFIX[m.group(2) or ""], m.group(2) or ""


def _format(amount: Fraction, suffix: str, key: str) -> str:
    """A quantity string for ``amount``, preferring the caller's suffix, then smaller ones."""
    family = ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"] if suffix.endswith("i") else ["E", "P", "T", "G", "M", "k"]
    for unit in [suffix] + family[family.index(suffix) + 1:] if suffix in family else [suffix]:
        scaled = amount / _SUFFIX[unit]
        if scaled.denominator == 1:
            return f"{scaled.numerator}{unit}"
    if amount.denominator == 1 or key == "memory":
        return str(amount.numerator // amount.denominator)  # whole bytes, rounded down
    milli = amount * 1000
    return f"{milli.numerator // milli.denominator}m"


def normalise(raw: Any, argument: str) -> dict[str, Any]:
    """``{"gpu": 2, "cpu": 5, "memory": "10G"}`` (numbers or quantities) → gpu int, quantity strings.

    A ``kubernetes.client.V1ResourceRequirements`` is read from its limits (else requests).
    """
    if raw is None:
        return {}
    if hasattr(raw, "limits") and hasattr(raw, "requests"):
        raw = dict(raw.limits or raw.requests or {})
    if not isinstance(raw, dict):
        raise TuneArgumentError(argument, 'must be a dict like {"gpu": 2, "cpu": 5, "memory": "10G"}, '
                                          f"got {type(raw).__name__}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        path = f"{argument}.{key}"
        if key in GPU_KEYS:
            try:
                gpu = float(value)
            except (TypeError, ValueError):
                gpu = -1
            if isinstance(value, bool) or gpu < 0 or not gpu.is_integer():
                raise TuneArgumentError(path, f"must be a whole number of GPUs >= 0, got {value!r}")
            out["gpu"] = int(gpu)
        elif key in ("cpu", "memory"):
            q = quantity(value)
            if q is None:
                example = '5 or "500m"' if key == "cpu" else '"10G" or "16Gi"'
                raise TuneArgumentError(path, f"must be a number or Kubernetes quantity such as {example}, "
                                              f"got {value!r}")
            parse_quantity(q, path)
            out[key] = q
        else:
            raise TuneArgumentError(path, "unknown resource; accepted keys are gpu, cpu, memory")
    return out


def _positive(value: Any, argument: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise TuneArgumentError(argument, f"must be an integer >= 1, got {value!r}")
    return value


def worker_shape(resources_per_trial: Any, num_workers: Any, num_procs_per_worker: Any,
                 resources_per_worker: Any) -> Shape:
    """One per-worker shape satisfying every resource argument given, or TuneArgumentError."""
    if resources_per_trial is not None and hasattr(resources_per_trial, "resources_per_worker") \
            and hasattr(resources_per_trial, "num_workers"):
        # kubeflow-katib's TrainerResources: its fields fill the proposal's arguments.
        tr = resources_per_trial
        for arg, ours in (("num_workers", num_workers), ("num_procs_per_worker", num_procs_per_worker),
                          ("resources_per_worker", resources_per_worker)):
            theirs = getattr(tr, arg)
            if ours is not None and ours != theirs:
                raise TuneArgumentError(arg, f"conflicts with resources_per_trial.{arg} ({theirs!r}); give it once")
        num_workers, num_procs_per_worker = tr.num_workers, tr.num_procs_per_worker
        resources_per_worker, resources_per_trial = tr.resources_per_worker, None
    shape = Shape(workers=_positive(num_workers, "num_workers") if num_workers is not None else 1,
                  procs=_positive(num_procs_per_worker, "num_procs_per_worker")
                  if num_procs_per_worker is not None else 1)
    trial = normalise(resources_per_trial, "resources_per_trial")
    worker = normalise(resources_per_worker, "resources_per_worker")
    if trial and not worker:
        # Split the trial's resources evenly over the workers.
        for key, value in trial.items():
            if key == "gpu":
                if value % shape.workers:
                    raise TuneArgumentError("resources_per_trial.gpu",
                                            f"{value} GPUs cannot be split evenly over {shape.workers} workers; "
                                            f"use a multiple of num_workers or give resources_per_worker")
                worker["gpu"] = value // shape.workers
            else:
                amount, suffix = parse_quantity(value, f"resources_per_trial.{key}")
                worker[key] = _format(amount / shape.workers, suffix, key)
    elif trial and worker:
        for key, value in trial.items():
            path = f"resources_per_trial.{key}"
            if key == "gpu":
                if worker.get("gpu", 0) * shape.workers != value:
                    raise TuneArgumentError(path, f"{value} GPUs per trial != {shape.workers} workers x "
                                                  f"{worker.get('gpu', 0)} GPUs per worker (resources_per_worker.gpu)")
                continue
            if key not in worker:
                continue
            total, _ = parse_quantity(value, path)
            each, _ = parse_quantity(worker[key], f"resources_per_worker.{key}")
            if each * shape.workers > total:
                raise TuneArgumentError(path, f"{value} per trial is less than {shape.workers} workers x "
                                              f"{worker[key]} (resources_per_worker.{key})")
    gpu = worker.get("gpu", 0)
    if gpu and gpu % shape.procs:
        raise TuneArgumentError("num_procs_per_worker", f"{shape.procs} processes per worker cannot share "
                                                        f"{gpu} GPUs evenly; use a divisor of resources_per_worker.gpu")
    shape.per_worker = worker or None
    return shape
