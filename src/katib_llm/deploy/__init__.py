"""Deploy the tuned model: promote the best adapter, build a KServe InferenceService, serve locally.

Public entry points:

* :func:`promote` — copy the best trial's adapter to ``<experiment dir>/best`` and prune the
  others unless trials are retained (the local backend and a cluster-side Job call it);
* :func:`promotion_job` — the ``batch/v1`` Job manifest that runs the promotion on the cluster;
* :func:`inference_service` — the KServe ``InferenceService`` for an Experiment's best trial
  (pure: Experiment + admin configuration in, manifest out);
* :func:`deploy_best` — read the Experiment, build the InferenceService, create it
  (``KatibClient.deploy_best`` delegates here).

Heavy libraries (torch, transformers, peft, kubernetes) load only inside the functions that need
them.
"""

from __future__ import annotations

from katib_llm.runtime.promotion import PromotionError, PromotionResult, TrialResult, promote, promote_local

from .adapters import promotion_job
from .kserve import DeployError, deploy_best, inference_service

__all__ = ["DeployError", "PromotionError", "PromotionResult", "TrialResult", "deploy_best",
           "inference_service", "promote", "promote_local", "promotion_job"]
