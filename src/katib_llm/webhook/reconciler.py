"""Volume lifecycle and budgets: create the PersistentVolumeClaim each labelled Experiment's trials
mount, and stop new trials of one whose budget is spent (:mod:`.budget`).

An Experiment applied with ``kubectl`` has nobody to create its claim, so this small controller
does, in the webhook's Deployment. It lists and watches labelled Experiments (the kubernetes
client's ``watch``), builds the claim with the core (:func:`katib_llm.core.admit.volume_claim`:
size, class and access modes from the admin config, an ownerReference to the Experiment unless
it asks to retain the volume) and creates it when missing. With several replicas only the
holder of a ``coordination.k8s.io/v1`` Lease acts (the client's ``leaderelection``).

Dry-run admission requests never reach it: a dry-run Experiment is not persisted, so it is
never listed or watched.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from katib_llm.core.admit import volume_claim
from katib_llm.core.contract import LABEL, LABEL_VALUE

from .budget import BudgetReconciler
from .sources import ConfigSource

log = logging.getLogger("katib_llm.webhook.reconciler")
GROUP, VERSION, PLURAL = "kubeflow.org", "v1beta1", "experiments"
SELECTOR = f"{LABEL}={LABEL_VALUE}"


@dataclass(frozen=True)
class ReconcilerOptions:
    config_file: str | None = None
    lease_namespace: str | None = None
    lease_name: str = "katib-llm-reconciler"
    identity: str | None = None
    health_port: int = 8081
    kubeconfig: str | None = None
    lease_duration: int = 15
    renew_deadline: int = 10
    retry_period: int = 2
    watch_timeout: int = 60
    # The webhook configurations' namespaceSelector, honoured here too: Experiments in these
    # namespaces, or in namespaces without these labels, are never given a claim.
    exclude_namespaces: tuple[str, ...] = ()
    namespace_labels: tuple[tuple[str, str], ...] = ()


class VolumeReconciler:
    """Ensures the claim of every labelled Experiment exists. Talks to the API through the
    kubernetes client's ``CustomObjectsApi`` and ``CoreV1Api``."""

    def __init__(self, custom_api: Any, core_api: Any, config: ConfigSource, watch_timeout: int = 60,
                 exclude_namespaces: tuple[str, ...] = (), namespace_labels: tuple[tuple[str, str], ...] = (),
                 namespace_ttl: float = 30.0, budget: BudgetReconciler | None = None):
        self.custom, self.core, self.config = custom_api, core_api, config
        self.watch_timeout = watch_timeout
        self.exclude_namespaces = set(exclude_namespaces)
        self.namespace_labels = dict(namespace_labels)
        self.namespace_ttl = namespace_ttl
        self._namespaces: dict[str, tuple[float, bool]] = {}  # name -> (checked at, served)
        self.budget = budget  # also stops Experiments whose budget is spent (webhook/budget.py)
        self._done: set[str] = set()  # Experiment uids whose claim we saw or made (since last list)

    def serves(self, namespace: str) -> bool:
        """Whether the webhook's namespaceSelector selects ``namespace`` (cached a short while)."""
        if namespace in self.exclude_namespaces:
            return False
        if not self.namespace_labels:
            return True
        hit = self._namespaces.get(namespace)
        if hit and time.monotonic() - hit[0] < self.namespace_ttl:
            return hit[1]
        labels = self.core.read_namespace(namespace).metadata.labels or {}
        served = all(labels.get(k) == v for k, v in self.namespace_labels.items())
        self._namespaces[namespace] = (time.monotonic(), served)
        return served

    def reconcile_safely(self, experiment: Any) -> str:
        """:meth:`reconcile`, but a bad item is logged and skipped (``failed``), never raised:
        one malformed stored Experiment must not stop the others from getting their claims."""
        try:
            if not isinstance(experiment, dict):
                raise TypeError(f"expected an object, got {type(experiment).__name__}")
            return self.reconcile(experiment)
        except Exception as exc:  # noqa: BLE001 - any bad item: skip it, keep going
            meta = experiment.get("metadata") if isinstance(experiment, dict) else None
            where = f"{meta.get('namespace')}/{meta.get('name')}" if isinstance(meta, dict) else "?"
            log.error("skipping Experiment %s: %s: %s", where, type(exc).__name__, exc)
            return "failed"

    def reconcile(self, experiment: dict[str, Any]) -> str:
        """Create the Experiment's claim if missing: returns created|exists|skipped|failed."""
        from kubernetes.client.rest import ApiException

        meta = experiment.get("metadata") or {}
        if meta.get("deletionTimestamp"):
            return "skipped"
        claim = volume_claim(experiment, self.config.get())
        if claim is None or not self.serves(str(claim["metadata"]["namespace"] or "")):
            return "skipped"
        uid = str(meta.get("uid") or "")
        if uid and uid in self._done:
            return "exists"
        name, namespace = claim["metadata"]["name"], claim["metadata"]["namespace"]
        try:
            self.core.read_namespaced_persistent_volume_claim(name, namespace)
            outcome = "exists"
        except ApiException as exc:
            if exc.status != 404:
                log.error("reading PVC %s/%s failed: %s %s", namespace, name, exc.status, exc.reason)
                return "failed"
            try:
                self.core.create_namespaced_persistent_volume_claim(namespace, claim)
                outcome = "created"
                log.info("created PVC %s/%s for Experiment %s", namespace, name, meta.get("name"))
            except ApiException as exc2:
                if exc2.status != 409:  # 409: another writer was first, which is fine
                    log.error("creating PVC %s/%s failed: %s %s", namespace, name, exc2.status, exc2.reason)
                    return "failed"
                outcome = "exists"
        if uid:
            self._done.add(uid)
        return outcome

    def _each(self, experiment: Any) -> None:
        """One listed or watched item: its claim, then its budget; a bad item is skipped."""
        self.reconcile_safely(experiment)
        if self.budget is not None and isinstance(experiment, dict):
            try:
                self.budget.reconcile(experiment)
            except Exception as exc:  # noqa: BLE001 - one odd Experiment must not stop the controller
                log.error("budget check of %s failed: %s", (experiment.get("metadata") or {}).get("name"), exc)

    def _list(self) -> str:
        listed = self.custom.list_cluster_custom_object(GROUP, VERSION, PLURAL, label_selector=SELECTOR)
        self._done.clear()  # a full resync re-checks every claim (one may have been deleted)
        for item in listed.get("items", []):
            self._each(item)
        return str((listed.get("metadata") or {}).get("resourceVersion") or "")

    def run(self, stop: threading.Event) -> None:
        """List, then watch, until ``stop`` is set; re-lists after every watch window or error."""
        from kubernetes import watch
        from kubernetes.client.rest import ApiException

        backoff = 1.0
        while not stop.is_set():
            try:
                version = self._list()
                w = watch.Watch()
                for event in w.stream(self.custom.list_cluster_custom_object, GROUP, VERSION, PLURAL,
                                      label_selector=SELECTOR, resource_version=version,
                                      timeout_seconds=self.watch_timeout):
                    if stop.is_set():
                        w.stop()
                        break
                    if event.get("type") in ("ADDED", "MODIFIED"):
                        self._each(event.get("object"))
                backoff = 1.0
            except ApiException as exc:
                if exc.status != 410:  # 410 Gone: our resourceVersion is too old; just re-list
                    log.error("watching Experiments failed: %s %s; retrying in %.0fs", exc.status, exc.reason, backoff)
                    stop.wait(backoff)
                    backoff = min(backoff * 2, 30.0)
            except Exception as exc:  # network trouble: keep the controller alive
                log.error("watching Experiments failed: %s; retrying in %.0fs", exc, backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, 30.0)


