"""The value parsers (core/values.py): one per kind, each linear in its input and bounded.

Property tests feed every parser Hypothesis' strings (non-ASCII digits, trailing newlines and
control characters included) and 100 KB adversarial ones (tests/hostile.py): a parser returns a
value of its kind or raises ``Invalid`` naming the accepted form, never anything else, and never
slowly. A structural test reads every regular expression of the core and the webhook and refuses
nested unbounded repeats and unbounded repeats that can trade characters with a neighbour (what
makes a backtracking engine polynomial or exponential).
"""

from __future__ import annotations

import importlib
import math
import pkgutil
import re
import time
from re import _constants as sre_constants  # type: ignore[attr-defined]
from re import _parser as sre_parse  # type: ignore[attr-defined]
from typing import Any, Callable

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import katib_llm.core
import katib_llm.webhook
from katib_llm.core import dataset_config
from katib_llm.core import values as v
from katib_llm.core.contract import BUDGET_KEYS
from tests.hostile import HUGE, NON_ASCII_DIGITS, adversarial_texts

# Every parser of a user's text, as a function of one string.
PARSERS: dict[str, Callable[[str], Any]] = {
    "number": v.number,
    "decimal_float": lambda t: v.decimal_float(t, 0.0, 1.0, open_low=True),
    "decimal_int": lambda t: v.decimal_int(t, 1, 64),
    "decimal_int_digits": lambda t: v.decimal_int(t, 1, 366 * 86400, digits_only=True),
    "boolean": v.boolean,
    "parameter_count": v.parameter_count,
    "duration": v.duration,
    "quantity": v.quantity,
    "dns1123_label": v.dns1123_label,
    "dns1123_subdomain": v.dns1123_subdomain,
    "env_name": v.env_name,
    "image": v.image,
    "uri_text": v.uri_text,
    "hf_repo_id": v.hf_repo_id,
    "hf_revision": v.hf_revision,
    "hf_split": v.hf_split,
    "s3_bucket": v.s3_bucket,
    "python_package": v.python_package,
    "json_text": lambda t: v.json_text(t, "JSON"),
    "dataset_config": lambda t: v.object_keys(v.json_text(t, "JSON") if t.startswith("{") else {"seed": t},
                                              dataset_config.KEYS),
    "budget": lambda t: v.object_keys({"wall_clock": t, "train_steps": t, "gpu_hours": t}, BUDGET_KEYS),
}
# A 100 KB string through any parser: well under this many seconds (a quadratic parser takes
# seconds to minutes; the margin absorbs a loaded machine).
SECONDS_PER_HUGE_INPUT = 0.5

hostile_text = st.one_of(
    st.text(max_size=200),
    st.text(alphabet=st.sampled_from(list(NON_ASCII_DIGITS + "0123456789.eE+-_ \n\t\r\x00\u2028")), max_size=80),
    st.builds(lambda s, tail: s + tail, st.from_regex(r"[a-z0-9.-]{1,60}", fullmatch=True),
              st.sampled_from(["\n", "\r\n", "\n\n", " \n", "\x00", "\u2028", "\n-"])),
)


def _call(parse: Callable[[str], Any], text: str) -> tuple[Any, float]:
    started = time.perf_counter()
    try:
        result: Any = parse(text)
    except v.Invalid as exc:
        assert str(exc), "a denial says what is accepted"
        result = exc
    return result, time.perf_counter() - started


@pytest.mark.parametrize("name", sorted(PARSERS))
@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(text=hostile_text)
def test_a_parser_returns_its_kind_or_invalid(name, text):
    _call(PARSERS[name], text)  # anything but Invalid propagates and fails the test


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_a_parser_is_fast_on_100_kb_adversarial_strings(name):
    worst = 0.0
    for text in adversarial_texts():
        assert len(text) >= HUGE - 20
        _, seconds = _call(PARSERS[name], text)
        worst = max(worst, seconds)
    assert worst < SECONDS_PER_HUGE_INPUT, f"{name}: {worst:.3f} s for a {HUGE // 1024} KB string"


@settings(max_examples=300, deadline=None)
@given(st.builds(lambda a, d, b: a + d + b, st.text(alphabet="0123456789.e+-hmsGi", max_size=8),
                 st.sampled_from(list(NON_ASCII_DIGITS)), st.text(alphabet="0123456789.e+-hmsGi", max_size=8)))
