"""The mutating phase leaves Katib's own rules to the validating phase, without losing an error."""

from __future__ import annotations

import copy


from katib_llm.core.admit import admit, validate

from tests.builders import example

EXAMPLE = example()
A = "llm.katib.kubeflow.org/"


def _katib_only_error() -> dict:
    exp = copy.deepcopy(EXAMPLE)
    exp["spec"]["maxFailedTrialCount"] = exp["spec"]["maxTrialCount"] + 1  # a Katib rule, not ours
    return exp


def test_mutating_phase_patches_and_validating_phase_denies_a_katib_rule(admin_config):
    exp = _katib_only_error()
    mutated = admit(exp, admin_config, katib_checks=False)
    assert mutated.allowed and mutated.patch
    verdict = validate(mutated.experiment, admin_config)
    assert not verdict.allowed
    assert [(e.path, e.code) for e in verdict.errors] == [("spec.maxFailedTrialCount", "katib.count")]
    # The full core (SDK, local runner) denies it at once.
    assert [(e.path, e.code) for e in admit(exp, admin_config).errors] == [("spec.maxFailedTrialCount", "katib.count")]


def test_a_mutating_denial_still_lists_katib_errors(admin_config):
    exp = _katib_only_error()
    exp["metadata"]["annotations"][A + "resources-per-worker"] = '{"gpu": 99}'
    result = admit(exp, admin_config, katib_checks=False)
    assert not result.allowed and result.patch == []
    paths = {e.path for e in result.errors}
    assert paths == {f"metadata.annotations[{A}resources-per-worker].gpu", "spec.maxFailedTrialCount"}


def test_both_phases_agree_on_a_valid_experiment(admin_config):
    full, mutating = admit(EXAMPLE, admin_config), admit(EXAMPLE, admin_config, katib_checks=False)
    assert full.allowed and mutating.allowed
    assert full.patch == mutating.patch and full.warnings == mutating.warnings
