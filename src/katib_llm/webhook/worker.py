"""A gunicorn ``gthread`` worker that gives a thread to a request only once it has fully arrived.

gunicorn's ``gthread`` worker hands every new connection to a thread, which then performs the
TLS handshake and parses the request with blocking reads. A client that sends one byte a second
(or completes no handshake) therefore holds a thread for as long as it likes; a dozen such
connections hold every thread and normal admission reviews queue behind them.

:class:`BufferingThreadWorker` keeps the waiting in the worker's event loop instead, like a
reverse proxy buffering requests:

* the TLS handshake runs non-blocking: while the client has not sent enough, the connection
  goes back to the poller (no thread held);
* the request head and body are read non-blocking into a per-connection buffer; a thread
  parses and serves the request only when the buffer holds all of it;
* every request has a read deadline (``KATIB_LLM_WEBHOOK_READ_DEADLINE``, default 10 s,
  counted from its first byte; the handshake counts towards the first request); a connection
  past its deadline is closed, and so is one whose head exceeds 64 KiB;
* a body declared over the admission limit is still read to its end in the event loop (up to a
  drain cap; only the first limit + 1 bytes are kept), so the app's 413 reaches a client that
  is still uploading; over the drain cap it is handed on at once and answered 413 unread.

A request that has fully arrived costs a thread only for the time the core needs.
"""

from __future__ import annotations

import errno
import os
import re
import socket
import ssl
import struct
import time
from typing import Any

from gunicorn import http, sock
from gunicorn.workers import gthread

from .reviews import MAX_BODY_BYTES

READ_DEADLINE = float(os.environ.get("KATIB_LLM_WEBHOOK_READ_DEADLINE", "10"))
MAX_HEAD_BYTES = 64 * 1024
SEND_TIMEOUT = 10.0  # per blocking call once the request is buffered (writing the reply)
_CONTENT_LENGTH = re.compile(rb"\r\ncontent-length:[ \t]*(\d+)[ \t]*\r\n", re.IGNORECASE)
_CHUNKED = re.compile(rb"\r\ntransfer-encoding:[^\r\n]*chunked", re.IGNORECASE)
_WOULD_BLOCK = (ssl.SSLWantReadError, ssl.SSLWantWriteError, BlockingIOError, InterruptedError)


DRAIN_CAP_BYTES = 16 * MAX_BODY_BYTES  # an upload declared larger is answered 413 unread
MORE, READY, REJECT = "more", "ready", "reject"


