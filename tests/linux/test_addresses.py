"""VIPs, routes and rules through netlink, checked with iproute2 in a real namespace."""

from __future__ import annotations

import errno
import ipaddress
import json
import os
from dataclasses import replace

import pytest
from pyroute2 import AsyncIPRoute

from pykeepalived.config.diag import NOWHERE, Reporter
from pykeepalived.config.routes import parse_route
from pykeepalived.config.rules import RulePriorities, parse_rule
from pykeepalived.daemon.addrmap import route_from_config, rule_from_config
from pykeepalived.lab import Host, Lab
from pykeepalived.linux.addresses import (
    IFA_F_NODAD,
    Address,
    AddressKeeper,
    Route,
    Rule,
    add_address,
    add_route,
    add_rule,
    address_present,
    broadcast_for,
    del_address,
    del_addresses,
    del_route,
    del_rule,
)

pytestmark = pytest.mark.netns

A = ipaddress.ip_address


def route(line: str) -> Route:
    """A keepalived.conf route line, through the config parser, as the daemon hands it to netlink."""
    r = parse_route(tuple(line.split()), NOWHERE, Reporter())
    assert r is not None, line
    return route_from_config(r)


def rule(line: str) -> Rule:
    r = parse_rule(tuple(line.split()), NOWHERE, Reporter(), RulePriorities())
    assert r is not None, line
    return rule_from_config(r)


def _addrs(h: Host) -> list[dict[str, object]]:
    return [a for link in json.loads(h.ip("-j", "addr", "show", "dev", "eth0")) for a in link["addr_info"]]


def test_vip_add_remove_idempotent(lab1: Lab) -> None:
    h = lab1["h1"]
    vip = Address(
        A("192.0.2.100"),
        dev="eth0",
        prefixlen=24,
        broadcast=broadcast_for(A("192.0.2.100"), 24, "+"),  # type: ignore[arg-type]
        label="eth0:vip",
    )
    vip6 = Address(A("2001:db8::100"), dev="eth0", prefixlen=64, flags=IFA_F_NODAD)

    async def add() -> list[object]:
        async with AsyncIPRoute() as ipr:
            return [
                await add_address(ipr, vip),
                await add_address(ipr, vip),  # EEXIST is success
                await add_address(ipr, vip6),
                await address_present(ipr, vip),
            ]

    assert h.run_async(add) == [None, None, None, True]
    got = {a["local"]: a for a in _addrs(h)}
    assert got["192.0.2.100"]["prefixlen"] == 24
    assert got["192.0.2.100"]["broadcast"] == "192.0.2.255"
    assert got["192.0.2.100"]["label"] == "eth0:vip"
    assert got["2001:db8::100"]["prefixlen"] == 64
    assert "tentative" not in got["2001:db8::100"]

    async def remove() -> list[object]:
        async with AsyncIPRoute() as ipr:
            return [
                await del_address(ipr, vip),
                await del_address(ipr, vip),  # EADDRNOTAVAIL is success
                await del_address(ipr, vip6),
                await address_present(ipr, vip),
            ]

    assert h.run_async(remove) == [None, None, None, False]
    left = {a["local"] for a in _addrs(h)}
    assert "192.0.2.100" not in left and "2001:db8::100" not in left
    assert str(h.ipv4) in left  # the host's own address is untouched


def test_many_addresses_removed_in_batches() -> None:
    """del_addresses (a respawned VRRP child removing what its killed predecessor left): in order,
    in batches of requests, each answered like del_address: absent addresses and interfaces count
    as removed, a label or peer must match as for `ip addr del`, other errors come back per address."""
    with Lab(hosts=1, prefix=f"su{os.getpid()}a-") as lab:
        h = lab["h1"]
        vips = [Address(A(f"198.51.100.{k}"), dev="eth0") for k in range(1, 151)]  # three batches
        labelled = Address(A("203.0.113.5"), dev="eth0", prefixlen=24, label="eth0:v")
        peer = Address(A("203.0.113.6"), dev="eth0", peer=A("203.0.113.7"))
        vip6 = Address(A("2001:db8::5"), dev="eth0", prefixlen=64, flags=IFA_F_NODAD)
        wrong_label = Address(A("203.0.113.8"), dev="eth0", label="eth0:x")
        keep = [wrong_label, Address(A("203.0.113.9"), dev="eth0")]

        async def add() -> list[object]:
            async with AsyncIPRoute() as ipr:
                return [await add_address(ipr, a) for a in [*vips, labelled, peer, vip6, *keep]]

        assert set(h.run_async(add)) == {None}
        gone = [*vips, labelled, peer, vip6, Address(A("192.0.2.250"), dev="eth0"),
                Address(A("192.0.2.251"), dev="nosuch0"), replace(wrong_label, label="eth0:y")]
        bad = Address(A("2001:db8::9"), dev="eth0", prefixlen=200)  # EINVAL from the kernel
        res = h.call(del_addresses, [*gone, bad])
        assert res[:-1] == [None] * len(gone)
        assert isinstance(res[-1], OSError) and res[-1].errno == errno.EINVAL
        left = {a["local"] for a in _addrs(h)}
        assert not left & {str(a.address) for a in gone[:-1]}
        assert {"203.0.113.8", "203.0.113.9", str(h.ipv4)} <= left  # what was not asked for stays


