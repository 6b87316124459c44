"""Fixtures for the advanced features: a labelled Experiment to vary."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bert-lora-experiment.yaml"


@pytest.fixture
def experiment() -> dict[str, Any]:
    """The seed's example Experiment (labelled, 4 workers x 2 GPUs)."""
    return copy.deepcopy(yaml.safe_load(EXAMPLE.read_text()))
