# Theory of operation
# -------------------
# The metrics endpoint and both control sockets run on their child's event loop, beside the VRRP
# timer (or the checkers). asyncio.start_server would accept every connection the kernel has queued
# each time the socket is readable and start a task for each, however many there are, and when
# accept() fails for want of descriptors (EMFILE, ENFILE) it logs a traceback and retries a second
# later, for as long as the clients keep them. So every listener accepts through a `Listener`:
#
# - at most ACCEPT_BATCH connections per wake-up of the loop; the rest wait in the kernel's queue
#   while the timers that fell due run;
# - at most `max_clients` connections served at once; one more is sent `reject` (a 503, an error
#   line) without waiting and closed at once: a flood costs an accept and a close per connection,
#   never a buffer, a task or a descriptor held;
# - accept() failing for want of resources (EMFILE, ENFILE, ENOBUFS, ENOMEM) stops accepting for
#   PAUSE_S, so there is no busy loop; one warning per episode, no traceback, and one line when
#   the episode is over, i.e. the kernel's queue has been emptied (with the count of pauses);
# - a handler that raises is logged in one line; the connection is closed whatever happens.
# Handlers get the connected socket (non-blocking): the metrics endpoint reads and writes it with
# the loop's sock_* calls, the control sockets wrap it in streams (`streams`). asyncio's socket
# transports are left in a reference cycle when closed (CPython 3.11), freed only by the cyclic
# garbage collector: a scrape flood served through streams left thousands of objects per second for
# collections that run on the loop, between two timers. Their own timeouts and size limits (idle
# clients, slow readers, request size) are the servers' business (metrics.py, jsonlines.py).
"""Accepting connections for the metrics endpoint and the control sockets, bounded."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import socket
from collections.abc import AsyncIterator, Awaitable, Callable

from pykeepalived.logs import log

Handler = Callable[[socket.socket], Awaitable[None]]

ACCEPT_BATCH = 16
PAUSE_S = 0.5
BACKLOG = 128
RESOURCE_ERRNOS = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)
DROPPED_ERRNOS = (errno.ECONNABORTED, errno.EPROTO, errno.EPERM, errno.EAGAIN)


class Listener:
    """Serves `handler` on a bound, listening socket, with the limits above. `close()` stops
    accepting (connections being served finish on their own timeouts)."""

    def __init__(self, sock: socket.socket, handler: Handler, *, name: str, max_clients: int,
                 reject: bytes = b"") -> None:
        self.sock = sock
        self.handler = handler
        self.name = name
        self.max_clients = max_clients
        self.reject = reject
        self.clients: set[asyncio.Task[None]] = set()
        self.rejected = 0  # connections closed at once: over the cap
        self.pauses = 0  # accept() failures for want of resources, in the current episode
        self._loop = asyncio.get_running_loop()
        self._resume: asyncio.TimerHandle | None = None
        sock.setblocking(False)
        self._loop.add_reader(sock.fileno(), self._accept)

    def _accept(self) -> None:
        for _ in range(ACCEPT_BATCH):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                if self.pauses:  # the queue drained: the episode is over
                    log.info("%s: accepting connections again (%d pauses for want of resources)",
                             self.name, self.pauses)
                    self.pauses = 0
                return
            except OSError as exc:
                if exc.errno in DROPPED_ERRNOS:  # the client gave up before we took it
                    continue
                self._pause(exc)
                return
            if len(self.clients) >= self.max_clients:
                self.rejected += 1
                with contextlib.suppress(OSError):
                    conn.send(self.reject, socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL)
                conn.close()
                continue
            task = self._loop.create_task(self._serve(conn))
            self.clients.add(task)
            task.add_done_callback(self.clients.discard)

    def _pause(self, exc: OSError) -> None:
        """Stop accepting for PAUSE_S (the clients wait in the kernel's queue meanwhile)."""
        if self.pauses == 0:
            level = log.warning if exc.errno in RESOURCE_ERRNOS else log.error
            level("%s: cannot accept connections: %s; pausing %g s (%d clients being served)",
                  self.name, exc.strerror or exc, PAUSE_S, len(self.clients))
        self.pauses += 1
        self._loop.remove_reader(self.sock.fileno())
        self._resume = self._loop.call_later(PAUSE_S, self._unpause)

    def _unpause(self) -> None:
        self._resume = None
        if self.sock.fileno() >= 0:
            self._loop.add_reader(self.sock.fileno(), self._accept)

    async def _serve(self, conn: socket.socket) -> None:
        try:
            conn.setblocking(False)
            await self.handler(conn)
        except (ConnectionError, TimeoutError):
            pass
        except Exception as exc:  # a client must never disturb the child
            log.error("%s: request failed: %r", self.name, exc)
        finally:
            conn.close()

    def close(self) -> None:
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None
        if self.sock.fileno() >= 0:
            self._loop.remove_reader(self.sock.fileno())
            self.sock.close()


@contextlib.asynccontextmanager
async def streams(conn: socket.socket, limit: int) -> AsyncIterator[tuple[asyncio.StreamReader,
                                                                           asyncio.StreamWriter]]:
    """asyncio streams over an accepted connection; at the end the transport is closed, or dropped
    at once if the client has not taken all that was written (a reader too slow for its reply)."""
    if conn.family == socket.AF_UNIX:
        reader, writer = await asyncio.open_unix_connection(sock=conn, limit=limit)
    else:
        reader, writer = await asyncio.open_connection(sock=conn, limit=limit)
    try:
        yield reader, writer
    finally:
        if writer.transport.get_write_buffer_size():
            writer.transport.abort()
        else:
            writer.close()


def listen(sock: socket.socket) -> socket.socket:
    sock.listen(BACKLOG)
    return sock
