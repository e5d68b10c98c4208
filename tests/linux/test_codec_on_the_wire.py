"""The codec's adverts and GARP frames through the real Linux layer (merged from branch codec)."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import threading
import time

import pytest
from pyroute2 import AsyncIPRoute

from pykeepalived.lab import Lab
from pykeepalived.linux.garp import PacketSender
from pykeepalived.linux.iface import get_interface
from pykeepalived.linux.vrrp_socket import VRRP_GROUP4, VRRP_GROUP6, VrrpSocket
from pykeepalived.vrrp.frames import build_garp
from pykeepalived.vrrp.packet import (
    Advertisement,
    RxPacket,
    build_ipv4_datagram,
    decode_advert,
    encode_advert,
    parse_ipv4_datagram,
    verify_checksum,
)

pytestmark = pytest.mark.netns


async def _one(ready: threading.Event, family: int) -> RxPacket:
    q: asyncio.Queue[RxPacket] = asyncio.Queue()
    with VrrpSocket(ifname="eth0", family=family) as s:
        s.start(q.put_nowait)
        ready.set()
        return await asyncio.wait_for(q.get(), 5)


def test_v2_pass_advert_and_v3_ipv6_advert(lab2: Lab) -> None:
    h1, h2 = lab2["h1"], lab2["h2"]
    vip4 = ipaddress.IPv4Address("192.0.2.100")
    adv4 = Advertisement(
        version=2, vrid=51, priority=150, adver_int=1, addresses=(vip4,), auth_type=1, auth_data=b"secret"
    )
    pdu4 = encode_advert(adv4, src=h1.ipv4, dst=VRRP_GROUP4)
    dgram = build_ipv4_datagram(pdu4, src=h1.ipv4, dst=VRRP_GROUP4, ttl=255, ident=1)

    ready = threading.Event()
    fut = h2.start_async(_one, ready, 4)
    assert ready.wait(5)

    async def send4() -> object:
        with VrrpSocket(ifname="eth0", family=4) as s:
            return s.send(dgram, VRRP_GROUP4)

    assert h1.run_async(send4) is None
    pkt = fut.result(10)
    parsed = parse_ipv4_datagram(pkt.data)
    assert (parsed.ttl, parsed.tos, parsed.ident) == (255, 0xC0, 1)
    got = decode_advert(parsed.pdu, 4)
    assert (got.version, got.vrid, got.priority, got.addresses) == (2, 51, 150, (vip4,))
    assert got.auth_data.rstrip(b"\0") == b"secret"

    vip6 = ipaddress.IPv6Address("fe80::51")
    ready = threading.Event()
    fut = h2.start_async(_one, ready, 6)
    assert ready.wait(5)

    async def send6() -> tuple[object, ipaddress.IPv6Address | None]:
        async with AsyncIPRoute() as ipr:
            src = (await get_interface(ipr, "eth0")).link_local_ipv6()
        assert src is not None
        adv6 = Advertisement(version=3, vrid=51, priority=100, adver_int=100, addresses=(vip6,))
        with VrrpSocket(ifname="eth0", family=6) as s:
            return s.send(encode_advert(adv6, src=src, dst=VRRP_GROUP6), VRRP_GROUP6, src=src), src

    err, src = h1.run_async(send6)
    assert err is None
    pkt = fut.result(10)
    assert pkt.src == src and pkt.ttl == 255
    assert verify_checksum(pkt.data, family=6, version=3, src=pkt.src, dst=pkt.dst)
    got6 = decode_advert(pkt.data, 6)
    assert (got6.vrid, got6.adver_int, got6.addresses) == (51, 100, (vip6,))


def test_codec_garp_updates_neighbour(lab2: Lab) -> None:
    h1, h2 = lab2["h1"], lab2["h2"]
    vip = ipaddress.IPv4Address("192.0.2.100")
    h2.ip("neigh", "add", str(vip), "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "stale")

    async def send() -> tuple[object, str]:
        async with AsyncIPRoute() as ipr:
            mac = (await get_interface(ipr, "eth0")).mac_str
        with PacketSender("eth0") as ps:
            return ps.send(build_garp(vip, mac)), mac

    err, mac = h1.run_async(send)
    assert err is None
    deadline = time.monotonic() + 3
    while True:
        [entry] = json.loads(h2.ip("-j", "neigh", "show", str(vip), "dev", "eth0"))
        if entry["lladdr"] == mac or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert entry["lladdr"] == mac
