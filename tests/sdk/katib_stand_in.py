"""What Katib's controllers and DB manager would do, for SDK tests against the API server stand-in.

* :func:`run_experiment_like_katib`: a thread that, once the Experiment exists, creates its
  Trials (labelled ``katib.kubeflow.org/experiment``, owned by the Experiment, with Katib's
  Trial status: conditions, observation min/max/latest, start/completion times), sets the
  Experiment Running and then Succeeded with ``currentOptimalTrial`` and the trial counts, as
  Katib's experiment controller writes them (recorded shapes: tests/sdk/data).
* :func:`db_manager`: Katib's DB manager gRPC service (``GetObservationLog``) on 127.0.0.1
  answering the trials' metric logs, as kubeflow-katib's ``get_trial_metrics`` reads them.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from concurrent import futures
from pathlib import Path
from typing import Any, Iterator

DATA = Path(__file__).resolve().parent / "data"
LABEL = "katib.kubeflow.org/experiment"

# Two trials of the proposal's search space (kubeflow/katib#2291): one succeeded (the optimal), one stopped early.
TRIALS = [
    ("x7k2p9qd", "Succeeded", "TrialSucceeded", [0.4826666666666667, 0.6133333333333333, 0.6106666666666667],
     {"learning_rate": "3.1862946028473366e-05", "per_device_train_batch_size": "16", "num_train_epochs": "3",
      "weight_decay": "0.04513781420290742", "lora_config.r": "24"}),
    ("b4n8m2lz", "EarlyStopped", "TrialEarlyStopped", [0.31, 0.35],
     {"learning_rate": "1.2e-05", "per_device_train_batch_size": "57", "num_train_epochs": "9",
      "weight_decay": "0.7", "lora_config.r": "11"}),
]


def _cond(kind: str, reason: str, when: str, status: str = "True") -> dict[str, Any]:
    return {"type": kind, "status": status, "reason": reason, "message": f"Trial is {kind.lower()}",
            "lastUpdateTime": when, "lastTransitionTime": when}


def trial_object(experiment: dict[str, Any], suffix: str, kind: str, reason: str, values: list[float],
                 params: dict[str, str], start: str, end: str) -> dict[str, Any]:
    meta = experiment["metadata"]
    return {
        "apiVersion": "kubeflow.org/v1beta1", "kind": "Trial",
        "metadata": {"name": f"{meta['name']}-{suffix}", "namespace": meta["namespace"], "labels": {LABEL: meta["name"]},
                     "ownerReferences": [{"apiVersion": "kubeflow.org/v1beta1", "kind": "Experiment",
                                          "name": meta["name"], "uid": meta["uid"], "controller": True}]},
        "spec": {"objective": experiment["spec"]["objective"],
                 "parameterAssignments": [{"name": k, "value": v} for k, v in params.items()]},
        "status": {"startTime": start, "completionTime": end,
                   "conditions": [_cond("Created", "TrialCreated", start), _cond(kind, reason, end)],
                   "observation": {"metrics": [
                       {"name": "eval_accuracy", "min": repr(min(values)), "max": repr(max(values)),
                        "latest": repr(values[-1])}]}},
    }


def run_experiment_like_katib(apiserver: Any, namespace: str, name: str, delay: float = 0.3) -> threading.Thread:
    """Start the controller stand-in for Experiment ``namespace/name`` (see module docstring)."""

    def play() -> None:
        deadline = time.monotonic() + 30
        while (namespace, name) not in apiserver.objects_of("experiments"):
            if time.monotonic() > deadline:
                return
            time.sleep(0.05)
        experiment = apiserver.objects_of("experiments")[(namespace, name)]
        time.sleep(delay)
        apiserver.put_status("experiments", namespace, name, {
            "conditions": [_cond("Created", "ExperimentCreated", "2026-11-29T18:02:11Z"),
                           _cond("Running", "ExperimentRunning", "2026-11-29T18:02:12Z")],
            "trials": 2, "trialsRunning": 2})
        time.sleep(delay)
        for index, (suffix, kind, reason, values, params) in enumerate(TRIALS):
            apiserver.put("trials", trial_object(experiment, suffix, kind, reason, values, params,
                                                 f"2026-11-29T18:0{2 + index}:15Z", f"2026-11-29T18:4{index}:15Z"))
        final = json.loads((DATA / "experiment_status_succeeded.json").read_text())
        final.update({"trials": 2, "trialsSucceeded": 1, "trialsEarlyStopped": 1, "trialsFailed": 0,
                      "succeededTrialList": [f"{name}-x7k2p9qd"], "earlyStoppedTrialList": [f"{name}-b4n8m2lz"]})
        final.pop("failedTrialList", None)
        apiserver.put_status("experiments", namespace, name, final)

    thread = threading.Thread(target=play, daemon=True)
    thread.start()
    return thread


@contextlib.contextmanager
def db_manager(logs: dict[str, list[tuple[str, str, str]]]) -> Iterator[str]:
    """Katib's DB manager on 127.0.0.1:<port> (yielded as "host:port"); ``logs`` maps a trial
    name to (timestamp, metric name, value) rows."""
    import grpc
    from kubeflow.katib import katib_api_pb2 as pb
    from kubeflow.katib import katib_api_pb2_grpc as pb_grpc

    class Servicer(pb_grpc.DBManagerServicer):
        def GetObservationLog(self, request: Any, context: Any) -> Any:  # noqa: N802 (gRPC naming)
            rows = logs.get(request.trial_name, [])
            return pb.GetObservationLogReply(observation_log=pb.ObservationLog(metric_logs=[
                pb.MetricLog(time_stamp=ts, metric=pb.Metric(name=n, value=v)) for ts, n, v in rows]))

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    pb_grpc.add_DBManagerServicer_to_server(Servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.stop(None)
