"""``run_experiment``: the one entry point the CLI and ``KatibClient(backend="local")`` call."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

from .progress import Progress
from .report import write_report
from .runner import LocalResult, Runner, admit_for_local


def run_experiment(experiment: dict[str, Any], workdir: str | Path, *, values: dict[str, Any] | str | Path | None = None,
                   progress: bool = True, mode: str = "warm", cache_dir: str | Path | None = None,
                   seed: int | None = None, report: bool = True, overwrite: bool = False,
                   warn: bool = True) -> LocalResult:
    """Run a labelled Katib Experiment here; return every trial and the best one.

    The Experiment is admitted by the webhook's core with this machine's configuration (``values``:
    admin values, as for ``katib-llm mutate --local --values``; ``file://`` anywhere on the machine); a denial raises
    :class:`~katib_llm.core.errors.AdmissionDenied` naming each field. Trials run in fresh
    processes forked from a warm pool (``mode="fresh"``: a plain subprocess per step).
    Everything is kept in ``workdir``: calling again with the same Experiment and work dir
    resumes a killed run and never runs a finished trial again. ``cache_dir`` (default
    ``$KATIB_LLM_CACHE_DIR`` or ``~/.cache/katib-llm``) is where the storage initializer
    keeps models and datasets across runs. ``seed`` is used when ``algorithmSettings`` give
    no ``random_state``. A work dir that holds a run of a different Experiment is refused with
    what differs, unless ``overwrite=True``, which discards that run first. The core's admission
    warnings are issued as :class:`AdmissionWarning` (``warn=False``: not, for a caller that
    already showed them).
    """
    notes: list[str] = []
    admitted, mount = admit_for_local(experiment, values, notes)
    for note in notes if warn else []:  # the webhook's AdmissionReview warnings, e.g. a tuned value nothing reads
        warnings.warn(f"admission: {note}", AdmissionWarning, stacklevel=2)
    return run_admitted(admitted, workdir, mount=mount, progress=progress, mode=mode, cache_dir=cache_dir,
                        seed=seed, report=report, overwrite=overwrite)


def run_admitted(admitted: dict[str, Any], workdir: str | Path, *, mount: str, progress: bool = True,
                 mode: str = "warm", cache_dir: str | Path | None = None, seed: int | None = None,
                 report: bool = True, overwrite: bool = False) -> LocalResult:
    """:func:`run_experiment` for an Experiment already admitted for this machine
    (``katib_llm.local.admission.admit_local``, whose warnings the caller has issued; ``mount``:
    the volume's mount path), as ``KatibClient(backend="local").tune()`` admits it once before
    running it."""
    refuse_if_gpus_missing(admitted)
    # Absolute paths: each trial runs in its own directory, so a relative work dir (the CLI's
    # default is runs/<name>) would otherwise resolve inside every trial's folder.
    runner_ = Runner(admitted, Path(workdir).resolve(), mount=mount, mode=mode,
                     cache_dir=Path(cache_dir).resolve() if cache_dir else None, seed=seed, overwrite=overwrite)
    with Progress(progress) as display:
        runner_.on_event = display
        runner_.run()
    result = runner_.result()  # the runner recorded how it ended (local.status.record_end)
    if report:
        write_report(result)
    best_dir = result.best.output_dir if result.best is not None else None
    if result.condition == "Succeeded" and best_dir is not None and Path(best_dir).is_dir():
        # As on the cluster: the best adapter goes to <volume>/experiments/<exp>/best and the
        # other trials' outputs are pruned unless the Experiment asks to retain its trials.
        # Trials that write no adapter (function objectives) have nothing to promote.
        from katib_llm.runtime.promotion import PromotionError, promote_local

        try:
            promotion = promote_local(result)
        except PromotionError as exc:
            warnings.warn(f"best trial not promoted: {exc}", stacklevel=2)
        else:
            if promotion is not None:
                result.artifacts["promoted"] = promotion.best
    return result


class AdmissionWarning(UserWarning):
    """A warning of the admission core (the webhook returns the same in AdmissionReview ``warnings``)."""


def requested_gpus(admitted: dict[str, Any]) -> int:
    """GPUs per worker the admitted trial template asks for (the trainer's KATIB_LLM_GPUS_PER_WORKER)."""
    from katib_llm.core.inject import GPUS_ENV

    found = [0]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("name") == GPUS_ENV and str(node.get("value", "")).isdigit():
                found.append(int(node["value"]))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(admitted.get("spec", {}).get("trialTemplate"))
    return max(found)


# Set to 1 to run trials that ask for GPUs although CUDA sees none in this process (e.g. each
# trial's environment selects devices this process does not see). The trainer still refuses a
# CPU run in a trial that sees none (katib_llm.runtime.trainer.require_requested_gpus).
ALLOW_NO_GPU_ENV = "KATIB_LLM_ALLOW_NO_GPU"


def cuda_devices() -> int | None:
    """GPUs CUDA sees in this process; None when torch is not installed (nothing to tell)."""
    try:
        import torch
    except ImportError:
        return None
    return int(torch.cuda.device_count()) if torch.cuda.is_available() else 0


def refuse_if_gpus_missing(admitted: dict[str, Any]) -> None:
    """Refuse, before the first trial, an Experiment whose trials ask for GPUs this machine does
    not have: each would fail at once (the trainer never trains on CPU what asked for GPUs), and
    the run would spend its whole trial budget failing."""
    from katib_llm.core.contract import PREFIX, RESOURCES_PER_WORKER

    from .runner import LocalRunError

    gpus = requested_gpus(admitted)
    if not gpus or os.environ.get(ALLOW_NO_GPU_ENV) == "1":
        return
    if cuda_devices() != 0:  # GPUs to use, or no torch to ask
        return
    raise LocalRunError(
        f"resources_per_worker asks for {gpus} GPU(s) per worker (annotation {PREFIX}{RESOURCES_PER_WORKER}) but "
        f"CUDA sees none here: every trial would fail rather than train on CPU. Drop gpu from "
        f"resources_per_worker / resources_per_trial to run on this machine's CPU, or set {ALLOW_NO_GPU_ENV}=1 "
        "if the trials see GPUs this process does not")
