# Theory of operation
# -------------------
# Typed parsing of the rule lines of `static_rules` and `virtual_rules` (keepalived.md §1.4), with the
# verdicts of keepalived 2.2.7's alloc_rule(): `from/to/table|lookup/preference|priority|order/iif|dev/
# oif/fwmark/tos/realms/...` and one action (table, goto, nop, blackhole, unreachable, prohibit,
# l3mdev). A rule without a preference is given 16384, 16383, ... per address family, with keepalived's
# warning; a `goto` needs a preference lower than its target. A bad word drops the whole line.
"""Rule lines -> typed Rule values."""

from __future__ import annotations

from dataclasses import dataclass, field

from pykeepalived.config.diag import NOWHERE, ConfigErr, Loc, Reporter
from pykeepalived.config.routes import (
    RTN_BLACKHOLE,
    RTN_PROHIBIT,
    RTN_UNREACHABLE,
    RTPROT_KEEPALIVED,
    RULE_START_PRIORITY,
    Prefix,
    _Bad,
    _family,
    _prefix,
    _realms,
    _rtntype,
    _Words,
    c_strtoul,
    rt_lookup,
)
from pykeepalived.config.types import is_digits


@dataclass(frozen=True, slots=True)
class Rule:
    family: int
    action: str  # table | goto | nop | blackhole | unreachable | prohibit | l3mdev
    priority: int
    table: int | None = None
    goto: int | None = None
    from_: Prefix | None = None
    to: Prefix | None = None
    invert: bool = False
    tos: int | None = None
    fwmark: int | None = None
    fwmask: int | None = None
    realms: int | None = None
    iif: str | None = None
    oif: str | None = None
    options: tuple[tuple[str, str], ...] = ()  # suppress_*, uidrange, sport, dport, ipproto, ...
    track: bool = True
    track_group: str | None = None
    loc: Loc = field(default=NOWHERE, compare=False)

    @property
    def devs(self) -> tuple[str, ...]:
        return tuple(d for d in (self.iif, self.oif) if d is not None)


_RULE_ACTIONS = {RTN_BLACKHOLE: "blackhole", RTN_UNREACHABLE: "unreachable", RTN_PROHIBIT: "prohibit"}


class RulePriorities:
    """keepalived's per-family counters for rules without a preference (16384 downwards)."""

    def __init__(self) -> None:
        self.next = {4: RULE_START_PRIORITY, 6: RULE_START_PRIORITY}


