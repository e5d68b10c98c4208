# Theory of operation
# -------------------
# Link and address monitoring over rtnetlink multicast groups (RTMGRP_LINK, RTMGRP_IPV4_IFADDR,
# RTMGRP_IPV6_IFADDR), as keepalived's netlink "monitor" channel does: the daemon turns LinkEvents
# into FAULT / track_interface weight changes (keepalived.md §1.11.6) and AddressEvents into
# "primary address gone → FAULT" and "a VIP was deleted while MASTER → put it back" (§1.4).
#
# `NetlinkMonitor` is an async context manager and an async iterator of events. It keeps an
# ifindex → ifname map (seeded by a dump, refreshed by link events) so address events carry the
# interface name. Link events are reported only when IFF_UP / IFF_RUNNING change or the link is
# created/deleted (RTM_NEWLINK is also sent for statistics and MTU changes). The iterator must be
# consumed promptly: netlink drops messages when the receive buffer overflows (we size it at 4 MiB).
# With `groups=DEFAULT_GROUPS | ROUTE_GROUPS` it also reports routes tagged proto keepalived, so
# deleted static/virtual routes can be restored as keepalived does.
"""Link and address events from rtnetlink."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pyroute2.netlink.rtnl import (
    RTMGRP_IPV4_IFADDR,
    RTMGRP_IPV4_ROUTE,
    RTMGRP_IPV6_IFADDR,
    RTMGRP_IPV6_ROUTE,
    RTMGRP_LINK,
)

from pykeepalived.linux.iface import IFF_RUNNING, IFF_UP
from pykeepalived.linux.rcvbuf import set_rcvbuf
from pykeepalived.linux.rtnl import AsyncIPRoute
from pykeepalived.vrrp.params import IPAddress


@dataclass(frozen=True, slots=True)
class LinkEvent:
    ifname: str
    ifindex: int
    up: bool  # IFF_UP (administratively up)
    running: bool  # IFF_RUNNING (carrier and operationally up): what keepalived treats as "up"
    deleted: bool = False
    flags: int = 0

    @property
    def usable(self) -> bool:
        return self.up and self.running and not self.deleted


@dataclass(frozen=True, slots=True)
class AddressEvent:
    ifname: str | None
    ifindex: int
    address: IPAddress
    prefixlen: int
    added: bool  # False: removed

    @property
    def family(self) -> int:
        return self.address.version


@dataclass(frozen=True, slots=True)
class RouteEvent:
    """A route tagged `proto keepalived` (18) appeared or vanished (only with ROUTE_GROUPS)."""

    dst: ipaddress.IPv4Network | ipaddress.IPv6Network
    table: int
    added: bool


MonitorEvent = LinkEvent | AddressEvent | RouteEvent
DEFAULT_GROUPS = RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR
ROUTE_GROUPS = RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE
RTPROT_KEEPALIVED = 18


class NetlinkMonitor:
    """`async with NetlinkMonitor() as mon: async for ev in mon: ...`"""

    def __init__(self, groups: int = DEFAULT_GROUPS, rcvbuf: tuple[int, bool] | None = None) -> None:
        self.groups = groups
        self.rcvbuf = rcvbuf  # *_netlink_monitor_rcv_bufs[_force]; None: 4 MiB
        self.names: dict[int, str] = {}
        self._flags: dict[int, int] = {}
        self._ipr: AsyncIPRoute | None = None

    async def open(self) -> None:
        ipr = AsyncIPRoute()
        try:
            # subscribe first, then seed the name map from a separate socket: nothing is missed
            await ipr.bind(groups=self.groups)
            if self.rcvbuf is None:
                ipr.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
            else:
                set_rcvbuf(ipr.socket, *self.rcvbuf)
            async with AsyncIPRoute() as dumper:
                async for msg in await dumper.link("dump"):
                    self.names[msg["index"]] = msg.get("IFLA_IFNAME")
                    self._flags[msg["index"]] = msg["flags"]
        except BaseException:
            ipr.close()
            raise
        self._ipr = ipr

    def close(self) -> None:
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    async def __aenter__(self) -> NetlinkMonitor:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    def link_state(self, ifindex: int) -> int | None:
        """Last known IFF_* flags of an interface (None if unknown)."""
        return self._flags.get(ifindex)

    def __aiter__(self) -> AsyncIterator[MonitorEvent]:
        return self.events()

    async def events(self) -> AsyncIterator[MonitorEvent]:
        if self._ipr is None:
            await self.open()
        assert self._ipr is not None
        while self._ipr is not None:
            # each get() yields one batch (one recv) of notifications
            async for msg in self._ipr.get():
                ev = self._convert(msg)
                if ev is not None:
                    yield ev

    def _name(self, index: int) -> str | None:
        name = self.names.get(index)
        if name is None:
            try:
                name = self.names[index] = socket.if_indextoname(index)
            except OSError:
                return None
        return name

    def _convert(self, msg: Any) -> MonitorEvent | None:
        event = msg.get("event")
        if event in ("RTM_NEWLINK", "RTM_DELLINK"):
            index = msg["index"]
            name = msg.get("IFLA_IFNAME") or self.names.get(index) or str(index)
            flags = msg["flags"]
            deleted = event == "RTM_DELLINK"
            old = self._flags.get(index)
            if deleted:
                self.names.pop(index, None)
                self._flags.pop(index, None)
            else:
                self.names[index] = name
                self._flags[index] = flags
                if old is not None and (old ^ flags) & (IFF_UP | IFF_RUNNING) == 0:
                    return None
            return LinkEvent(
                ifname=name,
                ifindex=index,
                up=bool(flags & IFF_UP),
                running=bool(flags & IFF_RUNNING),
                deleted=deleted,
                flags=flags,
            )
        if event in ("RTM_NEWADDR", "RTM_DELADDR"):
            addr = msg.get("IFA_LOCAL") if msg["family"] == socket.AF_INET else None
            addr = addr or msg.get("IFA_ADDRESS")
            if addr is None:
                return None
            return AddressEvent(
                ifname=self._name(msg["index"]),
                ifindex=msg["index"],
                address=ipaddress.ip_address(addr),
                prefixlen=msg["prefixlen"],
                added=event == "RTM_NEWADDR",
            )
        if event in ("RTM_NEWROUTE", "RTM_DELROUTE") and msg["proto"] == RTPROT_KEEPALIVED:
            family = msg["family"]
            dst = msg.get("RTA_DST") or ("0.0.0.0" if family == socket.AF_INET else "::")
            return RouteEvent(
                dst=ipaddress.ip_network(f"{dst}/{msg['dst_len']}", strict=False),
                table=msg.get("RTA_TABLE") or msg["table"],
                added=event == "RTM_NEWROUTE",
            )
        return None
