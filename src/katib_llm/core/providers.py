"""Custom provider declarations carried by ConfigMaps.

A data scientist (SDK ``register_provider``) or an admin declares a provider with a ConfigMap
labelled with ``contract.PROVIDER_LABEL: "true"`` whose ``data["provider.yaml"]`` is::

    scheme: lakefs            # URIs lakefs://... use it
    image: registry.example.com/lakefs-fetch:1.2
    command: [python, -m, lakefs_fetch]
    args: ["{uri}", "--out", "{target}"]   # placeholders: {kind} {uri} {target} {cache_dir} {mount_path}
    secret: lakefs-credentials            # optional: Secret exposed to the init container via envFrom

Built-in providers (hf, s3, file, pkg) use the same declaration shape (``config.BUILTIN_PROVIDERS``).
Parsing is pure; the webhook and the SDK read the ConfigMaps.
"""

from __future__ import annotations

import re
from typing import Any

import yaml

from . import safeyaml, values
from .contract import PROVIDER_LABEL as PROVIDER_LABEL  # re-exported; the name lives in the contract
from .errors import FieldError

PROVIDER_KEY = "provider.yaml"
PLACEHOLDERS = ("kind", "uri", "target", "cache_dir", "mount_path")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]{0,31}")  # matched whole (fullmatch)



def _is_name(value: Any) -> bool:
    try:
        values.dns1123_subdomain(value)
    except values.Invalid:
        return False
    return bool(value == value.strip())

def check_declaration(decl: Any, path: str) -> list[FieldError]:
    """Every problem with one provider declaration."""
    errors: list[FieldError] = []
    if not isinstance(decl, dict):
        return [FieldError(path, "provider.type", "must be a map with scheme, image, command, args, secret")]
    unknown = set(decl) - {"scheme", "image", "command", "args", "secret"}
    if unknown:
        errors.append(FieldError(path, "provider.unknown",
                                 f"unknown keys {sorted(unknown)}; accepted: scheme, image, command, args, secret"))
    if not isinstance(decl.get("scheme"), str) or not _SCHEME.fullmatch(decl["scheme"]):
        errors.append(FieldError(f"{path}.scheme", "provider.scheme",
                                 "must be a URI scheme: lower-case letter then letters, digits, + . -"))
    if not isinstance(decl.get("image"), str) or not decl["image"].strip() or " " in decl["image"]:
        errors.append(FieldError(f"{path}.image", "provider.image", "must be a container image reference"))
    for key, required in (("command", True), ("args", False)):
        value = decl.get(key, [] if not required else None)
        if not isinstance(value, list) or (required and not value) or not all(isinstance(x, str) for x in value):
            errors.append(FieldError(f"{path}.{key}", "provider.argv",
                                     "must be a " + ("non-empty " if required else "") + "list of strings"))
            continue
        for i, token in enumerate(value):
            try:
                token.format(**{p: "" for p in PLACEHOLDERS})
            except (KeyError, IndexError, ValueError):
                errors.append(FieldError(f"{path}.{key}[{i}]", "provider.placeholder",
                                         "unknown placeholder; accepted: " + ", ".join("{%s}" % p for p in PLACEHOLDERS)))
    secret = decl.get("secret")
    if secret is not None and not _is_name(secret):
        errors.append(FieldError(f"{path}.secret", "provider.secret", "must be the name of a Secret (DNS-1123)"))
    return errors


def from_configmap(configmap: dict[str, Any]) -> tuple[dict[str, Any] | None, list[FieldError]]:
    """Read a provider declaration from a ConfigMap; returns (declaration, errors)."""
    name = (configmap.get("metadata") or {}).get("name", "?")
    path = f"configmap[{name}].data[{PROVIDER_KEY}]"
    raw = (configmap.get("data") or {}).get(PROVIDER_KEY)
    if not isinstance(raw, str):
        return None, [FieldError(path, "provider.missing", f"the ConfigMap must hold a {PROVIDER_KEY} key")]
    try:
        decl = safeyaml.load(raw)  # no aliases, capped size and depth
    except yaml.YAMLError as exc:
        return None, [FieldError(path, "provider.yaml", f"is not valid YAML: {exc}")]
    errors = check_declaration(decl, path)
    return (None if errors else decl), errors


def to_configmap(decl: dict[str, Any], name: str, namespace: str) -> dict[str, Any]:
    """The ConfigMap that declares ``decl`` (what the SDK's ``register_provider`` writes)."""
    errors = check_declaration(decl, "provider")
    if errors:
        from .errors import AdmissionDenied

        raise AdmissionDenied(errors)
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {PROVIDER_LABEL: "true"}},
        "data": {PROVIDER_KEY: yaml.safe_dump(decl, sort_keys=False)},
    }
