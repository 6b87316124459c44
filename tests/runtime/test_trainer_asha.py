"""The trainer's ASHA stop path on a real LoRA fine-tune, against katib-llm's early-stopping service.

Emulates a cluster: the service (real gRPC) knows the Experiment from Katib's own
GetEarlyStoppingRules call and three finished trials from Katib's DB manager stand-in; the
Kubernetes API stand-in holds the Trial. Rungs at reports 1, 2, 4 (min_resource 1, eta 2): the
finished trials were poor at reports 1-2 and excellent from report 3 on, so the new trial is
promoted at rungs 0 and 1 and stopped at rung 2 (report 4 of 6), whatever it learns.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import grpc
from kubeflow.katib import katib_api_pb2 as api
from kubeflow.katib import katib_api_pb2_grpc as api_grpc

from katib_llm.core.metrics import METRICS_FILTER, parse_metrics
from katib_llm.earlystopping.service import KubeTrials, serve
from tests.katib_db import serve_db
from tests.kube_apiserver import KubeApiServer

SETTINGS = {"min_resource": "1", "reduction_factor": "2", "min_early_stopping_rate": "0"}
FINISHED = [9.0, 9.0, 1e-4, 1e-4, 1e-4, 1e-4]


def test_a_trial_stopped_at_rung_2_reports_its_metrics_and_ends_early_stopped(tiny_bert, sentiment_dir, tmp_path):
    with KubeApiServer() as kube:
        from kubernetes import client

        custom = client.CustomObjectsApi(client.ApiClient(kube.configuration()))
        kube.put("trials", {"apiVersion": "kubeflow.org/v1beta1", "kind": "Trial",
                            "metadata": {"name": "asha-new", "namespace": "kubeflow"}, "spec": {},
                            "status": {"conditions": [{"type": "Running", "status": "True"}]}})
        db_run = serve_db()
        db, db_address = next(db_run)
        server, port = serve("127.0.0.1:0", KubeTrials(custom, "kubeflow"), db_manager_address=db_address)
        try:
            for name in ("asha-f1", "asha-f2", "asha-f3"):
                db.logs[name] = [("eval_loss", repr(v)) for v in FINISHED]
            experiment = api.Experiment(name="asha", spec=api.ExperimentSpec(
                objective=api.ObjectiveSpec(type=api.MINIMIZE, objective_metric_name="eval_loss"),
                early_stopping=api.EarlyStoppingSpec(algorithm_name="successivehalving", algorithm_settings=[
                    api.EarlyStoppingSetting(name=k, value=v) for k, v in SETTINGS.items()])))
            api_grpc.EarlyStoppingStub(grpc.insecure_channel(f"127.0.0.1:{port}")).GetEarlyStoppingRules(
                api.GetEarlyStoppingRulesRequest(experiment=experiment, trials=[
                    api.Trial(name=n, status=api.TrialStatus(condition=api.TrialStatus.TrialConditionType.SUCCEEDED))
                    for n in ("asha-f1", "asha-f2", "asha-f3")]))
            out = tmp_path / "trial"
            env = {**os.environ, "KATIB_LLM_MODEL_DIR": str(tiny_bert), "KATIB_LLM_DATASET_DIR": str(sentiment_dir),
                   "KATIB_LLM_OUTPUT_DIR": str(out), "KATIB_LLM_NUM_THREADS": "1",
                   "KATIB_LLM_HPARAMS": json.dumps({"learning_rate": "0.001", "lora_config.r": "4"}),
                   "KATIB_LLM_TRAINING_ARGS": json.dumps({"max_steps": 12, "eval_strategy": "steps", "eval_steps": 2,
                                                          "per_device_train_batch_size": 4,
                                                          "logging_strategy": "no"}),
                   "KATIB_LLM_EARLY_STOPPING_ADDRESS": f"127.0.0.1:{port}", "KATIB_LLM_TRIAL_NAME": "asha-new",
                   "KATIB_LLM_OBJECTIVE_METRIC": "eval_loss"}
            done = subprocess.run([sys.executable, "-m", "katib_llm.runtime.trainer"], env=env, capture_output=True,
                                  text=True, timeout=300)
        finally:
            server.stop(None)
            db_run.close()
        assert done.returncode == 0, done.stderr[-3000:]
        observed = parse_metrics(done.stdout.splitlines(), ["eval_loss", "train_step"], [METRICS_FILTER])
        losses = [float(o.value) for o in observed if o.name == "eval_loss"]
        steps = [float(o.value) for o in observed if o.name == "train_step"]
        assert len(losses) == 4 and steps == [2.0, 4.0, 6.0, 8.0], done.stdout  # stopped at report 4 of 6
        assert all(0.0 < v < 5.0 for v in losses)
        metrics = json.loads((out / "metrics.json").read_text())
        assert len(metrics["history"]) == 4 and metrics["final"]["train_step"] == 8.0
        conditions = kube.objects_of("trials")[("kubeflow", "asha-new")]["status"]["conditions"]
        assert conditions[-1]["type"] == "EarlyStopped" and conditions[-1]["reason"] == "TrialEarlyStopped"
