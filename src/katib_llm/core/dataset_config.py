"""The ``dataset-config`` keys: one table that admission checks and the trial runtime reads.

``katib_llm.runtime.data.DatasetConfig`` takes its keys, defaults and value rules from here, so a
value admission accepts is one the trial accepts, and ``eval_fraction: 2.0`` is denied at
admission rather than in every trial.
"""

from __future__ import annotations

from typing import Any, Mapping

from . import values as v

DEFAULTS: dict[str, Any] = {
    "text_column": "text", "text_pair_column": None, "label_column": "label", "eval_split": None,
    "eval_fraction": 0.1, "max_length": 128, "num_labels": None, "seed": 42,
}
KEYS: dict[str, v.Key] = {
    "text_column": v.Key(v.string(256), "a column name"),
    "text_pair_column": v.Key(v.string(256), "a column name"),
    "label_column": v.Key(v.string(256), "a column name"),
    "eval_split": v.Key(lambda x: v.hf_split(v.string(256)(x)), "a split such as test or train[-500:]"),
    "eval_fraction": v.Key(v.json_float(0.0, 1.0, open_low=True, open_high=True), "a number in (0, 1)"),
    "max_length": v.Key(v.json_int(2, 1_000_000), "an integer from 2 to 1000000"),
    "num_labels": v.Key(v.json_int(1, 1_000_000), "an integer from 1 to 1000000"),
    "seed": v.Key(v.json_int(0, 2**32 - 1), "an integer from 0 to 2^32-1"),
}


def check(raw: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str, str]]]:
    """``raw`` checked against :data:`KEYS`: the parsed keys and ``(key, "unknown" | "value", message)`` problems."""
    return v.object_keys(raw, KEYS)