def test_vip_scope_and_bad_device_error(lab1: Lab) -> None:
    h = lab1["h1"]

    async def go() -> list[object]:
        async with AsyncIPRoute() as ipr:
            return [
                await add_address(ipr, Address(A("192.0.2.201"), dev="eth0", scope=253)),
                await add_address(ipr, Address(A("192.0.2.202"), dev="nosuch0")),
            ]

    ok, err = h.run_async(go)
    assert ok is None
    assert isinstance(err, OSError)
    got = {a["local"]: a for a in _addrs(h)}
    assert got["192.0.2.201"]["scope"] == "link" and got["192.0.2.201"]["prefixlen"] == 32


def test_keeper_maps_deleted_address() -> None:
    k = AddressKeeper()
    v = Address(A("192.0.2.100"), dev="eth0")
    nt = Address(A("192.0.2.101"), dev="eth0", no_track=True)
    k.want([v, nt])
    assert k.deleted(A("192.0.2.100"), "eth0") == v
    assert k.deleted(A("192.0.2.101"), "eth0") is None
    assert k.deleted(A("192.0.2.100"), "eth1") is None
    k.unwant([v])
    assert k.deleted(A("192.0.2.100"), "eth0") is None


def test_routes_and_rules(lab1: Lab) -> None:
    h = lab1["h1"]
    r1 = route("198.51.100.0/24 via 192.0.2.254 dev eth0 metric 50")
    r2 = route("203.0.113.0/24 via 192.0.2.254 dev eth0 table 100")
    r3 = route("blackhole 203.0.113.128/25")
    r6 = route("2001:db8:5::/64 via 2001:db8::fe dev eth0")
    rule4 = rule("from 192.0.2.0/24 table 100 priority 100")
    rule6 = rule("to 2001:db8:5::/64 table 100 priority 101")
    assert r1.metric == 50 and r2.table == 100 and r3.type == "blackhole" and rule4.family == 4
    assert rule6.family == 6

    async def add() -> list[object]:
        async with AsyncIPRoute() as ipr:
            return [await add_route(ipr, r) for r in (r1, r2, r3, r6, r1)] + [
                await add_rule(ipr, rule4),
                await add_rule(ipr, rule6),
            ]

    assert h.run_async(add) == [None] * 7
    main = h.ip("route", "show")
    assert "198.51.100.0/24 via 192.0.2.254 dev eth0 proto keepalived metric 50" in main
    assert "blackhole 203.0.113.128/25 proto keepalived" in main
    assert "203.0.113.0/24 via 192.0.2.254 dev eth0 proto keepalived" in h.ip("route", "show", "table", "100")
    assert "2001:db8:5::/64 via 2001:db8::fe dev eth0" in h.ip("-6", "route", "show")
    assert "100:\tfrom 192.0.2.0/24 lookup 100" in h.ip("rule", "show")
    assert "101:\tfrom all to 2001:db8:5::/64 lookup 100" in h.ip("-6", "rule", "show")

    async def remove() -> list[object]:
        async with AsyncIPRoute() as ipr:
            return [await del_route(ipr, r) for r in (r1, r2, r3, r6, r1)] + [
                await del_rule(ipr, rule4),
                await del_rule(ipr, rule6),
                await del_rule(ipr, rule6),
            ]

    assert h.run_async(remove) == [None] * 8
    assert "198.51.100.0" not in h.ip("route", "show")
    assert "blackhole" not in h.ip("route", "show")
    assert h.ip("route", "show", "table", "100").strip() == ""
    assert "lookup 100" not in h.ip("rule", "show") + h.ip("-6", "rule", "show")


def test_multipath_route(lab1: Lab) -> None:
    h = lab1["h1"]
    r = route("198.51.100.0/24 nexthop via 192.0.2.253 dev eth0 weight 2 nexthop via 192.0.2.254 dev eth0")
    assert len(r.nexthops) == 2 and r.nexthops[0].weight == 2

    async def add() -> object:
        async with AsyncIPRoute() as ipr:
            return await add_route(ipr, r)

    assert h.run_async(add) is None
    out = h.ip("route", "show", "198.51.100.0/24")
    assert "nexthop via 192.0.2.253 dev eth0 weight 2" in out
    assert "nexthop via 192.0.2.254 dev eth0 weight 1" in out


