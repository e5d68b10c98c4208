# Theory of operation
# -------------------
# Typed parsing of the rule lines of `static_rules` and `virtual_rules` (keepalived.md §1.4), with the
# verdicts of keepalived 2.2.7's alloc_rule(): `from/to/table|lookup/preference|priority|order/iif|dev/
# oif/fwmark/tos/realms/...` and one action (table, goto, nop, blackhole, unreachable, prohibit,
# l3mdev). A rule without a preference is given 16384, 16383, ... per address family, with keepalived's
# warning; a `goto` needs a preference lower than its target. A bad word drops the whole line.
"""Rule lines -> typed Rule values."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from pykeepalived.config.changes import changes3
from pykeepalived.config.diag import NOWHERE, ConfigErr, Loc, Reporter
from pykeepalived.config.routes import (
    RTN_BLACKHOLE,
    RTN_PROHIBIT,
    RTN_UNREACHABLE,
    RTPROT_KEEPALIVED,
    RULE_START_PRIORITY,
    LineDraft,
    Prefix,
    _Bad,
    _family,
    _prefix,
    _realms,
    _rtntype,
    _Words,
    c_strtoul,
    no_track,
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
    suppress_prefixlength: int | None = None
    suppress_ifgroup: int | None = None
    tun_id: int | None = None
    uidrange: tuple[int, int] | None = None
    sport: tuple[int, int] | None = None
    dport: tuple[int, int] | None = None
    ipproto: int | None = None
    # the words of the options above as written (suppress_*, tunnel-id, uidrange, sport, dport, ipproto)
    options: tuple[tuple[str, str], ...] = field(default=(), compare=False)
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


class _RuleDraft(LineDraft):
    """A rule line being read: the reader's state, and the Rule's fields set so far (`ch`, typed
    against Rule: config/changes.py), made into the Rule once the line is read."""

    __slots__ = ("action", "any_from", "any_to", "ch", "fam", "goto", "has_iif", "has_table", "options",
                 "priority", "protocol", "table_option")

    def __init__(self, w: _Words, track_groups: set[str] | None) -> None:
        super().__init__(w, track_groups)
        self.ch = changes3(Rule)
        self.fam = 0
        self.action = ""
        self.table_option = False  # a suppressor or realms: only with the `table` action
        self.priority: int | None = None  # None: not given (the next free one is given at the end)
        self.protocol: int | None = None  # checked, not kept
        self.options: list[tuple[str, str]] = []  # suppress_*, tunnel-id, uidrange, sport, dport, ipproto
        self.goto: int | None = None  # read by the checks
        self.has_table = self.has_iif = False  # given (for the checks)
        self.any_from = self.any_to = False  # `from`/`to` all|any|default: of the rule's family

    def set_action(self, action: str, msg: str) -> None:
        if self.action:
            raise self.w.fail(msg)
        self.action = action


# A handler reads the words of its keyword (the current word, w.i) and leaves w.i on the last one it
# used; it returns True to stop reading the line (a duplicate `track_group`).
_RuleHandler = Callable[[_RuleDraft, str], bool | None]
_IPPROTO = {"icmp": 1, "tcp": 6, "udp": 17, "ipv6-icmp": 58, "icmpv6": 58, "sctp": 132}
_ONE_ACTION = "Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable"


def _u_inet(d: _RuleDraft, s: str) -> None:
    d.fam = d.w.inet(d.fam, "rule")


def _u_address(d: _RuleDraft, s: str) -> None:
    w = d.w
    x = w.next()
    p = _prefix(x, w.loc, w.rep)
    if p is None:
        raise w.fail(f"Invalid rule {s} address {x}")
    if s == "from":
        d.ch.set(from_=p)
        d.any_from = p.family == 0
    else:
        d.ch.set(to=p)
        d.any_to = p.family == 0
    d.fam = _family(d.fam, p.family, w, "rule specification has mixed IPv4 and IPv6")


def _u_table(d: _RuleDraft, s: str) -> None:
    table = d.w.lookup("rt_tables", "Routing table {} not found for rule")
    if table == 0:
        raise d.w.fail("Table 0 is not valid")
    d.ch.set(table=table)
    d.has_table = True
    d.set_action("table", _ONE_ACTION + " for rule")


def _u_not(d: _RuleDraft, s: str) -> None:
    d.ch.set(invert=True)


def _u_priority(d: _RuleDraft, s: str) -> None:
    w = d.w
    x = w.next()
    v, rest = c_strtoul(x, 0)
    if x.lstrip().startswith("-") or v is None or rest or v > 2**32 - 1:
        w.rep.error(w.loc, f"invalid number '{x}'", ConfigErr.INVALID_NUMBER)
        raise w.fail(f"Invalid rule preference {s} specified")
    d.priority = v


def _u_tos(d: _RuleDraft, s: str) -> None:
    d.ch.set(tos=d.w.lookup("rt_dsfield", "TOS value {} is invalid"))


def _u_fwmark(d: _RuleDraft, s: str) -> None:
    x = d.w.next()
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
        raise d.w.fail(f"Invalid rule fwmark {x} specified")
    d.ch.set(fwmark=mv, fwmask=kv if sl else None)


def _u_realms(d: _RuleDraft, s: str) -> None:
    w = d.w
    x = w.next()
    v = _realms(x)
    if v is None:
        raise w.fail(f"invalid realms {x} for rule")
    d.ch.set(realms=v)
    d.table_option = True
    d.fam = _family(d.fam, 4, w, "realms is only valid for IPv4")


def _u_suppress(d: _RuleDraft, s: str) -> None:
    w = d.w
    x = w.next()
    if s.startswith("sup_pl") or s == "suppress_prefixlength":
        w.unsigned(x, 2**31 - 1, f"Invalid suppress_prefixlength {s} specified")
        d.options.append(("suppress_prefixlength", x))
    else:
        if rt_lookup("rt_tables", x) is None and not is_digits(x):
            raise w.fail(f"suppress_group {x} is invalid")
        d.options.append(("suppress_ifgroup", x))
    d.table_option = True


def _u_iif(d: _RuleDraft, s: str) -> None:
    d.ch.set(iif=d.w.next())
    d.has_iif = True


def _u_oif(d: _RuleDraft, s: str) -> None:
    d.ch.set(oif=d.w.next())


def _u_tunnel_id(d: _RuleDraft, s: str) -> None:
    x = d.w.next()
    v, rest = c_strtoul(x)
    if v is None or rest or x.startswith("-"):
        raise d.w.fail(f"Invalid tunnel-id {s} specified")
    d.options.append((s, x))


def _u_uidrange(d: _RuleDraft, s: str) -> None:
    x = d.w.next()
    a, _, b = x.partition("-")
    if not (is_digits(a) and is_digits(b[:1])):
        raise d.w.fail(f"Invalid uidrange {s} specified")
    d.options.append((s, x))


def _u_l3mdev(d: _RuleDraft, s: str) -> None:
    d.set_action("l3mdev", "Cannot specify l3mdev with other action")


def _u_protocol(d: _RuleDraft, s: str) -> None:
    x = d.w.next()
    v, rest = c_strtoul(x)
    if v is None or rest or v > 255 or x.startswith("-"):
        d.w.rep.error(d.w.loc, f"Invalid protocol {x}")
    else:
        d.protocol = v


def _u_ipproto(d: _RuleDraft, s: str) -> None:
    x = d.w.next()
    if x not in _IPPROTO and not (is_digits(x) and int(x) <= 255):
        d.w.rep.error(d.w.loc, f"Invalid ipproto {x}")
    else:
        d.options.append((s, x))


def _u_port(d: _RuleDraft, s: str) -> None:
    x = d.w.next()
    a, dash, b = x.partition("-")
    if not is_digits(a) or int(a) > 65535 or (dash and not (is_digits(b) and int(b) <= 65535)):
        d.w.rep.error(d.w.loc, f"invalid {s} range {x}")
    else:
        d.options.append((s, x))


def _u_track_group(d: _RuleDraft, s: str) -> bool:
    if d.track_groups is None:  # virtual rules: not a keyword, so an action
        return _u_action(d, s)
    return d.read_track_group()


def _u_action(d: _RuleDraft, s: str) -> bool:
    """Any other word: `[type] goto N | nop | blackhole | unreachable | prohibit`."""
    w = d.w
    if s == "type":
        s = w.next()
    if s == "goto":
        x = w.next()
        v, rest = c_strtoul(x)
        if v is None or rest or x.startswith("-") or v > 2**32 - 1:
            w.rep.error(w.loc, f"invalid number '{x}'", ConfigErr.INVALID_NUMBER)
            raise w.fail(f"Invalid target {s} specified")
        d.goto = v
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
    d.set_action(act, _ONE_ACTION + "/l3mdev for rule")
    return False


_RULE_WORDS: dict[str, _RuleHandler] = {
    "inet": _u_inet, "inet6": _u_inet, "from": _u_address, "to": _u_address, "table": _u_table,
    "lookup": _u_table, "not": _u_not, "preference": _u_priority, "order": _u_priority,
    "priority": _u_priority, "tos": _u_tos, "dsfield": _u_tos, "fwmark": _u_fwmark, "realms": _u_realms,
    "suppress_prefixlength": _u_suppress, "sup_pl": _u_suppress, "suppress_ifgroup": _u_suppress,
    "sup_group": _u_suppress, "dev": _u_iif, "iif": _u_iif, "oif": _u_oif, "tunnel-id": _u_tunnel_id,
    "uidrange": _u_uidrange, "l3mdev": _u_l3mdev, "protocol": _u_protocol, "ipproto": _u_ipproto,
    "sport": _u_port, "dport": _u_port, "no_track": no_track, "track_group": _u_track_group,
}


def parse_rule(
    words: tuple[str, ...],
    loc: Loc,
    rep: Reporter,
    prios: RulePriorities,
    track_groups: set[str] | None = None,
) -> Rule | None:
    """One rule line (keepalived alloc_rule)."""
    w = _Words(words, loc, rep)
    d = _RuleDraft(w, track_groups)
    try:
        while w.i < len(words):
            s = words[w.i]
            if _RULE_WORDS.get(s, _u_action)(d, s):
                break
            w.i += 1
        _rule_checks(d)
    except _Bad:
        return None
    return _rule_end(d, prios)


def _rule_checks(d: _RuleDraft) -> None:
    """keepalived's verdicts on the action once the line is read (raise _Bad: the line is dropped)."""
    w = d.w
    if d.action == "goto":
        if d.priority is None:
            raise w.fail(f"Invalid rule - goto target {d.goto} specified without preference")
        if d.goto is not None and d.priority >= d.goto:
            raise w.fail(f"Invalid rule - preference {d.priority} >= goto target {d.goto}")
    if not d.action:
        raise w.fail("No action specified for rule - ignoring")
    if d.action != "table" and d.table_option:
        raise w.fail("suppressor/realm specified for non table action - skipping")
    if d.action == "l3mdev" and d.has_table:
        raise w.fail("table cannot be specified for l3mdev rules")


