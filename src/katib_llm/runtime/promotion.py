"""Adapter promotion: the best trial's LoRA adapter to a stable ``best/`` path, the others pruned.

Trials write only their adapter and ``metrics.json`` to ``<mount>/experiments/<exp>/<trial>``
(the trainer does). When the Experiment succeeds, :func:`promote` copies the best trial's
directory to ``<mount>/experiments/<exp>/best`` atomically (staging dir + rename, so a reader
never sees half an adapter) and deletes the other trial directories unless ``retain`` is set
(the ``retain-trials`` annotation). The best trial's own directory is kept.
Optionally the adapter is merged into the base model under ``best/merged`` — KServe's
Hugging Face backend has no LoRA option (see docs/advanced.md), so a classifier is served merged.

On the cluster ``python -m katib_llm.deploy.adapters`` runs it in the Job that
:func:`katib_llm.deploy.adapters.promotion_job` builds; the local backend calls
:func:`promote_local` after a run.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

from katib_llm.core.contract import RETAIN_TRIALS, annotation_key

ADAPTER_FILES = ("adapter_config.json",)
BEST = "best"
MERGED = "merged"
# Katib trial names are DNS-1123 labels; anything else must never reach a filesystem path.
_TRIAL_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_RESERVED = {BEST, "inputs", "cache", "trials", "volume"}


class PromotionError(ValueError):
    """Promotion cannot proceed; nothing was changed."""


@dataclass(frozen=True)
class TrialResult:
    """One trial as far as promotion is concerned."""

    name: str
    objective: float | None = None
    succeeded: bool = True


@dataclass
class PromotionResult:
    best: Path
    trial: str
    pruned: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    merged: Path | None = None


def _check_name(name: str, what: str) -> str:
    if not isinstance(name, str) or not _TRIAL_NAME.match(name) or len(name) > 253 or name in _RESERVED:
        raise PromotionError(f"{what} {name!r} is not a trial name (a lower-case DNS-1123 label, not one of "
                             f"{', '.join(sorted(_RESERVED))})")
    return name


def best_trial(trials: Iterable[TrialResult], maximize: bool) -> TrialResult:
    """The succeeded trial with the best objective (first one wins a tie)."""
    scored = [t for t in trials if t.succeeded and t.objective is not None]
    if not scored:
        raise PromotionError("no succeeded trial reported the objective metric; nothing to promote")
    return (max if maximize else min)(scored, key=lambda t: t.objective)  # type: ignore[arg-type,return-value]


def promote(experiment_dir: str | Path, trials: Sequence[TrialResult], best: str | None = None, *,
            retain: bool = False, maximize: bool = True) -> PromotionResult:
    """Copy the best trial's adapter to ``experiment_dir/best``; prune the others unless ``retain``.

    ``best`` names the best trial (Katib's ``status.currentOptimalTrial.bestTrialName``); when
    None it is chosen from ``trials`` by objective. Only directories of the listed trials are
    ever deleted. Idempotent: promoting again gives the same tree.

    >>> promote("/workspace/experiments/exp", [TrialResult("exp-a", 0.8), TrialResult("exp-b", 0.9)])  # doctest: +SKIP
    PromotionResult(best=PosixPath('/workspace/experiments/exp/best'), trial='exp-b', pruned=['exp-a'], ...)
    """
    root = Path(experiment_dir)
    if not root.is_dir():
        raise PromotionError(f"experiment directory {root} does not exist")
    names = [_check_name(t.name, "trial") for t in trials]
    chosen = _check_name(best, "best trial") if best is not None else best_trial(trials, maximize).name
    if chosen not in names:
        raise PromotionError(f"best trial {chosen!r} is not among the trials given: {', '.join(names) or '(none)'}")
    source = root / chosen
    target = root / BEST
    record = next(t for t in trials if t.name == chosen)
    if not (source / ADAPTER_FILES[0]).is_file():
        if (target / "trial.json").is_file() and json.loads((target / "trial.json").read_text()).get("trial") == chosen:
            pass  # already promoted (its trial dir may have been removed since): just prune
        else:
            raise PromotionError(f"trial {chosen!r} has no adapter in {source} (expected {ADAPTER_FILES[0]}); "
                                 "did the trial run the katib-llm trainer?")
    else:
        _replace_dir(source, target, {"trial": chosen, "objective": record.objective})
    result = PromotionResult(best=target, trial=chosen)
    for name in names:
        if name == chosen:
            continue
        path = root / name
        if retain:
            if path.exists():
                result.kept.append(name)
            continue
        if path.is_symlink():
            path.unlink()
            result.pruned.append(name)
        elif path.is_dir():
            shutil.rmtree(path)
            result.pruned.append(name)
    return result


def promote_local(result: Any, retain: bool | None = None) -> PromotionResult | None:
    """Promote (and prune) the trials of a local run: ``katib_llm.local.run_experiment``'s result.

    The local backend keeps trial outputs where the cluster does (``<volume>/experiments/<exp>/
    <trial>``); ``retain`` defaults to the Experiment's ``retain-trials`` annotation. Returns None
    when the run has no best trial.
    """
    best = getattr(result, "best", None)
    if best is None or getattr(best, "output_dir", None) is None:
        return None
    if retain is None:
        annotations = ((result.experiment.get("metadata") or {}).get("annotations") or {})
        retain = str(annotations.get(annotation_key(RETAIN_TRIALS), "")).strip().lower() == "true"
    trials = [TrialResult(t.name, t.objective, str(t.state) == "Succeeded") for t in result.trials]
    return promote(Path(best.output_dir).parent, trials, best.name, retain=retain)


def _replace_dir(source: Path, target: Path, info: dict[str, Any]) -> None:
    """Copy ``source`` to ``target`` atomically: stage, then swap by rename."""
    staging = target.with_name(f".{target.name}.tmp")
    old = target.with_name(f".{target.name}.old")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(source, staging, symlinks=False,
                    ignore=shutil.ignore_patterns(".adapter-*", ".*.tmp", MERGED))
    (staging / "trial.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(old, ignore_errors=True)
    if target.exists():
        os.replace(target, old)
    os.replace(staging, target)
    shutil.rmtree(old, ignore_errors=True)
