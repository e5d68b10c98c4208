"""keepalived.conf address entries (config model) → netlink operations (linux layer).

keepalived.md §1.4: `ADDR[/PREFIX] [dev IF] [brd ADDR|+|-] [scope SCOPE] [label LABEL] [peer ADDR]
[home] [-nodad] [noprefixroute] [autojoin] [preferred_lft 0|forever] [no_track]`.
"""

from __future__ import annotations

import ipaddress

from pykeepalived.config.model import VipSpec
from pykeepalived.config.routes import Prefix as CfgPrefix
from pykeepalived.config.routes import Route as CfgRoute
from pykeepalived.config.rules import Rule as CfgRule
from pykeepalived.linux.addresses import Address, Nexthop, Route, Rule, broadcast_for

_SCOPES = {"global": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
_IFA_FLAGS = {"home": 0x10, "-nodad": 0x02, "mngtmpaddr": 0x100, "noprefixroute": 0x200, "autojoin": 0x400}


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


def _network(p: CfgPrefix | None, family: int) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if p is None or p.address is None:
        return None
    return ipaddress.ip_network(f"{p.address}/{p.prefix}", strict=False)


def route_from_config(r: CfgRoute) -> Route:
    """The configuration's typed route as the netlink layer takes it."""
    dst = _network(r.dst, r.family) or ipaddress.ip_network("0.0.0.0/0" if r.family == 4 else "::/0")
    mtu = dict(r.metrics).get("mtu")
    return Route(
        dst=dst, via=r.via, dev=r.dev, src=r.src, table=r.table, metric=r.metric, protocol=r.protocol,
        scope=r.scope, type=_RTN_NAMES.get(r.type, "unicast"), tos=r.tos, onlink=r.onlink, mtu=mtu,
        nexthops=tuple(Nexthop(h.via, h.dev, h.weight or 1, h.onlink) for h in r.nexthops),
        no_track=not r.track,
    )


def rule_from_config(r: CfgRule) -> Rule:
    opts = dict(r.options)
    spl = opts.get("suppress_prefixlength")
    return Rule(
        family=r.family, src=_network(r.from_, r.family), dst=_network(r.to, r.family), table=r.table,
        priority=r.priority, tos=r.tos, fwmark=r.fwmark, fwmask=r.fwmask, iif=r.iif, oif=r.oif,
        action=None if r.action == "table" else r.action, goto=r.goto,
        suppress_prefixlength=int(spl) if spl is not None else None, no_track=not r.track,
    )
