"""The early-stopping service's ASHA decision API over real gRPC, with Katib's DB manager stand-in.

The trainer's own client (katib_llm.runtime.decisions) asks; Katib's Suggestion controller's
calls (GetEarlyStoppingRules with every trial so far) configure the service and, after a
restart, make it read finished trials back from the DB manager (GetObservationLog).
"""

from __future__ import annotations

import json
import time

import grpc
import pytest
from kubeflow.katib import katib_api_pb2 as api
from kubeflow.katib import katib_api_pb2_grpc as api_grpc

from katib_llm.core import asha
from katib_llm.earlystopping.service import KubeTrials, serve
from katib_llm.runtime.decisions import DecisionClient
from tests.katib_db import serve_db
from tests.kube_apiserver import KubeApiServer

COND = api.TrialStatus.TrialConditionType
SHA = {"min_resource": "1", "reduction_factor": "2", "min_early_stopping_rate": "0"}  # rungs 1, 2, 4, 8


def _experiment(settings: dict[str, str] = SHA) -> api.Experiment:
    return api.Experiment(name="asha", spec=api.ExperimentSpec(
        objective=api.ObjectiveSpec(type=api.MINIMIZE, objective_metric_name="eval_loss"),
        early_stopping=api.EarlyStoppingSpec(algorithm_name="successivehalving", algorithm_settings=[
            api.EarlyStoppingSetting(name=k, value=v) for k, v in settings.items()])))


def _rules(stub, trials=()) -> list:
    return list(stub.GetEarlyStoppingRules(api.GetEarlyStoppingRulesRequest(
        experiment=_experiment(), trials=list(trials), db_manager_address="ignored:1")).early_stopping_rules)


@pytest.fixture
def cluster():
    with KubeApiServer() as kube:
        from kubernetes import client

        custom = client.CustomObjectsApi(client.ApiClient(kube.configuration()))
        db_run = serve_db()
        db, db_address = next(db_run)
        servers = []

        def start():
            server, port = serve("127.0.0.1:0", KubeTrials(custom, "kubeflow"), db_manager_address=db_address)
            servers.append(server)
            return f"127.0.0.1:{port}"

        try:
            yield kube, db, start
        finally:
            for server in servers:
                server.stop(None)
            db_run.close()


def _trial(kube, name: str) -> None:
    kube.put("trials", {"apiVersion": "kubeflow.org/v1beta1", "kind": "Trial",
                        "metadata": {"name": name, "namespace": "kubeflow"}, "spec": {},
                        "status": {"conditions": [{"type": "Running", "status": "True"}]}})


def _ask(address: str, trial: str, curve: list[float]) -> list[bool]:
    """A trial reporting ``curve`` one evaluation at a time, as the trainer does; the stop flags."""
    client = DecisionClient(address, trial, "eval_loss")
    try:
        return [client.observe({"eval_loss": v}) for v in curve]
    finally:
        client.close()


def test_decisions_at_every_rung_and_no_katib_rules_once_trials_ask(cluster):
    kube, _, start = cluster
    address = start()
    stub = api_grpc.EarlyStoppingStub(grpc.insecure_channel(address))
    assert _rules(stub) == []                                  # configures the service (Katib does this first)
    assert _ask(address, "t-a", [1.0, 0.8, 0.6, 0.5]) == [False] * 4
    assert _ask(address, "t-b", [2.0]) == [True]               # rung 0: 2 reached, keep 1
    assert _ask(address, "t-c", [0.9, 0.85]) == [False, True]  # promoted at rung 0, stopped at rung 1 (a: 0.8)
    flags = _ask(address, "t-d", [0.7, 0.7, 0.7, 0.55])        # rungs 0, 1 promoted; rung 2: a 0.5 better, n=2 keep 1
    assert flags == [False, False, False, True]
    _trial(kube, "t-d")
    client = DecisionClient(address, "t-d")
    assert client.mark_early_stopped()                          # SetTrialStatus, as Katib's collector calls it
    client.close()
    assert kube.objects_of("trials")[("kubeflow", "t-d")]["status"]["conditions"][-1]["type"] == "EarlyStopped"
    finished = [api.Trial(name="t-a", status=api.TrialStatus(condition=COND.SUCCEEDED))]
    assert _rules(stub, finished) == []                         # the trainer's trials: no second, one-rung rule


