"""``run_experiment``: the one entry point the CLI and ``KatibClient(backend="local")`` call."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .progress import Progress
from .report import write_report
from .runner import LocalResult, Runner, admit_for_local
from .status import record_end


def run_experiment(experiment: dict[str, Any], workdir: str | Path, *, values: dict[str, Any] | str | Path | None = None,
                   progress: bool = True, mode: str = "warm", cache_dir: str | Path | None = None,
                   seed: int | None = None, report: bool = True) -> LocalResult:
    """Run a labelled Katib Experiment here; return every trial and the best one.

    The Experiment is admitted as the webhook would (``values``: admin values, as for
    ``katib-llm mutate --values``); a denial raises
    :class:`~katib_llm.core.errors.AdmissionDenied` naming each field. Trials run in fresh
    processes forked from a warm pool (``mode="fresh"``: a plain subprocess per step).
    Everything is kept in ``workdir``: calling again with the same Experiment and work dir
    resumes a killed run and never runs a finished trial again. ``cache_dir`` (default
    ``$KATIB_LLM_CACHE_DIR`` or ``~/.cache/katib-llm``) is where the storage initializer
    keeps models and datasets across runs. ``seed`` is used when ``algorithmSettings`` give
    no ``random_state``.
    """
    admitted, mount = admit_for_local(experiment, values)
    return run_admitted(admitted, workdir, mount=mount, progress=progress, mode=mode, cache_dir=cache_dir,
                        seed=seed, report=report)


def run_admitted(admitted: dict[str, Any], workdir: str | Path, *, mount: str, progress: bool = True,
                 mode: str = "warm", cache_dir: str | Path | None = None, seed: int | None = None,
                 report: bool = True) -> LocalResult:
    """:func:`run_experiment` for an Experiment already admitted for this machine
    (``katib_llm.local.runner.admit_local``; ``mount``: the volume's mount path), as
    ``KatibClient(backend="local").tune()`` admits it once before running it."""
    warn_if_gpus_missing(admitted)
    # Absolute paths: each trial runs in its own directory, so a relative work dir (the CLI's
    # default is runs/<name>) would otherwise resolve inside every trial's folder.
    runner_ = Runner(admitted, Path(workdir).resolve(), mount=mount, mode=mode,
                     cache_dir=Path(cache_dir).resolve() if cache_dir else None, seed=seed)
    with Progress(progress) as display:
        runner_.on_event = display
        runner_.run()
    result = runner_.result()
    if runner_.study is not None:
        record_end(runner_.study, result.condition, result.reason)
    if report:
        write_report(result)
    best_dir = result.best.output_dir if result.best is not None else None
    if result.condition == "Succeeded" and best_dir is not None and Path(best_dir).is_dir():
        # As on the cluster: the best adapter goes to <volume>/experiments/<exp>/best and the
        # other trials' outputs are pruned unless the Experiment asks to retain its trials.
        # Trials that write no adapter (function objectives) have nothing to promote.
        import warnings

        from katib_llm.runtime.promotion import PromotionError, promote_local

        try:
            promotion = promote_local(result)
        except PromotionError as exc:
            warnings.warn(f"best trial not promoted: {exc}", stacklevel=2)
        else:
            if promotion is not None:
                result.artifacts["promoted"] = promotion.best
    return result


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


def warn_if_gpus_missing(admitted: dict[str, Any]) -> None:
    """Say before the first trial that every trial will fail: GPUs requested, none here (the
    trainer refuses a CPU run; see katib_llm.runtime.trainer.require_requested_gpus)."""
    gpus = requested_gpus(admitted)
    if not gpus:
        return
    import warnings

    import torch

    if not torch.cuda.is_available():
        warnings.warn(f"the Experiment asks for {gpus} GPU(s) per worker (resources-per-worker) but CUDA sees none "
                      "here: each trial will fail at once rather than train on CPU; drop gpu from the resources "
                      "to run it on this machine's CPU", stacklevel=3)
