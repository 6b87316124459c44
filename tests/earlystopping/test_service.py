"""The early-stopping service over real gRPC, driven as Katib's Suggestion controller drives it.

A stand-in for Katib's DB manager (the DBManager gRPC service from the same stubs) holds each
finished trial's observation log; the Kubernetes API stand-in holds the Trials. For each new
trial the test asks ``GetEarlyStoppingRules`` with every trial so far (as ``SyncAssignments``
does), applies the rules to the trial's recorded metric stream with an independent port of
Katib's file-metricscollector ``updateStopRules``, reports the (possibly truncated) stream to
the DB, and calls ``SetTrialStatus`` for a stopped trial, as the collector does.
"""

from __future__ import annotations

import math
import random

import grpc
import pytest
from kubeflow.katib import katib_api_pb2 as api
from kubeflow.katib import katib_api_pb2_grpc as api_grpc

from katib_llm.core import early_stopping as rules
from katib_llm.earlystopping.service import KubeTrials, serve
from tests.katib_db import serve_db
from tests.kube_apiserver import KubeApiServer

COND = api.TrialStatus.TrialConditionType
ETA, MIN_RESOURCE, RATE = 3, 2, 1
RUNG = MIN_RESOURCE * ETA ** RATE  # report 6


@pytest.fixture
def cluster():
    with KubeApiServer() as kube:
        from kubernetes import client

        custom = client.CustomObjectsApi(client.ApiClient(kube.configuration()))
        db_run = serve_db()
        db, db_address = next(db_run)
        server, port = serve("127.0.0.1:0", KubeTrials(custom, "kubeflow"), db_manager_address=db_address)
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        try:
            yield kube, db, db_address, api_grpc.EarlyStoppingStub(channel)
        finally:
            channel.close()
            server.stop(None)
            db_run.close()


def _experiment(algorithm: str, settings: dict[str, str], maximize: bool = False) -> api.Experiment:
    return api.Experiment(name="sha", spec=api.ExperimentSpec(
        objective=api.ObjectiveSpec(type=api.MAXIMIZE if maximize else api.MINIMIZE, objective_metric_name="loss"),
        early_stopping=api.EarlyStoppingSpec(algorithm_name=algorithm, algorithm_settings=[
            api.EarlyStoppingSetting(name=k, value=v) for k, v in settings.items()])))


SHA = {"min_resource": str(MIN_RESOURCE), "reduction_factor": str(ETA), "min_early_stopping_rate": str(RATE)}


def katib_collector(stop_rules, objective: str, minimize: bool, reports) -> int | None:
    """Katib's updateStopRules/watchMetricsFile, ported on its own (not via the code under test)."""
    left = list(stop_rules)
    if not left:  # main(): without --stop-rule the collector only prints the file
        return None
    start = {}
    for r in left:
        if r.start_step != 0:
            start[r.name] = r.start_step
    optimal = None
    for i, (name, value) in enumerate(reports, start=1):
        for r in list(left):
            if r.name != name:
                continue
            v = value
            if name == objective:
                if optimal is None or (minimize and v < optimal) or (not minimize and v > optimal):
                    optimal = v
                v = optimal
            if r.name in start:
                start[r.name] -= 1
                if start[r.name] != 0:
                    continue
            rv = float(r.value)
            if (r.comparison == api.EQUAL and v == rv) or (r.comparison == api.LESS and v < rv) or \
                    (r.comparison == api.GREATER and v > rv):
                left.remove(r)
        if not left:
            return i
    return None


def _curve(rng: random.Random, steps: int = 12) -> list[float]:
    level, speed = rng.uniform(0.1, 1.0), rng.uniform(0.2, 1.0)
    return [level + math.exp(-speed * s) + rng.uniform(-0.02, 0.02) for s in range(1, steps + 1)]


def test_validate_settings_as_the_suggestion_controller_does(cluster):
    _, _, _, stub = cluster
    ok = api.ValidateEarlyStoppingSettingsRequest(early_stopping=_experiment("successivehalving", SHA).spec.early_stopping)
    assert isinstance(stub.ValidateEarlyStoppingSettings(ok), api.ValidateEarlyStoppingSettingsReply)
    bad = [({"reduction_factor": "1"}, "reduction_factor"), ({"min_resource": "two"}, "min_resource"),
           ({"min_resource": "0"}, "min_resource"), ({"eta": "3"}, "unknown setting 'eta'")]
    for settings, named in bad:
        req = api.ValidateEarlyStoppingSettingsRequest(
            early_stopping=_experiment("successivehalving", settings).spec.early_stopping)
        with pytest.raises(grpc.RpcError) as err:
            stub.ValidateEarlyStoppingSettings(req)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert named in err.value.details()
    with pytest.raises(grpc.RpcError) as err:
        stub.ValidateEarlyStoppingSettings(api.ValidateEarlyStoppingSettingsRequest(
            early_stopping=api.EarlyStoppingSpec(algorithm_name="asha")))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT and "successivehalving" in err.value.details()


