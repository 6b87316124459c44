"""Kubernetes resource quantities: parse, check, and do the arithmetic of splitting them.

Kubernetes' own grammar (``k8s.io/apimachinery/pkg/api/resource``): a decimal number followed by
a binary suffix (Ki … Ei), a decimal suffix (n, u, m, k, M, G, T, P, E) or an exponent (1e3).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from . import values

SUFFIXES = values.QUANTITY_SUFFIXES
MAX_QUANTITY = values.MAX_QUANTITY
# Below this many bytes a unitless memory figure is a forgotten unit ("16" meant 16Gi), never a pod.
MIN_UNITLESS_MEMORY = 2**20


def quantity(value: Any) -> str | None:
    """A number or quantity string as a Kubernetes quantity string (None if invalid;
    :func:`katib_llm.core.values.quantity`)."""
    try:
        return values.quantity(value)
    except values.Invalid:
        return None


def split(text: str) -> tuple[Fraction, str]:
    """``"10Gi"`` → (10 * 2**30, "Gi"); ValueError unless ``text`` is a valid :func:`quantity`."""
    return values.quantity_amount(text)


def unitless(text: str) -> bool:
    """Whether a quantity string carries no suffix or exponent (plain units: cores, bytes)."""
    match = values.QUANTITY_PATTERN.fullmatch(text) if len(text) <= values.MAX_NUMBER_TEXT else None
    return match is not None and not match.group(2)


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
