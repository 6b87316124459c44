"""katib-llm: hyperparameter tuning of LLM fine-tuning for Kubeflow Katib.

Notebook entry points (loaded on first use, so ``import katib_llm`` stays light: no torch, no
transformers, no Kubernetes client)::

    from katib_llm import KatibClient, TrainingClient, search
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = ["KatibClient", "TrainingClient", "search", "TuneArgumentError", "ExperimentFailed", "__version__"]

_LAZY = {
    "KatibClient": ("katib_llm.sdk.client", "KatibClient"),
    "TrainingClient": ("katib_llm.sdk.objective", "TrainingClient"),
    "TuneArgumentError": ("katib_llm.sdk.errors", "TuneArgumentError"),
    "ExperimentFailed": ("katib_llm.sdk.errors", "ExperimentFailed"),
    "search": ("katib_llm.sdk.search", None),
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'katib_llm' has no attribute {name!r}")
    import importlib

    module_name, attr = _LAZY[name]
    module = importlib.import_module(module_name)
    value = module if attr is None else getattr(module, attr)
    globals()[name] = value
    return value
