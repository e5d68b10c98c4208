"""Asyncio probes: one connection (or datagram, or process) per check, never blocking the loop.

# Theory of operation
Each probe is a coroutine `probe(spec, target, timeout_s) -> ProbeResult`. It opens its own
non-blocking socket (bound as `bindto`/`bind_port`/`bind_if` ask, marked with `fwmark`), talks to the
real server and returns whether the check passed, the keepalived failure text when it did not, and for
MISC_CHECK misc_dynamic / FILE_CHECK a weight. Probes never raise for remote behaviour: every OSError or
timeout becomes a failed result. Retry policy lives in check/state.py, not here.
"""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass

from pykeepalived.check.model import CheckSpec, ConnOpts, RealServerSpec, fmt_addr
from pykeepalived.lvs.model import Protocol

SO_MARK = getattr(socket, "SO_MARK", 36)
SO_BINDTODEVICE = getattr(socket, "SO_BINDTODEVICE", 25)


@dataclass(frozen=True, slots=True)
class ProbeResult:
    ok: bool
    reason: str | None = None  # keepalived's log line for the failure
    weight: int | None = None  # dynamic weight (MISC_CHECK misc_dynamic, FILE_CHECK)


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int
    conn: ConnOpts
    proto: Protocol = Protocol.TCP

    @property
    def family(self) -> socket.AddressFamily:
        return socket.AF_INET6 if ":" in self.host else socket.AF_INET

    def sockaddr(self) -> tuple[str, int] | tuple[str, int, int, int]:
        if self.family == socket.AF_INET6:
            scope = socket.if_nametoindex(self.conn.bind_if) if self.conn.bind_if else 0
            return (self.host, self.port, 0, scope)
        return (self.host, self.port)

    def fmt(self) -> str:
        return fmt_addr(self.host, self.proto, self.port)


def target_for(check: CheckSpec, rs: RealServerSpec, proto: Protocol = Protocol.TCP) -> Target:
    c = check.conn
    return Target(c.connect_ip or rs.addr, c.connect_port or rs.port, c, proto)


def make_socket(t: Target, kind: socket.SocketKind, proto: int = 0) -> socket.socket:
    """A non-blocking socket with the checker's connection options applied."""
    s = socket.socket(t.family, kind | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC, proto)
    try:
        c = t.conn
        if c.fwmark:
            s.setsockopt(socket.SOL_SOCKET, SO_MARK, c.fwmark)
        if c.bind_if:
            s.setsockopt(socket.SOL_SOCKET, SO_BINDTODEVICE, c.bind_if.encode())
        if c.bindto or c.bind_port:
            if kind == socket.SOCK_STREAM and c.bind_port:
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((c.bindto or ("::" if t.family == socket.AF_INET6 else "0.0.0.0"), c.bind_port or 0))
    except BaseException:
        s.close()
        raise
    return s


async def tcp_connect(t: Target, timeout: float) -> socket.socket:
    """Connect a TCP socket within `timeout` seconds; raises TimeoutError or OSError."""
    s = make_socket(t, socket.SOCK_STREAM)
    try:
        async with asyncio.timeout(timeout):
            await asyncio.get_running_loop().sock_connect(s, t.sockaddr())
    except BaseException:
        s.close()
        raise
    return s


async def probe_tcp(t: Target, timeout: float) -> ProbeResult:
    """TCP_CHECK: success = the TCP handshake completes within connect_timeout."""
    try:
        s = await tcp_connect(t, timeout)
    except TimeoutError:
        return ProbeResult(False, f"TCP connection to {t.fmt()} timedout.")
    except OSError:
        return ProbeResult(False, f"TCP connection to {t.fmt()} failed.")
    s.close()
    return ProbeResult(True)
