"""Compact JSON text of a document, fast: orjson, or ``json`` for what orjson refuses."""

from __future__ import annotations

import json
from typing import Any

import orjson


def dumps(doc: Any) -> bytes:
    """Compact UTF-8 JSON of ``doc``.

    orjson is ~10x faster than ``json`` on the admission path's documents and, like Go's encoder,
    keeps non-ASCII text as UTF-8. What it refuses (non-string keys or integers beyond 64 bits,
    as a YAML file can hold) takes the ``json`` path.
    """
    try:
        return orjson.dumps(doc)
    except TypeError:
        return json.dumps(doc, separators=(",", ":")).encode()
