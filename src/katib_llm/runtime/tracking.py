"""Experiment tracking (``report_to``: MLflow, Weights & Biases) for a trial.

transformers' own callbacks do the logging (``report_to`` in training-args); this module only
names the run after the Katib trial and tags it with the Experiment, the trial and its
hyperparameters, through the variables those callbacks read. A variable the user set (through
the env annotation) wins. Credentials come from the ``tracking-secret`` Secret (see
:func:`katib_llm.core.inject.tracking_env`), never from the Experiment.
"""

from __future__ import annotations

import json
from typing import Any, Mapping

from katib_llm.core.trialenv import TrialEnv

TRACKERS = ("mlflow", "wandb")


def trackers(report_to: Any) -> list[str]:
    """The trackers of ``report_to`` this module tags ("all" means every one installed)."""
    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    names = [str(n).lower() for n in names]
    if "all" in names:
        return list(TRACKERS)
    return [n for n in TRACKERS if n in names]


def tracking_env(report_to: Any, experiment: str, trial: str, hparams: Mapping[str, Any]) -> dict[str, str]:
    """Variables that name and tag the tracker's run (empty when no tracker is reported to)."""
    chosen = trackers(report_to)
    env: dict[str, str] = {}
    if "mlflow" in chosen:
        tags = {"katib.experiment": experiment, "katib.trial": trial}
        tags.update({f"hp.{k}": str(v) for k, v in sorted(hparams.items())})
        env.update({"MLFLOW_EXPERIMENT_NAME": experiment, "MLFLOW_TAGS": json.dumps(tags, sort_keys=True)})
    if "wandb" in chosen:
        # W&B tags are short strings (at most 64 characters each).
        tags = [f"katib-experiment={experiment}"[:64]] + [f"{k}={v}"[:64] for k, v in sorted(hparams.items())]
        env.update({"WANDB_NAME": trial, "WANDB_RUN_GROUP": experiment, "WANDB_TAGS": ",".join(tags),
                    "WANDB_JOB_TYPE": "katib-trial"})
    return env


def apply(report_to: Any, environ: Any, hparams: Mapping[str, Any]) -> str | None:
    """Set the tracking variables in ``environ`` (keeping the user's); return the run name (the
    trial's name) when a tracker is reported to, else None."""
    trial = environ.get(TrialEnv.TRIAL_NAME) or ""
    experiment = environ.get(TrialEnv.EXPERIMENT_NAME) or ""
    if not trial or not trackers(report_to):
        return None
    for key, value in tracking_env(report_to, experiment, trial, hparams).items():
        environ.setdefault(key, value)
    return trial
