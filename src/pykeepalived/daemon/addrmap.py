"""keepalived.conf address, route and rule entries (config model) → netlink values (linux layer).

keepalived.md §1.4: `ADDR[/PREFIX] [dev IF] [brd ADDR|+|-] [scope SCOPE] [label LABEL] [peer ADDR]
[home] [-nodad] [noprefixroute] [autojoin] [preferred_lft 0|forever] [no_track]`.
"""

from __future__ import annotations

import ipaddress

from pykeepalived.config.model import VipSpec
from pykeepalived.config.routes import Prefix as CfgPrefix
from pykeepalived.config.routes import Route as CfgRoute
from pykeepalived.config.routes import c_strtoul, rt_lookup
from pykeepalived.config.rules import Rule as CfgRule
from pykeepalived.linux.addresses import (
    IFA_F_HOMEADDRESS,
    IFA_F_MANAGETEMPADDR,
    IFA_F_MCAUTOJOIN,
    IFA_F_NODAD,
    IFA_F_NOPREFIXROUTE,
    RTPROT_KEEPALIVED,
    Address,
    Nexthop,
    Route,
    Rule,
    broadcast_for,
)

_SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
_IFA_FLAGS = {
    "home": IFA_F_HOMEADDRESS,
    "-nodad": IFA_F_NODAD,
    "mngtmpaddr": IFA_F_MANAGETEMPADDR,
    "noprefixroute": IFA_F_NOPREFIXROUTE,
    "autojoin": IFA_F_MCAUTOJOIN,
}


def address_from_spec(spec: VipSpec, default_dev: str | None) -> Address | None:
    """Build the netlink view of one configured address; None if it has no interface to live on."""
    words = list(spec.options)
    dev = default_dev
    brd: ipaddress.IPv4Address | None = None
    brd_sign: str | None = None
    scope = 0
    label = None
    peer = None
    flags = 0
    preferred: int | None = None
    no_track = False
    i = 0
    while i < len(words):
        w = words[i]
        val = words[i + 1] if i + 1 < len(words) else None
        if w == "dev" and val:
            dev, i = val, i + 2
        elif w in ("brd", "broadcast") and val:
            if val in ("+", "-"):
                brd_sign = val
            else:
                brd = ipaddress.IPv4Address(val)
            i += 2
        elif w == "scope" and val:
            scope = _SCOPES.get(val, int(val) if val.isdigit() else 0)
            i += 2
        elif w == "label" and val:
            label, i = val, i + 2
        elif w == "peer" and val:
            peer, i = ipaddress.ip_address(val.split("/")[0]), i + 2
        elif w == "preferred_lft" and val:
            preferred, i = (0 if val == "0" else None), i + 2
        elif w in _IFA_FLAGS:
            flags |= _IFA_FLAGS[w]
            i += 1
        elif w == "no_track":
            no_track, i = True, i + 1
        else:
            i += 1
    if dev is None:
        return None
    if brd_sign is not None and isinstance(spec.address, ipaddress.IPv4Address):
        brd = broadcast_for(spec.address, spec.prefix, brd_sign)
    return Address(
        address=spec.address,
        dev=dev,
        prefixlen=spec.prefix,
        broadcast=brd,
        scope=scope,
        label=label,
        peer=peer,
        flags=flags,
        preferred_lft=preferred,
        no_track=no_track,
    )


_RTN_NAMES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole",
              7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
_IPPROTO = {"icmp": 1, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132}
# metrics the config keeps in Route.metrics that netlink carries outside RTA_METRICS
_ROUTE_ATTRS = {"realms", "pref", "expires"}


def _network(p: CfgPrefix | None) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if p is None or p.address is None:
        return None
    return ipaddress.ip_network(f"{p.address}/{p.prefix}", strict=False)


def route_from_config(r: CfgRoute) -> Route:
    """The configuration's typed route as the netlink layer takes it."""
    dst = _network(r.dst) or ipaddress.ip_network("0.0.0.0/0" if r.family == 4 else "::/0")
    from_ = _network(r.from_)
    attrs = dict(r.metrics)
    return Route(
        dst=dst, via=r.via, dev=r.dev, src=r.src,
        from_=from_ if isinstance(from_, ipaddress.IPv6Network) else None,
        table=r.table, metric=r.metric, protocol=r.protocol,
        scope=r.scope, type=_RTN_NAMES.get(r.type, "unicast"), tos=r.tos, onlink=r.onlink,
        metrics=tuple((k, v) for k, v in r.metrics if k not in _ROUTE_ATTRS), locked=r.locked,
        realms=attrs.get("realms"), pref=attrs.get("pref"), expires=attrs.get("expires"),
        nexthops=tuple(Nexthop(h.via, h.dev, h.weight or 1, h.onlink, h.realms) for h in r.nexthops),
        no_track=not r.track,
    )


def _range(v: str | None) -> tuple[int, int] | None:
    """`N` or `N-M` (uidrange, sport, dport) as (start, end)."""
    if v is None:
        return None
    a, _, b = v.partition("-")
    return int(a), int(b or a)


def _ifgroup(v: str | None) -> int | None:
    if v is None:
        return None
    n, rest = c_strtoul(v, 0)
    return n if n is not None and not rest else rt_lookup("rt_tables", v)


def rule_from_config(r: CfgRule) -> Rule:
    """The configuration's typed rule as the netlink layer takes it."""
    opts = dict(r.options)
    spl = opts.get("suppress_prefixlength")
    tun = opts.get("tunnel-id")
    proto = opts.get("ipproto")
    return Rule(
        family=r.family, src=_network(r.from_), dst=_network(r.to), table=r.table,
        priority=r.priority, tos=r.tos, fwmark=r.fwmark, fwmask=r.fwmask, iif=r.iif, oif=r.oif,
        action=None if r.action == "table" else r.action, goto=r.goto, invert=r.invert, realms=r.realms,
        suppress_prefixlength=int(spl) if spl is not None else None,
        suppress_ifgroup=_ifgroup(opts.get("suppress_ifgroup")),
        tun_id=int(tun) if tun is not None else None,
        uidrange=_range(opts.get("uidrange")),
        sport=_range(opts.get("sport")),
        dport=_range(opts.get("dport")),
        ipproto=None if proto is None else _IPPROTO.get(proto) or int(proto),
        no_track=not r.track,
        # keepalived tags the rules it tracks (all but `no_track`) with RTPROT_KEEPALIVED
        protocol=RTPROT_KEEPALIVED if r.track else None,
    )
