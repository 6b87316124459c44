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
from typing import AbstractSet, Any, Iterator, Mapping

from .errors import FieldError
from .trialenv import TrialEnv

# A name part (split on "_", "-", "." and case changes are not split) that marks a credential:
# GITHUB_TOKEN, AWS_ACCESS_KEY_ID, HUGGING_FACE_HUB_TOKEN, WANDB_API_KEY, DB_PASSWORD, hub-token.
# Whole parts, so TOKENIZERS_PARALLELISM and include_tokens_per_second stay allowed.
_NAME_SUFFIXES = ("token", "secret", "secrets", "key", "keys", "credential", "credentials")
_NAME_SEPARATORS = re.compile(r"[_.\-]+")
RESERVED_ENV_PREFIX = "KATIB_LLM_"
# The function trial's source travels base64-encoded in this variable (core/inject.py).
FUNCTION_ENV = TrialEnv.FUNCTION
# Every scan below is linear in its input: each search starts at a literal and has bounded
# repeats, and what a regex would re-scan from every position (the word before a separator) is
# read by hand, once. The former single "key-ish name = 40 characters" pattern restarted its
# unbounded repeats at every position: ~19 s on one 30 KB value (docs/benchmarks.md).
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")
_MAX_SCHEME = 32
# A URI authority holding "@": the search starts at the literal "://" and the authority class
# excludes "/", so authorities never overlap and each is scanned once (in C).
_AUTHORITY_AT = re.compile(r"://([^/?#\s]*)@")
# A separator followed by spaces, a quote and exactly 40 secret characters: starts at the literal
# separator, its one unbounded run (spaces) belongs to that separator alone.
_SECRET_TAIL = re.compile(r"[:=]\s*[\"']?[A-Za-z0-9/+=]{40}(?![A-Za-z0-9/+=])")
_KEYISH_WORD = re.compile("secret|key|token|passw|credential")  # literals only: linear
_NEAR = 256  # a key-ish name of interest ends this close to its separator
# Shapes of well-known keys (each starts with a literal, so the search skips ahead in C, and has
# a bounded repeat), with the characters that may not come just before one: Hugging Face user
# access tokens; AWS access key ids; GitHub and GitLab personal access tokens.
_UPPER_DIGITS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_ALNUM = _UPPER_DIGITS | frozenset("abcdefghijklmnopqrstuvwxyz")
_VALUE_SHAPES = (
    ("a Hugging Face access token (hf_...)", re.compile(r"hf_[A-Za-z0-9]{30}"), _ALNUM),
    ("an AWS access key id (AKIA.../ASIA...)", re.compile(r"(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])"), _UPPER_DIGITS),
    ("a GitHub token (ghp_..., github_pat_...)",
     re.compile(r"(?:gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9_]{22})"), _ALNUM | {"_"}),
    ("a GitLab token (glpat-...)", re.compile(r"glpat-[A-Za-z0-9_-]{20}"), _ALNUM | {"_", "-"}),
)
# What the scan recognises, in words (docs/contract.md lists them).
SHAPES = ("a URI with `user:password@`", "a URI with a token as its user name",
          *(what for what, _, _ in _VALUE_SHAPES), "a 40-character secret after a key-ish name")
# A URI's user name that is itself a token: long, of token characters, letters and digits mixed.
_MIN_TOKEN, _MAX_TOKEN = 20, 256
_TOKEN_USER = re.compile(r"[A-Za-z0-9_.~-]{20,256}")
SECRET_HINT = ("credentials never travel in the Experiment (it is readable by everyone who may list "
               "Experiments and is copied into every Trial): ask your admin to put it in a Secret "
               "named by the chart (config.credentials or a provider's secret)")
ENV_HINT = SECRET_HINT + ", or read it in your own container with env[].valueFrom.secretKeyRef"


def is_credential_name(name: str) -> bool:
    """Whether an environment variable or settings key names a credential: a part containing
    ``passw``, or an ASCII letters-and-digits part ending in one of :data:`_NAME_SUFFIXES`."""
    for part in _NAME_SEPARATORS.split(name.lower()):
        if "passw" in part or (part.endswith(_NAME_SUFFIXES) and part.isascii() and part.isalnum()):
            return True
    return False


def value_shape(text: str) -> str | None:
    """What credential ``text`` looks like (a description, never the match), or None. O(len(text))."""
    userinfo = _uri_userinfo(text)
    if userinfo:
        return userinfo
    what = _known_shape(text)
    if what:
        return what
    if _keyish_secret(text):
        return "a 40-character secret after a key-ish name"
    return None


