"""Fixtures for the advanced features: a labelled Experiment to vary."""

from __future__ import annotations

from typing import Any

import pytest

from tests.builders import example


@pytest.fixture
def experiment() -> dict[str, Any]:
    """The project's example Experiment (labelled, 4 workers x 2 GPUs)."""
    return example()


@pytest.fixture(scope="session")
def tuned_classifier(tmp_path_factory):
    """(base model dir, trial dir with a LoRA adapter) for a tiny BERT classifier, really trained."""
    from tests.advanced.tuned import sentiment, tiny_model, train_adapter

    root = tmp_path_factory.mktemp("classifier")
    model = tiny_model(root / "bert", causal=False)
    return model, train_adapter(model, sentiment(root / "data"), root / "trial", causal=False)


@pytest.fixture(scope="session")
def tuned_causal(tmp_path_factory):
    """(base model dir, trial dir with a LoRA adapter) for a tiny GPT-2, really trained."""
    from tests.advanced.tuned import sentiment, tiny_model, train_adapter

    root = tmp_path_factory.mktemp("causal")
    model = tiny_model(root / "gpt2", causal=True)
    return model, train_adapter(model, sentiment(root / "text", text_only=True), root / "trial", causal=True)
