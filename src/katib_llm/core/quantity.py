"""Kubernetes resource quantities: parse, check, and do the arithmetic of splitting them.

Kubernetes' own grammar (``k8s.io/apimachinery/pkg/api/resource``): a decimal number followed by
a binary suffix (Ki … Ei), a decimal suffix (n, u, m, k, M, G, T, P, E) or an exponent (1e3).
"""

from __future__ import annotations

import re
from fractions import Fraction
from typing import Any

from .numbers import number_problem

SUFFIXES: dict[str, Fraction | int] = {
    "": 1, "n": Fraction(1, 10**9), "u": Fraction(1, 10**6), "m": Fraction(1, 1000), "k": 10**3, "M": 10**6,
    "G": 10**9, "T": 10**12, "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
    "Pi": 2**50, "Ei": 2**60}
_QUANTITY = re.compile(r"^\+?([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?$")
# Kubernetes keeps quantities as int64 scaled values; anything larger is absurd for a pod.
MAX_QUANTITY = 2**63 - 1
# Below this many bytes a unitless memory figure is a forgotten unit ("16" meant 16Gi), never a pod.
MIN_UNITLESS_MEMORY = 2**20


def quantity(value: Any) -> str | None:
    """A number or quantity string as a Kubernetes quantity string (None if invalid).

    Numbers become strings: the kubernetes Python client's models reject raw numbers."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        if number_problem(value) or value < 0:
            return None
        return str(int(value)) if float(value).is_integer() else repr(float(value))
    if isinstance(value, str) and _QUANTITY.match(value.strip()) and len(value) <= 64:
        exponent = _QUANTITY.match(value.strip()).group(2) or ""  # type: ignore[union-attr]
        if exponent[:1] in ("e", "E") and abs(int(exponent[1:])) > 18:
            return None  # 1e999: no machine has it, and Fraction arithmetic on it is unbounded
        return value.strip() if split(value.strip())[0] <= MAX_QUANTITY else None
    return None


def split(text: str) -> tuple[Fraction, str]:
    """``"10Gi"`` → (10 * 2**30, "Gi"); the text must be a valid :func:`quantity`."""
    m = _QUANTITY.match(text)
    if m is None:
        raise ValueError(f"not a Kubernetes quantity: {text!r}")
    suffix = m.group(2) or ""
    if suffix[:1] in ("e", "E"):
        return Fraction(m.group(1)) * Fraction(10) ** int(suffix[1:]), ""
    return Fraction(m.group(1)) * SUFFIXES[suffix], suffix


def unitless(text: str) -> bool:
    """Whether a quantity string carries no suffix or exponent (plain units: cores, bytes)."""
    m = _QUANTITY.match(text)
    return bool(m) and not m.group(2)


def format_quantity(amount: Fraction, suffix: str, key: str) -> str:
    """A quantity string for ``amount``, preferring ``suffix``, then smaller ones of its family."""
    family = ["Ei", "Pi", "Ti", "Gi", "Mi", "Ki"] if suffix.endswith("i") else ["E", "P", "T", "G", "M", "k"]
    for unit in [suffix] + family[family.index(suffix) + 1:] if suffix in family else [suffix]:
        scaled = amount / SUFFIXES[unit]
        if scaled.denominator == 1:
            return f"{scaled.numerator}{unit}"
    if amount.denominator == 1 or key == "memory":
        return str(amount.numerator // amount.denominator)  # whole bytes, rounded down
    milli = amount * 1000
    return f"{milli.numerator // milli.denominator}m"