def _known_shape(text: str) -> str | None:
    """The first well-known key shape in ``text`` not glued to a preceding token character."""
    for what, pattern, not_before in _VALUE_SHAPES:
        for m in pattern.finditer(text):
            if m.start() == 0 or text[m.start() - 1] not in not_before:
                return what
    return None


def _uri_userinfo(text: str) -> str | None:
    """``scheme://user:password@`` or ``scheme://<token>@`` in any URI inside ``text``."""
    for m in _AUTHORITY_AT.finditer(text):
        user = m.group(1)
        what = ("a URI with user:password@" if ":" in user else
                "a URI with a token as its user name" if _token_like(user) else None)
        if what is None:
            continue
        at = start = m.start()
        while start > 0 and at - start < _MAX_SCHEME and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        if any(ch.isalpha() for ch in text[start:at]):
            return what
    return None


def _token_like(user: str) -> bool:
    """Whether a URI's user name is a token (``https://ghp_...@github.com``), not a login (``git@``)."""
    if not _MIN_TOKEN <= len(user) <= _MAX_TOKEN:
        return False
    if _known_shape(user):
        return True
    return (_TOKEN_USER.fullmatch(user) is not None and any(ch.isdigit() for ch in user)
            and any(ch.isalpha() for ch in user))


def _keyish_secret(text: str) -> bool:
    """``<word containing secret|key|token|passw|credential>["'] [:=] ["']<40 of A-Za-z0-9/+=>``.

    The tail is found first (rare: exactly 40 characters must follow); only then is the word
    before its separator read backwards (spaces, one quote, the word: each word belongs to the
    first separator after it, so the backward reads never overlap)."""
    for tail in _SECRET_TAIL.finditer(text):
        i = tail.start() - 1
        while i >= 0 and text[i].isspace():
            i -= 1
        if i >= 0 and text[i] in "\"'":
            i -= 1
        if i < 0 or not (text[i].isalnum() or text[i] == "_"):
            continue  # no word just before the separator
        if not _KEYISH_WORD.search(text[max(0, i + 1 - _NEAR):i + 1].lower()):
            continue  # no key-ish word close by: skip the exact read
        end = i + 1
        while i >= 0 and (text[i].isalnum() or text[i] == "_"):
            i -= 1
        if _KEYISH_WORD.search(text[i + 1:end].lower()):
            return True
    return False


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


def check_keys(raw: Mapping[str, Any], path: str, allowed: AbstractSet[str] = frozenset()) -> list[FieldError]:
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
    """Credential-shaped values anywhere in our annotations: the raw text (the function's source
    decoded) and, for JSON annotations, every string inside it (so ``\\u`` escapes hide nothing)."""
    errors = []
    for name, raw in ours.items():
        if not isinstance(raw, str):
            continue
        text = _function_source(raw) if name == function_name else raw
        what = value_shape(text) or _json_shape(raw)
        if what:
            errors.append(FieldError(path_of(name), "credential.value",
                                     f"holds what looks like {what}; {SECRET_HINT}"))
    return errors


def _json_shape(raw: str) -> str | None:
    """The first credential shape among the strings (keys and values) of a JSON text, or None."""
    if not raw.lstrip().startswith(("{", "[", '"')):
        return None
    try:
        stack = [json.loads(raw)]
    except (ValueError, RecursionError):
        return None
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            what = value_shape(node)
            if what:
                return what
        elif isinstance(node, dict):
            stack.extend(node.keys())
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


# A path built only when a finding needs it: (parent, suffix) pairs, so a walk of a wide or deep
# object never copies long path strings.
_Path = tuple[Any, str]


def _render(where: _Path) -> str:
    parts = []
    node: Any = where
    while node is not None:
        node, suffix = node
        parts.append(suffix)
    return "".join(reversed(parts))


def _env_value_text(name: str, value: str) -> str:
    """What an env value carries: the function trial's source for KATIB_LLM_FUNCTION (base64 JSON)."""
    if name == FUNCTION_ENV:
        return _function_source(value) or value
    return value


def _env_entry_errors(item: dict[str, Any], where: _Path) -> list[FieldError]:
    """A literal value under a credential name, or a credential-shaped value, in one env entry."""
    name, value = str(item.get("name", ""))[:60], item.get("value")
    if not isinstance(value, str) or not value:
        return []
    if is_credential_name(name) and not name.upper().startswith(RESERVED_ENV_PREFIX) and not item.get("valueFrom"):
        return [FieldError(_render((where, ".value")), "env.credential",
                           f"{name} is set to a literal value; {ENV_HINT}")]
    what = value_shape(_env_value_text(name, value))
    if what:
        return [FieldError(_render((where, ".value")), "credential.value",
                           f"{name} holds what looks like {what}; {ENV_HINT}")]
    return []


