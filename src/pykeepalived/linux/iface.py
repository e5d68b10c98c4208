# Theory of operation
# -------------------
# Interface facts the VRRP daemon needs, read over rtnetlink with pyroute2's AsyncIPRoute (never
# blocking the event loop): ifindex, MAC, IFF_* flags, the primary IPv4 address (keepalived: the first
# IPv4 address netlink reports on the interface that is not one of our VIPs — keepalived.md §5.1) and
# the first non-tentative link-local IPv6 address (the IPv6 advert source, RFC 5798 §5.1.2.1), and the
# forwarding flags (the Router flag of unsolicited NAs, RFC 4861 §4.4).
#
# Every function works in the network namespace of the calling thread (netlink sockets and /proc/sys
# are per thread); callers pass an AsyncIPRoute they own so one netlink socket serves many requests.
"""Interface facts over rtnetlink."""

from __future__ import annotations

import fcntl
import ipaddress
import os
import socket
import struct
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from pykeepalived.linux.rtnl import (
    IFA_ADDRESS,
    IFA_FLAGS,
    IFA_LABEL,
    IFA_LOCAL,
    IFADDRMSG,
    NLM_F_DUMP,
    NLM_F_DUMP_INTR,
    NLMSG_DONE,
    NLMSG_ERROR,
    AsyncIPRoute,
    error_code,
    messages,
    raw_socket,
    request,
)
from pykeepalived.vrrp.frames import hwaddr_to_bytes
from pykeepalived.vrrp.params import IPAddress

IFF_UP = 0x1
IFF_BROADCAST = 0x2
IFF_LOOPBACK = 0x8
IFF_POINTOPOINT = 0x10
IFF_NOARP = 0x80
IFF_MULTICAST = 0x1000
IFF_RUNNING = 0x40  # IFF_RUNNING as reported in ifi_flags (carrier + oper up)
IFF_LOWER_UP = 0x10000
SIOCGIFFLAGS = 0x8913

IFA_F_SECONDARY = 0x01
IFA_F_NODAD = 0x02
IFA_F_DADFAILED = 0x08
IFA_F_TENTATIVE = 0x40
IFA_F_PERMANENT = 0x80

RT_SCOPE_LINK = 253


