"""``katib-llm webhook``, ``katib-llm certs`` and ``katib-llm reconcile``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from katib_llm.io.extras import require


def register(sub: Any) -> None:
    w = sub.add_parser("webhook", help="serve the admission webhook (gunicorn over TLS)",
                       description="Serve POST /mutate and /validate (AdmissionReview v1), /healthz, /readyz "
                                   "and /metrics over TLS 1.2+. Rotated certificate files are picked up "
                                   "without a restart.")
    w.add_argument("--port", type=int, default=8443)
    w.add_argument("--bind", default="0.0.0.0", help="listen address (default 0.0.0.0)")
    w.add_argument("--tls-cert-file", required=True, metavar="FILE")
    w.add_argument("--tls-private-key-file", required=True, metavar="FILE")
    w.add_argument("--config", metavar="FILE", help="admin config: YAML of the chart's config: values; reloaded on change")
    w.add_argument("--kube-api", action="store_true",
                   help="read provider ConfigMaps and foreign template ConfigMaps through the Kubernetes API")
    w.add_argument("--workers", type=int, help="gunicorn worker processes (default 2)")
    w.add_argument("--threads", type=int, help="threads per worker (default 4)")
    w.add_argument("--noop-endpoint", action="store_true", help=argparse.SUPPRESS)  # benchmark baseline
    w.set_defaults(func=_webhook)

    c = sub.add_parser("certs", help="generate a CA and the webhook's serving certificate",
                       description="Write ca.crt, tls.crt and tls.key (0600) into DIR for the Service NAME in NS "
                                   "(SANs NAME, NAME.NS, NAME.NS.svc, NAME.NS.svc.cluster.local).")
    c.add_argument("--service", required=True, metavar="NAME")
    c.add_argument("--namespace", required=True, metavar="NS")
    c.add_argument("--out", required=True, metavar="DIR")
    c.add_argument("--days", type=int, default=365, help="validity in days (default 365)")
    c.add_argument("--ip", action="append", default=[], help="also an IP SAN (repeatable; for local testing)")
    c.set_defaults(func=_certs)

    r = sub.add_parser("reconcile", help="create each labelled Experiment's volume claim (leader-elected)",
                       description="Watch labelled Katib Experiments and create the PersistentVolumeClaim their "
                                   "trials mount. With several replicas only the holder of the Lease acts.")
    r.add_argument("--config", metavar="FILE", help="admin config (same file as the webhook's)")
    r.add_argument("--lease-namespace", default=None, help="namespace of the Lease (default: the pod's namespace)")
    r.add_argument("--lease-name", default="katib-llm-reconciler")
    r.add_argument("--identity", default=None, help="this replica's name in the Lease (default: hostname)")
    r.add_argument("--health-port", type=int, default=8081, help="plain HTTP /healthz port (0 = off)")
    r.add_argument("--kubeconfig", default=None, help="use this kubeconfig instead of the in-cluster config")
    r.add_argument("--lease-duration", type=int, default=15, help="seconds a Lease stays valid (default 15)")
    r.add_argument("--renew-deadline", type=int, default=10, help="seconds the leader retries renewing (default 10)")
    r.add_argument("--retry-period", type=int, default=2, help="seconds between Lease attempts (default 2, >= 1)")
    r.add_argument("--watch-timeout", type=int, default=60, help="seconds per watch before a full re-list (default 60)")
    r.add_argument("--exclude-namespace", action="append", default=[], metavar="NS",
                   help="never create claims in this namespace (repeatable; as the webhook's namespaceSelector)")
    r.add_argument("--namespace-label", action="append", default=[], metavar="KEY=VALUE",
                   help="only namespaces with this label (repeatable; as the webhook's namespaceSelector)")
    r.set_defaults(func=_reconcile)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _check_inputs(config: str | None, cert: str | None = None, key: str | None = None) -> str | None:
    """A clear message for unusable inputs, checked before any server starts."""
    from katib_llm.core.errors import AdmissionDenied
    from katib_llm.io import admin_config

    try:
        admin_config(config)
    except AdmissionDenied as exc:
        return f"--config {config}: bad admin values: {exc}"
    except (OSError, ValueError) as exc:
        return f"--config {config}: {exc}"
    if cert is not None and key is not None:
        import ssl

        from katib_llm.webhook.tls import server_context

        try:
            server_context(cert, key)
        except (OSError, ssl.SSLError) as exc:
            return (f"--tls-cert-file {cert} / --tls-private-key-file {key}: cannot load a PEM certificate and "
                    f"its matching private key ({exc})")
    return None


def _webhook(args: argparse.Namespace) -> int:
    require("webhook", ("flask", "gunicorn", "cryptography", "prometheus_client"))
    if not 0 < args.port < 65536:
        return _fail(f"--port {args.port}: must be 1..65535")
    problem = _check_inputs(args.config, args.tls_cert_file, args.tls_private_key_file)
    if problem:
        return _fail(problem)
    if args.kube_api:
        from kubernetes import config as kube_config

        try:
            kube_config.load_incluster_config()
        except kube_config.ConfigException:
            try:
                kube_config.load_kube_config()
            except Exception as exc:  # noqa: BLE001 (any kubeconfig problem: one clear message)
                return _fail(f"--kube-api: no in-cluster service account and no usable kubeconfig ({exc})")
    from katib_llm.webhook.server import ServerOptions, run

    return run(ServerOptions(port=args.port, certfile=args.tls_cert_file, keyfile=args.tls_private_key_file,
                             config_file=args.config, bind=args.bind, workers=args.workers, threads=args.threads,
                             kube_api=args.kube_api, noop_endpoint=args.noop_endpoint))


def _certs(args: argparse.Namespace) -> int:
    require("certs", ("cryptography",))
    import ipaddress
    import re
    from pathlib import Path

    from katib_llm.webhook.certs import generate, write_bundle

    dns = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
    for flag, value in (("--service", args.service), ("--namespace", args.namespace)):
        if not dns.match(value) or len(value) > 63:
            return _fail(f"{flag} {value!r}: must be a DNS-1123 label (lower-case letters, digits, '-')")
    if args.days < 1:
        return _fail("--days: must be >= 1")
    for ip in args.ip:
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            return _fail(f"--ip {ip!r}: not an IP address")
    try:
        paths = write_bundle(generate(args.service, args.namespace, args.days, tuple(args.ip)), Path(args.out))
    except OSError as exc:
        return _fail(f"--out {args.out}: {exc}")
    for name, path in paths.items():
        print(f"wrote {path}")
    return 0


def _reconcile(args: argparse.Namespace) -> int:
    problem = _check_inputs(args.config)
    if problem:
        return _fail(problem)
    if not (args.lease_duration > args.renew_deadline > 1.2 * args.retry_period and args.retry_period >= 1):
        return _fail("--lease-duration > --renew-deadline > 1.2 x --retry-period >= 1.2 is required "
                     f"(got {args.lease_duration}, {args.renew_deadline}, {args.retry_period})")
    if args.watch_timeout < 1:
        return _fail("--watch-timeout: must be >= 1")
    labels = [item.partition("=") for item in args.namespace_label]
    if any(not key or not sep for key, sep, _ in labels):
        return _fail("--namespace-label: expected KEY=VALUE")
    from katib_llm.webhook.reconciler import ReconcilerOptions, run

    return run(ReconcilerOptions(config_file=args.config, lease_namespace=args.lease_namespace,
                                 lease_name=args.lease_name, identity=args.identity,
                                 health_port=args.health_port, kubeconfig=args.kubeconfig,
                                 lease_duration=args.lease_duration, renew_deadline=args.renew_deadline,
                                 retry_period=args.retry_period, watch_timeout=args.watch_timeout,
                                 exclude_namespaces=tuple(args.exclude_namespace),
                                 namespace_labels=tuple((k, v) for k, _, v in labels)))
