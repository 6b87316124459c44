"""Run the admission app under gunicorn with the settings in ``gunicorn_conf.py``."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

CONF_FILE = Path(__file__).with_name("gunicorn_conf.py")


@dataclass(frozen=True)
class ServerOptions:
    port: int
    certfile: str
    keyfile: str
    config_file: str | None = None
    bind: str = "0.0.0.0"
    workers: int | None = None
    threads: int | None = None
    kube_api: bool = False
    noop_endpoint: bool = False


class WebhookServer(BaseApplication):
    """gunicorn application: settings from ``gunicorn_conf.py`` plus the CLI's options."""

    def __init__(self, options: ServerOptions):
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        namespace: dict[str, Any] = {"__file__": str(CONF_FILE)}
        exec(compile(CONF_FILE.read_text(), str(CONF_FILE), "exec"), namespace)
        for key, value in namespace.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)
        o = self.options
        self.cfg.set("bind", [f"[{o.bind}]:{o.port}" if ":" in o.bind else f"{o.bind}:{o.port}"])
        self.cfg.set("certfile", o.certfile)
        self.cfg.set("keyfile", o.keyfile)
        if o.workers:
            self.cfg.set("workers", o.workers)
        if o.threads:
            self.cfg.set("threads", o.threads)

    def load(self) -> Any:
        # Runs in each worker after fork: every worker owns its config watcher and API client.
        from .app import create_app
        from .sources import ConfigSource, KubeLookup

        _setup_logging(str(self.cfg.loglevel))
        o = self.options
        lookup = KubeLookup() if o.kube_api else None
        return create_app(ConfigSource(o.config_file), lookup, noop_endpoint=o.noop_endpoint)


def _setup_logging(level: str) -> None:
    """Our loggers write to stderr beside gunicorn's, in each worker."""
    import logging

    logger = logging.getLogger("katib_llm")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level.upper())


def run(options: ServerOptions) -> int:
    """Serve until SIGTERM/SIGINT. Prepares prometheus multiprocess mode first."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="katib-llm-metrics-")
    WebhookServer(options).run()
    return 0
