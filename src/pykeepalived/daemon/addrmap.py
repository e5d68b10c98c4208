"""keepalived.conf address, route and rule entries (config model) → netlink values (linux layer).

keepalived.md §1.4: `ADDR[/PREFIX] [dev IF] [brd ADDR|+|-] [scope SCOPE] [label LABEL] [peer ADDR]
[home] [-nodad] [noprefixroute] [autojoin] [preferred_lft 0|forever] [no_track]`.
"""

from __future__ import annotations

import ipaddress

from pykeepalived.config.model import AddrFlag, VipSpec
from pykeepalived.config.routes import Prefix as CfgPrefix
from pykeepalived.config.routes import Route as CfgRoute
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

_IFA_FLAGS = {
    AddrFlag.HOME: IFA_F_HOMEADDRESS,
    AddrFlag.NODAD: IFA_F_NODAD,
    AddrFlag.MNGTMPADDR: IFA_F_MANAGETEMPADDR,
    AddrFlag.NOPREFIXROUTE: IFA_F_NOPREFIXROUTE,
    AddrFlag.AUTOJOIN: IFA_F_MCAUTOJOIN,
}


def address_from_spec(spec: VipSpec, default_dev: str | None) -> Address | None:
    """The netlink view of one configured address (its `dev`, else `default_dev`); None if it has
    no interface to live on."""
    dev = spec.dev or default_dev
    if dev is None:
        return None
    brd = spec.broadcast
    if spec.broadcast_sign is not None and isinstance(spec.address, ipaddress.IPv4Address):
        brd = broadcast_for(spec.address, spec.prefix, spec.broadcast_sign)
    flags = 0
    for flag, ifa in _IFA_FLAGS.items():
        if flag in spec.flags:
            flags |= ifa
    return Address(
        address=spec.address,
        dev=dev,
        prefixlen=spec.prefix,
        broadcast=brd,
        scope=spec.scope,
        label=spec.label,
        peer=spec.peer,
        flags=flags,
        preferred_lft=0 if spec.preferred_lft == 0 else None,  # an IPv6 address's `deprecated`
        no_track=spec.no_track,
    )


_RTN_NAMES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole",
              7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
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


def rule_from_config(r: CfgRule) -> Rule:
    """The configuration's typed rule as the netlink layer takes it."""
    return Rule(
        family=r.family, src=_network(r.from_), dst=_network(r.to), table=r.table,
        priority=r.priority, tos=r.tos, fwmark=r.fwmark, fwmask=r.fwmask, iif=r.iif, oif=r.oif,
        action=None if r.action == "table" else r.action, goto=r.goto, invert=r.invert, realms=r.realms,
        suppress_prefixlength=r.suppress_prefixlength, suppress_ifgroup=r.suppress_ifgroup, tun_id=r.tun_id,
        uidrange=r.uidrange, sport=r.sport, dport=r.dport, ipproto=r.ipproto,
        no_track=not r.track,
        # keepalived tags the rules it tracks (all but `no_track`) with RTPROT_KEEPALIVED
        protocol=RTPROT_KEEPALIVED if r.track else None,
    )
