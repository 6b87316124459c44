"""Warm start: earlier local runs' finished trials seed this run's Optuna study.

The ``llm.katib.kubeflow.org/warm-start`` annotation (parsed by the core,
:func:`katib_llm.core.contract.parse_warm_start`) names earlier runs by their work dirs. Each
earlier run must tune the same objective (metric name and direction) over parameters of the
same names and types; otherwise the run is refused naming the difference. Its ``Succeeded``
trials whose values lie inside this run's feasible space enter the study as completed trials
(``optuna.trial.create_trial`` + ``study.add_trial``) carrying ``warm_start_from``; trials
outside the space are skipped and counted. Seeded trials are the sampler's history only: they
are not this Experiment's trials (not counted against ``maxTrialCount``, not candidates for
the best trial, which must have an adapter of this run).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
import yaml

from katib_llm.core import contract
from katib_llm.core.errors import AdmissionDenied, FieldError

from .space import Parameter, SpaceError, search_space
# User attrs of a seeded trial and of a suggestion not run: declared in .status, which reads runs back.
from .status import DUPLICATE_ATTR, WARM_ATTR

ANNOTATION = contract.annotation_key(contract.WARM_START)


class WarmStartError(ValueError):
    """An earlier run that cannot seed this one (the message names it and why)."""


@dataclass
class Seeded:
    """What warm start added: per reference, trials added and skipped (outside the space)."""

    references: list[str] = field(default_factory=list)
    added: dict[str, int] = field(default_factory=dict)
    skipped_outside_space: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"references": self.references, "added": self.added,
                "skipped_outside_space": self.skipped_outside_space, "total": sum(self.added.values())}


def take_annotation(experiment: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A copy of ``experiment`` without the warm-start annotation, and its references.

    The core validates the value; a bad one raises AdmissionDenied naming the annotation.
    """
    annotations = (experiment.get("metadata") or {}).get("annotations") if isinstance(experiment, dict) else None
    if not isinstance(annotations, dict) or ANNOTATION not in annotations:
        return experiment, []
    out = copy.deepcopy(experiment)
    raw = out["metadata"]["annotations"].pop(ANNOTATION)
    if not isinstance(raw, str):
        raise AdmissionDenied([FieldError(contract.annotation_path(contract.WARM_START),
                                      "annotation.type", "must be a string")])
    errors: list[FieldError] = []
    refs = contract.parse_warm_start(raw, errors)
    if errors:
        raise AdmissionDenied(errors)
    return out, refs


def _describe(p: Parameter) -> str:
    return f"{p.name} ({p.type})"


def mismatch(earlier: dict[str, Any], spec: dict[str, Any], space: list[Parameter]) -> list[str]:
    """Why an earlier run's trials cannot seed this search (empty: they can)."""
    problems = []
    before, now = earlier.get("objective") or {}, spec.get("objective") or {}
    for key, default in (("objectiveMetricName", None), ("type", "maximize")):
        if before.get(key, default) != now.get(key, default):
            problems.append(f"objective.{key} is {before.get(key, default)!r} there, {now.get(key, default)!r} here")
    try:
        theirs = {p.name: p for p in search_space(earlier)}
    except SpaceError as exc:
        return problems + [f"its search space cannot be read: {exc}"]
    ours = {p.name: p for p in space}
    missing, extra = sorted(set(ours) - set(theirs)), sorted(set(theirs) - set(ours))
    if missing:
        problems.append(f"parameters {missing} are not in it")
    if extra:
        problems.append(f"it tunes parameters {extra} that this Experiment does not")
    for name in sorted(set(ours) & set(theirs)):
        if ours[name].type != theirs[name].type:
            problems.append(f"parameter {_describe(ours[name])} is {theirs[name].type} there")
    return problems


def _load(reference: str, own_root: Path) -> tuple[dict[str, Any], list[optuna.trial.FrozenTrial]]:
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    root = Path(reference).expanduser().resolve()
    if root == own_root.resolve():
        raise WarmStartError(f"warm start {reference!r} is this run's own work dir; name an earlier run")
    experiment_file, journal = root / "experiment.yaml", root / "study.journal"
    if not experiment_file.is_file() or not journal.is_file():
        raise WarmStartError(f"warm start {reference!r}: {root} holds no local run (no experiment.yaml and "
                             "study.journal); name the --workdir of an earlier katib-llm tune --local")
    try:
        earlier = yaml.safe_load(experiment_file.read_text())
        name = str((earlier.get("metadata") or {}).get("name") or "experiment")
        study = optuna.load_study(study_name=name, storage=JournalStorage(JournalFileBackend(str(journal))))
    except (yaml.YAMLError, AttributeError, KeyError, ValueError, OSError) as exc:
        raise WarmStartError(f"warm start {reference!r}: cannot read the run in {root}: {exc}") from None
    return earlier, study.get_trials(deepcopy=False)


def _seed_trial(frozen: optuna.trial.FrozenTrial, space: list[Parameter], reference: str) -> Any:
    """The completed trial to add for one earlier trial, or None if it lies outside the space."""
    assignments = frozen.user_attrs.get("assignments") or {}
    try:
        params = {p.name: p.typed(str(assignments[p.name])) for p in space}
        return optuna.trial.create_trial(
            params=params, distributions={p.name: p.distribution for p in space}, value=float(frozen.value),
            user_attrs={WARM_ATTR: reference, "name": frozen.user_attrs.get("name"), "katib_state": "Succeeded",
                        "assignments": {p.name: p.to_katib(params[p.name]) for p in space}})
    except (KeyError, ValueError, TypeError):
        return None


def seed(study: optuna.Study, spec: dict[str, Any], space: list[Parameter], references: list[str],
         own_root: Path) -> Seeded:
    """Add the earlier runs' finished trials to ``study`` (once: a resumed run adds nothing)."""
    out = Seeded(list(references))
    if any(WARM_ATTR in t.user_attrs for t in study.get_trials(deepcopy=False)):
        return out
    batches = []
    for reference in references:
        earlier, trials = _load(reference, own_root)
        problems = mismatch(earlier.get("spec") or {}, spec, space)
        if problems:
            raise WarmStartError(f"warm start {reference!r} does not match this Experiment's search: "
                                 + "; ".join(problems))
        done = [t for t in trials if t.user_attrs.get("katib_state") == "Succeeded" and t.value is not None
                and WARM_ATTR not in t.user_attrs and DUPLICATE_ATTR not in t.user_attrs]
        made = [_seed_trial(t, space, reference) for t in done]
        batches.append([m for m in made if m is not None])
        out.added[reference] = len(batches[-1])
        out.skipped_outside_space[reference] = len(made) - len(batches[-1])
    study.add_trials([t for batch in batches for t in batch])
    return out


def assignment_key(assignments: dict[str, str]) -> str:
    return json.dumps(assignments, sort_keys=True)


__all__ = ["ANNOTATION", "DUPLICATE_ATTR", "Seeded", "WARM_ATTR", "WarmStartError", "assignment_key",
           "mismatch", "seed", "take_annotation"]
