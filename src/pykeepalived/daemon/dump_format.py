"""keepalived 2.2.7's text forms of addresses, routes and rules (vrrp_ipaddress.c format_ipaddress,
vrrp_iproute.c format_iproute, vrrp_iprule.c format_iprule) and its JSON writer (lib/json_writer.c),
for keepalived.data and keepalived.json (daemon/dump_data.py, daemon/vrrp/status.py). Pure functions of
typed values: the netlink Address the daemon installs, the configuration's Route and Rule."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pykeepalived.daemon.addrmap import rule_from_config
from pykeepalived.linux.addresses import (
    IFA_F_HOMEADDRESS,
    IFA_F_MANAGETEMPADDR,
    IFA_F_MCAUTOJOIN,
    IFA_F_NODAD,
    IFA_F_NOPREFIXROUTE,
    RTPROT_KEEPALIVED,
)

if TYPE_CHECKING:
    from pykeepalived.config.routes import Prefix, Route
    from pykeepalived.config.rules import Rule
    from pykeepalived.linux.addresses import Address

# lib/rttables.c: the names of rt_scopes and of the route types (rtntype)
_SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
_RTN_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast", 6: "blackhole",
              7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
RTN_UNICAST = 1


def scope_name(scope: int) -> str:
    return _SCOPES.get(scope, str(scope))


def address_text(address: object, prefixlen: int, family: int) -> str:
    """ipaddresstos(): ADDR, with /LEN unless a host prefix."""
    full = 32 if family == 4 else 128
    return f"{address}" if prefixlen == full else f"{address}/{prefixlen}"


def format_address(a: Address, is_set: bool, base_ifname: str | None = None,
                   track_group: str | None = None) -> str:
    """format_ipaddress(): `ADDR[/LEN] [brd B] dev IF[@BASE] scope S [label L] [peer P/LEN] [flags]
    [preferred_lft ...] [set]`; base_ifname is the VMAC's parent when `dev` is a VMAC."""
    out = [address_text(a.address, a.plen, a.family)]
    if a.family == 4 and a.broadcast is not None and int(a.broadcast):
        out.append(f" brd {a.broadcast}")
    out.append(f" dev {a.dev}")
    if base_ifname and base_ifname != a.dev:
        out.append(f"@{base_ifname}")
    out.append(f" scope {scope_name(a.scope)}")
    if a.label:
        out.append(f" label {a.label}")
    if a.peer is not None:
        out.append(f" peer {a.peer}/{a.plen}")
    for flag, word in ((IFA_F_HOMEADDRESS, " home"), (IFA_F_NODAD, " -nodad"),
                       (IFA_F_MANAGETEMPADDR, " mngtmpaddr"), (IFA_F_NOPREFIXROUTE, " noprefixroute"),
                       (IFA_F_MCAUTOJOIN, " autojoin")):
        if a.flags & flag:
            out.append(word)
    if a.no_track:
        out.append(" no_track")
    if track_group:
        out.append(f" track_group {track_group}")
    if a.family == 6:
        out.append(" deprecated" if a.preferred_lft == 0 else " preferred_lft forever")
    if is_set:
        out.append(" set")
    return "".join(out)


def _prefix_text(p: Prefix) -> str:
    assert p.address is not None
    return address_text(p.address, p.prefix, p.address.version)


# route metrics in keepalived's print order, with their lockable RTAX names
_PLAIN_METRICS = ("mtu", "window", "ssthresh", "cwnd", "advmss", "reordering")
_UNLOCKED_METRICS = ("hoplimit", "initcwnd", "initrwnd", "quickack")


# rtt, rttvar, rto_min as stored (keepalived's kernel units): per ms, and the threshold for seconds
_RTT_UNITS = (("rtt", 8), ("rttvar", 4), ("rto_min", 1))


def _rtt(name: str, value: int, locked: bool, per_ms: int) -> str:
    """format_iproute()'s rtt/rttvar ("%gs" from one second, else "%gms") and rto_min ("%ums")."""
    head = f" {name}{' lock' if locked else ''} "
    if value >= 1000 * per_ms:
        return head + f"{value / (1000 * per_ms):g}s"
    return head + (f"{value}ms" if per_ms == 1 else f"{value / per_ms:g}ms")


