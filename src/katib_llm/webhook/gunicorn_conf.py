"""gunicorn settings for ``katib-llm webhook`` (read by :mod:`katib_llm.webhook.server`).

``gthread`` workers keep TLS connections alive between admission requests, as kube-apiserver
expects; ``sync`` workers close after every reply so each request would pay a full handshake
(measured: p99 ~17 ms vs ~5 ms for a no-op at 8 clients, docs/benchmarks.md). Our subclass
(``worker.BufferingThreadWorker``) does the TLS handshake and reads each request in the event loop,
so a thread is only taken by a request that has fully arrived: slow clients cannot hold the
threads. The CLI overrides bind, certfile, keyfile, workers and threads.
"""

import os

worker_class = "katib_llm.webhook.worker.BufferingThreadWorker"
workers = int(os.environ.get("KATIB_LLM_WEBHOOK_WORKERS", "2"))
threads = int(os.environ.get("KATIB_LLM_WEBHOOK_THREADS", "4"))
keepalive = 75           # seconds; longer than the apiserver's idle-connection reuse window
timeout = 30             # a worker silent this long is restarted (webhook timeoutSeconds is <= 30)
graceful_timeout = 20    # on SIGTERM, finish in-flight reviews before exiting
max_requests = 0         # no periodic worker recycling: it would drop kept-alive connections
worker_connections = 1000
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
accesslog = None
errorlog = "-"
loglevel = os.environ.get("KATIB_LLM_WEBHOOK_LOGLEVEL", "info")
proc_name = "katib-llm-webhook"
control_socket_disable = True  # no gunicornc socket: read-only root filesystem, several servers per host


def ssl_context(conf, default_ssl_context_factory):
    """One cached TLS 1.2+ context per worker, rebuilt when the cert/key files change."""
    from katib_llm.webhook.tls import reloading_context

    return reloading_context(conf.certfile, conf.keyfile)


def child_exit(server, worker):
    """Drop a dead worker's metric files (prometheus multiprocess mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
