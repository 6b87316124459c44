"""The ASHA decision method (:data:`katib_llm.core.asha.PATH`) as a gRPC handler.

katib-llm's early-stopping service adds it beside Katib's EarlyStopping API; the local runner
serves it alone. JSON bodies (:func:`katib_llm.core.asha.parse_request`), so no generated stubs.
"""

from __future__ import annotations

import logging

import grpc

from katib_llm.core import asha

log = logging.getLogger("katib_llm.asha")


def handler(decider: asha.Decider) -> grpc.GenericRpcHandler:
    """``Decide``: a bad request is INVALID_ARGUMENT, a full rung RESOURCE_EXHAUSTED (the trainer
    reads both as "continue")."""

    def decide(raw: bytes, context: grpc.ServicerContext) -> bytes:
        try:
            trial, values = asha.parse_request(raw)
            decision = decider.decide(trial, values)
        except asha.BadRequest as exc:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
        except OverflowError as exc:
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(exc))
        if decision.rung is not None:
            log.info("trial %s at rung %s (%d reached): %s", trial, decision.rung, decision.reached,
                     decision.decision)
        return asha.encode_answer(decision)

    method = grpc.unary_unary_rpc_method_handler(decide)
    return grpc.method_handlers_generic_handler(asha.SERVICE, {asha.METHOD: method})
