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
  counted from its first byte; the handshake counts towards the first request) and a size
  cap; a connection past its deadline is closed; a head over 64 KiB or a body over the admission
  limit is handed to the app as is, which answers 413 (reads then have a per-call timeout).

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


def request_complete(buf: bytes) -> bool:
    """Whether ``buf`` holds a whole HTTP/1.1 request (head and body), or more than we buffer.

    Bodies are framed by Content-Length, or chunked (complete at the terminating zero chunk).
    An oversized head or a body over the admission limit counts as complete: the app then
    answers 413 without the whole upload having to arrive first.
    """
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        return len(buf) > MAX_HEAD_BYTES
    head = buf[:end + 2]
    match = _CONTENT_LENGTH.search(head)
    if match:
        length = int(match.group(1))
        return length > MAX_BODY_BYTES or len(buf) - (end + 4) >= length
    if _CHUNKED.search(head):
        return buf.endswith(b"0\r\n\r\n") or len(buf) > MAX_BODY_BYTES + MAX_HEAD_BYTES
    return True  # no body


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
            if not self._buffer_request(conn):
                return gthread._DEFER if time.monotonic() < conn.katib_deadline else False
        except (OSError, ssl.SSLError) as exc:
            if getattr(exc, "errno", None) not in (None, errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                self.log.debug("closing a connection while reading its request: %s", exc)
            return False
        _io_timeouts(conn.sock, SEND_TIMEOUT)
        conn.parser.unreader.unread(conn.katib_buffer)
        conn.katib_buffer = b""
        conn.katib_deadline = None
        return super().handle(conn)

    def _buffer_request(self, conn: Any) -> bool:
        """Read what has arrived without blocking; True once the request is complete."""
        if getattr(conn, "katib_deadline", None) is None:
            conn.katib_deadline = time.monotonic() + READ_DEADLINE
            conn.katib_buffer = b""
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
                    return False
            conn.initialized = True
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        else:
            # Bytes a previous request's read left over (pipelining) belong to this one.
            conn.katib_buffer = conn.parser.unreader.take_buffered() + conn.katib_buffer
        while not request_complete(conn.katib_buffer):
            try:
                chunk = conn.sock.recv(65536)
            except _WOULD_BLOCK:
                return False
            if not chunk:
                raise ConnectionResetError(errno.ECONNRESET, "client closed the connection")
            conn.katib_buffer += chunk
        return True

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


__all__ = ["BufferingThreadWorker", "request_complete", "READ_DEADLINE", "MAX_HEAD_BYTES"]
