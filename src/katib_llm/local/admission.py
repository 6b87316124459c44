"""Admission for a run on this machine: the core's verdict with the local backend's configuration.

Locally the runner is the early-stopping service (every early-stopping algorithm of ours counts
as registered) and ``file://`` URIs are accepted anywhere on the machine; the ``warm-start`` and
``objectives`` annotations, which only the local backend supports, are held aside during
admission and put back into the admitted Experiment.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from katib_llm.core import contract
from katib_llm.core.admit import AdmissionResult, admit
from katib_llm.core.config import AdminConfig
from katib_llm.core.contract import LABEL, LABEL_VALUE
from katib_llm.core.errors import AdmissionDenied, FieldError
from katib_llm.core.katib_rules import OUR_EARLY_STOPPING
from katib_llm.io import admin_config, local_values

from . import multiobjective, warmstart

MO_ANNOTATION = contract.annotation_key(contract.OBJECTIVES)


def local_config(values: dict[str, Any] | str | Path | None) -> AdminConfig:
    """The admin configuration of a run on this machine: the local values (``file://`` anywhere
    on it, see io.local_values), and every early-stopping algorithm of ours counts as registered
    (locally the runner is the early-stopping service; a cluster's chart registers it)."""
    config = admin_config(local_values(values))
    return AdminConfig(values={**config.values, "earlyStoppingAlgorithms": list(OUR_EARLY_STOPPING)},
                       templates=config.templates, extra_providers=config.extra_providers)


def admit_local(experiment: dict[str, Any], config: AdminConfig) -> AdmissionResult:
    """The core's verdict on ``experiment`` for a run on this machine (``config``: :func:`local_config`).

    The ``warm-start`` and ``objectives`` annotations, which the core denies for a cluster, are
    held aside during admission (validated by the core's parser) and put back into the admitted
    Experiment; a malformed one raises AdmissionDenied naming it."""
    exp, warm = warmstart.take_annotation(copy.deepcopy(experiment))
    exp, objectives = multiobjective.take_annotation(exp)
    result = admit(exp, config)
    if result.allowed and result.labelled:
        annotations = result.experiment["metadata"].setdefault("annotations", {})
        if warm:  # recorded in experiment.yaml for the runner
            annotations[warmstart.ANNOTATION] = json.dumps(warm)
        if objectives:
            annotations[MO_ANNOTATION] = ",".join(f"{n}:{d}" for n, d in objectives)
    return result


def admit_for_local(experiment: dict[str, Any], values: dict[str, Any] | str | Path | None,
                    warnings_out: list[str] | None = None) -> tuple[dict[str, Any], str]:
    """Admit through the webhook's core with this machine's configuration (:func:`admit_local`); raise
    AdmissionDenied with field errors. Returns the admitted Experiment and the volume's mount path;
    the core's warnings are appended to ``warnings_out`` when given."""
    if not isinstance(experiment, dict):
        raise AdmissionDenied([FieldError("object", "experiment.type", "must be a Katib Experiment object")])
    config = local_config(values)
    result = admit_local(experiment, config)
    if not result.labelled:
        raise AdmissionDenied([FieldError("metadata.labels", "local.unlabelled",
                                          "the local runner needs a labelled Experiment: set the label "
                                          f"{LABEL}: \"{LABEL_VALUE}\"")])
    if not result.allowed:
        raise AdmissionDenied(result.errors)
    if warnings_out is not None:
        warnings_out.extend(result.warnings)
    return result.experiment, config.mount_path
