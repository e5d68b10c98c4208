# Theory of operation
# -------------------
# The VRRP child listens on a unix stream socket (mode 0600: root only, like the signals it
# replaces) and speaks JSON lines: each request is one line, `{"cmd": "status"}` (or just the word
# `status`), each reply is one line `{"ok": true, ...}` or `{"ok": false, "error": "..."}`.
#
#   status   keepalived.json content (json_version 2 shape: {"vrrp": [{"data", "stats"}]}) with
#            keepalived's field names, plus "master_saddr" and "sync_group" per instance
#   stats    per-instance counters ({"stats": {iname: {...}}}) and keepalived.stats text;
#            {"cmd": "stats", "clear": true} zeroes them afterwards (the STATS_CLEAR signal)
#   dump     keepalived.data text
#   reload   SIGHUP to the parent process (the RELOAD signal), which reloads every child
#   follow   {"ok": true, "following": true}, then one line per event, live, until the client
#            closes: {"event": "state", "iname", "old", "new", "priority", "reason", "time"} and
#            {"event": "notify", "target", "name", "state", "priority", "time"}
#
# Replies are rendered on the child's event loop from the live engine, so a reader never sees a
# half-written file (the race keepalived's signal + file interface has).
"""The VRRP child's control socket (JSON lines over a unix socket)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import time
from typing import TYPE_CHECKING, Any

from pykeepalived import KEEPALIVED_COMPAT, __version__
from pykeepalived.daemon.log import DETAIL, log
from pykeepalived.vrrp.effects import Notify, State, StateChanged
from pykeepalived.vrrp.instance import STAT_NAMES

if TYPE_CHECKING:
    from pykeepalived.daemon.vrrp_child import VrrpChild

SOCKET_NAME = "pykeepalived.sock"
DEFAULT_SOCKET = "/run/" + SOCKET_NAME
MAX_LINE = 65536
FOLLOW_QUEUE = 1024
STATE_NAMES = {State.INIT: "INIT", State.BACKUP: "BACKUP", State.MASTER: "MASTER", State.FAULT: "FAULT",
               State.STOP: "STOP"}


def socket_path(options: tuple[tuple[str, Any], ...], vrrp_pid_file: str) -> str | None:
    """`pykeepalived_control_socket PATH|off`, else pykeepalived.sock next to the VRRP pid file."""
    path: str | None = os.path.join(os.path.dirname(vrrp_pid_file) or ".", SOCKET_NAME)
    for kw, value in options:
        if kw == "pykeepalived_control_socket":
            path = None if str(value).lower() in ("off", "none", "no", "false") else str(value)
    return path


class ControlServer:
    """Serves the control protocol for one VrrpChild; `publish()` feeds `follow` clients."""

    def __init__(self, child: VrrpChild, path: str) -> None:
        self.child = child
        self.path = path
        self.server: asyncio.Server | None = None
        self.followers: set[asyncio.Queue[dict[str, Any] | None]] = set()

    async def start(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)  # the VRRP pid file lock guarantees no other child owns it
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

    # ------------------------------------------------------------------ events
    def state_changed(self, e: StateChanged) -> None:
        self.publish({"event": "state", "iname": e.instance, "old": STATE_NAMES[e.old],
                      "new": STATE_NAMES[e.new], "priority": e.priority, "reason": e.reason.value,
                      "time": time.time()})

    def notified(self, n: Notify) -> None:
        self.publish({"event": "notify", "target": n.target, "name": n.name, "state": n.event,
                      "priority": n.priority, "time": time.time()})

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
    def status(self) -> dict[str, Any]:
        items = []
        for inst in self.child.engine.instances.values():
            data = self.child.status.instance_data(inst)
            data["master_saddr"] = str(inst.master_saddr) if inst.master_saddr is not None else ""
            data["sync_group"] = inst.sync.name if inst.sync is not None else ""
            items.append({"data": data, "stats": {k: inst.stats[k] for k in STAT_NAMES}})
        return {"ok": True, "pid": os.getpid(), "version": __version__, "keepalived": KEEPALIVED_COMPAT,
                "vrrp": items}

    def handle(self, req: dict[str, Any]) -> dict[str, Any]:
        cmd = req.get("cmd")
        if cmd == "status":
            return self.status()
        if cmd == "stats":
            out = {"ok": True, "text": self.child.status.stats_text(),
                   "stats": {i.name: {k: i.stats[k] for k in STAT_NAMES}
                             for i in self.child.engine.instances.values()}}
            if req.get("clear"):
                for inst in self.child.engine.instances.values():
                    for k in inst.stats:
                        inst.stats[k] = 0
            return out
        if cmd == "dump":
            return {"ok": True, "text": self.child.status.data_text()}
        if cmd == "reload":
            ppid = os.getppid()
            if ppid <= 1:
                return {"ok": False, "error": "no parent process to reload"}
            os.kill(ppid, signal.SIGHUP)
            log.info("Reload requested on the control socket")
            return {"ok": True, "signalled": ppid}
        return {"ok": False, "error": f"unknown command {cmd!r}"}

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
                    reply = self.handle(req)
                except Exception as exc:  # never let a request kill the VRRP child
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
