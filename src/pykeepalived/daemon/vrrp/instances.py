"""The VRRP child's running instances: the core's objects and what the daemon knows of each.

`InstanceTable` is the one place the child keeps them: the engine (every core instance and sync
group) and the `Runtime` entry of each (socket, interface, addresses, VMAC, routes, rules),
replaced whole at a reload (`runtime` is then a new dict: hold the table, not the dict). It is the
`VrrpView` (control/view.py) the control socket, the metrics collector and the other services read;
its `Transitions` subscribe to the state changes (`VrrpEvents`) for the wall-clock times keepalived
reports (last_transition, wantstate).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Address
from typing import TYPE_CHECKING

from pykeepalived.config.instance_setup import InstanceSetup
from pykeepalived.linux.addresses import Address, Route, Rule
from pykeepalived.linux.iface import InterfaceInfo
from pykeepalived.linux.vmac import Vmac
from pykeepalived.linux.vrrp_socket import VRRP_GROUP4, Destination, SendCall, VrrpSocket
from pykeepalived.vrrp.effects import State, StateChanged, Transmit
from pykeepalived.vrrp.instance import VrrpInstance
from pykeepalived.vrrp.packet import Ipv4AdvertTemplate
from pykeepalived.vrrp.params import ChecksumMode, InstanceParams, IPAddress

if TYPE_CHECKING:
    from pykeepalived.vrrp.engine import VrrpEngine
    from pykeepalived.vrrp.sync_group import SyncGroup

AdvertFrame = tuple[SendCall | None, Ipv4AdvertTemplate | None, bytes, Destination, ValueError | None, int]
"""One destination of an advert: the send call, the IPv4 template or the IPv6 PDU, where, or why it
can't be built, and the connected socket an IPv6 PDU is queued for (sendmmsg), else -1."""


@dataclass
class Runtime:
    """What the executor knows about one instance beyond the core's parameters."""

    params: InstanceParams
    setup: InstanceSetup  # what the wiring reads of the vrrp_instance block beyond the core's params
    inst: VrrpInstance
    iface: InterfaceInfo | None
    sock: VrrpSocket | None = None
    addresses: dict[IPAddress, Address] = field(default_factory=dict)  # VIPs and eVIPs
    not_set: set[IPAddress] = field(default_factory=set)  # refused when last claimed (no `set` in dumps)
    vmac: Vmac | None = None  # use_vmac: adverts, VIPs and GARP on the macvlan
    routes: list[Route] = field(default_factory=list)  # virtual_routes
    rules: list[Rule] = field(default_factory=list)  # virtual_rules
    ip_id: int = 0
    group4: IPv4Address = VRRP_GROUP4  # pseudo-header destination for old_unicast_checksum
    # the encoded advert for the last Transmit sent (LinuxExecutor._transmit)
    tx_for: Transmit | None = None
    tx_mode: ChecksumMode | None = None
    tx_sock: VrrpSocket | None = None
    tx_frames: list[AdvertFrame] = field(default_factory=list)


class Transitions:
    """The wall-clock time of each instance's state changes (a VrrpEvents subscriber)."""

    def __init__(self) -> None:
        self.last: dict[str, float] = {}
        self.started = time.time()  # keepalived sets last_transition when it reads the configuration
        self.fault_from_init: set[str] = set()  # in FAULT since leaving INIT (keepalived's wantstate FAULT)

    def changed(self, e: StateChanged) -> None:
        self.last[e.instance] = time.time()
        if e.new is State.FAULT and e.old is State.INIT:
            self.fault_from_init.add(e.instance)
        else:
            self.fault_from_init.discard(e.instance)

    def reloaded(self) -> None:
        """A reload read a new configuration: keepalived 2.2.7 builds every instance anew (alloc_vrrp
        sets last_transition) and copies only the state of one that still exists, so the dumps'
        `Last transition` of every instance is the reload's time until its next state change (the
        metrics keep the real transitions: `last`)."""
        self.started = time.time()

    def last_transition(self, inst: VrrpInstance) -> float:
        """keepalived's vrrp->last_transition: the last state change since the configuration was
        read (at start or the last reload), else when it was read."""
        return max(self.last.get(inst.name, self.started), self.started)

    def wantstate(self, inst: VrrpInstance) -> State:
        """keepalived sets wantstate to FAULT for an instance that starts in FAULT (vrrp_scheduler.c
        vrrp_init_state); the core keeps the state it wants once the fault clears."""
        if inst.state is State.FAULT and inst.name in self.fault_from_init:
            return State.FAULT
        return inst.wantstate


class InstanceTable:
    """The engine and the Runtime entries of the running instances; a `VrrpView`."""

    def __init__(self, engine: VrrpEngine, transitions: Transitions | None = None) -> None:
        self.engine = engine
        self.runtime: dict[str, Runtime] = {}
        self.transitions = transitions or Transitions()
        self._vips: set[IPAddress] | None = None  # every instance's VIPs and eVIPs (is_vip)

    def replace(self, runtime: dict[str, Runtime]) -> None:
        """The instances a start or a reload built."""
        self.runtime = runtime
        self._vips = None

    def addresses_changed(self) -> None:
        """An instance's addresses were built again (daemon/vrrp/dynif.py)."""
        self._vips = None

    def is_vip(self, addr: IPAddress) -> bool:
        """A VIP or eVIP of any instance (one set lookup: 1,000 masters add 1,000 addresses)."""
        if self._vips is None:
            self._vips = {a for rt in self.runtime.values() for a in rt.addresses}
        return addr in self._vips

    # ------------------------------------------------------------------ VrrpView
    def instances(self) -> Mapping[str, VrrpInstance]:
        return self.engine.instances

    def groups(self) -> Mapping[str, SyncGroup]:
        return self.engine.groups

    def instance(self, name: str) -> VrrpInstance | None:
        inst = self.engine.instances.get(name)
        if inst is None and (rt := self.runtime.get(name)) is not None:
            return rt.inst  # dropped by a reload, still in the running set until it has stopped
        return inst

    def interface(self, name: str) -> str:
        rt = self.runtime.get(name)
        if rt is not None and rt.iface is not None:
            return rt.iface.ifname
        inst = self.engine.instances.get(name)
        return (inst.params.interface or "") if inst is not None else ""

    def interface_info(self, name: str) -> InterfaceInfo | None:
        rt = self.runtime.get(name)
        return rt.iface if rt is not None else None

    def setup(self, name: str) -> InstanceSetup | None:
        rt = self.runtime.get(name)
        return rt.setup if rt is not None else None

    def addresses(self, name: str, excluded: bool) -> list[tuple[IPAddress, int, str]]:
        rt = self.runtime.get(name)
        default = self.interface(name)
        if rt is None:  # a core instance without a daemon around it
            inst = self.engine.instances.get(name)
            if inst is None:
                return []
            addrs = inst.params.evips if excluded else inst.params.vips
            return [(a, a.max_prefixlen, default) for a in addrs]
        specs = rt.setup.evips if excluded else rt.setup.vips
        return [(s.address, s.prefix, s.dev or default) for s in specs]

    def address_set(self, name: str, addr: IPAddress) -> bool:
        rt = self.runtime.get(name)
        return rt is not None and rt.inst.vipset and addr in rt.addresses and addr not in rt.not_set

    def last_transition(self, name: str) -> float:
        return self.transitions.last.get(name, 0.0)

    def unknown_vrid_rcvd(self) -> int:
        return self.engine.unknown_vrid_rcvd
