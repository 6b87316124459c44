"""Katib v0.19's Experiment webhook: its defaulter, then its validator, on what we store.

Upstream (github.com/kubeflow/katib, tag v0.19.0):

* ``pkg/apis/controller/experiments/v1beta1/experiment_defaults.go``, ``Experiment.SetDefault``;
* ``pkg/webhook/v1beta1/experiment/validator/validator.go``, ``ValidateExperiment`` (incl. on
  update: ``maxTrialCount`` must stay greater than ``status.trials``; only the three counts are
  editable).

Both rules are ported once, in ``katib_llm.core.katib_rules`` (admission runs them before it
answers); this check runs the port the way Katib's webhook orders it (mutating, then validating)
on the object katib-llm stores, plus the field schema of Katib's CRD (``tests.conformance.schemas``),
and checks that what katib-llm admits is already in Katib's defaulted form: a diff there means
the stored Experiment is not the one katib-llm showed (``katib-llm mutate``, ``dry_run``).
"""

from __future__ import annotations

import copy
from typing import Any

from katib_llm.core.katib_rules import EARLY_STOPPING, OUR_EARLY_STOPPING, apply_katib_defaults, validate_experiment


def defaulted(exp: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(exp)
    apply_katib_defaults(out)
    return out


def experiment_errors(exp: dict[str, Any], old: dict[str, Any] | None = None,
                      registered: tuple[str, ...] = EARLY_STOPPING + OUR_EARLY_STOPPING) -> list[str]:
    """Katib's denial of ``exp`` after its defaulter (empty: Katib stores it). ``registered``:
    the early-stopping algorithms katib-config declares (the chart registers ours)."""
    from .schemas import experiment_schema_errors

    stored = defaulted(exp)
    errors = [f"schema: {e}" for e in experiment_schema_errors(stored)]
    return errors + [f"{e.path}: {e.message}" for e in validate_experiment(stored, old, registered)]


def defaulter_changes(exp: dict[str, Any]) -> list[str]:
    """Top-level spec fields Katib's defaulter would still change in an admitted Experiment."""
    after = defaulted(exp)["spec"]
    return sorted(k for k in set(after) | set(exp.get("spec") or {}) if after.get(k) != (exp.get("spec") or {}).get(k))
