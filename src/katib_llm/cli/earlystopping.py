"""``katib-llm earlystopping``: the Katib early-stopping service (successivehalving, medianstop)."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

SA_NAMESPACE = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"


def register(sub: Any) -> None:
    p = sub.add_parser("earlystopping", help="serve Katib's EarlyStopping gRPC API (successivehalving)",
                       description="Katib starts this as the early-stopping container of an Experiment's "
                                   "Suggestion pod (katib-config runtime.earlyStoppings); port 6788 is Katib's.")
    p.add_argument("--port", type=int, default=6788, help="gRPC port (Katib dials 6788)")
    p.add_argument("--host", default="0.0.0.0", help="address to listen on")
    p.add_argument("--namespace", default=None,
                   help="namespace of the Trials (default: the pod's own, as Katib's medianstop assumes)")
    p.add_argument("--kubeconfig", default=None, help="kubeconfig outside a cluster (default: in-cluster)")
    p.add_argument("--db-manager-address", default="katib-db-manager.kubeflow:6789",
                   help="host:port of Katib's DB manager (finished trials' observation logs); the only "
                        "source of this address: the one in Katib's requests is not used")
    p.set_defaults(func=_run)


def _namespace(given: str | None) -> str:
    if given:
        return given
    try:
        with open(SA_NAMESPACE) as f:
            return f.read().strip() or "default"
    except OSError:
        return "default"


def _run(args: argparse.Namespace) -> int:
    from kubernetes import client

    from katib_llm.earlystopping.service import KubeTrials, serve
    from katib_llm.io.kube import ClusterUnavailable, load_configuration

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    log = logging.getLogger("katib_llm.earlystopping")
    if not 0 < args.port < 65536:
        log.error("--port must be 1..65535, got %s", args.port)
        return 2
    try:
        api = client.CustomObjectsApi(client.ApiClient(load_configuration(args.kubeconfig)))
        trials = KubeTrials(api, _namespace(args.namespace))
    except ClusterUnavailable as exc:
        log.warning("%s: SetTrialStatus will fail", exc)
        trials = None
    if args.db_manager_address.count(":") != 1:
        log.error("--db-manager-address must be host:port, got %r", args.db_manager_address)
        return 2
    server, port = serve(f"{args.host}:{args.port}", trials, db_manager_address=args.db_manager_address)
    log.info("early-stopping service listening on %s:%d", args.host, port)
    done = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: done.set())
    done.wait()
    server.stop(grace=5).wait()
    return 0
