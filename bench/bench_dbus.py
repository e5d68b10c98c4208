"""VRRP adverts while DBus clients keep the service busy (issue 17), pykeepalived beside keepalived.

A master (advert_int 0.1 s, VRRPv3, enable_dbus) alone on a LAN with a private system bus of its
own (src/pykeepalived/lab/dbus_bus.py); a second host captures its adverts while clients on the bus call it
as fast as they are answered for FLOOD_S seconds: `idle` (no calls: the machine's own noise),
`reads` (4 clients reading State and GetAll and introspecting), `garps` (2 clients calling SendGarp:
each call puts a GARP on the wire). Per scenario and implementation: the longest gap between two
adverts and the calls answered per second.

`python bench/bench_dbus.py [SCENARIO...]`
"""

from __future__ import annotations

import asyncio
import itertools
import os
import sys
import time
from typing import Any

from pykeepalived.lab import Lab
from pykeepalived.lab.capture import Capture, vrrp_adverts
from pykeepalived.lab.dbus_bus import PrivateBus
from pykeepalived.lab.node import Node, discard, wait_for

Row = dict[str, Any]
FLOOD_S = 8.0
SVC = "org.keepalived.Vrrp1"
PATH = "/org/keepalived/Vrrp1/Instance/eth0/51/IPv4"
IFACE = "org.keepalived.Vrrp1.Instance"
CONF = """global_defs {
    router_id bench_dbus
    enable_dbus
    vrrp_garp_master_delay 0
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 150
    version 3
    advert_int 0.1
    virtual_ipaddress {
        192.0.2.100/24
    }
}
"""


async def _client(address: str, calls: list[tuple[str, str, str, list[Any]]], until: float) -> int:
    from dbus_fast import Message
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_address=address).connect()
    done = 0
    try:
        for path, iface, member, body in itertools.cycle(calls):
            if time.monotonic() >= until:
                break
            sig = "s" * len(body)
            await bus.call(Message(destination=SVC, path=path, interface=iface, member=member,
                                   signature=sig, body=body))
            done += 1
    finally:
        bus.disconnect()
    return done


async def _flood(address: str, clients: int, calls: list[tuple[str, str, str, list[Any]]]) -> int:
    until = time.monotonic() + FLOOD_S
    return sum(await asyncio.gather(*(_client(address, calls, until) for _ in range(clients))))


PROPS = "org.freedesktop.DBus.Properties"
SCENARIOS: dict[str, tuple[int, list[tuple[str, str, str, list[Any]]]]] = {
    "idle": (0, []),
    "reads": (4, [(PATH, PROPS, "Get", [IFACE, "State"]), (PATH, PROPS, "GetAll", [IFACE]),
                  (PATH, "org.freedesktop.DBus.Introspectable", "Introspect", [])]),
    "garps": (2, [(PATH, IFACE, "SendGarp", [])]),
}


def run(impl: str, names: list[str]) -> dict[str, Row]:
    out: dict[str, Row] = {}
    with Lab(hosts=["n1", "n2"], prefix=f"p17b{os.getpid()}{impl}-") as lab:
        bus = PrivateBus()
        node = Node(lab["n1"], CONF, impl=impl, env=bus.env)
        try:
            node.start()
            wait_for(lambda: "2" in bus.busctl("get-property", SVC, PATH, IFACE, "State", check=False), 30)
            for name in names:
                clients, calls = SCENARIOS[name]
                cap = Capture(lab["n2"], "ip proto 112")
                try:
                    t0 = time.time()
                    done = asyncio.run(_flood(bus.address, clients, calls)) if clients else 0
                    if not clients:
                        time.sleep(FLOOD_S)
                    t1 = time.time()
                finally:
                    path = cap.stop()
                adverts = [s for s in vrrp_adverts(path) if t0 <= s.t <= t1]
                cap.cleanup()
                gaps = [y.t - x.t for x, y in itertools.pairwise(adverts)]
                out[name] = {"gap": max(gaps) if gaps else None, "calls_s": done / FLOOD_S,
                             "tracebacks": node.logs().count("Traceback")}
        finally:
            discard(node)
            bus.close()
    return out


def main(names: list[str] | None = None) -> list[Row]:
    if os.geteuid() != 0:
        return []
    names = names or list(SCENARIOS)
    res = {impl: run(impl, names) for impl in ("ka", "py")}
    print(res, flush=True)
    rows: list[Row] = []
    for n in names:
        py, ka = res["py"][n], res["ka"][n]
        rows.append({"name": f"dbus {n}: max advert gap at advert_int 0.1 s", "value": py["gap"], "unit": "s",
                     "keepalived": ka["gap"], "goal": "< 0.3 (3 x advert_int)"})
        if n != "idle":
            rows.append({"name": f"dbus {n}: calls answered", "value": py["calls_s"], "unit": "/s",
                         "keepalived": ka["calls_s"], "goal": None})
        rows.append({"name": f"dbus {n}: tracebacks in the log", "value": py["tracebacks"], "unit": "",
                     "keepalived": None, "goal": "0"})
    return rows


if __name__ == "__main__":
    for row in main(sys.argv[1:]):
        print(row)
