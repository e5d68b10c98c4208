"""GARP / unsolicited NA frames on AF_PACKET: seen on the wire and updating a neighbour's cache."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time

import pytest
from pyroute2 import AsyncIPRoute

from pykeepalived.lab import Host, Lab, start_in_netns
from pykeepalived.linux.garp import GarpSenders, NoArpInterface, PacketSender
from pykeepalived.linux.iface import get_interface

from .conftest import garp_frame, na_frame

pytestmark = pytest.mark.netns

ETH_P_ALL = 0x0003


def _capture(ready: threading.Event, ethertype: int, timeout: float) -> list[bytes]:
    """Frames of one ethertype seen on eth0 (an AF_PACKET tap in the receiving host)."""
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind(("eth0", 0))
    s.settimeout(0.2)
    ready.set()
    out: list[bytes] = []
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            frame = s.recv(2048)
        except TimeoutError:
            continue
        if frame[12:14] == ethertype.to_bytes(2, "big"):
            out.append(frame)
            break
    s.close()
    return out


def _mac(h: Host) -> bytes:
    async def go() -> bytes:
        async with AsyncIPRoute() as ipr:
            return (await get_interface(ipr, "eth0")).mac

    return h.run_async(go)


def _neigh(h: Host, addr: str) -> dict[str, object]:
    [entry] = json.loads(h.ip("-j", "neigh", "show", addr, "dev", "eth0"))
    return entry  # type: ignore[no-any-return]


def test_garp_seen_and_updates_neighbour_cache(lab2: Lab) -> None:
    h1, h2 = lab2["h1"], lab2["h2"]
    vip = ipaddress.IPv4Address("192.0.2.100")
    mac = _mac(h1)
    # h2 still believes the VIP is at the old master's MAC
    h2.ip("neigh", "add", str(vip), "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "stale")
    ready = threading.Event()
    fut = start_in_netns(h2.ns, _capture, ready, 0x0806, 5.0)
    assert ready.wait(5)
    frame = garp_frame(mac, vip)

    def send() -> object:
        with PacketSender("eth0") as ps:
            return ps.send(frame)

    assert h1.call(send) is None
    [seen] = fut.result(10)
    assert seen[:42] == frame[:42]
    assert seen[6:12] == mac and seen[28:32] == vip.packed and seen[38:42] == vip.packed
    want = ":".join(f"{b:02x}" for b in mac)
    deadline = time.monotonic() + 3
    while _neigh(h2, str(vip))["lladdr"] != want and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _neigh(h2, str(vip))["lladdr"] == want


def test_unsolicited_na_updates_neighbour_cache(lab2: Lab) -> None:
    h1, h2 = lab2["h1"], lab2["h2"]
    vip = ipaddress.IPv6Address("2001:db8::100")
    mac = _mac(h1)
    h2.ip("-6", "neigh", "add", str(vip), "lladdr", "02:00:00:00:00:99", "dev", "eth0", "nud", "stale")

    def send() -> object:
        senders = GarpSenders()
        try:
            return senders.send("eth0", na_frame(mac, vip))
        finally:
            senders.close()

    assert h1.call(send) is None
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        if _neigh(h2, str(vip))["lladdr"] != "02:00:00:00:00:99":
            break
        time.sleep(0.05)
    assert _neigh(h2, str(vip))["lladdr"] == ":".join(f"{b:02x}" for b in mac)


def test_noarp_interface_refused(lab1: Lab) -> None:
    h = lab1["h1"]
    h.ip("link", "set", "eth0", "arp", "off")

    def go() -> object:
        return GarpSenders().send("eth0", b"\0" * 60)

    assert isinstance(h.call(go), NoArpInterface)