def _trial_object(name: str) -> dict:
    return {"apiVersion": "kubeflow.org/v1beta1", "kind": "Trial",
            "metadata": {"name": name, "namespace": "kubeflow"},
            "spec": {}, "status": {"conditions": [{"type": "Created", "status": "True"},
                                                  {"type": "Running", "status": "True"}]}}


def test_trials_outside_the_top_third_at_the_rung_are_stopped(cluster):
    """Sequential trials: each gets its rule at creation; stopped iff outside the top 1/eta of the
    finished trials that reached the rung (itself included); stopped trials' Trials say EarlyStopped."""
    kube, db, db_address, stub = cluster
    rng = random.Random(7)
    experiment = _experiment("successivehalving", SHA)
    history: list[api.Trial] = []
    at_rung: list[float] = []  # best-so-far at the rung of every finished trial that reached it
    outcomes = []
    for n in range(14):
        name = f"sha-{n:02d}"
        reply = stub.GetEarlyStoppingRules(api.GetEarlyStoppingRulesRequest(
            experiment=experiment, trials=history, db_manager_address=db_address))
        stream = [("loss", v) for v in _curve(rng)]
        kube.put("trials", _trial_object(name))
        stop = katib_collector(reply.early_stopping_rules, "loss", True, stream)
        mine = min(v for _, v in stream[:RUNG])
        if at_rung:
            keep = max(1, (len(at_rung) + 1) // ETA)
            in_top = sorted(at_rung + [mine]).index(mine) < keep
            assert [(r.name, r.comparison, r.start_step) for r in reply.early_stopping_rules] == \
                [("loss", api.GREATER, RUNG)]
            assert (stop is None) == in_top, (n, mine, sorted(at_rung))
            assert stop in (None, RUNG)  # decided at the rung, never later
        else:
            assert list(reply.early_stopping_rules) == []  # nobody reached the rung yet
            assert stop is None
        reported = stream[:stop] if stop else stream
        db.logs[name] = [(k, repr(v)) for k, v in reported]
        if stop:
            stub.SetTrialStatus(api.SetTrialStatusRequest(trial_name=name))
        at_rung.append(mine)
        condition = COND.EARLYSTOPPED if stop else COND.SUCCEEDED
        history.append(api.Trial(name=name, status=api.TrialStatus(condition=condition)))
        outcomes.append(bool(stop))
    assert 4 <= sum(outcomes) <= 12, outcomes  # the rule both stops and keeps trials
    trials = kube.objects_of("trials")
    for n, stopped in enumerate(outcomes):
        conditions = trials[("kubeflow", f"sha-{n:02d}")]["status"]["conditions"]
        assert (conditions[-1]["type"] == "EarlyStopped") == stopped
        if stopped:
            assert conditions[-1]["reason"] == "TrialEarlyStopped"
    assert db.reads == len(outcomes) - 1  # a finished trial's log is read once, then cached


def test_running_and_failed_trials_do_not_set_the_threshold(cluster):
    _, db, db_address, stub = cluster
    db.logs = {"a": [("loss", "0.5")] * 6, "b": [("loss", "0.1")] * 6, "c": [("loss", "0.01")] * 6}
    trials = [api.Trial(name="a", status=api.TrialStatus(condition=COND.SUCCEEDED)),
              api.Trial(name="b", status=api.TrialStatus(condition=COND.RUNNING)),
              api.Trial(name="c", status=api.TrialStatus(condition=COND.FAILED))]
    reply = stub.GetEarlyStoppingRules(api.GetEarlyStoppingRulesRequest(
        experiment=_experiment("successivehalving", SHA), trials=trials, db_manager_address=db_address))
    assert [(r.value, r.start_step) for r in reply.early_stopping_rules] == [("0.5", RUNG)]


def test_medianstop_rules_match_katib_medianstop(cluster):
    """Katib's medianstop: mean over succeeded trials of their first-start_step averages."""
    _, db, db_address, stub = cluster
    db.logs = {"a": [("loss", v) for v in ("0.9", "0.7", "0.5", "0.1")],
               "b": [("loss", v) for v in ("0.6", "0.4", "0.2")], "c": [("loss", "unavailable")]}
    trials = [api.Trial(name=n, status=api.TrialStatus(condition=COND.SUCCEEDED)) for n in "ab"]
    experiment = _experiment("medianstop", {"min_trials_required": "2", "start_step": "2"}, maximize=True)
    reply = stub.GetEarlyStoppingRules(api.GetEarlyStoppingRulesRequest(
        experiment=experiment, trials=trials, db_manager_address=db_address))
    [rule] = reply.early_stopping_rules
    assert (rule.name, rule.comparison, rule.start_step) == ("loss", api.LESS, 2)
    assert float(rule.value) == pytest.approx(((0.9 + 0.7) / 2 + (0.6 + 0.4) / 2) / 2)
    few = stub.GetEarlyStoppingRules(api.GetEarlyStoppingRulesRequest(
        experiment=experiment, trials=trials[:1], db_manager_address=db_address))
    assert list(few.early_stopping_rules) == []


def test_the_db_manager_address_of_a_request_is_never_dialled(cluster):
    """The DB manager is the one the service was configured with (--db-manager-address)."""
    _, db, _, stub = cluster
    db.logs = {"x": [("loss", "0.5")] * 6}
    finished = [api.Trial(name="x", status=api.TrialStatus(condition=COND.SUCCEEDED))]
    reply = stub.GetEarlyStoppingRules(api.GetEarlyStoppingRulesRequest(
        experiment=_experiment("successivehalving", SHA), trials=finished, db_manager_address="attacker.example:1"))
    assert [(r.value, r.start_step) for r in reply.early_stopping_rules] == [("0.5", RUNG)] and db.reads == 1
    with pytest.raises(ValueError, match="host:port"):
        serve("127.0.0.1:0", None, db_manager_address="nohost")


def test_errors_are_grpc_statuses_not_crashes(cluster):
    _, _, db_address, stub = cluster
    finished = [api.Trial(name="x", status=api.TrialStatus(condition=COND.SUCCEEDED))]
    with pytest.raises(grpc.RpcError) as err:
        stub.SetTrialStatus(api.SetTrialStatusRequest(trial_name="missing"))
    assert err.value.code() == grpc.StatusCode.NOT_FOUND
    with pytest.raises(grpc.RpcError) as err:
        stub.GetEarlyStoppingRules(api.GetEarlyStoppingRulesRequest(
            experiment=_experiment("successivehalving", {"reduction_factor": "x"}), trials=finished,
            db_manager_address=db_address))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_core_collector_matches_the_port_of_katibs(cluster):
    """The local runner applies rules with rules.collector_stop_step: same answers as the port."""
    rng = random.Random(3)
    for _ in range(200):
        stream = [("loss", rng.uniform(0, 1)) for _ in range(rng.randint(0, 10))]
        rule = rules.Rule("loss", rng.uniform(0, 1), rng.choice([rules.LESS, rules.GREATER]), rng.randint(0, 5))
        grpc_rule = api.EarlyStoppingRule(name="loss", value=repr(rule.value), start_step=rule.start_step,
                                          comparison=api.LESS if rule.comparison == rules.LESS else api.GREATER)
        assert rules.collector_stop_step([rule], "loss", False, stream) == \
            katib_collector([grpc_rule], "loss", True, stream)


def _wait_until_serving(channel, proc, seconds=120.0):
    """Wait for the CLI's server; a CLI that exited, or never serves, fails with its own output
    (a loaded CI machine may take long to import the gRPC and Kubernetes stack)."""
    import time

    ready, deadline = grpc.channel_ready_future(channel), time.monotonic() + seconds
    while True:
        try:
            ready.result(timeout=1)
            return
        except grpc.FutureTimeoutError:
            if proc.poll() is None and time.monotonic() < deadline:
                continue
            proc.kill()
            raise AssertionError(f"katib-llm earlystopping is not serving (exit {proc.wait()}): "
                                 f"{proc.communicate()[0].decode()[-2000:]}") from None


def test_cli_subcommand_serves_until_sigterm(tmp_path):
    """``katib-llm earlystopping --port N``: what the image runs in Katib's Suggestion pod."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with KubeApiServer() as kube:
        kubeconfig = kube.write_kubeconfig(tmp_path / "kubeconfig")
        cli = str(Path(sys.executable).with_name("katib-llm"))
        proc = subprocess.Popen([cli, "earlystopping", "--port", str(port), "--host", "127.0.0.1",
                                 "--kubeconfig", str(kubeconfig), "--namespace", "kubeflow"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(os.environ))
        try:
            with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
                _wait_until_serving(channel, proc)
                stub = api_grpc.EarlyStoppingStub(channel)
                stub.ValidateEarlyStoppingSettings(api.ValidateEarlyStoppingSettingsRequest(
                    early_stopping=_experiment("successivehalving", SHA).spec.early_stopping))
                kube.put("trials", _trial_object("t1"))
                stub.SetTrialStatus(api.SetTrialStatusRequest(trial_name="t1"))
            assert kube.objects_of("trials")[("kubeflow", "t1")]["status"]["conditions"][-1]["type"] == "EarlyStopped"
        finally:
            proc.send_signal(signal.SIGTERM)
            out = proc.communicate(timeout=30)[0].decode()
        assert proc.returncode == 0, out
        assert "Traceback" not in out, out


def _local_decisions(algorithm: str, settings: dict[str, str], maximize: bool, streams) -> list[int | None]:
    """The local runner's mechanics without processes: rules fixed at ask(), a report per value,
    should_prune() after each (katib_llm.local.algorithms.RulePruner), tell() at the end."""
    import optuna

    from katib_llm.local.algorithms import plan
    from katib_llm.local.space import search_space

    spec = {"objective": {"type": "maximize" if maximize else "minimize", "objectiveMetricName": "loss"},
            "algorithm": {"algorithmName": "random"},
            "earlyStopping": {"algorithmName": algorithm,
                              "algorithmSettings": [{"name": k, "value": v} for k, v in settings.items()]},
            "parameters": [{"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}]}
    pruner = plan(spec, search_space(spec), 0).pruner
    study = optuna.create_study(direction="maximize" if maximize else "minimize", pruner=pruner)
    finished, out = [], []
    for stream in streams:
        trial = study.ask()
        trial.set_user_attr("early_stopping_rules", pruner.trial_rules(finished))
        stop = None
        for step, (_, value) in enumerate(stream, start=1):
            trial.report(value, step)
            if trial.should_prune():
                stop = step
                break
        reported = stream[:stop] if stop else stream
        state = optuna.trial.TrialState.PRUNED if stop else optuna.trial.TrialState.COMPLETE
        study.tell(trial, None if stop else reported[-1][1], state=state)
        finished.append(rules.Finished("EarlyStopped" if stop else "Succeeded", tuple(v for _, v in reported)))
        out.append(stop)
    return out


def _cluster_decisions(stub, db, db_address, algorithm, settings, maximize, streams) -> list[int | None]:
    experiment = _experiment(algorithm, settings, maximize=maximize)
    history, out = [], []
    for n, stream in enumerate(streams):
        name = f"{algorithm}-{int(maximize)}-{n}"
        reply = stub.GetEarlyStoppingRules(api.GetEarlyStoppingRulesRequest(
            experiment=experiment, trials=history, db_manager_address=db_address))
        stop = katib_collector(reply.early_stopping_rules, "loss", not maximize, stream)
        db.logs[name] = [(k, repr(v)) for k, v in (stream[:stop] if stop else stream)]
        condition = COND.EARLYSTOPPED if stop else COND.SUCCEEDED
        history.append(api.Trial(name=name, status=api.TrialStatus(condition=condition)))
        out.append(stop)
    return out


@pytest.mark.parametrize("algorithm, settings", [
    ("successivehalving", SHA),
    ("successivehalving", {"min_resource": "1", "reduction_factor": "2"}),
    ("medianstop", {"min_trials_required": "3", "start_step": "2"}),
])
@pytest.mark.parametrize("maximize", [False, True])
def test_local_runner_and_cluster_stop_the_same_trials(cluster, algorithm, settings, maximize):
    """Same recorded streams, same history: the cluster (service over gRPC + Katib's collector) and
    the local runner's pruner stop exactly the same trials at the same report."""
    _, db, db_address, stub = cluster
    rng = random.Random(11)
    streams = []
    for _ in range(16):
        curve = _curve(rng)
        streams.append([("loss", -v if maximize else v) for v in curve])
    cluster_side = _cluster_decisions(stub, db, db_address, algorithm, settings, maximize, streams)
    local_side = _local_decisions(algorithm, settings, maximize, streams)
    assert cluster_side == local_side
    assert any(cluster_side) and not all(cluster_side)