def parse_rule(
    words: tuple[str, ...],
    loc: Loc,
    rep: Reporter,
    prios: RulePriorities,
    track_groups: set[str] | None = None,
) -> Rule | None:
    """One rule line (keepalived alloc_rule)."""
    w = _Words(words, loc, rep)
    f: dict[str, object] = {}
    opts: list[tuple[str, str]] = []
    fam = 0
    action = ""
    table_option = False
    mixed = "rule specification has mixed IPv4 and IPv6"
    try:
        while w.i < len(words):
            s = words[w.i]
            if s in ("inet", "inet6"):
                fam = w.inet(fam, "rule")
            elif s in ("from", "to"):
                p = _prefix(w.next(), loc, rep)
                if p is None:
                    raise w.fail(f"Invalid rule {s} address {words[w.i]}")
                f["from_" if s == "from" else "to"] = p
                fam = _family(fam, p.family, w, mixed)
            elif s in ("table", "lookup"):
                table = w.lookup("rt_tables", "Routing table {} not found for rule")
                if table == 0:
                    raise w.fail("Table 0 is not valid")
                f["table"] = table
                if action:
                    raise w.fail(
                        "Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable"
                        " for rule"
                    )
                action = "table"
            elif s == "not":
                f["invert"] = True
            elif s in ("preference", "order", "priority"):
                x = w.next()
                v, rest = c_strtoul(x, 0)
                if x.lstrip().startswith("-") or v is None or rest or v > 2**32 - 1:
                    rep.error(loc, f"invalid number '{x}'", ConfigErr.INVALID_NUMBER)
                    raise w.fail(f"Invalid rule preference {s} specified")
                f["priority"] = v
            elif s in ("tos", "dsfield"):
                f["tos"] = w.lookup("rt_dsfield", "TOS value {} is invalid")
            elif s == "fwmark":
                x = w.next()
                mark, sl, mask = x.strip().partition("/")
                mv, r1 = c_strtoul(mark, 0)
                kv, r2 = c_strtoul(mask, 0) if sl else (0, "")
                if (
                    mark.startswith("-")
                    or mv is None
                    or r1
                    or mv > 2**32 - 1
                    or (sl and (not mask or mask[0].isspace() or mask[0] == "-" or kv is None or r2))
                    or (kv or 0) > 2**32 - 1
                ):
                    raise w.fail(f"Invalid rule fwmark {x} specified")
                f["fwmark"] = mv
                f["fwmask"] = kv if sl else None
            elif s == "realms":
                v = _realms(w.next())
                if v is None:
                    raise w.fail(f"invalid realms {words[w.i]} for rule")
                f["realms"] = v
                table_option = True
                fam = _family(fam, 4, w, "realms is only valid for IPv4")
            elif s in ("suppress_prefixlength", "sup_pl", "suppress_ifgroup", "sup_group"):
                x = w.next()
                if s.startswith("sup_pl") or s == "suppress_prefixlength":
                    w.unsigned(x, 2**31 - 1, f"Invalid suppress_prefixlength {s} specified")
                    opts.append(("suppress_prefixlength", x))
                else:
                    if rt_lookup("rt_tables", x) is None and not is_digits(x):
                        raise w.fail(f"suppress_group {x} is invalid")
                    opts.append(("suppress_ifgroup", x))
                table_option = True
            elif s in ("dev", "iif"):
                f["iif"] = w.next()
            elif s == "oif":
                f["oif"] = w.next()
            elif s == "tunnel-id":
                x = w.next()
                v, rest = c_strtoul(x)
                if v is None or rest or x.startswith("-"):
                    raise w.fail(f"Invalid tunnel-id {s} specified")
                opts.append((s, x))
            elif s == "uidrange":
                x = w.next()
                a, _, b = x.partition("-")
                if not (is_digits(a) and is_digits(b[:1])):
                    raise w.fail(f"Invalid uidrange {s} specified")
                opts.append((s, x))
            elif s == "l3mdev":
                if action:
                    raise w.fail("Cannot specify l3mdev with other action")
                action = "l3mdev"
            elif s == "protocol":
                x = w.next()
                v, rest = c_strtoul(x)
                if v is None or rest or v > 255 or x.startswith("-"):
                    rep.error(loc, f"Invalid protocol {x}")
                else:
                    f["protocol"] = v
            elif s == "ipproto":
                x = w.next()
                if x not in ("tcp", "udp", "icmp", "sctp", "ipv6-icmp", "icmpv6") and not (
                    is_digits(x) and int(x) <= 255
                ):
                    rep.error(loc, f"Invalid ipproto {x}")
                else:
                    opts.append((s, x))
            elif s in ("sport", "dport"):
                x = w.next()
                a, dash, b = x.partition("-")
                if not is_digits(a) or int(a) > 65535 or (dash and not (is_digits(b) and int(b) <= 65535)):
                    rep.error(loc, f"invalid {s} range {x}")
                else:
                    opts.append((s, x))
            elif s == "no_track":
                f["track"] = False
            elif track_groups is not None and s == "track_group":
                if not w.track_group(f, track_groups):
                    break
            else:
                if s == "type":
                    s = w.next()
                if s == "goto":
                    x = w.next()
                    v, rest = c_strtoul(x)
                    if v is None or rest or x.startswith("-") or v > 2**32 - 1:
                        rep.error(loc, f"invalid number '{x}'", ConfigErr.INVALID_NUMBER)
                        raise w.fail(f"Invalid target {s} specified")
                    f["goto"] = v
                    act = "goto"
                elif s == "nop":
                    act = "nop"
                else:
                    t = _rtntype(s)
                    if t is None:
                        raise w.fail(f"Unknown rule option {s}")
                    if t not in _RULE_ACTIONS:
                        raise w.fail(f"Invalid rule action {s}")
                    act = _RULE_ACTIONS[t]
                if action:
                    raise w.fail(
                        "Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable/"
                        "l3mdev for rule"
                    )
                action = act
            w.i += 1
        if action == "goto":
            if "priority" not in f:
                raise w.fail(f"Invalid rule - goto target {f['goto']} specified without preference")
            if int(f["priority"]) >= int(f["goto"]):  # type: ignore[call-overload]
                raise w.fail(f"Invalid rule - preference {f['priority']} >= goto target {f['goto']}")
        if not action:
            raise w.fail("No action specified for rule - ignoring")
        if action != "table" and table_option:
            raise w.fail("suppressor/realm specified for non table action - skipping")
        if action == "l3mdev" and "table" in f:
            raise w.fail("table cannot be specified for l3mdev rules")
    except _Bad:
        return None
    if f.get("track", True) and "protocol" in f and f["protocol"] != RTPROT_KEEPALIVED:
        rep.error(loc, "Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting protocol")
    f.pop("protocol", None)
    if "track_group" in f and "iif" not in f:
        rep.error(loc, "Static rule cannot have track_group if dev/iif not specified")
        del f["track_group"]
    fam = fam or 4
    for k in ("from_", "to"):
        pk = f.get(k)
        if isinstance(pk, Prefix) and pk.family == 0:
            f[k] = Prefix(None, 0, fam)
    if "priority" not in f:
        f["priority"] = prios.next[fam]
        prios.next[fam] -= 1
        rep.error(
            loc,
            f"Rule has no preference specified - setting to {f['priority']}."
            " This is probably not what you want.",
        )
    return Rule(family=fam, action=action, options=tuple(opts), loc=loc, **f)  # type: ignore[arg-type]


def format_rule(r: Rule) -> str:
    """A rule in keepalived syntax (re-parses to an equal Rule)."""
    out: list[str] = []
    if r.family == 6 and all(p is None or p.address is None for p in (r.from_, r.to)):
        out += ["inet6", "inet6"]  # keepalived steps over the word after `inet6`
    if r.from_ is not None:
        out += ["from", str(r.from_).replace("inet6 ", "")]
    if r.to is not None:
        out += ["to", str(r.to).replace("inet6 ", "")]
    if r.invert:
        out.append("not")
    out += ["preference", str(r.priority)]
    if r.tos is not None:
        out += ["tos", str(r.tos)]
    if r.fwmark is not None:
        out += ["fwmark", str(r.fwmark) + (f"/{r.fwmask}" if r.fwmask is not None else "")]
    if r.realms is not None:
        out += ["realms", f"{r.realms >> 16}/{r.realms & 0xFFFF}" if r.realms > 0xFFFF else str(r.realms)]
    if r.iif is not None:
        out += ["iif", r.iif]
    if r.oif is not None:
        out += ["oif", r.oif]
    for k, v in r.options:
        out += [k, v]
    if not r.track:
        out.append("no_track")
    if r.track_group is not None:
        out += ["track_group", r.track_group]
    if r.action == "table":
        out += ["table", str(r.table)]
    elif r.action == "goto":
        out += ["goto", str(r.goto)]
    else:
        out.append(r.action)
    return " ".join(out)
