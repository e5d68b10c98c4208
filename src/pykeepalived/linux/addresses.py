# Theory of operation
# -------------------
# Virtual (and static) addresses, routes and policy rules through rtnetlink with pyroute2's
# AsyncIPRoute (keepalived.md §1.4, §1.11.2). The daemon describes what it wants with the frozen
# `Address`, `Route` and `Rule` values below (built from keepalived.conf's typed entries by
# daemon/addrmap.py; the config layer owns the `ip route` / `ip rule` words) and calls `add_*` / `del_*`.
#
#   * operations are idempotent the way keepalived needs them: adding something that exists
#     (EEXIST) or deleting something already gone (EADDRNOTAVAIL, ESRCH, ENOENT) is success;
#   * errors are returned (`OSError | None`), never raised, so a failing netlink call cannot take
#     the daemon down; the caller logs them with keepalived's wording;
#   * `AddressKeeper` remembers the addresses that must stay while an instance is MASTER (or static
#     ones, always) and tells which one a monitor "address removed" event refers to, so the daemon can
#     put it back ("Restoring deleted static address", or the VIP re-add keepalived does) unless the
#     entry is `no_track`.
"""Virtual/static addresses, routes and rules over rtnetlink."""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pykeepalived.linux.rtnl import (
    IFA_ADDRESS,
    IFA_LABEL,
    IFA_LOCAL,
    IFADDRMSG,
    NLM_F_ACK,
    NLMSG_ERROR,
    AsyncIPRoute,
    error_code,
    messages,
    raw_socket,
    request,
)
from pykeepalived.vrrp.params import IPAddress

IFA_F_NODAD = 0x02
IFA_F_HOMEADDRESS = 0x10
IFA_F_MANAGETEMPADDR = 0x100
IFA_F_NOPREFIXROUTE = 0x200
IFA_F_MCAUTOJOIN = 0x400
RTNH_F_ONLINK = 0x04
RTPROT_KEEPALIVED = 18  # keepalived tags the routes it adds (and watches only those)

_OK_ON_ADD = {errno.EEXIST}
_OK_ON_DEL = {errno.EADDRNOTAVAIL, errno.ESRCH, errno.ENOENT, errno.ENODEV}


def _netlink_errno(exc: BaseException) -> int | None:
    code = getattr(exc, "code", None)
    if isinstance(code, int):
        return code
    if isinstance(exc, OSError):
        return exc.errno
    return None


def _as_oserror(exc: BaseException) -> OSError:
    if isinstance(exc, OSError) and exc.errno is not None:
        return exc
    code = _netlink_errno(exc) or errno.EIO
    return OSError(code, f"{exc}")


async def _ifindex(ipr: AsyncIPRoute, dev: str | int) -> int:
    if isinstance(dev, int):
        return dev
    try:
        return socket.if_nametoindex(dev)  # one ioctl, not a netlink round trip per address
    except OSError:
        raise OSError(errno.ENODEV, f"no such interface {dev}") from None


# ---------------------------------------------------------------------------------------------- addresses
@dataclass(frozen=True, slots=True)
class Address:
    """One virtual_ipaddress / virtual_ipaddress_excluded / static_ipaddress entry (§1.4 options)."""

    address: IPAddress
    dev: str
    prefixlen: int | None = None  # default /32 or /128
    broadcast: ipaddress.IPv4Address | None = None  # already resolved from "brd +/-"
    scope: int = 0
    label: str | None = None
    peer: IPAddress | None = None
    flags: int = 0  # IFA_F_* from home/-nodad/mngtmpaddr/noprefixroute/autojoin
    preferred_lft: int | None = None  # IPv6 only; None = kernel default
    no_track: bool = False

    @property
    def family(self) -> int:
        return self.address.version

    @property
    def plen(self) -> int:
        if self.prefixlen is not None:
            return self.prefixlen
        return 32 if self.family == 4 else 128

    def __str__(self) -> str:
        return f"{self.address}/{self.plen} dev {self.dev}" + (f" label {self.label}" if self.label else "")


