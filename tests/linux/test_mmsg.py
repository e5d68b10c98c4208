"""sendmmsg bursts on a connected VRRP send socket: order, per-datagram errors, array reuse."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import threading

import pytest
from pyroute2 import AsyncIPRoute

from pykeepalived.lab import Lab
from pykeepalived.linux import mmsg
from pykeepalived.linux.iface import get_interface
from pykeepalived.linux.vrrp_socket import VRRP_GROUP6, VrrpSocket
from pykeepalived.vrrp.packet import RxPacket

from .conftest import vrrp_pdu

pytestmark = [pytest.mark.netns, pytest.mark.skipif(not mmsg.AVAILABLE, reason="no sendmmsg")]


async def _receive(ready: threading.Event, count: int) -> list[RxPacket]:
    q: asyncio.Queue[RxPacket] = asyncio.Queue()
    got: list[RxPacket] = []
    with VrrpSocket(ifname="eth0", family=6) as s:
        s.start(q.put_nowait)
        ready.set()
        try:
            while len(got) < count:
                got.append(await asyncio.wait_for(q.get(), 3.0))
        except TimeoutError:
            pass
    return got


def test_burst_in_order_with_a_failing_datagram(lab2: Lab) -> None:
    ready = threading.Event()
    fut = lab2["h2"].start_async(_receive, ready, 5)
    assert ready.wait(10)
    pdus = [vrrp_pdu(k, 100 + k, [ipaddress.IPv6Address(f"2001:db8::{k}")]) for k in range(1, 6)]
    too_big = vrrp_pdu(9, 9, [ipaddress.IPv6Address("2001:db8::9")]) + bytes(70_000)

    async def go() -> tuple[list[tuple[int, int | None]], int]:
        async with AsyncIPRoute() as ipr:
            ll = (await get_interface(ipr, "eth0")).link_local_ipv6()
        errors: list[tuple[int, int | None]] = []
        cache: dict[int, object] = {}
        with VrrpSocket(ifname="eth0", family=6) as s:
            d = s.destination(VRRP_GROUP6, src=ll)
            s.sender(d)
            fd = s.connected_fd(d)
            assert fd >= 0
            # datagram 1 fails (EMSGSIZE): reported for index 1, the others still go out in order
            mmsg.send_burst(fd, [pdus[0], too_big, pdus[1], pdus[2]], cache,  # type: ignore[arg-type]
                            lambda i, exc: errors.append((i, exc.errno)))
            first = cache[fd]
            mmsg.send_burst(fd, [pdus[3], pdus[4]], cache,  # type: ignore[arg-type]
                            lambda i, exc: errors.append((i, exc.errno)))
            assert cache[fd] is not first
            again = cache[fd]
            mmsg.send_burst(fd, [pdus[3], pdus[4]], cache, lambda i, exc: None)  # type: ignore[arg-type]
            assert cache[fd] is again  # the same datagrams again: the arrays are reused
        return errors, len(cache)

    errors, _ = lab2["h1"].run_async(go)
    assert errors == [(1, errno.EMSGSIZE)]
    got = fut.result(10)
    assert [p.data[1] for p in got] == [1, 2, 3, 4, 5]
    assert all(p.data[8:] == pdus[p.data[1] - 1][8:] for p in got)
