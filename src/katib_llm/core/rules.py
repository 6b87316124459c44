"""katib-llm's own Experiment-level rules that need no parsed annotations, and the objective check.

Kept apart from :mod:`katib_llm.core.admit` (which orders the phases) and from
:mod:`katib_llm.core.katib_rules` (Katib's own rules, ported).
"""

from __future__ import annotations

import difflib
from typing import Any

from . import credentials
from .contract import LABEL, LABEL_VALUE, VOLUME_CLAIM, LLMSpec, annotation_path, label_value, our_annotations
from .errors import FieldError
from .metrics import trainer_metrics


def label_errors(experiment: dict[str, Any]) -> list[FieldError]:
    """Our label with a value other than "true" on an object carrying our annotations.

    Such an Experiment would be silently left alone by the mutating webhook (its objectSelector
    matches "true" only) and run without anything katib-llm injects."""
    value = label_value(experiment)
    if value is None or value == LABEL_VALUE or not our_annotations(experiment):
        return []
    return [FieldError(f"metadata.labels[{LABEL}]", "label.value",
                       f"must be exactly \"{LABEL_VALUE}\" on an Experiment that carries katib-llm annotations "
                       f"(got {value[:20]!r}); with any other value katib-llm does not admit it and its "
                       "annotations do nothing")]


def credential_errors(experiment: dict[str, Any]) -> list[FieldError]:
    """Credentials in what the user wrote besides our annotations (those: the contract): the trial
    template (the own trial spec's env, commands, args, URIs, patches; trialParameters) and the
    parameters' values (a categorical list is copied into every Trial)."""
    spec: dict[str, Any] = experiment["spec"] if isinstance(experiment.get("spec"), dict) else {}
    errors = credentials.scan_tree(spec.get("parameters"), "spec.parameters")
    tt = spec.get("trialTemplate")
    if isinstance(tt, dict):  # the trial spec and what Katib copies beside it (trialParameters, labels)
        errors = credentials.check_trial_spec(tt, "spec.trialTemplate") + errors
    return errors


def name_errors(experiment: dict[str, Any], llm: LLMSpec) -> list[FieldError]:
    """``generateName`` without ``name``: the mutating webhook never sees the generated name.

    The per-Experiment volume claim and output folders are named after the Experiment, so
    such an Experiment is admitted only when it names an existing claim (``volume-claim``);
    trial outputs then go to ``trials/<trial name>``, unique per trial."""
    meta = experiment.get("metadata") or {}
    if meta.get("name") or not meta.get("generateName") or llm.volume_claim:
        return []
    return [FieldError("metadata.name", "experiment.generate-name",
                       "katib-llm names the Experiment's volume claim and output folder after metadata.name, "
                       "which admission webhooks do not see when only metadata.generateName is set: set "
                       f"metadata.name, or name an existing claim in {annotation_path(VOLUME_CLAIM)}")]


def metric_errors(spec: dict[str, Any], llm: LLMSpec) -> list[FieldError]:
    """Objective and additional metrics must be ones our shipped trainer prints."""
    objective: dict[str, Any] = spec["objective"] if isinstance(spec.get("objective"), dict) else {}
    printed = trainer_metrics(llm.model_class)
    wanted = [("spec.objective.objectiveMetricName", objective.get("objectiveMetricName"))]
    extra = objective.get("additionalMetricNames")
    wanted += [(f"spec.objective.additionalMetricNames[{i}]", name)
               for i, name in enumerate(extra if isinstance(extra, list) else [])]
    errors = []
    for path, name in wanted:
        if isinstance(name, str) and name and name not in printed:
            # difflib's cost grows with the name's length: no hint for a name longer than any metric
            hint = difflib.get_close_matches(name, printed, n=1) if len(name) <= 64 else []
            errors.append(FieldError(path, "metric.unknown",
                                     f"the katib-llm trainer never prints {name[:60]!r} for {llm.model_class}, so "
                                     "every trial would end without it"
                                     + (f"; did you mean {hint[0]}?" if hint else "")
                                     + "; it prints: " + ", ".join(printed)))
    return errors
