"""What the trials of one local run share: the base model's pages and the tokenized dataset.

* The tokenized dataset is prepared once per Experiment: every trial gets
  ``KATIB_LLM_DATA_CACHE_DIR`` pointing into the run's volume, where the first trial saves it and
  the others load it (:mod:`katib_llm.runtime.tokenized`: keyed by tokenizer, data and
  preprocessing; an entry that fails its checksums is rebuilt).
* The heavy imports are done once by the forkserver each trial is forked from (:mod:`.pool`),
  and the model files are read through the page cache the trials share.

Each trial is still its own process (isolation, kill and resume are unchanged).
"""

from __future__ import annotations

from katib_llm.runtime.tokenized import ENV_DIR

from .workdir import Paths


def trial_env(paths: Paths) -> dict[str, str]:
    """The environment that points a trial at the run's shared data."""
    return {ENV_DIR: str(paths.volume / ".katib-llm" / "tokenized")}
