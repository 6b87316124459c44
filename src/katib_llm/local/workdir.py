"""The layout of a local run's work dir (the Optuna journal, one directory per trial, the volume)
and the shared model/data cache it reads."""

from __future__ import annotations

import os
from pathlib import Path


class Paths:
    def __init__(self, workdir: Path, cache_dir: Path | None):
        self.root = workdir
        self.experiment = workdir / "experiment.yaml"
        self.journal = workdir / "study.journal"
        self.trials = workdir / "trials"
        self.volume = workdir / "volume"
        self.cache = Path(cache_dir or os.environ.get("KATIB_LLM_CACHE_DIR")
                          or Path.home() / ".cache" / "katib-llm")
        self.lock = workdir / ".lock"
        self.budget = workdir / "budget.json"  # wall-clock time spent by earlier runs


def default_cache_dir() -> Path:
    return Path(os.environ.get("KATIB_LLM_CACHE_DIR") or Path.home() / ".cache" / "katib-llm").resolve()
