"""daemon/vrrp/bgp.py's bookkeeping, which tests/bgp/ (real FRR, real anchors) does not reach: an address
two instances announce on one anchor, a reload that changes an instance's mode or drops it. The anchor
here records the netlink jobs instead of running them (the real one: linux/anchor.py, tests/bgp/)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from ipaddress import IPv4Address, IPv6Address, ip_address

from pykeepalived.config.model import BgpAnnounce
from pykeepalived.daemon.vrrp.bgp import BgpAnnouncer, Plan
from pykeepalived.vrrp.effects import Notify

A = ip_address("203.0.113.10")
B = ip_address("2001:db8:ff::10")


class Recorder:
    def __init__(self, name: str, kernel: dict[str, set[IPv4Address | IPv6Address]]) -> None:
        self.name = name
        self.kernel = kernel
        kernel[name] = set()

    async def up(self) -> None:
        pass

    async def announce(self, addr: IPv4Address | IPv6Address) -> None:
        self.kernel[self.name].add(addr)

    async def withdraw(self, addr: IPv4Address | IPv6Address) -> None:
        self.kernel[self.name].discard(addr)

    def close(self) -> None:
        del self.kernel[self.name]


def announcer(plans: dict[str, Plan]) -> tuple[BgpAnnouncer, dict[str, set[IPv4Address | IPv6Address]],
                                               Callable[[], None]]:
    kernel: dict[str, set[IPv4Address | IPv6Address]] = {}
    jobs: list[Callable[[], Awaitable[None]]] = []

    def run() -> None:
        async def go() -> None:
            while jobs:
                await jobs.pop(0)()
        asyncio.run(go())

    b = BgpAnnouncer(plans, lambda name: Recorder(name, kernel), jobs.append)
    b.open()
    return b, kernel, run


def state(b: BgpAnnouncer, name: str, st: str) -> None:
    b.notified(Notify("INSTANCE", name, st, 100))


def test_shared_address_stays_while_one_instance_announces() -> None:
    b, kernel, run = announcer({"V1": Plan(BgpAnnounce(addresses=(A,)), (A,)),
                                "V2": Plan(BgpAnnounce(addresses=(A, B)), (A, B))})
    state(b, "V1", "MASTER")
    state(b, "V2", "MASTER")
    run()
    assert kernel == {"pka-bgp": {A, B}}
    state(b, "V1", "FAULT")
    run()
    assert kernel == {"pka-bgp": {A, B}}, "V2 still announces A"
    state(b, "V2", "BACKUP")
    run()
    assert kernel == {"pka-bgp": set()}
    assert b.announced() == [] and b.transitions == 4


def test_reload_moves_to_the_new_mode_and_drops_gone_instances_and_anchors() -> None:
    b, kernel, run = announcer({"V1": Plan(BgpAnnounce(backup_anchor="pka-b", addresses=(A,)), (A,)),
                                "V2": Plan(BgpAnnounce(anchor="pka-2", addresses=(B,)), (B,))})
    state(b, "V1", "BACKUP")
    state(b, "V2", "MASTER")
    run()
    assert kernel == {"pka-bgp": set(), "pka-b": {A}, "pka-2": {B}}
    b.reload({"V1": Plan(BgpAnnounce(mode="anycast", addresses=(A,)), (A,))})
    run()
    assert kernel == {"pka-bgp": {A}}, "anycast BACKUP announces on the anchor; V2 and its anchor gone"
    assert b.announced() == [("V1", str(A), "pka-bgp")]
    b.close()
    assert kernel == {}