def scan_tree(root: Any, path: str, hint: str = SECRET_HINT) -> list[FieldError]:
    """Credentials anywhere in a user-written object, in document order, never echoing one.

    Every string is scanned (commands, args, URIs, labels, patches, parameter values); in every
    ``env`` list a literal value under a credential name is denied too. Iterative and linear in
    the object's size."""
    errors: list[FieldError] = []
    stack: list[tuple[Any, _Path]] = [(root, (None, path))]
    while stack:
        node, where = stack.pop()
        if isinstance(node, str):
            what = value_shape(node)
            if what:
                errors.append(FieldError(_render(where), "credential.value", f"holds what looks like {what}; {hint}"))
        elif isinstance(node, dict):
            children: list[tuple[Any, _Path]] = []
            for key, value in node.items():
                sub = (where, f".{key}")
                if key == "env" and isinstance(value, list):
                    children.append((_EnvList(value), sub))
                else:
                    children.append((value, sub))
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(reversed([(item, (where, f"[{i}]")) for i, item in enumerate(node)]))
        elif isinstance(node, _EnvList):
            children = []
            for i, item in enumerate(node.items):
                entry = (where, f"[{i}]")
                if not isinstance(item, dict):
                    children.append((item, entry))
                    continue
                errors.extend(_env_entry_errors(item, entry))
                children.extend((v, (entry, f".{k}")) for k, v in item.items() if k != "value")
            stack.extend(reversed(children))
    return errors


class _EnvList:
    """Marks a container's ``env`` list during :func:`scan_tree`."""

    __slots__ = ("items",)

    def __init__(self, items: list[Any]) -> None:
        self.items = items


def check_trial_spec(trial_spec: Any, path: str) -> list[FieldError]:
    """Credentials in a user's own trial spec: literal values under credential names in any
    ``env`` (``valueFrom.secretKeyRef`` is the accepted form) and credential-shaped text anywhere
    (env values, commands, args, initializer URIs, runtime patches)."""
    return scan_tree(trial_spec, path, ENV_HINT)


def _env_lists(node: Any) -> Iterator[list[Any]]:
    """Every ``env`` list below ``node`` (iterative)."""
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key == "env" and isinstance(value, list):
                    yield value
                else:
                    stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def _lists_named(node: Any, path: str, name: str) -> Iterator[tuple[str, list[Any]]]:
    """Every list under the key ``name`` (``env``, ``envFrom``) below ``node``, with its path (the
    depth is capped by admission)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == name and isinstance(value, list):
                yield f"{path}.{key}", value
            else:
                yield from _lists_named(value, f"{path}.{key}", name)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            yield from _lists_named(item, f"{path}[{i}]", name)


class ReservedEnv:
    """The ``KATIB_LLM_*`` variables a user's trial job sets, checked after admission's injection.

    Admission sets the variables it needs on the containers it owns (overwriting any value the
    template had, as a re-admitted Experiment has). :meth:`mark` replaces each reserved entry's
    value with a marker before injection; :meth:`errors` names every entry still holding it in
    the admitted job, i.e. one admission did not set itself (a denial returns the original
    object, so no marker is ever admitted)."""

    def __init__(self, job: Any, path: str) -> None:
        self.path = path
        self.marker = "\x00katib-llm-reserved"
        self.marked: list[dict[str, Any]] = []
        self.prefixes = [f"{where}[{i}].prefix" for where, items in _lists_named(job, path, "envFrom")
                         for i, item in enumerate(items)
                         if isinstance(item, dict) and str(item.get("prefix", "")).upper().startswith(RESERVED_ENV_PREFIX)]
        for items in _env_lists(job):
            for item in items:
                if isinstance(item, dict) and str(item.get("name", "")).upper().startswith(RESERVED_ENV_PREFIX):
                    item["value"] = self.marker
                    self.marked.append(item)

    def errors(self, job: Any) -> list[FieldError]:
        """Reserved variables the admitted ``job`` still carries from the template, and reserved
        ``envFrom`` prefixes."""
        out = [FieldError(p, "env.reserved-in-template", f"an envFrom prefix starting with {RESERVED_ENV_PREFIX} "
                          "would set variables katib-llm sets itself") for p in self.prefixes]
        if not self.marked:
            return out
        left = {id(item) for item in self.marked if item.get("value") is self.marker}
        for where, items in _lists_named(job, self.path, "env"):
            for i, item in enumerate(items):
                if id(item) in left:
                    name = str(item.get("name", ""))[:60]
                    out.append(FieldError(f"{where}[{i}].name", "env.reserved-in-template",
                                          f"{name}: variables starting with {RESERVED_ENV_PREFIX} are set by "
                                          "katib-llm itself; a trial template may not set them"))
        return out
