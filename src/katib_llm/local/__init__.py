"""Local backend: run a labelled Katib Experiment on this machine.

``run_experiment`` admits the Experiment through the same core as the webhook, with this
machine's configuration (``file://`` allowed, local-only annotations accepted), then runs its trials as
local processes with Optuna suggestions under Katib's algorithm names. Names load lazily so
``katib-llm --help`` and the SDK do not import optuna or torch.

>>> from katib_llm.local import run_experiment          # doctest: +SKIP
>>> result = run_experiment(experiment, "runs/quickstart")  # doctest: +SKIP
>>> result.best.name, result.optimal_hyperparameters      # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .api import run_experiment
    from .results import LocalResult, LocalRunError, TrialResult

__all__ = ["run_experiment", "LocalResult", "TrialResult", "LocalRunError"]


def __getattr__(name: str) -> Any:
    if name == "run_experiment":
        from .api import run_experiment
        return run_experiment
    if name in ("LocalResult", "TrialResult", "LocalRunError"):
        from . import results
        return getattr(results, name)
    raise AttributeError(name)