def _rule_end(d: _RuleDraft, prios: RulePriorities) -> Rule:
    """keepalived's warnings and defaults once the line is accepted, then the Rule."""
    rep, loc = d.w.rep, d.w.loc
    if d.track and d.protocol is not None and d.protocol != RTPROT_KEEPALIVED:
        rep.error(loc, "Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting protocol")
    if d.track_group is not None and not d.has_iif:
        rep.error(loc, "Static rule cannot have track_group if dev/iif not specified")
        d.track_group = None
    fam = d.fam or 4
    if d.any_from:
        d.ch.set(from_=Prefix(None, 0, fam))
    if d.any_to:
        d.ch.set(to=Prefix(None, 0, fam))
    priority = d.priority
    if priority is None:
        priority = prios.next[fam]
        prios.next[fam] -= 1
        rep.error(
            loc,
            f"Rule has no preference specified - setting to {priority}."
            " This is probably not what you want.",
        )
    o = dict(d.options)
    spl, ifgroup, tun, proto = (o.get(k) for k in ("suppress_prefixlength", "suppress_ifgroup", "tunnel-id",
                                                     "ipproto"))
    d.ch.set(goto=d.goto, suppress_prefixlength=None if spl is None else int(spl),
             suppress_ifgroup=_ifgroup(ifgroup), tun_id=None if tun is None else int(tun),
             uidrange=_range(o.get("uidrange")), sport=_range(o.get("sport")), dport=_range(o.get("dport")),
             ipproto=None if proto is None else _IPPROTO.get(proto) or int(proto),
             options=tuple(d.options), track=d.track, track_group=d.track_group, loc=loc)
    return d.ch.make(fam, d.action, priority)


def _range(v: str | None) -> tuple[int, int] | None:
    """`N` or `N-M` (uidrange, sport, dport) as (start, end), as sscanf("%u-%u") reads it."""
    m = None if v is None else re.match(r"(\d+)(?:-(\d+))?", v)
    if m is None:
        return None
    return int(m[1]), int(m[2] or m[1])


def _ifgroup(v: str | None) -> int | None:
    if v is None:
        return None
    n, rest = c_strtoul(v, 0)
    return n if n is not None and not rest else rt_lookup("rt_tables", v)


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