def broadcast_for(address: ipaddress.IPv4Address, prefixlen: int, sign: str) -> ipaddress.IPv4Address:
    """keepalived/ip's `brd +` (host bits set) and `brd -` (host bits clear)."""
    net = ipaddress.IPv4Network(f"{address}/{prefixlen}", strict=False)
    return net.broadcast_address if sign == "+" else net.network_address


def _addr_kwargs(index: int, a: Address) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "index": index,
        "prefixlen": a.plen,
        "family": socket.AF_INET if a.family == 4 else socket.AF_INET6,
    }
    if a.peer is not None:
        kw["local"] = str(a.address)
        kw["address"] = str(a.peer)
    else:
        kw["address"] = str(a.address)
    if a.family == 4:
        if a.broadcast is not None:
            kw["broadcast"] = str(a.broadcast)
        if a.label:
            kw["label"] = a.label
    if a.scope:
        kw["scope"] = a.scope
    if a.flags:
        kw["flags"] = a.flags
    if a.family == 6 and a.preferred_lft is not None:
        kw["preferred_lft"] = a.preferred_lft
    return kw


async def add_address(ipr: AsyncIPRoute, a: Address) -> OSError | None:
    """`ip addr add`; an address that is already there counts as success."""
    try:
        index = await _ifindex(ipr, a.dev)
        await ipr.addr("add", **_addr_kwargs(index, a))
    except Exception as exc:
        if _netlink_errno(exc) in _OK_ON_ADD:
            return None
        return _as_oserror(exc)
    return None


async def del_address(ipr: AsyncIPRoute, a: Address) -> OSError | None:
    """`ip addr del`; an address that is already gone counts as success."""
    try:
        index = await _ifindex(ipr, a.dev)
        kw = _addr_kwargs(index, a)
        kw.pop("broadcast", None)
        kw.pop("flags", None)
        kw.pop("preferred_lft", None)
        await ipr.addr("del", **kw)
    except Exception as exc:
        if _netlink_errno(exc) in _OK_ON_DEL:
            return None
        return _as_oserror(exc)
    return None


# RTM_DELADDR requests built here rather than by pyroute2 for `del_addresses`: pyroute2 encodes a
# request and parses its answer in ~0.3 ms of Python each, which made removing the VIPs a killed VRRP
# child left (hundreds at a respawn) the largest part of the new child's start (issue 15); the same
# attributes pyroute2 sends for `addr("del", ...)` (IFA_ADDRESS, IFA_LOCAL for IPv4 or with a peer,
# IFA_LABEL for IPv4), sent many to a datagram on a netlink socket of our own.
RTM_DELADDR = 21
SOL_NETLINK, NETLINK_CAP_ACK = 270, 10
_BATCH = 64  # requests per datagram: their acks fit the socket's default receive buffer


def _rta(kind: int, payload: bytes) -> bytes:
    size = 4 + len(payload)
    return struct.pack("=HH", size, kind) + payload + b"\0" * (-size % 4)


def _deladdr(seq: int, index: int, a: Address) -> bytes:
    local, address = (a.address, a.peer) if a.peer is not None else (
        a.address if a.family == 4 else None, a.address)
    attrs = _rta(IFA_ADDRESS, address.packed)
    if local is not None:
        attrs += _rta(IFA_LOCAL, local.packed)
    if a.family == 4 and a.label:
        attrs += _rta(IFA_LABEL, a.label.encode() + b"\0")
    family = socket.AF_INET if a.family == 4 else socket.AF_INET6
    return request(RTM_DELADDR, NLM_F_ACK, seq, IFADDRMSG.pack(family, a.plen, 0, a.scope, index) + attrs)