def test_every_config_route_option_reaches_the_kernel(lab1: Lab) -> None:
    h = lab1["h1"]
    lines = [
        "198.51.100.0/24 via 192.0.2.254 dev eth0 mtu lock 1400 advmss 1360 rtt 300ms rttvar 250ms"
        " initcwnd 10 initrwnd 20 window 3000 hoplimit 32 reordering 5 features ecn quickack 1 realms 1/2",
        "203.0.113.0/24 nexthop via 192.0.2.253 dev eth0 weight 3 realms 5 nexthop via 192.0.2.254 dev eth0",
        "2001:db8:7::/64 via 2001:db8::fe dev eth0 pref high expires 300",
        "2001:db8:8::/64 from 2001:db8:9::/64 via 2001:db8::fe dev eth0",
    ]
    routes = [route(line) for line in lines]

    async def add() -> list[object]:
        async with AsyncIPRoute() as ipr:
            return [await add_route(ipr, r) for r in routes]

    assert h.run_async(add) == [None] * len(routes)
    v4 = h.ip("route", "show", "198.51.100.0/24")
    wanted = "realms 1/2|mtu lock 1400|advmss 1360|rtt 300ms|rttvar 250ms|initcwnd 10|initrwnd 20|window 3000"
    for want in (wanted + "|hoplimit 32|reordering 5|features ecn|quickack 1").split("|"):
        assert want in v4, (want, v4)
    mp = h.ip("route", "show", "203.0.113.0/24")
    assert "nexthop via 192.0.2.253 realm 5 dev eth0 weight 3" in mp
    assert "nexthop via 192.0.2.254 dev eth0 weight 1" in mp
    v6 = h.ip("-6", "route", "show", "2001:db8:7::/64")
    assert "pref high" in v6 and "expires" in v6
    assert "2001:db8:8::/64 from 2001:db8:9::/64 via 2001:db8::fe dev eth0" in h.ip("-6", "route", "show")

    async def remove() -> list[object]:
        async with AsyncIPRoute() as ipr:
            return [await del_route(ipr, r) for r in routes]

    assert h.run_async(remove) == [None] * len(routes)
    assert "198.51.100.0" not in h.ip("route", "show") and "2001:db8:7::" not in h.ip("-6", "route", "show")


def test_every_config_rule_option_reaches_the_kernel(lab1: Lab) -> None:
    h = lab1["h1"]
    lines = {
        "200": "from 192.0.2.0/24 not table 100 priority 200",
        "201": "to 198.51.100.0/24 uidrange 1000-2000 ipproto tcp sport 1000-2000 dport 80 table 100"
        " priority 201",
        "202": "from 192.0.2.0/24 suppress_prefixlength 0 suppress_ifgroup 5 table 100 priority 202",
        "203": "from 192.0.2.0/24 realms 3/4 table 100 priority 203",
        "204": "from 192.0.2.0/24 l3mdev priority 204",
        "205": "tunnel-id 7 table 100 priority 205",
        "206": "inet6 inet6 ipproto ipv6-icmp oif eth0 blackhole priority 206",
    }
    rules = [rule(line) for line in lines.values()]

    async def add() -> list[object]:
        async with AsyncIPRoute() as ipr:
            return [await add_rule(ipr, r) for r in rules]

    assert h.run_async(add) == [None] * len(rules)
    both = h.ip("rule", "show") + h.ip("-6", "rule", "show")
    shown = {ln.split(":", 1)[0]: ln for ln in both.splitlines()}
    assert "not from 192.0.2.0/24 lookup 100" in shown["200"]
    for want in ("to 198.51.100.0/24", "ipproto tcp", "sport 1000-2000", "dport 80", "uidrange 1000-2000"):
        assert want in shown["201"], (want, shown["201"])
    assert "suppress_prefixlength 0" in shown["202"] and "suppress_ifgroup 5" in shown["202"]
    assert "realms 3/4" in shown["203"]
    assert "lookup [l3mdev-table]" in shown["204"]
    assert "tun_id 7" in shown["205"]
    assert "oif eth0" in shown["206"] and "ipproto ipv6-icmp" in shown["206"] and "blackhole" in shown["206"]

    async def remove() -> list[object]:
        async with AsyncIPRoute() as ipr:
            return [await del_rule(ipr, r) for r in rules]

    assert h.run_async(remove) == [None] * len(rules)
    left = h.ip("rule", "show") + h.ip("-6", "rule", "show")
    assert not any(f"{p}:" in left for p in lines)
