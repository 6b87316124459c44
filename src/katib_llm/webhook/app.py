"""The Flask app: AdmissionReview in, core verdict out. No admission logic lives here."""

from __future__ import annotations

import functools
import logging
import time
from typing import Any, Callable

from flask import Flask, Response, request
from werkzeug.exceptions import HTTPException

from katib_llm.core.admit import AdmissionResult, admit, validate
from katib_llm.core.jsontext import dumps as encode

from . import metrics
from .reviews import (MAX_BODY_BYTES, ReviewError, allow, build_response, internal_denial, parse_review,
                      parse_timeout)
from .sources import ClusterLookup, ConfigSource, cluster_inputs

log = logging.getLogger("katib_llm.webhook")
CoreFn = Callable[..., AdmissionResult]
DRAIN_CAP_BYTES = 16 * MAX_BODY_BYTES  # beyond this an oversized upload is cut off, not drained


def _reply(doc: dict[str, Any], status: int = 200) -> Response:
    # Encoded here rather than by flask.jsonify: no key sorting, no indent, orjson speed.
    return Response(encode(doc), status=status, mimetype="application/json")


def _error(status: int, message: str) -> Response:
    return _reply({"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": status,
                   "message": message}, status)


def _read_body() -> bytes:
    """The request body, at most 3 MiB. An oversized body is read to its end (up to a drain
    cap) before the 413, so the client gets the answer instead of a reset mid-upload."""
    declared = request.content_length
    if declared is not None and declared > DRAIN_CAP_BYTES:
        raise ReviewError(413, f"request body is {declared} bytes; the limit is {MAX_BODY_BYTES} (3 MiB)")
    stream, chunks, size = request.stream, [], 0
    while True:
        chunk = stream.read(65536)
        if not chunk:
            break
        size += len(chunk)
        if size <= MAX_BODY_BYTES:
            chunks.append(chunk)
        elif size > DRAIN_CAP_BYTES:
            break
    if size > MAX_BODY_BYTES:
        raise ReviewError(413, f"request body exceeds {MAX_BODY_BYTES} bytes (3 MiB)")
    return b"".join(chunks)


def _judge(review: Any, core: CoreFn | None, mutating: bool, config: ConfigSource,
           lookup: ClusterLookup | None, budget: float) -> tuple[Response, str]:
    """The answer to one parsed review, and its outcome label for the metrics."""
    if review.operation not in ("CREATE", "UPDATE"):
        return _reply(allow(review.uid)), "allowed"  # DELETE, CONNECT: nothing to judge; never a patch
    if core is None or not review.is_experiment or review.experiment is None:
        body = allow(review.uid, None if core is None or review.is_experiment else
                     ["katib-llm only judges kubeflow.org experiments; check the webhook rules"])
        return _reply(body), "allowed"
    cfg, configmaps, warnings = cluster_inputs(
        lookup, review.experiment, review.namespace, config.get(), max(0.5, budget - 1.0))
    try:
        result = core(review.experiment, cfg, old=review.old, configmaps=configmaps)
    except Exception as exc:  # a core bug: deny clearly (HTTP 200), never an opaque 5xx
        log.exception("admission core failed on request %s", review.uid)
        return _reply(internal_denial(review.uid, exc)), "internal_error"
    outcome = ("allowed" if result.allowed else "denied") if result.labelled else "skipped"
    return _reply(build_response(review.uid, result, mutating=mutating, extra_warnings=warnings)), outcome


def _serve(endpoint: str, core: CoreFn | None, mutating: bool, config: ConfigSource,
           lookup: ClusterLookup | None) -> Response:
    """One admission request: decode (a malformed review is an HTTP error), judge, encode."""
    start = time.perf_counter()
    outcome = "error"
    try:
        budget = parse_timeout(request.args.get("timeout"))
        response, outcome = _judge(parse_review(_read_body()), core, mutating, config, lookup, budget)
        return response
    except ReviewError as exc:
        outcome = "bad_request"
        resp = _error(exc.status, exc.message)
        if exc.status == 413:
            resp.headers["Connection"] = "close"
        return resp
    finally:
        metrics.observe(endpoint, outcome, time.perf_counter() - start)


def create_app(config: ConfigSource, lookup: ClusterLookup | None = None, noop_endpoint: bool = False) -> Flask:
    """The admission app. ``lookup`` reads cluster objects (None: no API, e.g. in tests);
    ``noop_endpoint`` adds ``POST /noop`` (decode + allow, no core) for the latency benchmark."""
    app = Flask("katib_llm.webhook")

    def serve(endpoint: str, core: CoreFn | None, mutating: bool = False) -> Response:
        return _serve(endpoint, core, mutating, config, lookup)

    @app.post("/mutate")
    def mutate() -> Response:
        # Katib's own Experiment rules are the validating phase's job (Katib's webhook and our
        # /validate judge the final object); checking them here too would judge an object other
        # mutating webhooks may still change, and cost every admission twice.
        return serve("mutate", functools.partial(admit, katib_checks=False), mutating=True)

    @app.post("/validate")
    def validate_() -> Response:
        return serve("validate", validate)

    if noop_endpoint:
        @app.post("/noop")
        def noop() -> Response:
            return serve("noop", None)

    @app.get("/healthz")
    def healthz() -> tuple[str, int]:
        return "ok\n", 200

    @app.get("/readyz")
    def readyz() -> tuple[str, int]:
        config.get()
        return ("ok\n", 200) if config.error is None else (f"ok (config reload failed: {config.error})\n", 200)

    @app.get("/metrics")
    def metrics_() -> Response:
        data, content_type = metrics.render()
        return Response(data, content_type=content_type)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        if exc.code == 413:
            return _error(413, f"request body exceeds {MAX_BODY_BYTES} bytes (3 MiB)")
        return _error(exc.code or 400, f"{exc.name}: {exc.description}")

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        # A bug must not turn into an opaque 500 for the apiserver; log it and answer with a
        # clear Status. (The apiserver applies failurePolicy to non-200 answers.)
        log.exception("unexpected error while serving %s", request.path)
        return _error(500, f"internal error: {type(exc).__name__}; see the webhook logs")

    return app
