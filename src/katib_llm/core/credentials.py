"""Credentials never travel in an Experiment: find them, name the field, never repeat the value.

An Experiment is stored in etcd, shown by ``kubectl get -o yaml`` to everyone who may read
Experiments in the namespace, and copied into every Trial. Credentials belong in Secrets that
the admin names (``config.credentials`` or a provider's ``secret``); a user's own container may
read one by ``env[].valueFrom.secretKeyRef``. Every finding here is a :class:`FieldError` whose
message names the field (and the variable or key name), never the value.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any, Iterator, Mapping

from .errors import FieldError

# A name part (split on "_", "-", "." and case changes are not split) that marks a credential:
# GITHUB_TOKEN, AWS_ACCESS_KEY_ID, HUGGING_FACE_HUB_TOKEN, WANDB_API_KEY, DB_PASSWORD, hub-token.
# Whole parts, so TOKENIZERS_PARALLELISM and include_tokens_per_second stay allowed.
_NAME_PART = re.compile(r"^[a-z0-9]*(token|secret|secrets|key|keys|credential|credentials)$|passw", re.I)
RESERVED_ENV_PREFIX = "KATIB_LLM_"
# user:password@ in the authority of any URI (model, dataset, pip index, ...).
_USERINFO = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s]*:[^/?#@\s]*@")
# Shapes of well-known keys: Hugging Face user access tokens; AWS access key ids; a 40-character
# AWS-style secret written after a key-ish name.
_VALUE_SHAPES = (
    ("a Hugging Face access token (hf_...)", re.compile(r"(?<![A-Za-z0-9])hf_[A-Za-z0-9]{30,}")),
    ("an AWS access key id (AKIA.../ASIA...)", re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")),
    ("a 40-character secret after a key-ish name", re.compile(
        r"(?i)(?:secret|key|token|passw\w*|credential)\w*[\"']?\s*[:=]\s*[\"']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")),
)
SECRET_HINT = ("credentials never travel in the Experiment (it is readable by everyone who may list "
               "Experiments and is copied into every Trial): ask your admin to put it in a Secret "
               "named by the chart (config.credentials or a provider's secret)")
ENV_HINT = SECRET_HINT + ", or read it in your own container with env[].valueFrom.secretKeyRef"


def is_credential_name(name: str) -> bool:
    """Whether an environment variable or settings key names a credential."""
    return any(_NAME_PART.search(part) for part in re.split(r"[_.\-]+", name) if part)


def value_shape(text: str) -> str | None:
    """What credential ``text`` looks like (a description, never the match), or None."""
    if _USERINFO.search(text):
        return "a URI with user:password@"
    for what, pattern in _VALUE_SHAPES:
        if pattern.search(text):
            return what
    return None


def check_env_names(names: list[str], path_of: Any) -> list[FieldError]:
    """Credential-named and reserved variables of our ``env`` annotation."""
    errors = []
    for name in names:
        if name.upper().startswith(RESERVED_ENV_PREFIX):
            errors.append(FieldError(path_of(name), "env.reserved",
                                     f"{name}: names starting with {RESERVED_ENV_PREFIX} are set by katib-llm itself"))
        elif is_credential_name(name):
            errors.append(FieldError(path_of(name), "env.credential", f"{name}: {ENV_HINT}"))
    return errors


def check_keys(raw: Mapping[str, Any], path: str, allowed: set[str] = frozenset()) -> list[FieldError]:
    """Credential-named keys of a JSON settings object (training-args, lora-config, dataset-config).

    ``allowed`` are known fields whose name looks credential-like but whose value is not one
    (``trainable_token_indices``, a list)."""
    return [FieldError(f"{path}.{key}", "credential.key", f"{key}: {SECRET_HINT}")
            for key in raw if isinstance(key, str) and key not in allowed and is_credential_name(key)]


def _function_source(raw: str) -> str:
    """The objective function's source inside the ``function`` annotation (base64 JSON), best effort."""
    try:
        data = json.loads(base64.b64decode(raw.encode(), validate=True).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return ""
    return str(data.get("source", "")) if isinstance(data, dict) else ""


def scan_annotations(ours: Mapping[str, Any], path_of: Any, function_name: str) -> list[FieldError]:
    """Credential-shaped values anywhere in our annotations (the function's source decoded)."""
    errors = []
    for name, raw in ours.items():
        if not isinstance(raw, str):
            continue
        text = _function_source(raw) if name == function_name else raw
        what = value_shape(text)
        if what:
            errors.append(FieldError(path_of(name), "credential.value",
                                     f"holds what looks like {what}; {SECRET_HINT}"))
    return errors


def _env_lists(node: Any, path: str) -> Iterator[tuple[str, list[Any]]]:
    """Every ``env`` list of container-like objects below ``node``, with its path."""
    if isinstance(node, dict):
        for key, value in node.items():
            sub = f"{path}.{key}"
            if key == "env" and isinstance(value, list):
                yield sub, value
            else:
                yield from _env_lists(value, sub)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _env_lists(item, f"{path}[{i}]")


def check_trial_spec(trial_spec: Any, path: str) -> list[FieldError]:
    """Literal credentials in the containers' ``env`` of a user's own trial spec.

    ``valueFrom.secretKeyRef`` is the accepted form; a literal ``value`` under a credential name,
    or a value shaped like a known key, is denied naming the entry."""
    errors = []
    for env_path, items in _env_lists(trial_spec, path):
        for i, item in enumerate(items):
            if not isinstance(item, dict) or "value" not in item or item.get("valueFrom"):
                continue
            name, value = str(item.get("name", "")), item.get("value")
            if not isinstance(value, str) or not value:
                continue
            if is_credential_name(name) and not name.upper().startswith(RESERVED_ENV_PREFIX):
                errors.append(FieldError(f"{env_path}[{i}].value", "env.credential",
                                         f"{name} is set to a literal value; {ENV_HINT}"))
            elif value_shape(value) and not name.upper().startswith(RESERVED_ENV_PREFIX):
                errors.append(FieldError(f"{env_path}[{i}].value", "credential.value",
                                         f"{name} holds what looks like {value_shape(value)}; {ENV_HINT}"))
    return errors
