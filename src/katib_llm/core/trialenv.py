"""The trial's environment: every ``KATIB_LLM_*`` variable the core writes and the runtime reads.

Admission puts these on the trial's containers (``core/inject.py``, ``core/trainjob.py``); the
trainer, the function runner, the storage initializer and the local backend read them. Both
sides import the names from here, so a renamed variable cannot leave one side behind. A user may
not set a name with :data:`PREFIX` (the ``env`` annotation denies it as ``env.reserved``).
"""

from __future__ import annotations

from typing import Final

PREFIX = "KATIB_LLM_"


class TrialEnv:
    """Names of the trial's environment variables: plain ``str`` constants (``environ[TrialEnv.HPARAMS]``),
    so they serialise as themselves in JSON and YAML."""

    # Hyperparameters of this trial: a JSON object whose values are Katib placeholders.
    HPARAMS: Final = "KATIB_LLM_HPARAMS"
    # Inputs the storage initializer downloaded, and how to read them.
    MODEL_DIR: Final = "KATIB_LLM_MODEL_DIR"
    DATASET_DIR: Final = "KATIB_LLM_DATASET_DIR"
    DATASET_SPLIT: Final = "KATIB_LLM_DATASET_SPLIT"
    DATASET_NAME: Final = "KATIB_LLM_DATASET_NAME"
    MODEL_CLASS: Final = "KATIB_LLM_MODEL_CLASS"
    # Fixed settings (JSON objects) from the training-args, lora-config and dataset-config annotations.
    TRAINING_ARGS: Final = "KATIB_LLM_TRAINING_ARGS"
    LORA_CONFIG: Final = "KATIB_LLM_LORA_CONFIG"
    DATASET_CONFIG: Final = "KATIB_LLM_DATASET_CONFIG"
    # Where the trial writes its adapter and metrics, and the metrics file Katib's collector tails.
    OUTPUT_DIR: Final = "KATIB_LLM_OUTPUT_DIR"
    METRICS_FILE: Final = "KATIB_LLM_METRICS_FILE"
    # Run name and tags of an experiment tracker.
    EXPERIMENT_NAME: Final = "KATIB_LLM_EXPERIMENT_NAME"
    TRIAL_NAME: Final = "KATIB_LLM_TRIAL_NAME"
    # GPUs per worker the trial asked for, so the trainer can refuse a silent CPU run.
    GPUS_PER_WORKER: Final = "KATIB_LLM_GPUS_PER_WORKER"
    # A Python objective function (base64 JSON) and what to pip-install before running it.
    FUNCTION: Final = "KATIB_LLM_FUNCTION"
    PACKAGES: Final = "KATIB_LLM_PACKAGES"
    PIP_INDEX_URLS: Final = "KATIB_LLM_PIP_INDEX_URLS"
    # The storage initializer's task (model or dataset), target folder and shared cache.
    INIT_KIND: Final = "KATIB_LLM_INIT_KIND"
    INIT_TARGET: Final = "KATIB_LLM_INIT_TARGET"
    CACHE_DIR: Final = "KATIB_LLM_CACHE_DIR"
    # ASHA decisions (katib-llm's trainer asks at every evaluation): where to ask, which metric
    # ranks the trial, and how long one request may take.
    EARLY_STOPPING_ADDRESS: Final = "KATIB_LLM_EARLY_STOPPING_ADDRESS"
    OBJECTIVE_METRIC: Final = "KATIB_LLM_OBJECTIVE_METRIC"
    DECISION_TIMEOUT: Final = "KATIB_LLM_DECISION_TIMEOUT"
    # The Experiment's shared tokenized-dataset cache (one entry per tokenizer, data and preprocessing).
    DATA_CACHE_DIR: Final = "KATIB_LLM_DATA_CACHE_DIR"
    # Local backend only: torch threads per trial process, and modules a warm worker imports ahead.
    NUM_THREADS: Final = "KATIB_LLM_NUM_THREADS"
    PRELOAD: Final = "KATIB_LLM_PRELOAD"


ALL: tuple[str, ...] = tuple(value for key, value in vars(TrialEnv).items() if key.isupper())


def is_reserved(name: str) -> bool:
    """Whether an environment variable name is katib-llm's own (any case)."""
    return name.upper().startswith(PREFIX)
