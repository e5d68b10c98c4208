"""VMAC creation/removal with keepalived's name, MAC and sysctls; link and address monitoring."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import json
import threading

import pytest
from pyroute2 import AsyncIPRoute

from pykeepalived.lab import Lab
from pykeepalived.linux.addresses import (
    Address,
    AddressKeeper,
    Route,
    add_address,
    add_route,
    del_address,
    restore_if_tracked,
)
from pykeepalived.linux.monitor import (
    DEFAULT_GROUPS,
    ROUTE_GROUPS,
    AddressEvent,
    LinkEvent,
    NetlinkMonitor,
    RouteEvent,
)
from pykeepalived.linux.vmac import VmacManager, eui64_link_local, vmac_mac, vmac_name_candidates

pytestmark = pytest.mark.netns


def test_vmac_names_and_macs() -> None:
    assert vmac_mac(51, 4) == "00:00:5e:00:01:33"
    assert vmac_mac(255, 6) == "00:00:5e:00:02:ff"
    assert vmac_name_candidates(51, 4)[:3] == ["vrrp.51", "vrrp1.51", "vrrp2.51"]
    six = vmac_name_candidates(51, 6)
    assert six[:3] == ["vrrp.51", "vrrp6.51", "vrrp1.51"] and six.count("vrrp6.51") == 1
    assert all(len(n) <= 15 for n in vmac_name_candidates(200, 4, prefix="averyveryverylongprefix"))
    assert str(eui64_link_local(bytes.fromhex("525400123456"))) == "fe80::5054:ff:fe12:3456"


def test_vmac_create_sysctls_and_delete(lab1: Lab) -> None:
    h = lab1["h1"]
    h.sysctl("net/ipv4/conf/all/rp_filter", 2)
    h.sysctl("net/ipv4/conf/eth0/rp_filter", 1)
    # a foreign interface already owns the default name: keepalived moves on to vrrp1.51
    h.ip("link", "add", "vrrp.51", "type", "bridge")
    before = {k: h.sysctl(k) for k in ("net/ipv4/conf/eth0/arp_ignore", "net/ipv4/conf/eth0/arp_filter")}

    created: concurrent.futures.Future[tuple[str, str, str, dict[str, str]]] = concurrent.futures.Future()
    checked = threading.Event()

    def read(key: str) -> str:
        with open(f"/proc/sys/{key}") as f:
            return f.read().strip()

    async def daemon() -> None:
        """What the daemon does: create at start, keep while running, close at stop."""
        async with AsyncIPRoute() as ipr:
            mgr = VmacManager(ipr)
            v4 = await mgr.create("eth0", 51, 4)
            v6 = await mgr.create("eth0", 51, 6)
            # a second manager (daemon restart) reuses the matching macvlan instead of making another
            again = await VmacManager(ipr).create("eth0", 51, 4)
            assert again.ifname == v4.ifname and not again.created
            keys = (
                f"net/ipv4/conf/{v4.ifname}/accept_local",
                f"net/ipv4/conf/{v4.ifname}/arp_ignore",
                f"net/ipv4/conf/{v4.ifname}/rp_filter",
                "net/ipv4/conf/eth0/arp_ignore",
                "net/ipv4/conf/eth0/arp_filter",
                "net/ipv4/conf/eth0/rp_filter",
                "net/ipv4/conf/all/rp_filter",
                f"net/ipv6/conf/{v6.ifname}/addr_gen_mode",
            )
            created.set_result((v4.ifname, v6.ifname, str(v6.link_local), {k: read(k) for k in keys}))
            await asyncio.to_thread(checked.wait, 30)
            await mgr.close()

    stopped = h.start_async(daemon)
    concurrent.futures.wait([created, stopped], 30, concurrent.futures.FIRST_COMPLETED)
    if stopped.done():
        stopped.result()  # re-raise a failure inside the "daemon"
    n4, n6, ll, seen = created.result(0)
    assert (n4, n6) == ("vrrp1.51", "vrrp6.51")
    links = {link["ifname"]: link for link in json.loads(h.ip("-d", "-j", "link", "show"))}
    assert links[n4]["address"] == "00:00:5e:00:01:33"
    assert links[n6]["address"] == "00:00:5e:00:02:33"
    assert links[n4]["linkinfo"]["info_kind"] == "macvlan"
    assert links[n4]["linkinfo"]["info_data"]["mode"] == "private"
    assert links[n4]["link"] == "eth0"
    assert "UP" in links[n4]["flags"]
    assert seen == {
        f"net/ipv4/conf/{n4}/accept_local": "1",
        f"net/ipv4/conf/{n4}/arp_ignore": "1",
        f"net/ipv4/conf/{n4}/rp_filter": "0",
        "net/ipv4/conf/eth0/arp_ignore": "1",
        "net/ipv4/conf/eth0/arp_filter": "1",
        "net/ipv4/conf/eth0/rp_filter": "2",  # all's 2 folded into the interface
        "net/ipv4/conf/all/rp_filter": "0",
        f"net/ipv6/conf/{n6}/addr_gen_mode": "1",
    }
    # the IPv6 VMAC carries a copy of the parent's link-local address, and only that one
    v6addrs = [a["local"] for a in json.loads(h.ip("-j", "-6", "addr", "show", "dev", n6))[0]["addr_info"]]
    parent_ll = [
        a["local"]
        for a in json.loads(h.ip("-j", "-6", "addr", "show", "dev", "eth0"))[0]["addr_info"]
        if a["scope"] == "link"
    ]
    assert v6addrs == parent_ll == [ll]

    checked.set()
    stopped.result(30)
    names = {link["ifname"] for link in json.loads(h.ip("-j", "link", "show"))}
    assert n4 not in names and n6 not in names and "vrrp.51" in names
    assert h.sysctl("net/ipv4/conf/all/rp_filter") == "2"
    assert h.sysctl("net/ipv4/conf/eth0/rp_filter") == "1"
    assert {k: h.sysctl(k) for k in before} == before


async def _watch(ready: threading.Event, want: int, timeout: float) -> list[object]:
    events: list[object] = []
    async with NetlinkMonitor() as mon:
        ready.set()

        async def collect() -> None:
            async for ev in mon:
                events.append(ev)
                if len([e for e in events if _interesting(e)]) >= want:
                    return

        try:
            await asyncio.wait_for(collect(), timeout)
        except TimeoutError:
            pass
    return events


def _interesting(ev: object) -> bool:
    return (isinstance(ev, LinkEvent) and ev.ifname == "eth0") or (
        isinstance(ev, AddressEvent) and str(ev.address) == "192.0.2.100"
    )


def test_monitor_link_down_up_and_address_removal(lab1: Lab) -> None:
    h = lab1["h1"]
    vip = Address(ipaddress.IPv4Address("192.0.2.100"), dev="eth0", prefixlen=24)
    ready = threading.Event()
    fut = h.start_async(_watch, ready, 4, 5.0)
    assert ready.wait(5)

    async def add_then_delete() -> None:
        async with AsyncIPRoute() as ipr:
            assert await add_address(ipr, vip) is None
            assert await del_address(ipr, vip) is None

    h.run_async(add_then_delete)
    lab1.set_port(h, lab1.lans[0], up=False)  # carrier loss seen by the host
    lab1.set_port(h, lab1.lans[0], up=True)
    events = [e for e in fut.result(10) if _interesting(e)]
    addr_events = [e for e in events if isinstance(e, AddressEvent)]
    link_events = [e for e in events if isinstance(e, LinkEvent)]
    assert [(e.added, e.ifname, e.prefixlen) for e in addr_events] == [
        (True, "eth0", 24),
        (False, "eth0", 24),
    ]
    assert [e.running for e in link_events] == [False, True]
    assert all(e.up for e in link_events)
    keeper = AddressKeeper()
    keeper.want([vip])
    removed = addr_events[1]

    async def restore() -> tuple[object, object]:
        async with AsyncIPRoute() as ipr:
            return await restore_if_tracked(ipr, keeper, removed.address, removed.ifname)

    assert h.run_async(restore) == (vip, None)
    assert "192.0.2.100/24" in h.ip("addr", "show", "dev", "eth0")


def test_monitor_reports_deleted_keepalived_route(lab1: Lab) -> None:
    h = lab1["h1"]
    net = ipaddress.ip_network("198.51.100.0/24")
    route = Route(net, via=ipaddress.ip_address("192.0.2.254"), dev="eth0")
    ready = threading.Event()

    async def watch() -> list[RouteEvent]:
        out: list[RouteEvent] = []
        async with NetlinkMonitor(DEFAULT_GROUPS | ROUTE_GROUPS) as mon:
            ready.set()

            async def collect() -> None:
                async for ev in mon:
                    if isinstance(ev, RouteEvent):
                        out.append(ev)
                        if len(out) == 2:
                            return

            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(collect(), 5)
        return out

    fut = h.start_async(watch)
    assert ready.wait(5)

    async def add() -> object:
        async with AsyncIPRoute() as ipr:
            return await add_route(ipr, route)

    assert h.run_async(add) is None
    h.ip("route", "del", "198.51.100.0/24")  # an operator removes it behind our back
    assert fut.result(10) == [RouteEvent(net, 254, True), RouteEvent(net, 254, False)]
