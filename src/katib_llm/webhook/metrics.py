"""Prometheus metrics: requests and latency by endpoint and outcome.

Under gunicorn the CLI sets ``PROMETHEUS_MULTIPROC_DIR`` before any worker imports
prometheus_client, so ``/metrics`` aggregates all worker processes.
"""

from __future__ import annotations

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

REQUESTS = Counter("katib_llm_webhook_requests", "Admission requests served", ["endpoint", "outcome"])
LATENCY = Histogram("katib_llm_webhook_request_seconds", "Time to answer an admission request",
                    ["endpoint", "outcome"],
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))


def observe(endpoint: str, outcome: str, seconds: float) -> None:
    REQUESTS.labels(endpoint, outcome).inc()
    LATENCY.labels(endpoint, outcome).observe(seconds)


def render() -> tuple[bytes, str]:
    """The exposition text (all workers' values in multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    from prometheus_client import REGISTRY

    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