def test_numbers_refuse_non_ascii_digits(text):
    for parse in (v.number, lambda t: v.decimal_int(t, 0, 10 ** 9), lambda t: v.decimal_int(t, 0, 10 ** 9,
                                                                                              digits_only=True),
                  v.duration, v.quantity, v.parameter_count):
        with pytest.raises(v.Invalid):
            parse(text)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=40), st.floats(), st.integers()))
def test_numbers_are_finite_and_bounded(value):
    try:
        number = v.number(value)
    except v.Invalid:
        return
    assert math.isfinite(number) and abs(number) <= v.MAX_MAGNITUDE


@pytest.mark.parametrize("text", ["inf", "-Infinity", "nan", "NaN", "1e999", "1e16", "0x10", "1_000", "١٢", "³"])
def test_numbers_that_python_reads_but_we_refuse(text):
    with pytest.raises(v.Invalid):
        v.number(text)


@settings(max_examples=300, deadline=None)
@given(name=st.from_regex(r"[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?", fullmatch=True),
       tail=st.sampled_from(["\nx", "\n-", "\x00", "\u2028x", " x", "\tx", "$", "\n\nx"]))
def test_names_match_whole(name, tail):
    """``$`` also matches before a trailing newline: a name with anything after a newline is refused."""
    assert v.dns1123_label(name) == name and v.dns1123_subdomain(name) == name
    for parse in (v.dns1123_label, v.dns1123_subdomain, v.env_name):
        with pytest.raises(v.Invalid):
            parse(name + tail)


@settings(max_examples=200, deadline=None)
@given(hostile_text)
def test_accepted_names_hold_no_whitespace_or_control_characters(text):
    for parse in (v.dns1123_label, v.dns1123_subdomain, v.env_name, v.image, v.hf_repo_id, v.hf_revision, v.s3_bucket):
        result, _ = _call(parse, text)
        if isinstance(result, str):
            assert not v.has_control(result) and not any(c.isspace() for c in result), (parse, result)


@pytest.mark.parametrize("bucket", ["ab", "a" * 64, "My-bucket", "192.168.0.1", "a..b", "xn--bucket", "b-s3alias",
                                    "-bucket", "bucket-", "a.-b"])
def test_s3_bucket_naming_rules(bucket):
    with pytest.raises(v.Invalid):
        v.s3_bucket(bucket)


@pytest.mark.parametrize("revision", ["v1..2", "../main", "main/", "-x", ".hidden", "a//b", "x.lock", "a b"])
def test_hf_revision_grammar(revision):
    with pytest.raises(v.Invalid):
        v.hf_revision(revision)


@pytest.mark.parametrize("text, seconds", [("6h", 21600.0), ("1h30m", 5400.0), ("90s", 90.0), ("2d", 172800.0),
                                           ("3600", 3600.0), (3600, 3600.0), ("1.5h", 5400.0)])
def test_durations(text, seconds):
    assert v.duration(text) == seconds


# ---- every regular expression of the core and the webhook ----------------------------------

_REPEATS = {sre_constants.MAX_REPEAT, sre_constants.MIN_REPEAT, getattr(sre_constants, "POSSESSIVE_REPEAT", None)}
_ANY = frozenset({-1})  # stands for "every character"


def _chars(items: Any) -> frozenset[int]:
    """Characters a parsed (sub)pattern can consume anywhere (``_ANY`` for every character)."""
    out: set[int] = set()
    for op, arg in items:
        if op is sre_constants.LITERAL:
            out.add(arg)
        elif op in (sre_constants.ANY, sre_constants.NOT_LITERAL):
            return _ANY
        elif op is sre_constants.IN:
            if any(o is sre_constants.NEGATE or o is sre_constants.CATEGORY for o, _ in arg):
                return _ANY  # negated sets and \w \s \d: treat as overlapping everything
            for o, a in arg:
                out.update([a] if o is sre_constants.LITERAL else range(a[0], a[1] + 1))
        elif op in _REPEATS:
            sub = _chars(arg[2])
            if sub is _ANY:
                return _ANY
            out |= sub
        elif op is sre_constants.SUBPATTERN:
            sub = _chars(arg[3])
            if sub is _ANY:
                return _ANY
            out |= sub
        elif op is sre_constants.BRANCH:
            for branch in arg[1]:
                sub = _chars(branch)
                if sub is _ANY:
                    return _ANY
                out |= sub
    return frozenset(out)


