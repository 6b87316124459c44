"""The layout of a local run's work dir (the Optuna journal, one directory per trial, the volume)
and the shared model/data cache it reads."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from katib_llm.core.trialenv import TrialEnv


class Paths:
    def __init__(self, workdir: Path, cache_dir: Path | None):
        self.root = workdir
        self.experiment = workdir / "experiment.yaml"
        self.journal = workdir / "study.journal"
        self.trials = workdir / "trials"
        self.volume = workdir / "volume"
        self.cache = Path(cache_dir or os.environ.get(TrialEnv.CACHE_DIR)
                          or Path.home() / ".cache" / "katib-llm")
        self.lock = workdir / ".lock"
        self.budget = workdir / "budget.json"  # wall-clock time spent by earlier runs


def default_cache_dir() -> Path:
    return Path(os.environ.get(TrialEnv.CACHE_DIR) or Path.home() / ".cache" / "katib-llm").resolve()


# What a run writes at the top of its work dir (and nothing else is removed by discard_run).
RUN_ENTRIES = ("experiment.yaml", "study.journal", "study.journal.lock", "budget.json", "results.json",
               "report.html", "trials.csv", "trials", "volume", "best")


def discard_run(paths: Paths) -> None:
    """Remove the run a work dir holds (its Experiment, journal, trials, volume, results), so a
    new Experiment can start there; files of other origin, and the lock, stay."""
    for name in RUN_ENTRIES:
        target = paths.root / name
        if target.is_dir() and not target.is_symlink():
            shutil.rmtree(target)
        elif target.exists() or target.is_symlink():
            target.unlink()
    for plot in paths.root.glob("*.png"):
        plot.unlink()


def clear_stale_journal_lock(paths: Paths) -> bool:
    """Remove Optuna's journal lock (a symlink beside ``study.journal``) if a write interrupted by
    a kernel interrupt or a kill left it behind; True if there was one.

    Call it holding the work dir's lock: then no other process appends to the journal (readers
    take no journal lock), so the file is stale. Left in place, Optuna's next write waits 30 s
    for it and prints two warnings into the notebook ("It is taking longer than 10 seconds to
    acquire the lock file", "Forcibly releasing the lock file")."""
    lock = Path(str(paths.journal) + ".lock")
    if lock.is_symlink() or lock.exists():
        lock.unlink()
        return True
    return False
