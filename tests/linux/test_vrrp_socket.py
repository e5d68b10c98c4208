"""Raw VRRP sockets between real namespaces: multicast v4/v6, unicast, TTL through a router."""

from __future__ import annotations

import asyncio
import ipaddress
import struct
import threading

import pytest
from pyroute2 import AsyncIPRoute

from pykeepalived.lab import Lab
from pykeepalived.linux.iface import get_interface
from pykeepalived.linux.vrrp_socket import VRRP_GROUP4, VRRP_GROUP6, VrrpSocket
from pykeepalived.vrrp.packet import RxPacket

from .conftest import ipv4_datagram, vrrp_pdu

pytestmark = pytest.mark.netns


async def _receive(ready: threading.Event, count: int, timeout: float, **kw: object) -> list[RxPacket]:
    """Open a VrrpSocket, signal readiness, collect `count` packets (or what arrived before timeout)."""
    q: asyncio.Queue[RxPacket] = asyncio.Queue()
    got: list[RxPacket] = []
    with VrrpSocket(**kw) as s:  # type: ignore[arg-type]
        s.start(q.put_nowait)
        ready.set()
        try:
            while len(got) < count:
                got.append(await asyncio.wait_for(q.get(), timeout))
        except TimeoutError:
            pass
    return got


def _start_receiver(lab: Lab, host: str, count: int = 1, timeout: float = 3.0, **kw: object):
    ready = threading.Event()
    fut = lab[host].start_async(_receive, ready, count, timeout, **kw)
    assert ready.wait(10), "receiver did not start"
    return fut


async def _send(family: int, data: bytes, dst: ipaddress._BaseAddress, **kw: object) -> tuple[object, object]:
    src = None
    if family == 6:
        async with AsyncIPRoute() as ipr:
            src = (await get_interface(ipr, "eth0")).link_local_ipv6()
    with VrrpSocket(ifname="eth0", family=family, **kw) as s:  # type: ignore[arg-type]
        return s.send(data, dst, src=src), src


def _checksum_ok6(src: ipaddress.IPv6Address, dst: ipaddress.IPv6Address, pdu: bytes) -> bool:
    data = src.packed + dst.packed + struct.pack("!I3xB", len(pdu), 112) + pdu
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s == 0xFFFF


def test_ipv4_multicast_advert(lab2: Lab) -> None:
    h1, h2 = lab2["h1"], lab2["h2"]
    fut = _start_receiver(lab2, "h2", ifname="eth0", family=4)
    dgram = ipv4_datagram(vrrp_pdu(51, 150, [ipaddress.IPv4Address("192.0.2.100")]), h1.ipv4, VRRP_GROUP4)
    err, _ = h1.run_async(_send, 4, dgram, VRRP_GROUP4)
    assert err is None
    [pkt] = fut.result(10)
    ifindex = int(h2.call(lambda: __import__("socket").if_nametoindex("eth0")))
    assert pkt.family == 4
    assert pkt.ifindex == ifindex
    assert pkt.src == h1.ipv4 and pkt.dst == VRRP_GROUP4
    assert pkt.ttl == 255
    assert pkt.data[20:] == dgram[20:]
    assert pkt.data[1] == 0xC0 and pkt.data[9] == 112


def test_ipv6_multicast_advert_link_local_and_hop_limit(lab2: Lab) -> None:
    h1, h2 = lab2["h1"], lab2["h2"]
    fut = _start_receiver(lab2, "h2", ifname="eth0", family=6)
    pdu = vrrp_pdu(7, 200, [ipaddress.IPv6Address("fe80::7"), ipaddress.IPv6Address("2001:db8::77")])
    err, src = h1.run_async(_send, 6, pdu, VRRP_GROUP6)
    assert err is None and src is not None and src.is_link_local
    [pkt] = fut.result(10)
    assert pkt.family == 6
    assert pkt.src == src
    assert pkt.dst == VRRP_GROUP6
    assert pkt.ttl == 255
    assert pkt.data[:6] == pdu[:6] and pkt.data[8:] == pdu[8:]
    # IPV6_CHECKSUM: the kernel filled in the RFC 5798 §5.2.8 checksum over the pseudo-header
    assert pkt.data[6:8] != b"\0\0"
    assert _checksum_ok6(src, VRRP_GROUP6, pkt.data)
    assert h2.ipv6 != src


def test_ipv4_unicast_only_reaches_unicast_socket(lab2: Lab) -> None:
    h1, h2 = lab2["h1"], lab2["h2"]
    ucast = _start_receiver(lab2, "h2", ifname="eth0", family=4, unicast_src=h2.ipv4)
    mcast = _start_receiver(lab2, "h2", timeout=1.0, ifname="eth0", family=4)
    dgram = ipv4_datagram(vrrp_pdu(9, 100, [ipaddress.IPv4Address("192.0.2.9")]), h1.ipv4, h2.ipv4)
    err, _ = h1.run_async(_send, 4, dgram, h2.ipv4, unicast_src=h1.ipv4)
    assert err is None
    [pkt] = ucast.result(10)
    assert pkt.src == h1.ipv4 and pkt.dst == h2.ipv4 and pkt.ttl == 255
    assert mcast.result(10) == []  # bound to the group: unicast is not seen there


