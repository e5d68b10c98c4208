"""BGP announcement of the VIPs through the local FRR (bgp_announce, docs/bgp.md).

Theory of operation
-------------------
pykeepalived does not speak BGP and does not drive FRR's configuration: it puts each announced VIP as
a host address (/32, /128) on an anchor, a TUN device it holds open (linux/anchor.py). The operator's
FRR redistributes the connected routes of that interface (`redistribute connected route-map`
matching `interface pka-bgp`), with BFD on the sessions. Why this coupling rather than vtysh or FRR's
northbound (gRPC/YANG):
  * the withdrawal does not depend on pykeepalived being alive: the kernel deletes a non-persistent
    TUN device when its last descriptor closes, so a stop, a crash or a kill -9 of the VRRP child
    removes the addresses, zebra sees the interface go and bgpd withdraws the routes at once;
  * nothing to keep in sync with FRR's running configuration, no FRR version coupling (vtysh output,
    YANG paths), and no privileges on FRR's vty sockets;
  * the preference is FRR's policy: `backup_anchor` is a second interface, and a route-map entry
    matching it sets the MED, AS-path prepend or local-pref the operator wants for the backups.

When each instance's addresses are announced (config/model.py BgpAnnounce.anchor_for): mode master,
on `anchor` while MASTER and on `backup_anchor` (if any) while BACKUP; mode anycast, on `anchor`
while MASTER or BACKUP, i.e. while the instance's trackers keep it out of FAULT: every healthy node
announces and the upstream router spreads the flows (ECMP). The announced set is the block's own
`addresses` (IPv4 and IPv6), not the instance's virtual_ipaddress: zebra selects one connected route
per prefix, and a /32 VIP on the segment's interface would shadow the anchor's (and, left behind by a
kill -9, keep the route announced); on the anchor, the address is also what accepts the traffic
locally. The state comes from the VRRP
child's VrrpEvents (every state Notify); an address two instances announce on the same anchor
stays while one of them still announces it.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address, IPv6Address
from typing import Protocol

from pykeepalived.config.model import BgpAnnounce, Model
from pykeepalived.daemon.log import log
from pykeepalived.vrrp.effects import Notify

IPAddress = IPv4Address | IPv6Address
STATES = ("MASTER", "BACKUP", "FAULT", "STOP", "DELETED")


class AnchorPort(Protocol):
    """What the announcer uses of an anchor device (linux/anchor.py Anchor)."""

    name: str

    async def up(self) -> None: ...
    async def announce(self, addr: IPAddress) -> None: ...
    async def withdraw(self, addr: IPAddress) -> None: ...
    def close(self) -> None: ...


Job = Callable[[], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Plan:
    """One instance's announcement settings and addresses."""

    bgp: BgpAnnounce
    addresses: tuple[IPAddress, ...]


def plans_of(model: Model) -> dict[str, Plan]:
    return {
        i.name: Plan(i.bgp, i.bgp.addresses)
        for i in model.vrrp_instances
        if i.bgp is not None
    }