class InterfaceNotFound(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class AddressInfo:
    """One address as netlink reports it."""

    address: IPAddress
    prefixlen: int
    ifindex: int
    scope: int
    flags: int
    label: str | None = None

    @property
    def family(self) -> int:
        return self.address.version

    @property
    def tentative(self) -> bool:
        return bool(self.flags & (IFA_F_TENTATIVE | IFA_F_DADFAILED))


@dataclass(frozen=True, slots=True)
class InterfaceInfo:
    ifname: str
    ifindex: int
    mac: bytes  # 6 bytes for Ethernet; b"" when the link has none
    flags: int
    mtu: int
    kind: str | None = None  # IFLA_INFO_KIND: "veth", "macvlan", "bridge", ...
    link: int | None = None  # parent ifindex (IFLA_LINK), e.g. a macvlan's lower device
    addresses: tuple[AddressInfo, ...] = field(default=())
    # the IPv6 link-local ones among them, picked once: an instance's source address is looked up
    # among them, and an interface may carry hundreds of VIPs (a respawn after a kill -9)
    link_locals: tuple[AddressInfo, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "link_locals", tuple(
            a for a in self.addresses if a.family == 6 and a.address.is_link_local))

    @property
    def up(self) -> bool:
        return bool(self.flags & IFF_UP)

    @property
    def running(self) -> bool:
        return bool(self.flags & IFF_RUNNING)

    @property
    def noarp(self) -> bool:
        return bool(self.flags & IFF_NOARP)

    @property
    def multicast(self) -> bool:
        return bool(self.flags & IFF_MULTICAST)

    @property
    def mac_str(self) -> str:
        return ":".join(f"{b:02x}" for b in self.mac)

    def ipv4_addresses(self) -> list[AddressInfo]:
        return [a for a in self.addresses if a.family == 4]

    def ipv6_addresses(self) -> list[AddressInfo]:
        return [a for a in self.addresses if a.family == 6]

    def primary_ipv4(self, exclude: Collection[IPAddress] = ()) -> ipaddress.IPv4Address | None:
        """keepalived's interface primary address: first IPv4 address that is not a VIP."""
        for a in self.addresses:
            if a.family == 4 and not a.tentative and a.address not in exclude:
                assert isinstance(a.address, ipaddress.IPv4Address)
                return a.address
        return None

    def link_local_ipv6(self, exclude: Collection[IPAddress] = ()) -> ipaddress.IPv6Address | None:
        """First usable (non-tentative) link-local IPv6 address that is not a VIP."""
        for a in self.link_locals:
            if not a.tentative and a.address not in exclude:
                assert isinstance(a.address, ipaddress.IPv6Address)
                return a.address
        return None

    def global_ipv6(self, exclude: Collection[IPAddress] = ()) -> ipaddress.IPv6Address | None:
        """First usable (non-tentative) IPv6 address that is not link-local nor a VIP."""
        for a in self.addresses:
            if a.family == 6 and not a.address.is_link_local and not a.tentative and a.address not in exclude:
                assert isinstance(a.address, ipaddress.IPv6Address)
                return a.address
        return None


def _address_from_msg(msg: Any) -> AddressInfo | None:
    addr = msg.get("IFA_LOCAL") if msg["family"] == socket.AF_INET else None
    addr = addr or msg.get("IFA_ADDRESS")
    if addr is None:
        return None
    flags = msg.get("IFA_FLAGS")
    return AddressInfo(
        address=ipaddress.ip_address(addr),
        prefixlen=msg["prefixlen"],
        ifindex=msg["index"],
        scope=msg["scope"],
        flags=int(flags if flags is not None else msg["flags"]),
        label=msg.get("IFA_LABEL"),
    )


def _info_from_msg(msg: Any, addresses: tuple[AddressInfo, ...]) -> InterfaceInfo:
    return InterfaceInfo(
        ifname=msg.get("IFLA_IFNAME"),
        ifindex=msg["index"],
        mac=hwaddr_to_bytes(msg.get("IFLA_ADDRESS") or ""),
        flags=msg["flags"],
        mtu=msg.get("IFLA_MTU") or 0,
        kind=msg.get(("linkinfo", "kind")),
        link=msg.get("IFLA_LINK"),
        addresses=addresses,
    )


async def list_addresses(ipr: AsyncIPRoute, ifindex: int | None = None, family: int = 0) -> list[AddressInfo]:
    """All addresses (optionally of one interface / family), in the kernel's order."""
    out: list[AddressInfo] = []
    kwargs: dict[str, Any] = {}
    if family:
        kwargs["family"] = socket.AF_INET if family == 4 else socket.AF_INET6
    async for msg in await ipr.addr("dump", **kwargs):
        if ifindex is not None and msg["index"] != ifindex:
            continue
        info = _address_from_msg(msg)
        if info is not None:
            out.append(info)
    return out


# An address dump parsed here rather than by pyroute2 for `dump_addresses`: pyroute2 decodes each
# address in ~80 µs of Python, and a VRRP child respawned after a kill -9 finds every VIP its
# predecessor held still on its interfaces (1,000 of them: ~80 ms of its start, issue 15). The
# same fields as _address_from_msg reads (linux/addresses.py del_addresses does the same for
# the removals).
RTM_NEWADDR, RTM_GETADDR = 20, 22
_RTA = struct.Struct("=HH")


def _parse_ifaddr(data: bytes, pos: int, end: int) -> AddressInfo | None:
    family, prefixlen, flags, scope, index = IFADDRMSG.unpack_from(data, pos)
    attrs: dict[int, bytes] = {}
    pos += IFADDRMSG.size
    while pos + _RTA.size <= end:
        size, kind = _RTA.unpack_from(data, pos)
        if size < _RTA.size:
            break
        attrs[kind] = data[pos + _RTA.size:pos + size]
        pos += (size + 3) & ~3
    raw = (attrs.get(IFA_LOCAL) if family == socket.AF_INET else None) or attrs.get(IFA_ADDRESS)
    if raw is None:
        return None
    label = attrs.get(IFA_LABEL)
    return AddressInfo(
        address=ipaddress.ip_address(raw),
        prefixlen=prefixlen,
        ifindex=index,
        scope=scope,
        flags=struct.unpack("=I", attrs[IFA_FLAGS])[0] if IFA_FLAGS in attrs else flags,
        label=label.rstrip(b"\0").decode(errors="replace") if label is not None else None,
    )


def _dump_once() -> tuple[list[AddressInfo], bool]:
    out: list[AddressInfo] = []
    interrupted = False
    with raw_socket() as s:
        s.send(request(RTM_GETADDR, NLM_F_DUMP, 1, IFADDRMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0)))
        while True:
            data = s.recv(1 << 20)
            for kind, flags, _, start, end in messages(data):
                interrupted |= bool(flags & NLM_F_DUMP_INTR)
                if kind == NLMSG_DONE:
                    return out, interrupted
                if kind == NLMSG_ERROR:
                    code = error_code(data, start)
                    raise OSError(code, os.strerror(code))
                if kind == RTM_NEWADDR and (info := _parse_ifaddr(data, start, end)):
                    out.append(info)


def dump_addresses() -> list[AddressInfo]:
    """list_addresses(ipr) of this thread's network namespace, parsed here (a dump the kernel
    reports as interrupted by a change is made again)."""
    for _ in range(3):
        out, interrupted = _dump_once()
        if not interrupted:
            break
    return out