def test_ipv6_unicast(lab2: Lab) -> None:
    h1, h2 = lab2["h1"], lab2["h2"]
    fut = _start_receiver(lab2, "h2", ifname="eth0", family=6, unicast_src=h2.ipv6)

    async def send() -> object:
        with VrrpSocket(ifname="eth0", family=6, unicast_src=h1.ipv6, unicast_hops=255) as s:
            return s.send(vrrp_pdu(3, 100, [ipaddress.IPv6Address("2001:db8::3")]), h2.ipv6, src=h1.ipv6)

    assert h1.run_async(send) is None
    [pkt] = fut.result(10)
    assert (pkt.src, pkt.dst, pkt.ttl) == (h1.ipv6, h2.ipv6, 255)


def test_ttl_through_router_is_below_255() -> None:
    with Lab(hosts=["h1"]) as lab:
        lan0 = lab.lans[0]
        lan1 = lab.add_lan()
        r = lab.add_host("r", [lan0, lan1], forwarding=True)
        h2 = lab.add_host("h2", [lan1])
        h1 = lab["h1"]
        h1.ip("route", "add", str(lan1.ipv4), "via", str(r.iface(lan0).ipv4.ip))
        h2.ip("route", "add", str(lan0.ipv4), "via", str(r.iface(lan1).ipv4.ip))
        fut = _start_receiver(lab, "h2", ifname="eth0", family=4, unicast_src=h2.ipv4)
        dgram = ipv4_datagram(vrrp_pdu(1, 100, [ipaddress.IPv4Address("192.0.2.50")]), h1.ipv4, h2.ipv4)
        assert h1.run_async(_send, 4, dgram, h2.ipv4, unicast_src=h1.ipv4)[0] is None
        [pkt] = fut.result(10)
        assert pkt.src == h1.ipv4
        assert pkt.ttl == 254  # one hop: the receive check (TTL must be 255) can reject it


def test_send_error_is_returned_not_raised(lab1: Lab) -> None:
    h1 = lab1["h1"]

    async def go() -> object:
        with VrrpSocket(ifname="eth0", family=4) as s:
            return s.send(b"\x45", VRRP_GROUP4)  # truncated header: EINVAL from the kernel

    err = h1.run_async(go)
    assert isinstance(err, OSError)


def test_sender_matches_send_on_the_wire(lab2: Lab) -> None:
    """`sender()` (a connected, for IPv6 source-bound, send socket) puts on the wire exactly what
    `send()` (sendto / sendmsg with IPV6_PKTINFO) does, IPv4 multicast and IPv6 multicast."""
    h1 = lab2["h1"]
    v4 = _start_receiver(lab2, "h2", count=2, ifname="eth0", family=4)
    v6 = _start_receiver(lab2, "h2", count=2, ifname="eth0", family=6)
    dgram = ipv4_datagram(vrrp_pdu(51, 150, [ipaddress.IPv4Address("192.0.2.100")]), h1.ipv4, VRRP_GROUP4)
    pdu = vrrp_pdu(7, 200, [ipaddress.IPv6Address("2001:db8::77")])

    async def go() -> tuple[object, ...]:
        async with AsyncIPRoute() as ipr:
            ll = (await get_interface(ipr, "eth0")).link_local_ipv6()
        with VrrpSocket(ifname="eth0", family=4) as s4, VrrpSocket(ifname="eth0", family=6) as s6:
            d4 = s4.destination(VRRP_GROUP4)
            d6 = s6.destination(VRRP_GROUP6, src=ll)
            send4, send6 = s4.sender(d4), s6.sender(d6)
            connected = (len(s4._connected), len(s6._connected))
            send4(dgram)
            send6(pdu)
            return s4.send_to(dgram, d4), s6.send_to(pdu, d6), connected, ll

    err4, err6, connected, ll = h1.run_async(go)
    assert (err4, err6) == (None, None)
    assert connected == (1, 1)
    a, b = v4.result(10)
    assert a.data == b.data and (a.src, a.dst, a.ttl) == (b.src, b.dst, b.ttl) == (h1.ipv4, VRRP_GROUP4, 255)
    c, d = v6.result(10)
    assert c.data == d.data and (c.src, c.dst, c.ttl) == (d.src, d.dst, d.ttl) == (ll, VRRP_GROUP6, 255)
    assert _checksum_ok6(ll, VRRP_GROUP6, c.data)


def test_sender_source_removed_fails_like_pktinfo(lab1: Lab) -> None:
    """A removed source address: sendmsg with IPV6_PKTINFO fails (EINVAL); a socket bound to it
    would not, so `forget_source` closes it and a new sender takes the failing sendmsg path."""
    h1 = lab1["h1"]
    src = ipaddress.IPv6Address("2001:db8:5::1")
    h1.ip("-6", "addr", "add", f"{src}/64", "dev", "eth0", "nodad")
    pdu = vrrp_pdu(7, 200, [ipaddress.IPv6Address("2001:db8::77")])

    async def go() -> tuple[object, ...]:
        with VrrpSocket(ifname="eth0", family=6) as s:
            d = s.destination(VRRP_GROUP6, src=src)
            send = s.sender(d)
            send(pdu)
            bound = len(s._connected)
            proc = await asyncio.create_subprocess_exec("ip", "-6", "addr", "del", f"{src}/64", "dev", "eth0")
            await proc.wait()
            forgot = s.forget_source(src)
            try:
                s.sender(d)(pdu)
                err: OSError | None = None
            except OSError as exc:
                err = exc
            return bound, forgot, len(s._connected), err, s.send_to(pdu, d)

    bound, forgot, left, err, err_plain = h1.run_async(go)
    assert (bound, forgot, left) == (1, True, 0)
    assert isinstance(err, OSError) and isinstance(err_plain, OSError)
    assert err.errno == err_plain.errno