def test_a_restarted_service_rebuilds_finished_trials_from_the_db_manager(cluster):
    kube, db, start = cluster
    curves = {"t-a": [1.0, 0.8, 0.6, 0.5], "t-b": [0.9, 0.7, 0.65, 0.4], "t-c": [1.5, 1.4, 1.3, 1.2]}
    first = start()
    _rules(api_grpc.EarlyStoppingStub(grpc.insecure_channel(first)))
    for name, curve in curves.items():
        flags = _ask(first, name, curve)
        reported = curve[:flags.index(True) + 1] if True in flags else curve  # a stopped trial ends there
        db.logs[name] = [("eval_loss", repr(v)) for v in reported]  # the collector reports when it ends
    newcomer = [0.95, 0.75, 0.62, 0.45]
    expected = _ask(first, "t-new", newcomer)
    assert True in expected and any(True in _ask(first, n, c) for n, c in curves.items())
    second = start()                                            # a restart: nothing in memory
    assert _ask(second, "t-x", [5.0]) == [False]                # settings unknown yet: "continue"
    finished = [api.Trial(name=n, status=api.TrialStatus(condition=COND.SUCCEEDED)) for n in curves]
    reads = db.reads
    _rules(api_grpc.EarlyStoppingStub(grpc.insecure_channel(second)), finished)
    assert db.reads == reads + len(curves)                      # one GetObservationLog per finished trial
    assert _ask(second, "t-new", newcomer) == expected


@pytest.mark.parametrize("body, code", [
    (b"not json", grpc.StatusCode.INVALID_ARGUMENT),
    (json.dumps({"trial": "Bad Name", "values": [1.0]}).encode(), grpc.StatusCode.INVALID_ARGUMENT),
    (json.dumps({"trial": "t", "values": []}).encode(), grpc.StatusCode.INVALID_ARGUMENT),
    (json.dumps({"trial": "t", "values": ["1"]}).encode(), grpc.StatusCode.INVALID_ARGUMENT),
    (json.dumps({"trial": "t", "values": [1.0] * (asha.MAX_REPORT + 1)}).encode(), grpc.StatusCode.INVALID_ARGUMENT),
    (b"[" * 100_000, grpc.StatusCode.INVALID_ARGUMENT),
])
def test_hostile_requests_are_refused_with_a_status(cluster, body, code):
    _, _, start = cluster
    channel = grpc.insecure_channel(start())
    with pytest.raises(grpc.RpcError) as err:
        channel.unary_unary(asha.PATH)(body, timeout=10)
    assert err.value.code() == code


def test_a_full_rung_is_refused_and_the_trainer_continues(cluster):
    _, db, _ = cluster
    db_run = serve_db()
    _, db_address = next(db_run)
    server, port = serve("127.0.0.1:0", None, db_manager_address=db_address, decisions=asha.Decider(max_trials=2))
    try:
        address = f"127.0.0.1:{port}"
        _rules(api_grpc.EarlyStoppingStub(grpc.insecure_channel(address)))
        _ask(address, "t-a", [1.0])
        _ask(address, "t-b", [0.5])
        with pytest.raises(grpc.RpcError) as err:
            grpc.insecure_channel(address).unary_unary(asha.PATH)(asha.encode_request("t-c", [9.0]), timeout=10)
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert _ask(address, "t-c", [9.0]) == [False]          # refused -> the trainer continues
    finally:
        server.stop(None)
        db_run.close()


def test_overflowing_settings_are_refused_by_validate():
    server, port = serve("127.0.0.1:0", None, db_manager_address="127.0.0.1:1")
    try:
        stub = api_grpc.EarlyStoppingStub(grpc.insecure_channel(f"127.0.0.1:{port}"))
        spec = _experiment({"min_resource": "7", "reduction_factor": "1000", "min_early_stopping_rate": "999999999"})
        started = time.monotonic()
        with pytest.raises(grpc.RpcError) as err:
            stub.ValidateEarlyStoppingSettings(api.ValidateEarlyStoppingSettingsRequest(
                early_stopping=spec.spec.early_stopping), timeout=10)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "reduction_factor" in err.value.details()
        assert time.monotonic() - started < 5                   # refused, not computed
    finally:
        server.stop(None)


def test_a_down_or_slow_service_answers_continue_within_the_timeout():
    """No server at all, and a server that never answers: "continue", in bounded time."""
    from concurrent import futures

    def never(raw, context):
        time.sleep(5)
        return b"{}"

    slow = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    slow.add_generic_rpc_handlers((grpc.method_handlers_generic_handler(
        asha.SERVICE, {asha.METHOD: grpc.unary_unary_rpc_method_handler(never)}),))
    port = slow.add_insecure_port("127.0.0.1:0")
    slow.start()
    try:
        for address in ("127.0.0.1:1", f"127.0.0.1:{port}"):
            client = DecisionClient(address, "t-a", timeout=0.3)
            started = time.monotonic()
            assert client.observe({"eval_loss": 1.0}) is False
            assert time.monotonic() - started < 2.0
            client.close()
    finally:
        slow.stop(None)