def format_route(r: Route, installed_ifindex: int | None = None) -> str:
    """format_iproute() of a configured virtual/static route. `installed_ifindex`: keepalived's
    `[installed ifindex N]` for a tracked route whose netlink echo it never matched to its interface
    (its static routes when it does not watch their family's routes: 0)."""
    # keepalived's IPROUTE_BIT_ADD is 1 << IPROUTE_ADD, and IPROUTE_ADD the command 1 (a #define over
    # the enum), so a route type written in the configuration also makes it `add`
    mode = "add" if r.mode == "add" or (r.type != RTN_UNICAST and r.mode != "append") else r.mode
    out = [f"{mode} "]
    if r.type != RTN_UNICAST:
        out.append(f"{_RTN_TYPES.get(r.type, str(r.type))} ")
    if r.dst.address is not None:
        out.append(_prefix_text(r.dst))
    else:  # `default`: parsed to an address
        out.append("::/0" if r.family == 6 else "0.0.0.0/0")
    if r.from_ is not None and r.from_.address is not None:
        out.append(f" from {_prefix_text(r.from_)}")
    if r.src is not None:
        out.append(f" src {r.src}")
    if r.tos is not None:
        out.append(f" tos {r.tos}")
    if r.via is not None:
        out.append(f" via {'inet6' if r.via.version == 6 else 'inet'} {r.via}")
    if r.dev is not None:
        out.append(f" dev {r.dev}")
    if r.table != 254:
        out.append(f" table {r.table}")
    # keepalived gives its protocol to every route but those written `no_track` (one it cannot
    # track, without an interface, keeps it)
    if "no_track" not in r.words or r.protocol != RTPROT_KEEPALIVED:
        out.append(f" proto {r.protocol}")
    if r.scope is not None:
        out.append(f" scope {r.scope}")
    if r.metric is not None:
        out.append(f" metric {r.metric}")
    if r.family == 4 and r.onlink:
        out.append(" onlink")
    metrics = dict(r.metrics)
    realms = metrics.get("realms")
    if realms:
        out.append(f" realms {realms >> 16}/{realms & 0xFFFF}" if realms & 0xFFFF0000
                   else f" realm {realms & 0xFFFF}")
    if "expires" in metrics:
        out.append(f" expires {metrics['expires']}sec")
    for name, per_ms in _RTT_UNITS:
        if name in metrics:
            out.append(_rtt(name, metrics[name], name in r.locked, per_ms))
    for name in _PLAIN_METRICS:
        if name in metrics:
            lock = "lock " if name in r.locked else ""
            out.append(f" {name} {lock}{metrics[name]}")
    for name in _UNLOCKED_METRICS:
        if name in metrics:
            out.append(f" {name} {metrics[name]}")
    if "pref" in metrics:
        out.append(" pref " + {0: "medium", 1: "high", 3: "low"}.get(metrics["pref"], "unknown"))
    for nh in r.nexthops:
        out.append(" nexthop")
        if nh.via is not None:
            out.append(f" via inet{'' if nh.via.version == 4 else '6'} {nh.via}")
        if nh.dev is not None:
            out.append(f" dev {nh.dev}")
        if nh.weight:
            out.append(f" weight {nh.weight}")
        if nh.onlink:
            out.append(" onlink")
    if not r.track:
        out.append(" no_track")
    if r.track_group:
        out.append(f" track_group {r.track_group}")
    if installed_ifindex is not None and r.track:
        out.append(f" [installed ifindex {installed_ifindex}]")
    return "".join(out)


_RULE_TYPES = {"blackhole": "blackhole", "unreachable": "unreachable", "prohibit": "prohibit"}


def _any(p: Prefix | None, family: int) -> str | None:
    """A rule's from/to: None when not given, `0.0.0.0/0` for an explicit `all` (keepalived parses
    it to an address)."""
    if p is None:
        return None
    if p.address is None:
        return "0.0.0.0/0" if family != 6 else "::/0"
    return _prefix_text(p)


def format_rule(r: Rule) -> str:
    """format_iprule() of a configured virtual/static rule (numbers as netlink carries them)."""
    nl = rule_from_config(r)
    src, dst = _any(r.from_, r.family), _any(r.to, r.family)
    out = []
    if src is None and dst is None and r.family == 6:
        out.append("inet6 ")
    if r.invert:
        out.append("not ")
    out.append(f"from {src or 'all'}")
    if dst is not None:
        out.append(f" to {dst}")
    out.append(f" priority {r.priority}")
    out.append(f" tos 0x{r.tos or 0:x}")
    if r.fwmark is not None or r.fwmask is not None:
        out.append(f" fwmark 0x{r.fwmark or 0:x}")
        if r.fwmask is not None and r.fwmask != 0xFFFFFFFF:
            out.append(f"/0x{r.fwmask:x}")
    for word, value in (("iif", r.iif), ("oif", r.oif), ("suppress_prefixlen", nl.suppress_prefixlength),
                        ("suppress_ifgroup", nl.suppress_ifgroup), ("tunnel-id", nl.tun_id or None)):
        if value is not None:
            out.append(f" {word} {value}")
    if nl.uidrange is not None:
        out.append(f" uidrange {nl.uidrange[0]}-{nl.uidrange[1]}")
    if r.action == "l3mdev":
        out.append(" l3mdev")
    if nl.protocol is not None:
        out.append(f" protocol {nl.protocol}")
    if nl.ipproto is not None:
        out.append(f" ipproto {nl.ipproto}")
    for name, ports in (("sport", nl.sport), ("dport", nl.dport)):
        if ports is not None:
            out.append(f" {name} {ports[0]}-{ports[1]}")
    if r.realms:
        out.append(f" realms {r.realms >> 16}/{r.realms & 0xFFFF}")
    if r.action == "table" or r.action == "l3mdev":
        out.append(f" lookup {r.table or 0}")
    elif r.action == "goto":
        out.append(f" goto {r.goto or 0}")
    elif r.action == "nop":
        out.append(" nop")
    else:
        out.append(f" type {_RULE_TYPES.get(r.action, r.action)}")
    if not r.track:
        out.append(" no_track")
    if r.track_group:
        out.append(f" track_group {r.track_group}")
    return "".join(out)


# ------------------------------------------------------------------ keepalived's JSON writer
class Fixed(float):
    """A number written with printf's %f (keepalived's last_transition), not %g."""


def _jstr(s: str) -> str:
    """jsonw_puts(): C escapes and `\\/`; a backslash comes out as `\\n` (keepalived's own bug,
    kept: readers of its files see the same); other bytes as they are."""
    esc = {"\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f", "\b": "\\b", "\\": "\\n", '"': '\\"',
           "/": "\\/"}
    return '"' + "".join(esc.get(c, c) for c in s) + '"'


def ka_json(value: Any) -> str:
    """One line of JSON as keepalived's json_writer writes it: compact, integers as %d, floats as
    %g (Fixed as %f), booleans true/false, strings escaped as jsonw_puts does."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Fixed):
        return f"{float(value):f}"
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return _jstr(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_jstr(str(k))}:{ka_json(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(ka_json(v) for v in value) + "]"
    if value is None:
        return "null"
    return _jstr(str(value))