def del_addresses(addrs: Iterable[Address]) -> list[OSError | None]:
    """`del_address` of each address, in order, in a few netlink round trips (one per 64): the
    kernel handles rtnetlink requests within sendmsg(), so their acks are queued when it returns."""
    todo = list(addrs)
    out: list[OSError | None] = [None] * len(todo)
    reqs: list[tuple[int, bytes]] = []
    for k, a in enumerate(todo):
        try:
            reqs.append((k, _deladdr(k + 1, socket.if_nametoindex(a.dev), a)))
        except OSError:
            pass  # no such interface: gone with it (ENODEV counts as success)
    if not reqs:
        return out
    with raw_socket() as s:
        s.setsockopt(SOL_NETLINK, NETLINK_CAP_ACK, 1)  # acks without a copy of the request
        for lo in range(0, len(reqs), _BATCH):
            batch = reqs[lo:lo + _BATCH]
            try:
                s.send(b"".join(msg for _, msg in batch))
            except OSError as exc:
                for k, _ in batch:
                    out[k] = exc
                continue
            waiting = {k + 1 for k, _ in batch}
            while waiting:
                try:
                    data = s.recv(65536)
                except OSError as exc:  # acks lost (ENOBUFS) or late: those requests' outcome unknown
                    for seq in waiting:
                        out[seq - 1] = exc
                    break
                for kind, _, seq, start, _ in messages(data):
                    if kind == NLMSG_ERROR and seq in waiting:
                        waiting.discard(seq)
                        code = error_code(data, start)
                        if code and code not in _OK_ON_DEL:
                            out[seq - 1] = OSError(code, os.strerror(code))
    return out


async def address_present(ipr: AsyncIPRoute, a: Address) -> bool:
    try:
        index = await _ifindex(ipr, a.dev)
    except OSError:
        return False
    async for msg in await ipr.addr("dump", family=socket.AF_INET if a.family == 4 else socket.AF_INET6):
        if msg["index"] != index or msg["prefixlen"] != a.plen:
            continue
        local = msg.get("IFA_LOCAL") or msg.get("IFA_ADDRESS")
        if local is not None and ipaddress.ip_address(local) == a.address:
            return True
    return False


@dataclass
class AddressKeeper:
    """Addresses that must stay configured; maps "address removed" events back to them."""

    wanted: dict[tuple[IPAddress, str], Address] = field(default_factory=dict)

    def want(self, addrs: Iterable[Address]) -> None:
        for a in addrs:
            if not a.no_track:
                self.wanted[(a.address, a.dev)] = a

    def unwant(self, addrs: Iterable[Address]) -> None:
        for a in addrs:
            self.wanted.pop((a.address, a.dev), None)

    def deleted(self, address: IPAddress, ifname: str | None) -> Address | None:
        """The tracked entry a netlink RTM_DELADDR refers to, or None if it is not ours."""
        if ifname is not None:
            return self.wanted.get((address, ifname))
        for (addr, _dev), a in self.wanted.items():
            if addr == address:
                return a
        return None


async def restore_if_tracked(
    ipr: AsyncIPRoute, keeper: AddressKeeper, address: IPAddress, ifname: str | None
) -> tuple[Address | None, OSError | None]:
    """On an "address removed" event: put the address back if the keeper tracks it.

    Returns (the tracked entry or None, the error of the re-add or None); the daemon logs
    keepalived's "Restoring deleted ..." line when an entry comes back.
    """
    entry = keeper.deleted(address, ifname)
    if entry is None:
        return None, None
    return entry, await add_address(ipr, entry)


# ---------------------------------------------------------------------------------------------- routes
@dataclass(frozen=True, slots=True)
class Nexthop:
    via: IPAddress | None = None
    dev: str | None = None
    weight: int = 1
    onlink: bool = False
    realms: int | None = None  # RTA_FLOW: (from realm << 16) | to realm


# Route metrics (RTA_METRICS) pyroute2 encodes, by keepalived/iproute2 name -> RTAX_* number (the bit
# in RTAX_LOCK). RTAX_FASTOPEN_NO_COOKIE (17) is missing from pyroute2 0.9's table: not sent.
RTAX = {
    "mtu": 2,
    "window": 3,
    "rtt": 4,
    "rttvar": 5,
    "ssthresh": 6,
    "cwnd": 7,
    "advmss": 8,
    "reordering": 9,
    "hoplimit": 10,
    "initcwnd": 11,
    "features": 12,
    "rto_min": 13,
    "initrwnd": 14,
    "quickack": 15,
}


