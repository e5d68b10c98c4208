# Theory of operation
# -------------------
# The asyncio side of the AgentX subagent (the protocol is snmp/, pure): one stream connection to
# snmpd's master agent (`unix:/var/agentx/master` by default; `unix:PATH`, `/PATH`, `tcp:HOST:PORT`,
# `HOST:PORT` or `PORT` as net-snmp reads agentXSocket), Open, the registrations, then a read loop
# answering each request at once from the live MIB getters. Writes go to the transport's buffer
# (never awaited on the VRRP path); a request is answered in one pass over the getters, so a walk
# costs a few microseconds per object between VRRP timer callbacks, never a blocking call.
#
# When snmpd is not there or goes away (restart), the subagent reconnects every RETRY_S (15) seconds
# and registers again, as keepalived's net-snmp does (measured beside keepalived 2.2.7: "AgentX
# master disconnected us, reconnecting in 15", then connected 15 s later; at start without snmpd,
# "Warning: Failed to connect to the agentx master agent (SOCKET): " and a retry 15 s later).
# Traps raised while not connected are dropped, as net-snmp drops them.
"""AgentX subagent transport: connect to snmpd, register, answer, notify, reconnect."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence

from pykeepalived.logs import log
from pykeepalived.snmp.agentx import (
    HEADER_LEN,
    OID,
    CloseReason,
    ParseError,
    Pdu,
    VarBind,
    decode,
    encode,
    pdu_length,
)
from pykeepalived.snmp.session import Registration, Session

DEFAULT_SOCKET = "unix:/var/agentx/master"
RETRY_S = 15
NETSNMP_VERSION = "5.9.3"  # net-snmp's version string in keepalived's "AgentX subagent connected"


def parse_target(spec: str | None) -> tuple[str, str, int]:
    """('unix', path, 0) or ('tcp', host, port) from a net-snmp agentXSocket string."""
    s = spec or DEFAULT_SOCKET
    if s.startswith("unix:"):
        return "unix", s[5:], 0
    if s.startswith("/"):
        return "unix", s, 0
    for dom in ("tcp:", "tcp6:", "udp:", "udp6:"):
        if s.startswith(dom):
            s = s[len(dom):]
            break
    if s.startswith("[") and "]" in s:
        host, _, port = s[1:].partition("]")
        return "tcp", host, int(port.lstrip(":") or 705)
    if s.isdigit():
        return "tcp", "localhost", int(s)
    host, _, port = s.rpartition(":")
    if not host:
        return "tcp", port or "localhost", 705
    return "tcp", host, int(port or 705)


class AgentXClient:
    def __init__(self, target: str | None, descr: str, registrations: Sequence[Registration]) -> None:
        self.target = target
        self.session = Session(descr, registrations)
        self.t0 = time.monotonic()
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.connected = asyncio.Event()

    def uptime(self) -> int:
        return int((time.monotonic() - self.t0) * 100)

    def start(self) -> None:
        log.info("Starting SNMP subagent")
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        kind, host, port = parse_target(self.target)
        if kind == "unix":
            return await asyncio.open_unix_connection(host)
        return await asyncio.open_connection(host, port)

    async def _run(self) -> None:
        warned = False
        while not self._closing:
            try:
                reader, writer = await self._connect()
            except (OSError, ValueError) as e:
                if not warned:  # net-snmp's line ends with an empty error string
                    log.warning("Warning: Failed to connect to the agentx master agent (%s): ",
                                self.target or DEFAULT_SOCKET)
                    log.debug("AgentX connect: %s", e)
                    warned = True
                await asyncio.sleep(RETRY_S)
                continue
            self._writer = writer
            try:
                writer.write(encode(self.session.open_pdu()))
                await self._serve(reader)
            except (OSError, asyncio.IncompleteReadError, ParseError) as e:
                if not self._closing:
                    log.warning("AgentX master disconnected us, reconnecting in %d", RETRY_S)
                    log.debug("AgentX connection: %r", e)
            finally:
                self.connected.clear()
                self.session.open = False
                self._writer = None
                writer.close()
                with contextlib.suppress(Exception):
                    await writer.wait_closed()
            warned = False
            if not self._closing:
                await asyncio.sleep(RETRY_S)

    async def _serve(self, reader: asyncio.StreamReader) -> None:
        while True:
            head = await reader.readexactly(HEADER_LEN)
            n = pdu_length(head)
            if n > 1 << 20:
                raise ParseError(f"PDU of {n} bytes")
            body = await reader.readexactly(n - HEADER_LEN)
            pdu = decode(head + body)
            was_open = self.session.open
            out, problem = self.session.handle(pdu, self.uptime())
            if problem:
                log.warning("AgentX: %s", problem)
            if self.session.open and not was_open:
                log.info("NET-SNMP version %s AgentX subagent connected", NETSNMP_VERSION)
                self.connected.set()
            if not self.session.open and was_open:
                raise ParseError("closed by the master agent")
            self._send(out)

    def _send(self, pdus: Sequence[Pdu]) -> None:
        w = self._writer
        if w is None or not pdus:
            return
        w.write(b"".join(encode(p) for p in pdus))

    def notify(self, trap: OID, varbinds: Sequence[VarBind]) -> bool:
        """Send a notification now (False when not connected: the trap is dropped)."""
        if not self.session.open:
            return False
        self._send([self.session.notify_pdu(self.uptime(), trap, varbinds)])
        return True

    async def close(self) -> None:
        self._closing = True
        if self.session.open:
            self._send([self.session.close_pdu(CloseReason.SHUTDOWN)])
        w = self._writer
        if w is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(w.drain(), 1)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