async def get_interface(ipr: AsyncIPRoute, ifname: str | int,
                        addresses: Sequence[AddressInfo] | None = None) -> InterfaceInfo:
    """Facts about one interface (by name or index); raises InterfaceNotFound. `addresses`: every
    address of the namespace (list_addresses) when the caller looks up several interfaces: one
    dump for all of them."""
    try:
        if isinstance(ifname, int):
            msgs = await ipr.link("get", index=ifname)
        else:
            msgs = await ipr.link("get", ifname=ifname)
    except Exception as exc:  # pyroute2 raises NetlinkError(ENODEV) for a missing link
        raise InterfaceNotFound(str(ifname)) from exc
    if not msgs:
        raise InterfaceNotFound(str(ifname))
    msg = msgs[0]
    if addresses is None:
        addresses = await list_addresses(ipr, msg["index"])
    return _info_from_msg(msg, tuple(a for a in addresses if a.ifindex == msg["index"]))


async def list_interfaces(ipr: AsyncIPRoute) -> list[InterfaceInfo]:
    """Every interface of the namespace with its addresses."""
    by_index: dict[int, list[AddressInfo]] = {}
    for a in await list_addresses(ipr):
        by_index.setdefault(a.ifindex, []).append(a)
    return [
        _info_from_msg(msg, tuple(by_index.get(msg["index"], ()))) async for msg in await ipr.link("dump")
    ]


def ifindex_of(ifname: str) -> int | None:
    """The interface's index by name (one ioctl), or None when there is no such interface."""
    try:
        return socket.if_nametoindex(ifname)
    except OSError:
        return None


def interface_flags(ifname: str) -> int:
    """IFF_* flags via SIOCGIFFLAGS (one ioctl, no netlink round trip, no event loop needed)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        res = fcntl.ioctl(s.fileno(), SIOCGIFFLAGS, struct.pack("16sh14x", ifname.encode()[:15], 0))
    return int(struct.unpack("16sh14x", res)[1])


def read_sysctl(key: str) -> str | None:
    """/proc/sys/KEY (e.g. "net/ipv6/conf/eth0/forwarding") stripped, or None if it cannot be read."""
    try:
        with open(f"/proc/sys/{key}") as f:
            return f.read().strip()
    except OSError:
        return None


def ipv6_forwarding(ifname: str) -> bool:
    """net.ipv6.conf.IF.forwarding (decides the NA Router flag; a tiny /proc read)."""
    return read_sysctl(f"net/ipv6/conf/{ifname}/forwarding") == "1"


@dataclass(frozen=True, slots=True)
class LinkFacts:
    """What keepalived's interface dump shows of a link (keepalived.data `Interfaces`)."""

    name: str
    index: int
    hw_type: int  # ifi_type: ARPHRD_ETHER 1, ARPHRD_LOOPBACK 772
    flags: int
    mtu: int
    mac: str  # "" when the link has none (or all zero, as the loopback)
    broadcast: str
    kind: str | None
    link: int | None  # the lower device's ifindex (a macvlan's parent)
    macvlan_mode: str | None
    addresses: tuple[AddressInfo, ...]
    sysctl: dict[str, int]  # net.ipv4.conf.IF: arp_ignore, arp_filter, promote_secondaries, rp_filter


_DUMP_SYSCTLS = ("arp_ignore", "arp_filter", "promote_secondaries", "rp_filter")


def links_now() -> list[LinkFacts]:
    """Every link of the calling thread's namespace, in ifindex order, with its addresses and IPv4
    sysctls: one synchronous netlink dump (the data dump is written from a signal handler, as
    keepalived writes it, and takes a few milliseconds). pyroute2's synchronous API cannot run in a
    thread whose event loop is running: the dump is then read by a helper thread (which starts in
    this thread's namespace)."""
    import asyncio
    import concurrent.futures

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _links_now()
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        return ex.submit(_links_now).result()


def _links_now() -> list[LinkFacts]:
    from pyroute2 import IPRoute

    with IPRoute() as ipr:
        by_index: dict[int, list[AddressInfo]] = {}
        for msg in ipr.get_addr():
            if (a := _address_from_msg(msg)) is not None:
                by_index.setdefault(a.ifindex, []).append(a)
        msgs = sorted(ipr.get_links(), key=lambda m: m["index"])
    out = []
    for m in msgs:
        name = m.get("IFLA_IFNAME")
        mac = m.get("IFLA_ADDRESS") or ""
        sysctl = {k: int(v) for k in _DUMP_SYSCTLS
                  if (v := read_sysctl(f"net/ipv4/conf/{name}/{k}")) is not None and v.isdigit()}
        out.append(LinkFacts(
            name=name, index=m["index"], hw_type=m["ifi_type"], flags=m["flags"], mtu=m.get("IFLA_MTU") or 0,
            mac="" if not mac.strip("0:") else mac, broadcast=m.get("IFLA_BROADCAST") or "",
            kind=m.get(("linkinfo", "kind")), link=m.get("IFLA_LINK"),
            macvlan_mode=m.get(("linkinfo", "data", "IFLA_MACVLAN_MODE")),
            addresses=tuple(by_index.get(m["index"], ())), sysctl=sysctl))
    return out