@dataclass(frozen=True, slots=True)
class Route:
    """One virtual_routes / static_routes entry (the `ip route` options of §1.4), as netlink takes it.

    The daemon builds these from the configuration's typed routes (daemon/addrmap.py).
    """

    dst: ipaddress.IPv4Network | ipaddress.IPv6Network
    via: IPAddress | None = None
    dev: str | None = None
    src: IPAddress | None = None  # preferred source (RTA_PREFSRC)
    from_: ipaddress.IPv6Network | None = None  # source prefix (RTA_SRC, IPv6 only)
    table: int | None = None
    metric: int | None = None
    protocol: int | None = None
    scope: int | None = None
    type: str = "unicast"
    tos: int | None = None
    onlink: bool = False
    metrics: tuple[tuple[str, int], ...] = ()  # RTAX_* by name (RTAX keys), kernel units
    locked: tuple[str, ...] = ()  # metrics given with `lock`
    realms: int | None = None  # RTA_FLOW
    pref: int | None = None  # RTA_PREF (IPv6 router preference)
    expires: int | None = None  # RTA_EXPIRES seconds (IPv6)
    nexthops: tuple[Nexthop, ...] = ()
    no_track: bool = False

    @property
    def family(self) -> int:
        return self.dst.version

    def __str__(self) -> str:
        s = str(self.dst)
        if self.via:
            s += f" via {self.via}"
        if self.dev:
            s += f" dev {self.dev}"
        if self.table:
            s += f" table {self.table}"
        return s


async def _route_kwargs(ipr: AsyncIPRoute, r: Route) -> dict[str, Any]:
    kw: dict[str, Any] = {
        "family": socket.AF_INET if r.family == 4 else socket.AF_INET6,
        "dst": str(r.dst.network_address),
        "dst_len": r.dst.prefixlen,
        "type": r.type,
    }
    if r.via is not None:
        kw["gateway"] = str(r.via)
    if r.dev is not None:
        kw["oif"] = await _ifindex(ipr, r.dev)
    if r.src is not None:
        kw["prefsrc"] = str(r.src)
    if r.from_ is not None:
        kw["src"] = str(r.from_.network_address)
        kw["src_len"] = r.from_.prefixlen
    if r.table is not None:
        kw["table"] = r.table
    if r.metric is not None:
        kw["priority"] = r.metric
    kw["proto"] = r.protocol if r.protocol is not None else RTPROT_KEEPALIVED
    if r.scope is not None:
        kw["scope"] = r.scope
    if r.tos is not None:
        kw["tos"] = r.tos
    if r.onlink:
        kw["flags"] = RTNH_F_ONLINK
    if r.realms is not None:
        kw["flow"] = r.realms
    if r.pref is not None:
        kw["pref"] = r.pref
    if r.expires is not None:
        kw["expires"] = struct.pack("=I", r.expires)
    metrics = {name: v for name, v in r.metrics if name in RTAX}
    lock = sum(1 << RTAX[name] for name in set(r.locked) if name in RTAX)
    if lock:
        metrics["lock"] = lock
    if metrics:
        kw["metrics"] = metrics
    if r.nexthops:
        hops = []
        for h in r.nexthops:
            hop: dict[str, Any] = {"hops": h.weight - 1}
            if h.via is not None:
                hop["gateway"] = str(h.via)
            if h.dev is not None:
                hop["oif"] = await _ifindex(ipr, h.dev)
            if h.onlink:
                hop["flags"] = RTNH_F_ONLINK
            if h.realms is not None:
                hop["flow"] = h.realms
            hops.append(hop)
        kw["multipath"] = hops
    return kw


async def add_route(ipr: AsyncIPRoute, r: Route) -> OSError | None:
    try:
        await ipr.route("add", **await _route_kwargs(ipr, r))
    except Exception as exc:
        if _netlink_errno(exc) in _OK_ON_ADD:
            return None
        return _as_oserror(exc)
    return None


