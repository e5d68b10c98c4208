# Theory of operation
# -------------------
# UDP sockets for BFD, as keepalived 2.2.7 opens them (bfd_scheduler.c bfd_open_fd_in/_out):
#
#   * one listening socket per encapsulation: single hop on port 3784 (RFC 5881 §4), and, only when a
#     multihop session is configured, port 4784 (RFC 5883 §5; a pykeepalived extension). It is an
#     AF_INET6 socket bound to [::] with IPV6_V6ONLY off, so IPv4 peers arrive as v4-mapped addresses
#     (converted back here); if the host has no IPv6 it falls back to AF_INET 0.0.0.0. IP_RECVTTL and
#     IPV6_RECVHOPLIMIT give each datagram's TTL / hop limit for the GTSM check (RFC 5881 §5, done by
#     the engine); IP_PKTINFO / IPV6_RECVPKTINFO give its destination address (session lookup by
#     source/destination pair, RFC 5880 §6.3);
#   * one sending socket per session, of the neighbour's family, bound to the configured source_ip (or
#     the wildcard address) and to a source port in 49152..65535 (RFC 5881 §4: "MUST be in the range
#     49152 through 65535"), tried from a random start until one is free; the TTL / hop limit is the
#     session's ttl (IP_TTL / IPV6_UNICAST_HOPS; 255 / 64 by default, keepalived's values). keepalived
#     leaves the port to the kernel when no source_ip is given; we always pick it in the RFC range.
#
# Everything is non-blocking. Readiness is driven by loop.add_reader; a wake-up drains the socket and
# hands one `Received` per datagram to the callback. send() never raises: it returns the OSError.
"""BFD UDP sockets (single hop 3784, multihop 4784; IPv4 and IPv6)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import random
import socket
import struct
from collections.abc import Callable

from pykeepalived.bfd.engine import Received
from pykeepalived.bfd.packet import MULTIHOP_PORT, SINGLE_HOP_PORT, SOURCE_PORT_MAX, SOURCE_PORT_MIN
from pykeepalived.bfd.params import BfdParams, IPAddress

# Linux constants (linux/in.h, linux/in6.h) Python's socket module may lack
IP_TTL = 2
IP_PKTINFO = 8
IP_RECVTTL = 12
IPV6_RECVPKTINFO = getattr(socket, "IPV6_RECVPKTINFO", 49)
IPV6_PKTINFO = getattr(socket, "IPV6_PKTINFO", 50)
IPV6_RECVHOPLIMIT = getattr(socket, "IPV6_RECVHOPLIMIT", 51)
IPV6_HOPLIMIT = getattr(socket, "IPV6_HOPLIMIT", 52)
IPV6_UNICAST_HOPS = socket.IPV6_UNICAST_HOPS
RECV_BUFSIZE = 2048
CMSG_BUFSIZE = 256

Callback = Callable[[Received], None]


def _ip(addr: str) -> IPAddress:
    a = ipaddress.ip_address(addr.split("%", 1)[0])
    if isinstance(a, ipaddress.IPv6Address) and a.ipv4_mapped is not None:
        return a.ipv4_mapped
    return a


def parse_ancillary(anc: list[tuple[int, int, bytes]]) -> tuple[int | None, IPAddress | None]:
    """(TTL or hop limit, destination address) from recvmsg ancillary data."""
    ttl: int | None = None
    dst: IPAddress | None = None
    for level, kind, data in anc:
        if (level, kind) in ((socket.IPPROTO_IP, IP_TTL), (socket.IPPROTO_IPV6, IPV6_HOPLIMIT)) and data:
            ttl = struct.unpack("=i", data[:4])[0] if len(data) >= 4 else data[0]
        elif level == socket.IPPROTO_IPV6 and kind == IPV6_PKTINFO and len(data) >= 16:
            dst = _ip(str(ipaddress.IPv6Address(data[:16])))
        elif level == socket.IPPROTO_IP and kind == IP_PKTINFO and len(data) >= 12:
            dst = ipaddress.IPv4Address(data[8:12])  # struct in_pktinfo: ifindex, spec_dst, addr
    return ttl, dst


class BfdListener:
    """The receive socket for one port (3784 single hop, 4784 multihop)."""

    def __init__(self, multihop: bool = False, port: int | None = None) -> None:
        self.multihop = multihop
        self.port = port if port is not None else (MULTIHOP_PORT if multihop else SINGLE_HOP_PORT)
        self.sock = self._open()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._callback: Callback | None = None

    def _open(self) -> socket.socket:
        try:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        except OSError:  # IPv6 disabled on this host (keepalived falls back the same way)
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.setblocking(False)
            sock.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
            sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
            if sock.family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_RECVPKTINFO, 1)
                sock.bind(("::", self.port))
            else:
                sock.bind(("0.0.0.0", self.port))
        except OSError:
            sock.close()
            raise
        return sock

    def start(self, callback: Callback, loop: asyncio.AbstractEventLoop | None = None) -> None:
        self._callback = callback
        self._loop = loop or asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._on_readable)

    def _on_readable(self) -> None:
        while True:
            try:
                data, anc, flags, addr = self.sock.recvmsg(RECV_BUFSIZE, CMSG_BUFSIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return  # e.g. ICMP errors reported on the socket: nothing to hand over
            if flags & socket.MSG_TRUNC:
                continue
            ttl, dst = parse_ancillary(anc)
            if self._callback is not None:
                self._callback(Received(bytes(data), _ip(addr[0]), int(addr[1]), dst, ttl, self.multihop))

    def close(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.remove_reader(self.sock.fileno())
            self._loop = None
        self.sock.close()


class BfdSender:
    """The sending socket of one session."""

    def __init__(self, params: BfdParams, rng: random.Random | None = None) -> None:
        self.params = params
        self.dest = (str(params.neighbor), params.port)
        family = socket.AF_INET if params.neighbor.version == 4 else socket.AF_INET6
        sock = socket.socket(family, socket.SOCK_DGRAM, socket.IPPROTO_UDP)
        try:
            sock.setblocking(False)
            if family == socket.AF_INET:
                sock.setsockopt(socket.IPPROTO_IP, IP_TTL, params.ttl)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_UNICAST_HOPS, params.ttl)
            self.local_port = self._bind(sock, rng or random.Random())
        except OSError:
            sock.close()
            raise
        self.sock = sock

    def _bind(self, sock: socket.socket, rng: random.Random) -> int:
        host = str(self.params.source) if self.params.source is not None else (
            "0.0.0.0" if sock.family == socket.AF_INET else "::")
        span = SOURCE_PORT_MAX - SOURCE_PORT_MIN + 1
        first = rng.randint(0, span - 1)
        for i in range(span):
            port = SOURCE_PORT_MIN + (first + i) % span
            try:
                sock.bind((host, port))
                return port
            except OSError as exc:
                if exc.errno != 98:  # EADDRINUSE: try the next port
                    raise
        raise OSError(98, "no free source port in 49152-65535")

    def same_socket(self, params: BfdParams) -> bool:
        """Can a reloaded session keep this socket?"""
        p = self.params
        return (p.neighbor, p.source, p.multihop, p.ttl) == (params.neighbor, params.source, params.multihop,
                                                              params.ttl)

    def send(self, data: bytes) -> OSError | None:
        try:
            self.sock.sendto(data, self.dest)
        except OSError as exc:
            return exc
        return None

    def close(self) -> None:
        self.sock.close()

