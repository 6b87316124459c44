"""Katib's trial placeholder substitution: an admitted trial template → one trial's job.

Katib's controller replaces ``${trialParameters.<name>}`` with the suggestion for the
parameter the trialParameter references, and ``${trialSpec.<Meta>}`` with the trial's
metadata, then creates the job. The local runner does the same here so it runs exactly the
job a cluster would create. Substitution is done inside every string of the parsed manifest
(not on serialised JSON text), so a value containing quotes cannot corrupt the manifest.
"""

from __future__ import annotations

import copy
import re
from typing import Any, Mapping

from .errors import FieldError

# Bounded repeats: substitution runs over a whole trial spec, and a search stays linear in it.
_PARAM = re.compile(r"\$\{trialParameters\.([^}]{1,253})\}")
_META = re.compile(r"\$\{trialSpec\.(Name|Namespace|Kind|APIVersion|Labels|Annotations)(?:\[([^\]]{1,253})\])?\}")
# The placeholders, for admission rules that bound what a substituted value can be.
PARAMETER_PLACEHOLDER, METADATA_PLACEHOLDER = _PARAM, _META


class SubstitutionError(ValueError):
    """A placeholder names a trial parameter without a value."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))
        self.errors = errors


def substitute_trial(trial_template: Mapping[str, Any], assignments: Mapping[str, str],
                     trial_name: str, namespace: str) -> dict[str, Any]:
    """The trial job Katib would create for ``assignments`` (parameter name → value string).

    >>> tt = {"trialParameters": [{"name": "lr", "reference": "learning_rate"}],
    ...       "trialSpec": {"kind": "Job", "metadata": {},
    ...                     "spec": {"x": "${trialParameters.lr}/${trialSpec.Name}"}}}
    >>> substitute_trial(tt, {"learning_rate": "0.1"}, "t1", "ns")["spec"]["x"]
    '0.1/t1'
    """
    job = copy.deepcopy(dict(trial_template.get("trialSpec") or {}))
    by_name: dict[str, str] = {}
    errors: list[FieldError] = []
    for i, tp in enumerate(trial_template.get("trialParameters") or []):
        ref = tp.get("reference")
        if ref in assignments:
            by_name[str(tp.get("name"))] = str(assignments[ref])
        else:
            errors.append(FieldError(f"spec.trialTemplate.trialParameters[{i}].reference", "trial.assignment",
                                     f"no value for parameter {ref!r}"))
    meta: dict[str, Any] = job["metadata"] if isinstance(job.get("metadata"), dict) else {}
    job.setdefault("metadata", meta)
    meta_values = {"Name": trial_name, "Namespace": namespace, "Kind": str(job.get("kind", "")),
                   "APIVersion": str(job.get("apiVersion", ""))}

    def meta_sub(m: re.Match[str]) -> str:
        key, sub = m.group(1), m.group(2)
        if key in ("Labels", "Annotations"):
            table = meta.get(key.lower()) or {}
            return str(table.get(sub, "")) if sub else m.group(0)
        return meta_values[key]

    def param_sub(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in by_name:
            errors.append(FieldError("spec.trialTemplate.trialSpec", "trial.placeholder",
                                     f"placeholder ${{trialParameters.{name}}} names no trialParameter"))
            return m.group(0)
        return by_name[name]

    def walk(node: Any) -> Any:
        if isinstance(node, str):
            return _META.sub(meta_sub, _PARAM.sub(param_sub, node))
        if isinstance(node, list):
            return [walk(x) for x in node]
        if isinstance(node, dict):
            return {k: walk(v) for k, v in node.items()}
        return node

    out = walk(job)
    out.setdefault("metadata", {})
    out["metadata"]["name"] = trial_name
    out["metadata"]["namespace"] = namespace
    if errors:
        raise SubstitutionError(errors)
    result: dict[str, Any] = out
    return result