async def del_route(ipr: AsyncIPRoute, r: Route) -> OSError | None:
    try:
        kw = await _route_kwargs(ipr, r)
        kw.pop("metrics", None)
        await ipr.route("del", **kw)
    except Exception as exc:
        if _netlink_errno(exc) in _OK_ON_DEL:
            return None
        return _as_oserror(exc)
    return None


# ---------------------------------------------------------------------------------------------- rules
FIB_RULE_INVERT = 0x02


@dataclass(frozen=True, slots=True)
class Rule:
    """One virtual_rules / static_rules entry (the `ip rule` options of §1.4), as netlink takes it.

    The daemon builds these from the configuration's typed rules (daemon/addrmap.py).
    """

    family: int = 4
    src: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    dst: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    table: int | None = None
    priority: int | None = None
    tos: int | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    iif: str | None = None
    oif: str | None = None
    action: str | None = None  # None = lookup table; or unreachable/prohibit/blackhole/nop/goto/l3mdev
    goto: int | None = None
    invert: bool = False  # `not`
    realms: int | None = None  # FRA_FLOW
    suppress_prefixlength: int | None = None
    suppress_ifgroup: int | None = None
    tun_id: int | None = None
    uidrange: tuple[int, int] | None = None
    sport: tuple[int, int] | None = None
    dport: tuple[int, int] | None = None
    ipproto: int | None = None
    protocol: int | None = None
    no_track: bool = False


async def _rule_kwargs(r: Rule) -> dict[str, Any]:
    kw: dict[str, Any] = {"family": socket.AF_INET if r.family == 4 else socket.AF_INET6}
    if r.src is not None:
        kw["src"] = str(r.src.network_address)
        kw["src_len"] = r.src.prefixlen
    if r.dst is not None:
        kw["dst"] = str(r.dst.network_address)
        kw["dst_len"] = r.dst.prefixlen
    if r.table is not None:
        kw["table"] = r.table
    if r.priority is not None:
        kw["priority"] = r.priority
    if r.tos is not None:
        kw["tos"] = r.tos
    if r.fwmark is not None:
        kw["fwmark"] = r.fwmark
    if r.fwmask is not None:
        kw["fwmask"] = r.fwmask
    if r.iif is not None:
        kw["iifname"] = r.iif
    if r.oif is not None:
        kw["oifname"] = r.oif
    if r.invert:
        kw["flags"] = FIB_RULE_INVERT
    if r.realms is not None:
        kw["flow"] = r.realms
    if r.suppress_prefixlength is not None:
        kw["suppress_prefixlen"] = r.suppress_prefixlength
    if r.suppress_ifgroup is not None:
        kw["suppress_ifgroup"] = r.suppress_ifgroup
    if r.tun_id is not None:
        kw["tun_id"] = r.tun_id
    for name, rng in (("uid_range", r.uidrange), ("sport_range", r.sport), ("dport_range", r.dport)):
        if rng is not None:
            kw[name] = f"{rng[0]}:{rng[1]}"
    if r.ipproto is not None:
        kw["ip_proto"] = r.ipproto
    if r.protocol is not None:
        kw["protocol"] = r.protocol
    if r.action == "l3mdev":
        kw["l3mdev"] = 1
        kw["action"] = "FR_ACT_TO_TBL"
    elif r.action is not None:
        kw["action"] = {"nop": "FR_ACT_NOP", "goto": "FR_ACT_GOTO"}.get(r.action, r.action)
        if r.goto is not None:
            kw["goto"] = r.goto
    elif r.table is not None:
        kw["action"] = "FR_ACT_TO_TBL"
    return kw


async def add_rule(ipr: AsyncIPRoute, r: Rule) -> OSError | None:
    try:
        await ipr.rule("add", **await _rule_kwargs(r))
    except Exception as exc:
        if _netlink_errno(exc) in _OK_ON_ADD:
            return None
        return _as_oserror(exc)
    return None


async def del_rule(ipr: AsyncIPRoute, r: Rule) -> OSError | None:
    try:
        await ipr.rule("del", **await _rule_kwargs(r))
    except Exception as exc:
        if _netlink_errno(exc) in _OK_ON_DEL:
            return None
        return _as_oserror(exc)
    return None
