"""Preloaded by the forkserver: the heavy imports every trial child then inherits.

Imports only (no torch ops), so no thread pools exist yet when trials are forked. Missing
packages are fine: trials then import what they need themselves.
"""

from __future__ import annotations

import importlib

try:
    trainer = importlib.import_module("katib_llm.runtime.trainer")
    getattr(trainer, "preimport", lambda: None)()
except Exception:  # noqa: BLE001 - no trainer here: warm what it would import
    for name in ("torch", "transformers", "peft", "datasets"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001
            pass
# The decision client's stop path sends Katib's SetTrialStatus with Katib's generated gRPC code;
# importing it loads the whole Katib SDK (kubeflow.katib and the Kubernetes client), ~2.4 s
# measured, which every early-stopped trial paid between its last metrics and its exit.
for name in ("katib_llm.runtime.storage_initializer", "katib_llm.core.metrics", "katib_llm.runtime.decisions",
             "kubeflow.katib.katib_api_pb2_grpc"):
    try:
        importlib.import_module(name)
    except Exception:  # noqa: BLE001
        pass