@dataclass
class Announced:
    """What one instance announces now: its VRRP state and the anchor its addresses are on."""

    state: str = "INIT"
    anchor: str | None = None
    addresses: tuple[IPAddress, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class BgpView:
    state: str
    mode: str
    anchor: str | None  # None: withdrawn
    addresses: tuple[str, ...]  # announced now


class BgpAnnouncer:
    """Announces / withdraws the instances' VIPs on their anchors as their VRRP states change."""

    def __init__(self, plans: Mapping[str, Plan], make_anchor: Callable[[str], AnchorPort],
                 submit: Callable[[Job], None]) -> None:
        """`make_anchor` creates an anchor device, `submit` queues a netlink job (the VRRP child's
        ordered queue: after the address changes of the same transition)."""
        self.plans = dict(plans)
        self.make_anchor = make_anchor
        self.submit = submit
        self.anchors: dict[str, AnchorPort] = {}
        self.current: dict[str, Announced] = {name: Announced() for name in self.plans}
        self.users: dict[tuple[str, IPAddress], set[str]] = {}  # (anchor, address) -> instances
        self.transitions = 0  # announcements and withdrawals made (metrics)

    def _anchor(self, name: str) -> AnchorPort | None:
        a = self.anchors.get(name)
        if a is None:
            try:
                a = self.make_anchor(name)
            except OSError as exc:
                log.error("bgp_announce: cannot create anchor %s: %s", name, exc)
                return None
            self.anchors[name] = a
            self.submit(functools.partial(self._run, a.up, f"bring {name} up"))
        return a

    @staticmethod
    async def _close(anchor: AnchorPort) -> None:
        anchor.close()

    @staticmethod
    async def _run(job: Job, what: str) -> None:
        try:
            await job()
        except OSError as exc:  # logged, the daemon goes on
            log.error("bgp_announce: cannot %s: %s", what, exc)

    def open(self) -> None:
        for plan in self.plans.values():
            for name in (plan.bgp.anchor, plan.bgp.backup_anchor):
                if name is not None:
                    self._anchor(name)

    def notified(self, n: Notify) -> None:
        """VrrpEvents subscriber: an instance's state change moves its announcement."""
        if n.target == "INSTANCE" and n.event in STATES and n.name in self.plans:
            self.set_state(n.name, n.event)

    def set_state(self, name: str, state: str) -> None:
        plan, cur = self.plans[name], self.current[name]
        cur.state = state
        want = plan.bgp.anchor_for(state)
        if want == cur.anchor and cur.addresses == plan.addresses:
            return
        self._withdraw(name, cur)
        if want is not None and (anchor := self._anchor(want)) is not None:
            for addr in plan.addresses:
                self.users.setdefault((want, addr), set()).add(name)
                self.submit(functools.partial(self._run, functools.partial(anchor.announce, addr),
                                              f"({name}) announce {addr} on {want}"))
            cur.anchor, cur.addresses = want, plan.addresses
            self.transitions += 1
            log.info("(%s) announcing %s through %s", name, " ".join(map(str, plan.addresses)), want)

    def _withdraw(self, name: str, cur: Announced) -> None:
        if cur.anchor is None:
            return
        anchor = self.anchors.get(cur.anchor)
        for addr in cur.addresses:
            users = self.users.get((cur.anchor, addr), set())
            users.discard(name)
            if not users:
                self.users.pop((cur.anchor, addr), None)
                if anchor is not None:
                    self.submit(functools.partial(self._run, functools.partial(anchor.withdraw, addr),
                                                  f"({name}) withdraw {addr} from {cur.anchor}"))
        log.info("(%s) withdrawing %s from %s", name, " ".join(map(str, cur.addresses)), cur.anchor)
        self.transitions += 1
        cur.anchor, cur.addresses = None, ()

    def seed(self, states: Mapping[str, str]) -> None:
        """Instances still in INIT here take the state given (a reload kept them in it)."""
        for name, cur in self.current.items():
            if cur.state == "INIT" and states.get(name, "INIT") in STATES:
                self.set_state(name, states[name])

    def reload(self, plans: Mapping[str, Plan]) -> None:
        """A reload: instances that went or stopped announcing withdraw, the others follow their new
        settings from the state they are in; anchors no longer named are deleted."""
        old = self.current
        self.plans = dict(plans)
        for name, cur in old.items():
            if name not in self.plans:
                self._withdraw(name, cur)
        self.current = {name: old.get(name, Announced()) for name in self.plans}
        for name, cur in self.current.items():
            self.set_state(name, cur.state)
        used = {a for p in self.plans.values() for a in (p.bgp.anchor, p.bgp.backup_anchor) if a}
        for name in set(self.anchors) - used:
            self.submit(functools.partial(self._close, self.anchors.pop(name)))  # after its withdrawals
        self.open()

    def close(self) -> None:
        """Stop: every anchor (and so every announcement) goes."""
        for cur in self.current.values():
            cur.anchor, cur.addresses = None, ()
        for a in self.anchors.values():
            a.close()
        self.anchors.clear()
        self.users.clear()

    def announced(self) -> list[tuple[str, str, str]]:
        """(instance, address, anchor) of every address announced now (metrics)."""
        return [(name, str(a), cur.anchor) for name, cur in self.current.items() if cur.anchor
                for a in cur.addresses]

    def view(self) -> dict[str, BgpView]:
        """For ctl and metrics: per instance, state, mode, anchor (None: withdrawn), addresses."""
        return {
            name: BgpView(cur.state, self.plans[name].bgp.mode, cur.anchor, tuple(map(str, cur.addresses)))
            for name, cur in self.current.items()
        }