def _overlap(a: frozenset[int], b: frozenset[int]) -> bool:
    return bool(a and b) and (a is _ANY or b is _ANY or bool(a & b))


def _within(a: frozenset[int], b: frozenset[int]) -> bool:
    return b is _ANY or (a is not _ANY and a <= b)


def _unbounded(op: Any, arg: Any) -> bool:
    return op in _REPEATS and arg[1] == sre_constants.MAXREPEAT


def _problems(items: Any, nested_in_unbounded: bool = False) -> list[str]:
    """Nested unbounded repeats, and unbounded repeats that can exchange characters with a later
    one across what lies between them (every character between is one the first can also take)."""
    found: list[str] = []
    seq = list(items)
    for i, (op, arg) in enumerate(seq):
        if _unbounded(op, arg):
            if nested_in_unbounded:
                found.append("an unbounded repeat inside an unbounded repeat")
            mine = _chars(arg[2])
            for later_op, later_arg in seq[i + 1:]:
                if _unbounded(later_op, later_arg):
                    if _overlap(mine, _chars(later_arg[2])):
                        found.append("two unbounded repeats that can trade characters")
                    break
                if later_op in (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT):
                    continue
                if not _within(_chars([(later_op, later_arg)]), mine):
                    break
            found += _ambiguous_iterations(arg[2])
            found += _problems(arg[2], True)
        elif op in _REPEATS:
            found += _problems(arg[2], nested_in_unbounded)
        elif op is sre_constants.SUBPATTERN:
            found += _problems(arg[3], nested_in_unbounded)
        elif op is sre_constants.BRANCH:
            for branch in arg[1]:
                found += _problems(branch, nested_in_unbounded)
        elif op in (sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            found += _problems(arg[1], nested_in_unbounded)
    return found


def _ambiguous_iterations(body: Any) -> list[str]:
    """A variable-length part of a repeated body (an alternation, an optional or ranged repeat) that
    can take the characters an iteration starts with: the engine can split the input between
    iterations in many ways (``(?:a|aa)*``, ``(?:[a-z]{1,3})*``)."""
    consuming = [(op, arg) for op, arg in body if op not in (sre_constants.AT, sre_constants.ASSERT,
                                                             sre_constants.ASSERT_NOT)]
    if not consuming:
        return []
    first = _chars(consuming[:1])
    for op, arg in consuming:
        variable = op is sre_constants.BRANCH or (op in _REPEATS and arg[0] != arg[1])
        if variable and _overlap(_chars([(op, arg)]), first):
            return ["an iteration that can be split in several ways"]
    return []


def _patterns(value: Any) -> list[re.Pattern[Any]]:
    if isinstance(value, re.Pattern):
        return [value]
    if isinstance(value, (tuple, list)):
        return [p for item in value for p in _patterns(item)]
    if isinstance(value, dict):
        return [p for item in value.values() for p in _patterns(item)]
    return []


def _module_patterns() -> list[tuple[str, str, re.Pattern[Any]]]:
    out = []
    for package in (katib_llm.core, katib_llm.webhook):
        for info in pkgutil.iter_modules(package.__path__, package.__name__ + "."):
            module = importlib.import_module(info.name)
            for attr, value in vars(module).items():
                out += [(info.name, attr, p) for p in _patterns(value)]
    return out


def test_the_inspection_catches_backtracking_shapes():
    for bad in [r"(a+)+", r"(?:\w+\s?)*x", r".*\(.*\).*\(.*\).*", r"[a-z]*[a-z0-9]*", r"\d+\.?\d+",
                r"[^@]*:[^@]*@", r"(?:a|aa)*b"]:
        assert _problems(sre_parse.parse(bad)), bad
    for fine in [r"[a-z0-9](?:[-a-z0-9]{0,61}[a-z0-9])?", r"[0-9]+x[0-9]+", r"\$\{trialParameters\.[^}]{1,253}\}",
                 r"[a-z]+:[0-9]+"]:
        assert not _problems(sre_parse.parse(fine)), fine


def test_no_regex_of_the_core_or_webhook_backtracks():
    patterns = _module_patterns()
    assert len(patterns) > 20, "the inspection found the modules' patterns"
    bad = [f"{module}.{attr}: {pattern.pattern!r}: {problem}"
           for module, attr, pattern in patterns
           for problem in _problems(sre_parse.parse(pattern.pattern, pattern.flags))]
    assert not bad, "\n".join(bad)
