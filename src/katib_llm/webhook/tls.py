"""Server TLS contexts that follow rotated certificate files without a restart.

gunicorn calls its ``ssl_context`` hook for every accepted connection (``sock.ssl_wrap_socket``).
:class:`ReloadingContext` answers with a cached :class:`ssl.SSLContext` and builds a new one
when the certificate or key file content changes (cert-manager and Secret remounts replace
them). Connections already open keep the context they were made with, so in-flight requests
never fail; a half-rotated pair (new certificate, old key) fails to load and the previous
context keeps serving until the pair matches again.
"""

from __future__ import annotations

import hashlib
import logging
import ssl
import threading
from pathlib import Path

log = logging.getLogger("katib_llm.webhook.tls")


def server_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """A TLS 1.2+ server context for one certificate/key pair."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(certfile=certfile, keyfile=keyfile)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class ReloadingContext:
    """The current server context for a cert/key file pair, re-built when their content changes."""

    def __init__(self, certfile: str, keyfile: str):
        self.certfile, self.keyfile = certfile, keyfile
        self._lock = threading.Lock()
        self._digest = ""
        self._context: ssl.SSLContext | None = None
        self.reloads = 0
        self.current()  # fail fast at start when the pair is unusable

    def _read_digest(self) -> str:
        h = hashlib.sha256()
        for path in (self.certfile, self.keyfile):
            h.update(Path(path).read_bytes())
            h.update(b"\0")
        return h.hexdigest()

    def current(self) -> ssl.SSLContext:
        """The context to wrap a new connection with (two small file reads per connection)."""
        try:
            digest = self._read_digest()
        except OSError as exc:  # mid-swap of a Secret volume: keep serving with what we have
            if self._context is None:
                raise
            log.warning("certificate files unreadable (%s); keeping the current certificate", exc)
            return self._context
        if digest == self._digest and self._context is not None:
            return self._context
        with self._lock:
            if digest != self._digest or self._context is None:
                try:
                    self._context = server_context(self.certfile, self.keyfile)
                except (ssl.SSLError, OSError) as exc:
                    if self._context is None:
                        raise
                    log.warning("new certificate/key pair not loadable yet (%s); keeping the current one", exc)
                    return self._context
                if self._digest:
                    self.reloads += 1
                    log.info("reloaded TLS certificate from %s", self.certfile)
                self._digest = digest
        return self._context


_contexts: dict[tuple[str, str], ReloadingContext] = {}
_contexts_lock = threading.Lock()


def reloading_context(certfile: str, keyfile: str) -> ssl.SSLContext:
    """Process-wide :class:`ReloadingContext` per file pair; returns its current context."""
    key = (certfile, keyfile)
    with _contexts_lock:
        holder = _contexts.get(key)
        if holder is None:
            holder = _contexts[key] = ReloadingContext(certfile, keyfile)
    return holder.current()
