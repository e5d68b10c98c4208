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
"""JSON lines over a unix socket: the transport of both children's control sockets."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
from collections.abc import Callable
from typing import Any, TypeVar

from pykeepalived.daemon.log import DETAIL, log

MAX_LINE = 65536
FOLLOW_QUEUE = 1024
OFF = ("off", "none", "no", "false")


class JsonLinesServer:
    """The socket, the request loop and the `follow` fan-out; subclasses answer `handle()`."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.server: asyncio.Server | None = None
        self.followers: set[asyncio.Queue[dict[str, Any] | None]] = set()

    async def start(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # the child's pid file lock guarantees no other child owns it
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        old = os.umask(0o177)  # the socket file is created 0600, without yielding to other tasks
        try:
            sock.bind(self.path)
        except OSError:
            sock.close()
            raise
        finally:
            os.umask(old)
        self.server = await asyncio.start_unix_server(self._client, sock=sock, limit=MAX_LINE)
        log.log(DETAIL, "Control socket %s", self.path)

    async def close(self) -> None:
        for q in list(self.followers):
            with contextlib.suppress(asyncio.QueueFull):
                q.put_nowait(None)
        if self.server is not None:
            self.server.close()
            self.server = None
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
        return {"ok": False, "error": f"unknown command {req.get('cmd')!r}"}

    async def respond(self, req: dict[str, Any]) -> dict[str, Any]:
        """Answer one request; override for commands that must wait (e.g. for the data plane)."""
        return self.handle(req)

    @staticmethod
    def reload_parent() -> dict[str, Any]:
        """The `reload` command: SIGHUP to the parent process, which reloads every child."""
        ppid = os.getppid()
        if ppid <= 1:
            return {"ok": False, "error": "no parent process to reload"}
        os.kill(ppid, signal.SIGHUP)
        log.info("Reload requested on the control socket")
        return {"ok": True, "signalled": ppid}

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    line = await reader.readline()
                except (ValueError, asyncio.LimitOverrunError):
                    await self._send(writer, {"ok": False, "error": "request line too long"})
                    return
                if not line:
                    return
                text = line.strip()
                if not text:
                    continue
                try:
                    req = json.loads(text) if text.startswith(b"{") else {"cmd": text.decode().split()[0]}
                except (ValueError, UnicodeDecodeError):
                    await self._send(writer, {"ok": False, "error": "request is not JSON"})
                    continue
                if not isinstance(req, dict):
                    await self._send(writer, {"ok": False, "error": "request must be a JSON object"})
                    continue
                if req.get("cmd") == "follow":
                    await self._follow(reader, writer)
                    return
                try:
                    reply = await self.respond(req)
                except Exception as exc:  # never let a request kill the child
                    log.error("control request %r failed: %r", req.get("cmd"), exc)
                    reply = {"ok": False, "error": f"internal error: {exc!r}"}
                await self._send(writer, reply)
        except (ConnectionError, BrokenPipeError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _follow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        q: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(FOLLOW_QUEUE)
        self.followers.add(q)
        eof = asyncio.ensure_future(reader.read())  # the client closing ends the stream
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
    async def _send(writer: asyncio.StreamWriter, obj: dict[str, Any]) -> None:
        writer.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")
        await writer.drain()


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
