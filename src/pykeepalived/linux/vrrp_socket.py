# Theory of operation
# -------------------
# Raw IP protocol 112 (or 51 for IPSEC-AH) sockets for VRRP adverts, one `VrrpSocket` per
# (interface, family, multicast group | unicast source) as keepalived does (keepalived.md §5.1); the
# daemon demultiplexes received adverts by VRID.
#
# Each VrrpSocket owns two non-blocking sockets:
#   * send: IPv4 with IP_HDRINCL (the caller gives the whole datagram, header built by the codec with
#     TTL 255 / TOS 0xc0, RFC 3768 §5.2.1 / RFC 5798 §5.1.1.3); IPv6 without (the kernel builds the
#     header; IPV6_CHECKSUM at offset 6 makes it compute the RFC 5798 §5.2.8 checksum; hop limit 255,
#     traffic class 0xc0; the source, normally the interface's link-local address, RFC 5798
#     §5.1.2.1, is set per datagram with IPV6_PKTINFO). Multicast sends use MSG_DONTROUTE.
#   * receive: multicast mode joins the group on the interface and binds to the group address (so
#     unicast adverts are not seen here); unicast mode binds to the unicast source, which must be an
#     address of the host (no IP_FREEBIND: keepalived's bind fails, UnicastBindError, and the
#     instance goes to FAULT rather than advertise from an address it does not own). IP_PKTINFO /
#     IPV6_PKTINFO give the destination and ifindex, IPV6_RECVHOPLIMIT the hop limit (the kernel
#     strips the IPv6 header). Readiness is driven by loop.add_reader; each wake-up drains the
#     socket and hands an RxPacket per datagram to the callback.
# Both sockets are bound to the device (SO_BINDTODEVICE), multicast loopback is off and
# IP(V6)_MULTICAST_ALL is off so only our own memberships are delivered.
# Send errors never raise: send() returns the OSError (or None) and logs it.
# The advert path sends the same few (destination, source) pairs every interval: `sender()` gives a
# ready-made send call, on an extra send socket connect()ed to the destination (and for IPv6 bound
# to the source) where possible, so the kernel neither routes nor parses an IPV6_PKTINFO control
# message per datagram (about a quarter of a send's cost). A bound IPv6 socket would keep sending
# from an address that has been removed, where IPV6_PKTINFO fails with EINVAL: `forget_source()`
# closes those on the address's removal, and a source that cannot be bound (absent, tentative) gets
# the plain sendmsg path. Connected sockets are limited to MAX_CONNECTED per process (descriptors).
"""Raw VRRP sockets (asyncio, non-blocking)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass

from pykeepalived.vrrp.packet import VRRP_MCAST_GROUP4, VRRP_MCAST_GROUP6, VRRP_PROTO, RxPacket
from pykeepalived.vrrp.params import IPAddress

log = logging.getLogger("pykeepalived.linux")

# Linux constants missing from Python's socket module
IP_MULTICAST_TTL = 33
IP_MULTICAST_LOOP = 34
IP_PKTINFO = 8
IP_MULTICAST_ALL = 49
IPV6_MULTICAST_ALL = 29


class UnicastBindError(OSError):
    """The receive socket cannot be bound to the unicast source (not an address of the host)."""


def _bind_unicast(sock: socket.socket, addr: tuple[str, int] | tuple[str, int, int, int]) -> None:
    try:
        sock.bind(addr)
    except OSError as e:
        raise UnicastBindError(e.errno, e.strerror, addr[0]) from None  # filename: the address


# errors a connected raw socket reports from ICMP messages received for earlier datagrams
_ICMP_ERRORS = frozenset({errno.ENOPROTOOPT, errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH,
                          errno.EHOSTDOWN, errno.ENONET, errno.EPROTO, errno.EACCES})

VRRP_GROUP4 = VRRP_MCAST_GROUP4  # RFC 5798 §5.1.1.2
VRRP_GROUP6 = VRRP_MCAST_GROUP6  # RFC 5798 §5.1.2.2
TOS_INTERNET_CONTROL = 0xC0  # IPTOS_PREC_INTERNETCONTROL
IPV6_CHECKSUM_OFFSET = 6  # offset of the VRRP checksum field

RECV_BUFSIZE = 65536
MAX_CONNECTED = 256  # connected send sockets per process (VrrpSocket.sender)
_connected_open = 0
MAX_DRAIN = 64  # datagrams handled per readiness callback before yielding to the loop

PacketCallback = Callable[[RxPacket], None]
SendCall = Callable[[bytes | bytearray], object]


@dataclass(slots=True)
class Destination:
    """A prepared send target (VrrpSocket.destination): the address, sockaddr, flags, ancillary data."""

    dst: IPAddress
    sockaddr: tuple[object, ...]
    flags: int
    anc: tuple[tuple[int, int, bytes], ...]
    src: IPAddress | None = None  # IPv6: the source given in `anc`


def _bind_device(sock: socket.socket, ifname: str) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode() + b"\0")


def _ip_mreqn(group: ipaddress.IPv4Address, ifindex: int) -> bytes:
    return struct.pack("4s4si", group.packed, b"\0\0\0\0", ifindex)


class VrrpSocket:
    """Send/receive raw VRRP adverts on one interface for one family and group or unicast source.

    Build with `VrrpSocket.open(...)` (or the constructor), then `start(callback)` to receive on the
    running loop, `send(data, dst)` to transmit, `close()` to release both sockets.
    """

    def __init__(
        self,
        *,
        ifname: str,
        family: int,
        group: IPAddress | None = None,
        unicast_src: IPAddress | None = None,
        proto: int = VRRP_PROTO,
        unicast_hops: int | None = None,
        rcvbuf: int | None = None,
    ) -> None:
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family}")
        self.ifname = ifname
        self.ifindex = socket.if_nametoindex(ifname)
        self.family = family
        self.proto = proto
        self.unicast_src = unicast_src
        if unicast_src is None:
            self.group: IPAddress | None = group or (VRRP_GROUP4 if family == 4 else VRRP_GROUP6)
        else:
            self.group = None
        self.send_errors = 0
        self.rx_count = 0
        self._callback: PacketCallback | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._af = socket.AF_INET if family == 4 else socket.AF_INET6
        self._unicast_hops = unicast_hops
        self._connected: dict[tuple[IPAddress, IPAddress | None], socket.socket] = {}
        self.tx = self._open_send(unicast_hops)
        try:
            self.rx = self._open_receive(rcvbuf)
        except BaseException:
            self.tx.close()
            raise

    # -- socket set-up --
    def _open_send(self, unicast_hops: int | None) -> socket.socket:
        sock = socket.socket(self._af, socket.SOCK_RAW, self.proto)
        try:
            sock.setblocking(False)
            _bind_device(sock, self.ifname)
            if self.family == 4:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
                sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_LOOP, 0)
                sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_TTL, 255)
                sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
                sock.setsockopt(
                    socket.IPPROTO_IP, socket.IP_MULTICAST_IF, _ip_mreqn(VRRP_GROUP4, self.ifindex)
                )
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, TOS_INTERNET_CONTROL)
            else:
                if self.proto == VRRP_PROTO:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, IPV6_CHECKSUM_OFFSET)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_TCLASS, TOS_INTERNET_CONTROL)
                if unicast_hops is not None:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, unicast_hops)
        except BaseException:
            sock.close()
            raise
        return sock

    def _open_receive(self, rcvbuf: int | None) -> socket.socket:
        sock = socket.socket(self._af, socket.SOCK_RAW, self.proto)
        try:
            sock.setblocking(False)
            _bind_device(sock, self.ifname)
            if rcvbuf:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            if self.family == 4:
                sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
                sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_LOOP, 0)
                sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
                if self.group is not None:
                    assert isinstance(self.group, ipaddress.IPv4Address)
                    sock.setsockopt(
                        socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, _ip_mreqn(self.group, self.ifindex)
                    )
                    sock.bind((str(self.group), 0))
                else:
                    _bind_unicast(sock, (str(self.unicast_src), 0))
            else:
                if self.proto == VRRP_PROTO:
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_CHECKSUM, IPV6_CHECKSUM_OFFSET)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
                if self.group is not None:
                    mreq = struct.pack("16sI", self.group.packed, self.ifindex)
                    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
                    sock.bind((str(self.group), 0, 0, self.ifindex))
                else:
                    assert self.unicast_src is not None
                    scope = self.ifindex if self.unicast_src.is_link_local else 0
                    _bind_unicast(sock, (str(self.unicast_src), 0, 0, scope))
        except BaseException:
            sock.close()
            raise
        return sock

    # -- receiving --
    def start(self, callback: PacketCallback, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Deliver every received datagram to `callback` from the event loop."""
        self._callback = callback
        self._loop = loop or asyncio.get_running_loop()
        self._loop.add_reader(self.rx.fileno(), self._on_readable)

    def stop(self) -> None:
        if self._loop is not None and self.rx.fileno() >= 0:
            self._loop.remove_reader(self.rx.fileno())
        self._loop = None

    def _on_readable(self) -> None:
        for _ in range(MAX_DRAIN):
            try:
                data, anc, _flags, addr = self.rx.recvmsg(RECV_BUFSIZE, 256)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                log.debug("VRRP receive error on %s: %s", self.ifname, exc)
                return
            pkt = self._parse(data, anc, addr)
            if pkt is None:
                continue
            self.rx_count += 1
            if self._callback is not None:
                try:
                    self._callback(pkt)
                except Exception:
                    log.exception("VRRP packet handler failed on %s", self.ifname)

    def _parse(
        self, data: bytes, anc: list[tuple[int, int, bytes]], addr: tuple[object, ...]
    ) -> RxPacket | None:
        ifindex = self.ifindex
        dst: IPAddress | None = None
        if self.family == 4:
            if len(data) < 20:
                return None
            ttl = data[8]
            src: IPAddress = ipaddress.IPv4Address(data[12:16])
            dst = ipaddress.IPv4Address(data[16:20])
            for level, ctype, cdata in anc:
                if level == socket.IPPROTO_IP and ctype == IP_PKTINFO and len(cdata) >= 12:
                    ifindex, _spec_dst, ipi_addr = struct.unpack("i4s4s", cdata[:12])
                    dst = ipaddress.IPv4Address(ipi_addr)
            return RxPacket(ifindex=ifindex, family=4, src=src, dst=dst, ttl=ttl, data=data)
        ttl = -1
        for level, ctype, cdata in anc:
            if level != socket.IPPROTO_IPV6:
                continue
            if ctype == socket.IPV6_PKTINFO and len(cdata) >= 20:
                dst = ipaddress.IPv6Address(cdata[:16])
                ifindex = struct.unpack("I", cdata[16:20])[0]
            elif ctype == socket.IPV6_HOPLIMIT and len(cdata) >= 4:
                ttl = struct.unpack("i", cdata[:4])[0]
        src = ipaddress.IPv6Address(str(addr[0]).split("%", 1)[0])
        if dst is None:
            dst = self.group or self.unicast_src or ipaddress.IPv6Address("::")
        return RxPacket(ifindex=ifindex, family=6, src=src, dst=dst, ttl=ttl, data=data)

    # -- sending --
    def destination(self, dst: IPAddress, *, src: IPAddress | None = None) -> Destination:
        """Everything `sendto`/`sendmsg` needs for `dst` besides the data, worked out once (the
        advert path sends to the same few destinations every interval)."""
        if self.family == 4:
            flags = socket.MSG_DONTROUTE if dst.is_multicast else 0
            return Destination(dst, (str(dst), 0), flags, ())
        scope = self.ifindex if (dst.is_multicast or dst.is_link_local) else 0
        anc: tuple[tuple[int, int, bytes], ...] = ()
        if src is not None:
            anc = ((socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, src.packed + struct.pack("I", self.ifindex)),)
        return Destination(dst, (str(dst), 0, 0, scope), 0, anc, src)

    def sender(self, d: Destination) -> SendCall:
        """A call sending one datagram to the prepared destination `d`; it raises OSError (give that to
        `send_failed`). It uses a send socket connected to `d` when one can be had."""
        conn = self._connect(d)
        if conn is not None:
            return conn.send
        tx, anc, flags, addr = self.tx, d.anc, d.flags, d.sockaddr
        if anc:
            return lambda data: tx.sendmsg((data,), anc, flags, addr)
        return lambda data: tx.sendto(data, flags, addr)

    def _connect(self, d: Destination) -> socket.socket | None:
        global _connected_open
        key = (d.dst, d.src)
        conn = self._connected.get(key)
        if conn is not None:
            return conn
        if _connected_open >= MAX_CONNECTED or (self.family == 6 and d.src is None):
            return None
        try:
            conn = self._open_send(self._unicast_hops)
        except OSError:
            return None
        try:
            if d.flags & socket.MSG_DONTROUTE:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_DONTROUTE, 1)
            if d.src is not None:  # no IPV6_FREEBIND: only an address in service binds
                conn.bind((str(d.src), 0, 0, self.ifindex if d.src.is_link_local else 0))
            conn.connect(d.sockaddr)
        except OSError:
            conn.close()
            return None
        self._connected[key] = conn
        _connected_open += 1
        return conn

    def connected_fd(self, d: Destination) -> int:
        """The descriptor of the connected send socket `sender(d)` uses, or -1 if it has none."""
        conn = self._connected.get((d.dst, d.src))
        return -1 if conn is None else conn.fileno()

    def forget_source(self, addr: IPAddress) -> bool:
        """`addr` was removed from the system: close the send sockets bound to it (True if any)."""
        global _connected_open
        gone = [k for k in self._connected if k[1] == addr]
        for k in gone:
            self._connected.pop(k).close()
            _connected_open -= 1
        return bool(gone)

    def send_failed(self, d: Destination, exc: OSError,
                    data: bytes | bytearray | None = None) -> OSError | None:
        """Account for a failed `sender()` call (as `send_to` does) and return the error, or None
        when `data` went out after all.

        A connected send socket is told of the ICMP errors that come back for earlier datagrams (a
        peer whose VRRP daemon is down answers `protocol unreachable`; a peer that is gone, `host
        unreachable`) and reports the error on the next send, which it then drops. keepalived's
        unconnected socket never hears of them: that datagram is sent again, unconnected."""
        if data is not None and exc.errno in _ICMP_ERRORS and (d.dst, d.src) in self._connected:
            return self.send_to(data, d)
        self.send_errors += 1
        log.debug("VRRP send error on %s to %s: %s", self.ifname, d.dst, exc)
        return exc

    def send_to(self, data: bytes | bytearray, d: Destination) -> OSError | None:
        """Transmit one advert to a prepared destination; None on success, else the OSError."""
        try:
            if d.anc:
                self.tx.sendmsg((data,), d.anc, d.flags, d.sockaddr)
            else:
                self.tx.sendto(data, d.flags, d.sockaddr)
        except OSError as exc:
            return self.send_failed(d, exc)
        return None

    def send(self, data: bytes, dst: IPAddress, *, src: IPAddress | None = None) -> OSError | None:
        """Transmit one advert; return None on success, the OSError otherwise (never raises).

        IPv4: `data` is the whole datagram (IP header included). IPv6: `data` is the VRRP PDU and
        `src` the source address (normally the interface's link-local address).
        """
        return self.send_to(data, self.destination(dst, src=src))

    def close(self) -> None:
        global _connected_open
        self.stop()
        for conn in self._connected.values():
            conn.close()
            _connected_open -= 1
        self._connected.clear()
        with contextlib.suppress(OSError):
            self.rx.close()
        with contextlib.suppress(OSError):
            self.tx.close()

    def __enter__(self) -> VrrpSocket:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
