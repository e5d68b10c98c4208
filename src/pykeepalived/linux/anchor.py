# Theory of operation
# -------------------
# The BGP announcement anchor (docs/bgp.md): a TUN device the VRRP child creates and holds open, with
# the addresses it announces as host addresses (/32, /128) on it. The local FRR's zebra sees them as
# connected routes on that interface and bgpd redistributes them (`redistribute connected
# route-map ...` matching `interface <anchor>`). The device is NOT persistent (TUNSETPERSIST 0, also
# when a persistent TUN of that name existed and TUNSETIFF attached to it): the
# kernel deletes it, with its addresses, when its last file descriptor closes, so a VRRP child that
# stops, crashes or is killed with -9 takes its announcements with it: zebra sees the interface go and
# bgpd withdraws, without pykeepalived having to run anything. The descriptor is close-on-exec, so
# notify scripts and trackers never keep it.
#
# Own code (one ioctl) because pyroute2 creates tun/tap devices persistent (its tuntap support sets
# TUNSETPERSIST), which is exactly what must not happen here; addresses go through pyroute2.
"""The TUN device BGP announcements hang on (dies with the process holding it)."""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from ipaddress import IPv4Address, IPv6Address

from pyroute2.netlink.exceptions import NetlinkError

from pykeepalived.linux.rtnl import AsyncIPRoute

TUNSETIFF = 0x400454CA
TUNSETPERSIST = 0x400454CB
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000
IFA_F_NODAD = 0x02
IPAddress = IPv4Address | IPv6Address


class Anchor:
    """One TUN device named `name`, created at once (the descriptor is held from then on); `up`,
    `announce` and `withdraw` are netlink operations the caller runs in its ordered queue."""

    def __init__(self, ipr: AsyncIPRoute, name: str) -> None:
        self.ipr = ipr
        self.name = name
        self.index = 0
        fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
        try:
            fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
            fcntl.ioctl(fd, TUNSETPERSIST, 0)  # a persistent device of that name left behind: not any more
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    async def up(self) -> None:
        try:
            (msg,) = await self.ipr.link("get", ifname=self.name)
            self.index = msg["index"]
            await self.ipr.link("set", index=self.index, state="up")
        except NetlinkError as exc:
            raise OSError(exc.code, f"{self.name}: {exc}") from exc

    async def announce(self, addr: IPAddress) -> None:
        if self.fd < 0:
            return
        kw = {"flags": IFA_F_NODAD} if addr.version == 6 else {}  # usable at once
        try:
            await self.ipr.addr("add", index=self.index, address=str(addr), prefixlen=addr.max_prefixlen,
                                **kw)
        except NetlinkError as exc:
            if exc.code != errno.EEXIST:
                raise OSError(exc.code, str(exc)) from exc

    async def withdraw(self, addr: IPAddress) -> None:
        if self.fd < 0:
            return
        try:
            await self.ipr.addr("del", index=self.index, address=str(addr), prefixlen=addr.max_prefixlen)
        except NetlinkError as exc:
            if exc.code not in (errno.EADDRNOTAVAIL, errno.ENODEV):
                raise OSError(exc.code, str(exc)) from exc

    def close(self) -> None:
        """Delete the device (and every announcement on it) by closing its only descriptor."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