class _Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server naming)
        ok = self.path.split("?")[0] == "/healthz"
        body = b"ok\n" if ok else b"not found\n"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


def _serve_health(port: int) -> None:
    server = ThreadingHTTPServer(("0.0.0.0", port), _Health)
    threading.Thread(target=server.serve_forever, daemon=True, name="health").start()


def _pod_namespace() -> str:
    try:
        with open("/var/run/secrets/kubernetes.io/serviceaccount/namespace") as f:
            return f.read().strip()
    except OSError:
        return "default"


def run(options: ReconcilerOptions) -> int:
    """Run forever: elect a leader through the Lease; the leader reconciles."""
    from kubernetes import client, config
    from kubernetes.leaderelection import electionconfig, leaderelection
    from kubernetes.leaderelection.resourcelock.leaselock import LeaseLock

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("leaderelection").setLevel(logging.WARNING)  # it logs every renewal at INFO
    if options.kubeconfig:
        config.load_kube_config(config_file=options.kubeconfig)
    else:
        config.load_incluster_config()
    if options.health_port:
        _serve_health(options.health_port)
    source = ConfigSource(options.config_file)
    budget = BudgetReconciler(client.CustomObjectsApi(), client.CoreV1Api(), source)
    reconciler = VolumeReconciler(client.CustomObjectsApi(), client.CoreV1Api(), source, options.watch_timeout,
                                  options.exclude_namespaces, options.namespace_labels, budget=budget)
    identity = options.identity or socket.gethostname()
    lock = LeaseLock(options.lease_name, options.lease_namespace or _pod_namespace(), identity)

    def lead(stop: threading.Event) -> None:
        log.info("%s holds the lease %s/%s: reconciling", identity, lock.namespace, options.lease_name)
        reconciler.run(stop)

    while True:
        stop = threading.Event()
        election = electionconfig.Config(
            lock, lease_duration=options.lease_duration, renew_deadline=options.renew_deadline,
            retry_period=options.retry_period, onstarted_leading=lambda: lead(stop),
            onstopped_leading=stop.set)
        leaderelection.LeaderElection(election).run()  # returns when leadership is lost
        stop.set()
        log.warning("%s lost the lease %s; standing by", identity, options.lease_name)
        time.sleep(options.retry_period)
