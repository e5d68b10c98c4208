# Theory of operation
# -------------------
# `linkbeat_interfaces { IFNAME [MII|ETHTOOL|IOCTL] ... }` and the top-level `linkbeat_use_polling`
# (every VRRP instance's interface; the deprecated instance keyword does the same for its own)
# (keepalived.md §1.1, §1.3; keepalived 2.2.7 vrrp_parser.c alloc_linkbeat_interface, vrrp_if.c
# init_interface_linkbeat / if_linkbeat_refresh_thread). The link state of these interfaces comes
# from polling the NIC once a second (POLLING_DELAY) with linux/linkbeat.py's probes instead of
# netlink, whose link messages for them are then ignored:
# - at start: `Turning off linkbeat for IF since not used for tracking` for an interface no
#   instance runs on or tracks; the probe type is found (`(IF): Configured linkbeat type X not
#   supported, using Y`); `Using MII-BMSR/ETHTOOL NIC polling thread(s)...` once;
# - each poll that finds the state changed logs `Linkbeat reports IF up|down` and acts as a netlink
#   report would (instances on the interface, track_interface).
# Interfaces not existing (yet) poll as down. VMACs always use netlink.
"""Linkbeat: polling the link state of interfaces (MII / ethtool / interface flags)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING

from pykeepalived.config.model import Model
from pykeepalived.daemon.log import log
from pykeepalived.linux.linkbeat import LB_ETHTOOL, LB_IOCTL, LB_MII, LinkProbe

if TYPE_CHECKING:
    from pykeepalived.daemon.vrrp.instances import InstanceTable

LinkChanged = Callable[[int, str, bool, "str | None"], None]
"""(ifindex, ifname, usable, source): the child's reaction to a link change (VrrpChild.link_changed)."""

POLLING_DELAY_S = 1.0


def polled_interfaces(model: Model) -> dict[str, str | None]:
    """Interfaces to poll, with their configured probe type (None: find one)."""
    out: dict[str, str | None] = {}
    for row in model.linkbeat_interfaces:
        if row[0] != "linkbeat_interfaces" or len(row) < 2:
            continue
        lb = row[2] if len(row) > 2 and row[2] in (LB_MII, LB_ETHTOOL, LB_IOCTL) else None
        out[row[1]] = lb
    every = model.root.linkbeat_use_polling
    for inst in model.vrrp_instances:
        own = inst.linkbeat_use_polling
        if inst.interface is not None and (every or own):
            out.setdefault(inst.interface, None)
    return out


class LinkbeatPoller:
    def __init__(self, table: InstanceTable, tracked_ifs: set[str], ifaces: dict[str, str | None],
                 link_changed: LinkChanged) -> None:
        self.table = table
        self.tracked_ifs = tracked_ifs  # the track_interface ones, at start
        self.link_changed = link_changed
        self.probe = LinkProbe()
        self.types: dict[str, str | None] = dict(ifaces)  # None until the interface exists
        self.up: dict[str, bool] = {}
        self._handle: asyncio.TimerHandle | None = None

    def polls(self, ifname: str) -> bool:
        return ifname in self.types

    def _ifindex(self, ifname: str) -> int:
        try:
            return socket.if_nametoindex(ifname)
        except OSError:
            return 0

    def start(self) -> None:
        engine = self.table.engine
        for ifname, configured in list(self.types.items()):
            self.types[ifname] = None
            up = self.up[ifname] = self._init(ifname, configured) if self._ifindex(ifname) else False
            # the state the core starts from (netlink's until now), before the driver runs
            for rt in self.table.runtime.values():
                if rt.iface is not None and rt.iface.ifname == ifname and not rt.params.dont_track_primary:
                    rt.inst.set_link(up, 0)
            if ifname in self.tracked_ifs:
                engine.set_tracker("interface", ifname, up, 0)
        self._handle = asyncio.get_running_loop().call_later(POLLING_DELAY_S, self.poll)

    def _init(self, ifname: str, configured: str | None) -> bool:
        lb, up = self.probe.init_type(ifname, configured)
        if configured is not None and configured != lb:
            log.info("(%s): Configured linkbeat type %s not supported, using %s", ifname, configured, lb)
        self.types[ifname] = lb
        return up

    def poll(self) -> None:
        """if_linkbeat_refresh_thread for every polled interface."""
        for ifname, lb in self.types.items():
            ifindex = self._ifindex(ifname)
            if not ifindex:
                up = False
            elif lb is None:
                up = self._init(ifname, None)
            else:
                up = self.probe.probe(ifname, lb)
            if up != self.up.get(ifname):
                self.up[ifname] = up
                log.info("Linkbeat reports %s %s", ifname, "up" if up else "down")
                self.link_changed(ifindex, ifname, up, None)
        self._handle = asyncio.get_running_loop().call_later(POLLING_DELAY_S, self.poll)

    def close(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        self.probe.close()


def start_linkbeat(table: InstanceTable, tracked_ifs: set[str], model: Model, link_changed: LinkChanged
                   ) -> LinkbeatPoller | None:
    """keepalived init_interface_linkbeat: the poller, None when no interface is polled."""
    wanted = polled_interfaces(model)
    if not wanted:
        return None
    used = {rt.params.interface for rt in table.runtime.values()} | tracked_ifs
    vmacs = {rt.vmac.ifname for rt in table.runtime.values() if rt.vmac is not None}
    for ifname in list(wanted):
        if ifname in vmacs:
            log.info("Turning off linkbeat for %s since netlink works for vmacs/ipvlans", ifname)
            del wanted[ifname]
        elif ifname not in used:
            log.info("Turning off linkbeat for %s since not used for tracking", ifname)
            del wanted[ifname]
    if not wanted:
        return None
    poller = LinkbeatPoller(table, tracked_ifs, wanted, link_changed)
    poller.start()
    log.info("Using MII-BMSR/ETHTOOL NIC polling thread(s)...")
    return poller
