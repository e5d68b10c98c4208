# Theory of operation
# -------------------
# Virtual (and static) addresses, routes and policy rules through rtnetlink with pyroute2's
# AsyncIPRoute (keepalived.md §1.4, §1.11.2). The daemon describes what it wants with the frozen
# `Address`, `Route` and `Rule` values below (built from keepalived.conf by the config layer, or
# from `ip route` / `ip rule` words with `Route.parse` / `Rule.parse`) and calls `add_*` / `del_*`.
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
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from pyroute2 import AsyncIPRoute

from pykeepalived.vrrp.params import IPAddress

IFA_F_NODAD = 0x02
IFA_F_HOMEADDRESS = 0x10
IFA_F_MANAGETEMPADDR = 0x100
IFA_F_NOPREFIXROUTE = 0x200
IFA_F_MCAUTOJOIN = 0x400
RTNH_F_ONLINK = 0x04
RTPROT_KEEPALIVED = 18  # keepalived tags the routes it adds (and watches only those)

ADDRESS_FLAG_WORDS = {
    "home": IFA_F_HOMEADDRESS,
    "-nodad": IFA_F_NODAD,
    "nodad": IFA_F_NODAD,
    "mngtmpaddr": IFA_F_MANAGETEMPADDR,
    "noprefixroute": IFA_F_NOPREFIXROUTE,
    "autojoin": IFA_F_MCAUTOJOIN,
}
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
ROUTE_TYPES = {
    "unicast",
    "local",
    "broadcast",
    "multicast",
    "throw",
    "unreachable",
    "prohibit",
    "blackhole",
    "nat",
}
RULE_ACTIONS = {"unreachable", "prohibit", "blackhole", "nop"}

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
    found = await ipr.link_lookup(ifname=dev)
    if not found:
        raise OSError(errno.ENODEV, f"no such interface {dev}")
    return int(found[0])


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


@dataclass(frozen=True, slots=True)
class Route:
    """One virtual_routes / static_routes entry (the common `ip route` options of §1.4)."""

    dst: ipaddress.IPv4Network | ipaddress.IPv6Network
    via: IPAddress | None = None
    dev: str | None = None
    src: IPAddress | None = None
    table: int | None = None
    metric: int | None = None
    protocol: int | None = None
    scope: int | None = None
    type: str = "unicast"
    tos: int | None = None
    onlink: bool = False
    mtu: int | None = None
    nexthops: tuple[Nexthop, ...] = ()
    no_track: bool = False

    @property
    def family(self) -> int:
        return self.dst.version

    @classmethod
    def parse(cls, words: Sequence[str]) -> Route:
        """Build from `ip route` words, e.g. ["192.0.2.0/24", "via", "198.51.100.1", "dev", "eth0"]."""
        kw: dict[str, Any] = {}
        hops: list[Nexthop] = []
        inet6 = False
        dst: str | None = None
        it = iter(words)
        for w in it:
            if w in ("to",):
                dst = next(it)
            elif w in ("via", "gw"):
                v = next(it)
                if v in ("inet", "inet6"):
                    v = next(it)
                kw["via"] = ipaddress.ip_address(v)
            elif w in ("dev", "oif"):
                kw["dev"] = next(it)
            elif w == "src":
                kw["src"] = ipaddress.ip_address(next(it))
            elif w in ("table", "lookup"):
                kw["table"] = _table_id(next(it))
            elif w in ("metric", "priority", "preference"):
                kw["metric"] = int(next(it))
            elif w in ("protocol", "proto"):
                kw["protocol"] = _rt_proto(next(it))
            elif w == "scope":
                kw["scope"] = _scope(next(it))
            elif w in ("tos", "dsfield"):
                kw["tos"] = int(next(it), 0)
            elif w == "mtu":
                v = next(it)
                kw["mtu"] = int(next(it) if v == "lock" else v)
            elif w == "onlink":
                if hops:
                    hops[-1] = replace(hops[-1], onlink=True)
                else:
                    kw["onlink"] = True
            elif w == "nexthop":
                hops.append(Nexthop())
            elif w == "weight" and hops:
                hops[-1] = replace(hops[-1], weight=int(next(it)))
            elif w == "inet6":
                inet6 = True
            elif w == "no_track":
                kw["no_track"] = True
            elif w in ROUTE_TYPES:
                kw["type"] = w
            elif w in ("add", "prepend", "append"):
                pass
            elif dst is None:
                dst = w
            else:
                raise ValueError(f"unsupported route option {w!r}")
            if hops and w in ("via", "gw", "dev"):
                # options after `nexthop` belong to the nexthop
                if w in ("via", "gw"):
                    hops[-1] = replace(hops[-1], via=kw.pop("via"))
                else:
                    hops[-1] = replace(hops[-1], dev=kw.pop("dev"))
        if dst is None:
            raise ValueError("route without destination")
        if dst in ("default", "any", "all", "default6"):
            six = inet6 or dst == "default6" or (kw.get("via") is not None and kw["via"].version == 6)
            kw["dst"] = ipaddress.ip_network("::/0" if six else "0.0.0.0/0")
        else:
            kw["dst"] = ipaddress.ip_network(dst, strict=False)
        return cls(nexthops=tuple(hops), **kw)

    def __str__(self) -> str:
        s = str(self.dst)
        if self.via:
            s += f" via {self.via}"
        if self.dev:
            s += f" dev {self.dev}"
        if self.table:
            s += f" table {self.table}"
        return s