def framing(buf: bytes, discarded: int = 0) -> str:
    """Whether ``buf`` (plus ``discarded`` body bytes already dropped) holds a whole HTTP/1.1
    request: ``ready``, ``more`` (wait for the client) or ``reject`` (close the connection).

    Bodies are framed by Content-Length, or chunked (complete at the terminating zero chunk).
    A head over 64 KiB, or a chunked body over the limit, is rejected. A Content-Length over the
    admission limit is read to its end (the surplus discarded, see :func:`trim_oversized`) so
    the app's 413 reaches a client still uploading; over the drain cap it is handed on at once.
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return REJECT if len(buf) > MAX_HEAD_BYTES else MORE
    match = _CONTENT_LENGTH.search(buf[:end + 2])
    if match:
        length = int(match.group(1))
        return READY if length > DRAIN_CAP_BYTES or len(buf) - (end + 4) + discarded >= length else MORE
    if _CHUNKED.search(buf[:end + 2]):
        if buf.endswith(b"0\r\n\r\n"):
            return READY
        return REJECT if len(buf) > MAX_BODY_BYTES + MAX_HEAD_BYTES else MORE
    return READY  # no body


def trim_oversized(buf: bytes) -> tuple[bytes, int]:
    """Keep at most the limit + 1 byte of a body declared over the limit (the app then answers
    413), with Content-Length rewritten to what is kept; returns (kept, bytes dropped)."""
    end = buf.find(b"\r\n\r\n")
    match = _CONTENT_LENGTH.search(buf[:end + 2]) if end >= 0 else None
    if match is None or not MAX_BODY_BYTES < int(match.group(1)) <= DRAIN_CAP_BYTES:
        return buf, 0
    keep = end + 4 + MAX_BODY_BYTES + 1
    if len(buf) <= keep:
        return buf, 0
    return buf[:keep], len(buf) - keep


def finalize_oversized(buf: bytes) -> bytes:
    """The head of a trimmed oversized request, its Content-Length set to the body kept."""
    end = buf.find(b"\r\n\r\n")
    match = _CONTENT_LENGTH.search(buf[:end + 2]) if end >= 0 else None
    if match is None or not MAX_BODY_BYTES < int(match.group(1)) <= DRAIN_CAP_BYTES:
        return buf
    kept = len(buf) - (end + 4)
    return buf[:match.start(1)] + str(kept).encode() + buf[match.end(1):]


def _io_timeouts(connection: Any, seconds: float) -> None:
    """Kernel-level receive/send timeouts: gunicorn sets the socket back to plain blocking mode
    before serving (``setblocking(True)`` clears a Python-level timeout), and these still hold
    then, so a client that stops reading our reply cannot hold the thread either."""
    value = struct.pack("ll", int(seconds), int((seconds % 1) * 1e6))
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)


class BufferingThreadWorker(gthread.ThreadWorker):
    """``gthread`` with non-blocking handshake and request buffering (see the module docstring)."""

    def handle(self, conn: Any) -> Any:
        try:
            state = self._buffer_request(conn)
            if state != READY:
                return gthread._DEFER if state == MORE and time.monotonic() < conn.katib_deadline else False
        except (OSError, ssl.SSLError) as exc:
            if getattr(exc, "errno", None) not in (None, errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                self.log.debug("closing a connection while reading its request: %s", exc)
            return False
        _io_timeouts(conn.sock, SEND_TIMEOUT)
        conn.parser.unreader.unread(finalize_oversized(conn.katib_buffer))
        conn.katib_buffer, conn.katib_discarded = b"", 0
        conn.katib_deadline = None
        return super().handle(conn)

    def _buffer_request(self, conn: Any) -> str:
        """Read what has arrived without blocking: ``ready`` once the request is complete,
        ``more`` to wait for the client, ``reject`` to close (see :func:`framing`)."""
        if getattr(conn, "katib_deadline", None) is None:
            conn.katib_deadline = time.monotonic() + READ_DEADLINE
            conn.katib_buffer, conn.katib_discarded = b"", 0
        conn.sock.setblocking(False)
        if not conn.initialized:
            if self.cfg.is_ssl and not isinstance(conn.sock, ssl.SSLSocket):
                conn.sock = sock.ssl_context(self.cfg).wrap_socket(
                    conn.sock, server_side=True, suppress_ragged_eofs=self.cfg.suppress_ragged_eofs,
                    do_handshake_on_connect=False)
            if isinstance(conn.sock, ssl.SSLSocket):
                try:
                    conn.sock.do_handshake()
                except _WOULD_BLOCK:
                    return MORE
            conn.initialized = True
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        else:
            # Bytes a previous request's read left over (pipelining) belong to this one.
            conn.katib_buffer = conn.parser.unreader.take_buffered() + conn.katib_buffer
        state = framing(conn.katib_buffer, conn.katib_discarded)
        while state == MORE:
            try:
                chunk = conn.sock.recv(65536)
            except _WOULD_BLOCK:
                return MORE
            if not chunk:
                raise ConnectionResetError(errno.ECONNRESET, "client closed the connection")
            conn.katib_buffer, dropped = trim_oversized(conn.katib_buffer + chunk)
            conn.katib_discarded += dropped
            state = framing(conn.katib_buffer, conn.katib_discarded)
        return state

    def finish_request(self, conn: Any, fs: Any) -> None:
        super().finish_request(conn, fs)
        deadline = getattr(conn, "katib_deadline", None)
        if deadline is not None and conn in self.pending_conns:
            conn.timeout = deadline  # a pending request waits until its read deadline, not keepalive

    def murder_pending(self) -> None:
        """Close pending connections past their deadline (their deadlines are not in order)."""
        now = time.monotonic()
        for conn in [c for c in self.pending_conns if c.timeout <= now]:
            self.pending_conns.remove(conn)
            try:
                self.poller.unregister(conn.sock)
            except (OSError, KeyError, ValueError):
                pass
            self.nr_conns -= 1
            conn.close()


__all__ = ["BufferingThreadWorker", "framing", "trim_oversized", "finalize_oversized", "READ_DEADLINE",
           "MAX_HEAD_BYTES", "DRAIN_CAP_BYTES"]
