"""Trial and worker resources: the Katib LLM tuning proposal's (kubeflow/katib#2291) and kubeflow-katib's arguments → one per-worker shape.

The Katib LLM tuning proposal (kubeflow/katib#2291) gives both ``resources_per_trial`` (the whole
trial) and ``resources_per_worker``;
kubeflow-katib 0.19 gives a ``TrainerResources`` (num_workers, num_procs_per_worker,
resources_per_worker). Either way the Experiment carries one per-worker shape. Every value is
parsed by the admission core (:func:`katib_llm.core.contract.parse`, ``parse_resources``); this
module only splits a per-trial amount over the workers, which no annotation expresses.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from katib_llm.core import contract
from katib_llm.core.contract import Resources
from katib_llm.core.errors import FieldError
from katib_llm.core.quantity import format_quantity, split

from .arguments import denial
from .errors import TuneArgumentError

# kubernetes' extended resource name for GPUs, as a V1ResourceRequirements carries it.
GPU_ALIASES = ("nvidia.com/gpu",)


@dataclass
class Shape:
    """Workers per trial, processes per worker, per-worker resources (typed by the core)."""

    workers: int = 1
    procs: int = 1
    per_worker: Resources | None = None


def _as_dict(raw: Any) -> Any:
    """A ``V1ResourceRequirements`` (limits, else requests) or a dict, GPU aliases renamed."""
    if raw is not None and hasattr(raw, "limits") and hasattr(raw, "requests"):
        raw = dict(raw.limits or raw.requests or {})
    if isinstance(raw, dict):
        return {("gpu" if k in GPU_ALIASES else k): v for k, v in raw.items()}
    return raw


def _resources(raw: Any, argument: str) -> Resources | None:
    """The core's parse of one resources argument; its denial names ``argument``."""
    if raw is None:
        return None
    errors: list[FieldError] = []
    parsed = contract.parse_resources(_as_dict(raw), contract.annotation_path(contract.RESOURCES_PER_WORKER), errors)
    if errors:
        raise denial(errors, resources=argument)
    return parsed


def _count(value: Any, name: str) -> int:
    """The core's parse of ``workers`` / ``procs-per-worker``; 1 when not given."""
    if value is None:
        return 1
    spec, errors = contract.parse({contract.annotation_key(name): str(value) if not isinstance(value, bool)
                                   else "true"}, set())
    if errors:
        raise denial(errors)
    return spec.workers if name == contract.WORKERS else spec.procs_per_worker


def _per_trial(trial: Resources, shape: Shape) -> Resources:
    """Split the trial's resources evenly over the workers."""
    if trial.gpu % shape.workers:
        raise TuneArgumentError("resources_per_trial.gpu",
                                f"{trial.gpu} GPUs cannot be split evenly over {shape.workers} workers; "
                                "use a multiple of num_workers or give resources_per_worker")
    worker = Resources(gpu=trial.gpu // shape.workers)
    for key in ("cpu", "memory"):
        value = getattr(trial, key)
        if value is not None:
            amount, suffix = split(value)
            setattr(worker, key, format_quantity(amount / shape.workers, suffix, key))
    return worker


def _consistent(trial: Resources, worker: Resources, workers: int) -> None:
    """Both given: the trial's amounts must cover ``workers`` x the worker's."""
    if trial.gpu and worker.gpu * workers != trial.gpu:
        raise TuneArgumentError("resources_per_trial.gpu", f"{trial.gpu} GPUs per trial != {workers} workers x "
                                                           f"{worker.gpu} GPUs per worker (resources_per_worker.gpu)")
    for key in ("cpu", "memory"):
        total, each = getattr(trial, key), getattr(worker, key)
        if total is not None and each is not None and split(each)[0] * workers > split(total)[0]:
            raise TuneArgumentError(f"resources_per_trial.{key}", f"{total} per trial is less than {workers} "
                                                                  f"workers x {each} (resources_per_worker.{key})")


def worker_shape(resources_per_trial: Any, num_workers: Any, num_procs_per_worker: Any,
                 resources_per_worker: Any) -> Shape:
    """One per-worker shape satisfying every resource argument given, or an error naming one."""
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
    shape = Shape(workers=_count(num_workers, contract.WORKERS), procs=_count(num_procs_per_worker,
                                                                              contract.PROCS_PER_WORKER))
    trial = _resources(resources_per_trial, "resources_per_trial")
    worker = _resources(resources_per_worker, "resources_per_worker")
    if trial is not None and worker is None:
        worker = _per_trial(trial, shape)
    elif trial is not None and worker is not None:
        _consistent(trial, worker, shape.workers)
    if worker is not None and worker.gpu and worker.gpu % shape.procs:
        raise TuneArgumentError("num_procs_per_worker", f"{shape.procs} processes per worker cannot share "
                                                        f"{worker.gpu} GPUs evenly; use a divisor of "
                                                        "resources_per_worker.gpu")
    shape.per_worker = worker if worker != Resources() else None
    return shape