def _table_id(v: str) -> int:
    return {"main": 254, "local": 255, "default": 253}.get(v) or int(v)


def _rt_proto(v: str) -> int:
    return {"kernel": 2, "boot": 3, "static": 4, "keepalived": 18}.get(v) or int(v)


def _scope(v: str) -> int:
    return SCOPES[v] if v in SCOPES else int(v)


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
    if r.mtu is not None:
        kw["metrics"] = {"mtu": r.mtu}
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
@dataclass(frozen=True, slots=True)
class Rule:
    """One virtual_rules / static_rules entry (the common `ip rule` options of §1.4)."""

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
    action: str | None = None  # None = lookup table; or unreachable/prohibit/blackhole/nop/goto
    goto: int | None = None
    suppress_prefixlength: int | None = None
    protocol: int | None = None
    no_track: bool = False

    @classmethod
    def parse(cls, words: Sequence[str]) -> Rule:
        """Build from `ip rule` words, e.g. ["from", "192.0.2.0/24", "table", "100", "priority", "100"]."""
        kw: dict[str, Any] = {}
        family = 0
        it = iter(words)
        for w in it:
            if w in ("from", "to"):
                v = next(it)
                if v != "all":
                    net = ipaddress.ip_network(v, strict=False)
                    kw["src" if w == "from" else "dst"] = net
                    family = net.version
            elif w in ("table", "lookup"):
                kw["table"] = _table_id(next(it))
            elif w in ("preference", "order", "priority", "pref", "prio"):
                kw["priority"] = int(next(it))
            elif w in ("tos", "dsfield"):
                kw["tos"] = int(next(it), 0)
            elif w == "fwmark":
                mark, _, mask = next(it).partition("/")
                kw["fwmark"] = int(mark, 0)
                if mask:
                    kw["fwmask"] = int(mask, 0)
            elif w in ("iif", "dev"):
                kw["iif"] = next(it)
            elif w == "oif":
                kw["oif"] = next(it)
            elif w in ("suppress_prefixlength", "sup_pl"):
                kw["suppress_prefixlength"] = int(next(it))
            elif w == "protocol":
                kw["protocol"] = _rt_proto(next(it))
            elif w == "goto":
                kw["action"] = "goto"
                kw["goto"] = int(next(it))
            elif w in RULE_ACTIONS:
                kw["action"] = w
            elif w == "type":
                kw["action"] = next(it)
            elif w == "inet":
                family = 4
            elif w == "inet6":
                family = 6
            elif w == "no_track":
                kw["no_track"] = True
            else:
                raise ValueError(f"unsupported rule option {w!r}")
        return cls(family=family or 4, **kw)


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
    if r.suppress_prefixlength is not None:
        kw["suppress_prefixlength"] = r.suppress_prefixlength
    if r.protocol is not None:
        kw["protocol"] = r.protocol
    if r.action is not None:
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
