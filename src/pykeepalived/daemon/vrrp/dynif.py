# Theory of operation
# -------------------
# `dynamic_interfaces [allow_if_changes]` (global_defs; keepalived.md §1.2, §1.11 `interface`).
# Without it an instance whose interface does not exist is refused. With it keepalived 2.2.7 logs
# `Configuration specifies interface IF which doesn't currently exist - will use if created` and
# runs the instance in FAULT (interface down, no address); netlink then reports `Interface IF added`
# and, once the interface is up with an address, the instance leaves FAULT and starts as BACKUP.
# An interface deleted and created again (new ifindex) is picked up the same way.
#
# Here the instance is built without an interface (no socket, link down, no source address); when
# a netlink link event names its interface with an ifindex it does not know, the instance is
# attached: the interface is read, the receive/send socket opened on it (any socket left on the old
# ifindex closed), the engine's demultiplexing moved, the source address set; the link state then
# follows from the same event as for any interface.
"""Instances waiting for their interface (dynamic_interfaces)."""

from __future__ import annotations

import socket
from typing import TYPE_CHECKING

from pykeepalived.daemon.log import DETAIL, log
from pykeepalived.linux.iface import InterfaceNotFound, get_interface
from pykeepalived.linux.monitor import LinkEvent

if TYPE_CHECKING:
    from collections.abc import Callable

    from pykeepalived.config.model import Model
    from pykeepalived.daemon.vrrp.instances import InstanceTable, Runtime
    from pykeepalived.daemon.vrrp.runtimes import RuntimeBuilder
    from pykeepalived.vrrp.driver import Driver


class DynamicInterfaces:
    """Tracks interface creation for the instances configured on interfaces that may not exist."""

    def __init__(self, table: InstanceTable, builder: RuntimeBuilder,
                 running_model: Callable[[], Model | None]) -> None:
        self.table = table  # the instances waiting for an interface
        self.builder = builder  # their addresses and sockets, once it exists
        self.running_model = running_model
        self.known = {idx for idx, _ in socket.if_nameindex()}
        self.usable: dict[int, bool] = {}  # interfaces attached here: the link state last acted on

    def waiting(self, ev: LinkEvent) -> list[Runtime]:
        """Instances on `ev`'s interface not yet bound to its current ifindex."""
        return [rt for rt in self.table.runtime.values()
                if rt.params.interface == ev.ifname and rt.vmac is None
                and (rt.iface is None or rt.iface.ifindex != ev.ifindex)]

    async def on_link(self, ev: LinkEvent, driver: Driver) -> bool:
        """A netlink link event: log new interfaces, attach the instances waiting for them. False
        when the event changes nothing for an interface attached here (a created interface is
        down until set up: its instances are already in FAULT, keepalived reports nothing)."""
        if ev.deleted:
            if ev.ifindex in self.known:
                self.known.discard(ev.ifindex)
                log.info("Interface %s deleted", ev.ifname)
            return self.usable.pop(ev.ifindex, None) is not False  # already reported down
        if ev.ifindex not in self.known:
            self.known.add(ev.ifindex)
            log.info("Interface %s added", ev.ifname)
        todo = self.waiting(ev)
        if not todo:
            if self.usable.get(ev.ifindex, not ev.usable) == ev.usable:
                return False
            if ev.ifindex in self.usable:
                self.usable[ev.ifindex] = ev.usable
            return True
        builder = self.builder
        try:
            iface = await get_interface(builder.ipr, ev.ifindex)
        except InterfaceNotFound:
            return True
        self.usable[ev.ifindex] = ev.usable
        sockets = builder.sockets
        for key in [k for k, s in sockets.items() if k[0] == ev.ifname and s.ifindex != ev.ifindex]:
            sockets.pop(key).close()  # bound to the interface's previous incarnation
        logged = False
        for rt in todo:
            rt.iface = iface
            model = self.running_model()
            if model is not None:  # those without `dev` live on the interface
                await builder.build_addresses(rt, model)
                self.table.addresses_changed()
            p = rt.params
            if not logged:
                addr = iface.primary_ipv4(set(p.vips) | set(p.evips))
                if addr is not None:
                    log.log(DETAIL, "Assigned address %s for interface %s", addr, iface.ifname)
                logged = True
            try:
                rt.sock = builder.socket_for(rt)
            except OSError as exc:
                log.error("(%s) cannot open VRRP socket: %s", p.name, exc)
                rt.sock = None
            self.table.engine.set_ifindex(p.name, rt.sock.ifindex if rt.sock else iface.ifindex)
            driver.set_source_address(p.name, p.src_ip or builder.primary(iface, p))
        return ev.usable
