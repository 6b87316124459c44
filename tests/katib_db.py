"""A stand-in for Katib's DB manager speaking Katib's gRPC (stubs from kubeflow-katib).

Holds each trial's observation log in report order, as Katib's collector reports it when the
trial ends (``ReportObservationLog``), and serves ``GetObservationLog`` by trial and metric.
"""

from __future__ import annotations

from concurrent import futures
from typing import Iterator

import grpc
from kubeflow.katib import katib_api_pb2 as api
from kubeflow.katib import katib_api_pb2_grpc as api_grpc


class FakeDB(api_grpc.DBManagerServicer):
    """Katib's DB manager: observation logs by trial name, in report order."""

    def __init__(self):
        self.logs: dict[str, list[tuple[str, str]]] = {}
        self.reads = 0

    def GetObservationLog(self, request, context):  # noqa: N802
        self.reads += 1
        entries = [api.MetricLog(time_stamp=f"2026-01-01T00:00:{i:02d}Z", metric=api.Metric(name=n, value=v))
                   for i, (n, v) in enumerate(self.logs.get(request.trial_name, []))
                   if n == request.metric_name]
        return api.GetObservationLogReply(observation_log=api.ObservationLog(metric_logs=entries))


def serve_db() -> Iterator[tuple[FakeDB, str]]:
    """Run a FakeDB on 127.0.0.1; yields it and its address (use as a generator fixture body)."""
    db = FakeDB()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    api_grpc.add_DBManagerServicer_to_server(db, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield db, f"127.0.0.1:{port}"
    finally:
        server.stop(None)
