"""GarpPacer (daemon/vrrp/garp_pacing.py), keepalived's per-interface GARP/NA spacing, on a real asyncio
loop with its send port recording frames: spacing, one pending frame per address, and no announcement
for an instance that left MASTER while its frames waited (the demo's simultaneous-master start race:
the instance that backed off must not pull the LAN to itself)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from pykeepalived.daemon.vrrp.garp_pacing import Frame, GarpPacer, _Delay

VIP = IPv4Address("192.0.2.100")
VIP2 = IPv4Address("192.0.2.101")
VIP6 = IPv6Address("2001:db8::100")


def frame(instance: str, ip: IPv4Address | IPv6Address, rank: int = 0) -> Frame:
    return Frame(instance, ip, "eth0", "eth0", f"{instance} {ip}".encode(), (0, rank))


def run(body: Coroutine[Any, Any, None]) -> None:
    asyncio.run(body)


def test_interval_spaces_frames_and_keeps_one_pending_per_address() -> None:
    sent: list[bytes] = []
    masters = {"VI_1"}
    pacer = GarpPacer(lambda dev, data: sent.append(data), masters.__contains__)
    pacer.default = _Delay(garp_interval=100_000)  # 100 ms between GARPs on eth0, NAs unpaced

    async def body() -> None:
        for _ in range(5):  # a 5-round burst: one frame now, one later
            pacer.send(frame("VI_1", VIP))
        pacer.send(frame("VI_1", VIP6))
        assert sent == [b"VI_1 192.0.2.100", b"VI_1 2001:db8::100"]
        await asyncio.sleep(0.25)
        assert sent == [b"VI_1 192.0.2.100", b"VI_1 2001:db8::100", b"VI_1 192.0.2.100"]
        pacer.close()

    run(body())


def test_queued_frames_of_an_instance_that_left_master_are_not_sent() -> None:
    sent: list[bytes] = []
    masters = {"VI_1", "VI_2"}
    pacer = GarpPacer(lambda dev, data: sent.append(data), masters.__contains__)
    pacer.default = _Delay(garp_interval=50_000)

    async def body() -> None:
        pacer.send(frame("VI_1", VIP))
        pacer.send(frame("VI_1", VIP2, 1))  # queued behind the first
        pacer.send(frame("VI_2", VIP2, 2))  # queued too
        masters.discard("VI_1")  # VI_1 backs off (a higher-priority advert) before its turn
        await asyncio.sleep(0.2)
        assert sent == [b"VI_1 192.0.2.100", b"VI_2 192.0.2.101"]
        assert not pacer.pending
        pacer.close()

    run(body())


def test_drop_forgets_an_instances_queued_frames() -> None:
    sent: list[bytes] = []
    pacer = GarpPacer(lambda dev, data: sent.append(data), lambda name: True)
    pacer.default = _Delay(garp_interval=50_000)

    async def body() -> None:
        pacer.send(frame("VI_1", VIP))
        pacer.send(frame("VI_1", VIP2, 1))
        pacer.drop("VI_1")  # keepalived vrrp_remove_delayed_arp
        await asyncio.sleep(0.2)
        assert sent == [b"VI_1 192.0.2.100"]
        pacer.close()

    run(body())
