# Theory of operation
# -------------------
# Both children serve the same protocol on their own unix stream socket (mode 0600: root only, like
# the signals it replaces): each request is one line, `{"cmd": "status"}` (or just the word
# `status`), each reply is one line `{"ok": true, ...}` or `{"ok": false, "error": "..."}`.
# `{"cmd": "follow"}` turns the connection into an event stream: `{"ok": true, "following": true}`,
# then one JSON line per event until the client closes. A reader too slow to keep up with
# FOLLOW_QUEUE events is dropped, never the daemon slowed.
#
# This module is the transport; the VRRP child's commands are in server.py, the checker child's in
# check_server.py. Requests are answered on the child's event loop from its live state, so a reader
# never sees a half-written file (the race keepalived's signal + file interface has).
#
# Whatever a client does, the child's timers come first (issue 20): connections are accepted by a
# Listener (listener.py: at most MAX_CLIENTS at once, one more gets `too many clients` and is closed,
# no traceback nor busy loop when descriptors run out); a request line is at most MAX_LINE bytes and
# MAX_DEPTH levels of JSON nesting (json.loads would recurse into a 30,000-deep array), both answered
# with an error line; a connection that sends no complete request for IDLE_TIMEOUT is closed (not a
# `follow` one: it waits for events), and one that does not read its reply or its events within
# WRITE_TIMEOUT is cut. Requests are answered one per turn of the event loop whatever the number of
# clients (`_turn`), so a timer that falls due waits for one reply at most.
"""JSON lines over a unix socket: the transport of both children's control sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
from collections.abc import Callable
from typing import Any, TypeVar

from pykeepalived.control.listener import Listener, listen, streams
from pykeepalived.logs import DETAIL, log

MAX_LINE = 65536
MAX_DISCARD = 1 << 20
MAX_DEPTH = 32
MAX_CONTAINERS = 1024
MAX_CLIENTS = 64
IDLE_TIMEOUT = 60.0
WRITE_TIMEOUT = 10.0
FOLLOW_QUEUE = 1024
OFF = ("off", "none", "no", "false")
TOO_MANY = b'{"ok":false,"error":"too many clients"}\n'
_NESTING = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _too_deep(text: bytes) -> bool:
    """More than MAX_DEPTH levels of arrays/objects (brackets in strings do not count), or more than
    MAX_CONTAINERS of them in all: checked before json.loads, which recurses once per level."""
    count = text.count(b"[") + text.count(b"{")
    if count <= MAX_DEPTH:
        return False
    if count > MAX_CONTAINERS:
        return True
    depth = 0
    for m in _NESTING.finditer(text):
        c = m.group()
        if c in (b"[", b"{"):
            depth += 1
            if depth > MAX_DEPTH:
                return True
        elif c in (b"]", b"}"):
            depth -= 1
    return False


def parse_request(text: bytes) -> dict[str, Any] | str:
    """A stripped, non-empty request line as a request object, or the error to answer."""
    if not text.startswith(b"{"):
        try:
            return {"cmd": text.decode().split()[0]}
        except UnicodeDecodeError:
            return "request is not JSON"
    if _too_deep(text):
        return f"request nested too deeply (at most {MAX_DEPTH} levels, {MAX_CONTAINERS} arrays/objects)"
    try:
        req = json.loads(text)
    except (ValueError, RecursionError):
        return "request is not JSON"
    if not isinstance(req, dict):
        return "request must be a JSON object"
    return req


class JsonLinesServer:
    """The socket, the request loop and the `follow` fan-out; subclasses answer `handle()`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.listener: Listener | None = None
        self.followers: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._turn = asyncio.Lock()

    async def start(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # the child's pid file lock guarantees no other child owns it
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)  # the socket file is created 0600, without yielding to other tasks
        try:
            sock.bind(self.path)
            listen(sock)
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old)
        self.listener = Listener(sock, self._client, name=f"Control socket {self.path}",
                                 max_clients=MAX_CLIENTS, reject=TOO_MANY)
        log.log(DETAIL, "Control socket %s", self.path)

    async def close(self) -> None:
        for q in list(self.followers):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def publish(self, event: dict[str, Any]) -> None:
        for q in list(self.followers):
            try:
                q.put_nowait(event)
            except asyncio.QueueFull:  # a stuck reader is dropped, never the daemon slowed
                self.followers.discard(q)
                with contextlib.suppress(asyncio.QueueFull, asyncio.QueueEmpty):
                    q.get_nowait()
                    q.put_nowait(None)

    # ------------------------------------------------------------------ requests
    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        """Answer one request (on the event loop, between two events)."""
        return {"ok": False, "error": f"unknown command {str(req.get('cmd'))[:64]!r}"}

    async def prepare(self, req: dict[str, Any]) -> None:
        """Wait for what `handle` needs (e.g. fresh data-plane counters); before the request's turn."""

    @staticmethod
    def reload_parent() -> dict[str, Any]:
        """The `reload` command: SIGHUP to the parent process, which reloads every child."""
        ppid = os.getppid()
        if ppid <= 1:
            return {"ok": False, "error": "no parent process to reload"}
        os.kill(ppid, signal.SIGHUP)
        log.info("Reload requested on the control socket")
        return {"ok": True, "signalled": ppid}

    async def _client(self, conn: socket.socket) -> None:
        async with streams(conn, MAX_LINE) as (reader, writer):
            await self._session(reader, writer)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                line = await asyncio.wait_for(reader.readline(), IDLE_TIMEOUT)
            except ValueError:  # longer than MAX_LINE
                await self._send(writer, {"ok": False, "error": "request line too long"})
                await self._discard_line(reader)  # so that the client can read the error
                return
            except TimeoutError:  # idle
                return
            if not line:
                return
            text = line.strip()
            if not text:
                continue
            req = parse_request(text)
            if isinstance(req, str):
                await self._send(writer, {"ok": False, "error": req})
                continue
            if req.get("cmd") == "follow":
                await self._follow(reader, writer)
                return
            await self.prepare(req)
            async with self._turn:  # one request per turn of the loop, whatever the number of clients
                try:
                    reply = self.handle(req)
                except Exception as exc:  # never let a request kill the child
                    log.error("control request %r failed: %r", str(req.get("cmd"))[:64], exc)
                    reply = {"ok": False, "error": f"internal error: {exc!r}"}
                data = self._encode(reply)
                await asyncio.sleep(0)
            await self._write(writer, data)

    async def _follow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(FOLLOW_QUEUE)
        self.followers.add(q)
        eof = asyncio.ensure_future(self._discard_input(reader))  # the client closing ends the stream
        try:
            await self._send(writer, {"ok": True, "following": True})
            while True:
                get = asyncio.ensure_future(q.get())
                done, _ = await asyncio.wait({get, eof}, return_when=asyncio.FIRST_COMPLETED)
                if get not in done:
                    get.cancel()
                    return
                event = get.result()
                if event is None:
                    return
                await self._send(writer, event)
        finally:
            self.followers.discard(q)
            eof.cancel()

    @staticmethod
    async def _discard_line(reader: asyncio.StreamReader) -> None:
        """Read and drop the rest of an overlong line (at most MAX_DISCARD bytes, IDLE_TIMEOUT)."""
        left = MAX_DISCARD
        while left > 0:
            chunk = await asyncio.wait_for(reader.read(65536), IDLE_TIMEOUT)
            if not chunk or b"\n" in chunk:
                return
            left -= len(chunk)

    @staticmethod
    async def _discard_input(reader: asyncio.StreamReader) -> None:
        with contextlib.suppress(ConnectionError):
            while await reader.read(4096):
                pass

    @staticmethod
    def _encode(obj: dict[str, Any]) -> bytes:
        return json.dumps(obj, separators=(",", ":")).encode() + b"\n"

    @staticmethod
    async def _write(writer: asyncio.StreamWriter, data: bytes) -> None:
        """Send, and wait at most WRITE_TIMEOUT for the client to take it (TimeoutError cuts it)."""
        writer.write(data)
        await asyncio.wait_for(writer.drain(), WRITE_TIMEOUT)

    async def _send(self, writer: asyncio.StreamWriter, obj: dict[str, Any]) -> None:
        await self._write(writer, self._encode(obj))


S = TypeVar("S", bound=JsonLinesServer)


async def move_control(current: S | None, path: str | None, make: Callable[[str], S]) -> S | None:
    """Open the control socket at `path` (None: none), closing `current` if it is elsewhere; at
    start-up and after each reload. A failure to bind is logged, never fatal (VRRP matters more)."""
    if current is not None and current.path == path:
        return current
    if current is not None:
        await current.close()
    if path is None:
        return None
    server = make(path)
    try:
        await server.start()
    except OSError as exc:
        log.error("Cannot open control socket %s: %s", path, exc.strerror or exc)
        return None
    return server
