# Theory of operation
# -------------------
# Typed parsing of the route lines (rules: rules.py) of `static_routes`, `static_rules`, `virtual_routes` and
# `virtual_rules` (keepalived.md §1.4 and §1.11.2), with the verdicts of keepalived 2.2.7's
# alloc_route() / alloc_rule(): the words are walked left to right in the `ip route` / `ip rule`
# vocabulary, names are looked up in /etc/iproute2 (rt_tables, rt_protos, rt_scopes, rt_dsfield,
# rt_realms, with iproute2's built-in defaults), and a bad word drops the whole line with keepalived's
# message. Each keyword is a small handler in a table (_ROUTE_WORDS here, _RULE_WORDS in rules.py) that
# sets the record's fields (config/changes.py: typed against Route / Rule, so the records' field lists
# are the only ones) or the reader's state; the record is made once the line is read, then checked.
# The quirks kept on purpose:
#   * an un-tracked route (no `dev`/`oif`, no `no_track`) is warned about and not tracked;
#   * `gw` and `or` are deprecated spellings of `via` and `nexthop`;
#   * a rule without a preference gets 16384, 16383, ... per family, *with a warning*;
#   * a rule `goto` needs a preference lower than its target.
# Whether a `dev` exists is a property of the running system: check.py reports it.
"""Route lines -> typed Route values (and the word helpers shared with rules.py)."""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

from pykeepalived.config.changes import changes2
from pykeepalived.config.command_words import WHITE_SPACE as C_SPACE
from pykeepalived.config.diag import NOWHERE, ConfigErr, Loc, Reporter
from pykeepalived.config.types import IPAddr, is_digits

RTPROT_KEEPALIVED = 18
RULE_START_PRIORITY = 16384
RTN_UNICAST, RTN_BLACKHOLE, RTN_UNREACHABLE, RTN_PROHIBIT = 1, 6, 7, 8
RTNTYPES = {
    "local": 2,
    "nat": 10,
    "broadcast": 3,
    "brd": 3,
    "anycast": 4,
    "multicast": 5,
    "prohibit": 8,
    "unreachable": 7,
    "blackhole": 6,
    "xresolve": 11,
    "unicast": 1,
    "throw": 9,
}
_DEFAULTS = {
    "rt_tables": {"default": 253, "main": 254, "local": 255},
    "rt_protos": {
        "none": 0,
        "redirect": 1,
        "kernel": 2,
        "boot": 3,
        "static": 4,
        "gated": 8,
        "ra": 9,
        "mrt": 10,
        "zebra": 11,
        "bird": 12,
        "babel": 42,
        "dnrouted": 13,
        "xorp": 14,
        "ntk": 15,
        "dhcp": 16,
    },
    "rt_scopes": {"global": 0, "nowhere": 255, "host": 254, "link": 253, "site": 200},
    "rt_dsfield": {},
    "rt_realms": {},
}
_MAX = {"rt_tables": 2**32 - 1, "rt_protos": 255, "rt_scopes": 255, "rt_dsfield": 255, "rt_realms": 255}
# route metrics taking an optional `lock` and an unsigned value (name -> upper bound)
_METRICS = {
    "mtu": 2**32 - 1,
    "advmss": 2**32 - 1,
    "reordering": 2**32 - 1,
    "cwnd": 2**32 - 1,
    "ssthresh": 2**32 - 1,
}
_U32_OPTS = {"window": "window value", "initcwnd": "initcwnd value", "initrwnd": "initrwnd value"}
_RTT = {"rtt": 8, "rttvar": 4, "rto_min": 1}


def c_strtoul(s: str, base: int = 10) -> tuple[int | None, str]:
    """C strtoul: (value or None when no digits, the unparsed rest)."""
    if base == 10 and is_digits(s) and s:  # the common case, without the loop
        return int(s) % 2**64, ""
    t = s.lstrip(C_SPACE)
    neg = t[:1] == "-"
    if t[:1] in "+-" and t:
        t = t[1:]
    if base in (0, 16) and t[:2].lower() == "0x" and len(t) > 2 and t[2] in "0123456789abcdefABCDEF":
        t, base = t[2:], 16
    elif base == 0:
        base = 8 if t[:1] == "0" else 10
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"[:base]
    n = 0
    while n < len(t) and t[n].lower() in digits:
        n += 1
    if not n:
        return None, s
    v = int(t[:n], base)
    return (-v if neg else v) % 2**64, t[n:]


IPROUTE_ETC_DIR = "/etc/iproute2"
# global_defs iproute_etc_dir / iproute_usr_dir (keepalived 2.3+); without them keepalived 2.2.7
# reads /etc/iproute2/NAME only (no usr directory, no NAME.d)
_iproute_dirs: tuple[str, str] | None = None


def set_iproute_dirs(etc_dir: str | None, usr_dir: str | None) -> None:
    """At each read of the configuration: the files are read again (edits show at a reload)."""
    global _iproute_dirs
    _rt_file_in.cache_clear()
    if etc_dir is None and usr_dir is None:
        _iproute_dirs = None
    else:
        _iproute_dirs = ((etc_dir or IPROUTE_ETC_DIR).rstrip("/") or "/", (usr_dir or "").rstrip("/"))


def _rt_paths(name: str, etc_dir: str, usr_dir: str | None) -> list[str]:
    """keepalived initialise_list(): NAME from the etc directory, else from the usr one; then the
    usr directory's NAME.d/*.conf not overridden by the same file in the etc one, then etc's.
    usr_dir None: keepalived 2.2.7, the etc directory's NAME only."""
    if usr_dir is None:
        return [f"{etc_dir}/{name}"]
    if not (os.path.isdir(etc_dir) or (usr_dir and os.path.isdir(usr_dir))):
        return []
    paths = []
    for d in (etc_dir, usr_dir):
        if d and os.path.isfile(f"{d}/{name}"):
            paths.append(f"{d}/{name}")
            break
    for d in (usr_dir, etc_dir):
        if not d:
            continue
        try:
            entries = sorted(os.listdir(f"{d}/{name}.d"))
        except OSError:
            continue
        for e in entries:
            if not e.endswith(".conf") or not os.path.isfile(f"{d}/{name}.d/{e}"):
                continue
            if d == usr_dir and os.path.exists(f"{etc_dir}/{name}.d/{e}"):
                continue
            paths.append(f"{d}/{name}.d/{e}")
    return paths


def _rt_file(name: str) -> dict[str, int]:
    if _iproute_dirs is None:
        return _rt_file_in(name, IPROUTE_ETC_DIR, None)
    return _rt_file_in(name, *_iproute_dirs)


@cache
def _rt_file_in(name: str, etc_dir: str, usr_dir: str | None) -> dict[str, int]:
    """Names from the iproute2 files (see _rt_paths), plus iproute2's defaults for ids not named."""
    out: dict[str, int] = {}
    for path in _rt_paths(name, etc_dir, usr_dir):
        try:
            with open(path) as fh:
                for line in fh:
                    w = line.split("#", 1)[0].split()
                    if len(w) == 2:  # keepalived read_file(): exactly two fields
                        v, rest = c_strtoul(w[0], 0)
                        if v is not None and not rest and v <= _MAX[name] and not w[0].startswith("-"):
                            out.setdefault(w[1], v)
        except OSError:
            pass
    ids = set(out.values())
    for k, v in _DEFAULTS[name].items():
        if v not in ids:
            out.setdefault(k, v)
    return out


def rt_lookup(kind: str, word: str) -> int | None:
    """keepalived find_entry(): a number (any C base) up to the maximum, or a name from the file."""
    v, rest = c_strtoul(word, 0)
    if v is not None and not rest:
        return v if v <= _MAX[kind] else None
    return _rt_file(kind).get(word)


def _rtntype(word: str) -> int | None:
    if word in RTNTYPES:
        return RTNTYPES[word]
    v, rest = c_strtoul(word, 0)
    if v is None or rest or v > 255 or word.startswith("-"):
        return None
    return v


def _realms(word: str) -> int | None:
    a, slash, b = word.partition("/")
    va = rt_lookup("rt_realms", a)
    if va is None:
        return None
    if not slash:
        return va
    vb = rt_lookup("rt_realms", b)
    return None if vb is None else (va << 16) | vb


@dataclass(frozen=True, slots=True)
class Prefix:
    """A route/rule address: `address` None means default/any/all (of `family`, 0 if unset)."""

    address: IPAddr | None
    prefix: int
    family: int = 4

    def __str__(self) -> str:
        if self.address is None:
            return "default" if self.family != 6 else "inet6 default"
        return f"{self.address}/{self.prefix}"


def read_unsigned(word: str, lo: int, hi: int, loc: Loc, rep: Reporter) -> int | None:
    """keepalived read_unsigned() as -t runs it: the number, or None after keepalived's message."""
    v, rest = c_strtoul(word)
    if v is None:  # strtoul() reads no digit as 0: only an empty (or blank) word passes
        v, rest = 0, word.lstrip(C_SPACE)
    if word.lstrip(C_SPACE).startswith("-"):
        msg = f"negative number '{word}'"
    elif rest:
        msg = f"invalid number '{word}'"
    elif v > 2**32 - 1:
        msg = f"number '{word}' outside unsigned integer range"
    elif not lo <= v <= hi:
        msg = f"number '{word}' outside range [{lo}, {hi}]"
    else:
        return v
    rep.error(loc, msg, ConfigErr.INVALID_NUMBER)
    return None


def parse_ipaddress(word: str, with_prefix: bool, loc: Loc, rep: Reporter) -> tuple[IPAddr, int] | None:
    """keepalived parse_ipaddress(): the family is chosen by ':' in the word."""
    fam = 6 if ":" in word else 4
    plen = 128 if fam == 6 else 32
    text = word
    if with_prefix and "/" in word:
        text, _, p = word.partition("/")
        v = read_unsigned(p, 0, plen, loc, rep)
        if v is None:
            rep.error(loc, f"Invalid address prefix len {p} for address {word} - using {plen}")
        else:
            plen = v
    try:  # inet_pton() as keepalived (and ~1 µs where ipaddress's parser takes ~10)
        packed = socket.inet_pton(socket.AF_INET6 if fam == 6 else socket.AF_INET, text)
    except (OSError, ValueError, UnicodeError):
        rep.error(loc, f"VRRP parsed invalid IP {word}. skipping IP...")
        return None
    return (ipaddress.IPv6Address(packed) if fam == 6 else ipaddress.IPv4Address(packed)), plen


def _prefix(word: str, loc: Loc, rep: Reporter) -> Prefix | None:
    """keepalived parse_route()."""
    if word in ("default", "any", "all"):
        return Prefix(None, 0, 0)
    if word == "default6":
        return Prefix(None, 0, 6)
    r = parse_ipaddress(word, True, loc, rep)
    return None if r is None else Prefix(r[0], r[1], r[0].version)


@dataclass(frozen=True, slots=True)
class NextHop:
    via: IPAddr | None = None
    dev: str | None = None
    weight: int | None = None  # as configured (1..256)
    onlink: bool = False
    realms: int | None = None


@dataclass(frozen=True, slots=True)
class Route:
    family: int  # 4 | 6
    dst: Prefix
    type: int = RTN_UNICAST  # RTN_* (unicast, blackhole, unreachable, prohibit, ...)
    via: IPAddr | None = None
    dev: str | None = None
    src: IPAddr | None = None  # preferred source (`src`)
    from_: Prefix | None = None  # source prefix (`from`, IPv6 only)
    table: int = 254
    metric: int | None = None
    protocol: int = RTPROT_KEEPALIVED
    scope: int | None = None
    tos: int | None = None
    onlink: bool = False
    metrics: tuple[tuple[str, int], ...] = ()  # mtu/advmss/rtt/... as configured
    locked: tuple[str, ...] = ()
    nexthops: tuple[NextHop, ...] = ()
    track: bool = True
    track_group: str | None = None
    mode: str = "prepend"  # prepend | add | append
    words: tuple[str, ...] = field(default=(), compare=False)  # as written, for the dump
    loc: Loc = field(default=NOWHERE, compare=False)

    @property
    def devs(self) -> tuple[str, ...]:
        return tuple(d for d in (self.dev, *(n.dev for n in self.nexthops)) if d is not None)


class _Bad(Exception):
    """The line is dropped (keepalived `goto err`); the message has been reported."""


class _Words:
    def __init__(self, words: tuple[str, ...], loc: Loc, rep: Reporter) -> None:
        self.w, self.i, self.loc, self.rep = words, 0, loc, rep

    def next(self) -> str:
        self.i += 1
        if self.i >= len(self.w):
            self.rep.error(
                self.loc, f"Missing parameter for '{self.w[self.i - 1]}'", ConfigErr.MISSING_PARAMETER
            )
            raise _Bad
        return self.w[self.i]

    def fail(self, msg: str) -> _Bad:
        self.rep.error(self.loc, msg)
        return _Bad()

    def lookup(self, kind: str, msg: str) -> int:
        """The next word looked up in /etc/iproute2/KIND (rt_lookup); `msg` (with {} for the word) drops
        the line when it is not found."""
        word = self.next()
        v = rt_lookup(kind, word)
        if v is None:
            raise self.fail(msg.format(word))
        return v

    def inet(self, cur: int, what: str) -> int:
        """`inet`/`inet6` at the current word: the family it sets (a clash with `cur` drops the line).

        keepalived steps over the word after inet/inet6 too.
        """
        s = self.w[self.i]
        self.i += 1
        six = s == "inet6"
        return _family(cur, 6 if six else 4, self, f"{s} specified for IPv{4 if six else 6} {what}")

    def track_group(self, current: str | None, track_groups: set[str]) -> tuple[bool, str | None]:
        """`track_group NAME` (static routes and rules): (False, current) when it is a duplicate (stop
        reading), else (True, the group: NAME if it exists, else `current`)."""
        x = self.next()
        if current is not None:
            self.rep.error(self.loc, f"track_group {x} is a duplicate")
            return False, current
        if x not in track_groups:
            self.rep.error(self.loc, f"track_group {x} not found")
            return True, current
        return True, x

    def unsigned(self, word: str, hi: int, msg: str) -> int:
        """keepalived get_u32()/read_unsigned(): decimal, with its number message then `msg`."""
        if not word.strip(C_SPACE):  # (strtoul() would read it as 0)
            self.rep.error(self.loc, f"invalid number '{word}'", ConfigErr.INVALID_NUMBER)
            raise self.fail(msg.format(word))
        v = read_unsigned(word, 0, hi, self.loc, self.rep)
        if v is None:
            raise self.fail(msg.format(word))
        return v


def _family(cur: int, new: int, w: _Words, msg: str) -> int:
    if cur and new and cur != new:
        raise w.fail(msg)
    return cur or new


@dataclass(slots=True)
class LineDraft:
    """A route or rule line being read (routes.py, rules.py): the reader and the tracking words."""

    w: _Words
    track_groups: set[str] | None  # given for static routes and rules only
    track: bool = True
    track_group: str | None = None

    def read_track_group(self) -> bool:
        """`track_group NAME`; True when it is a duplicate (stop reading)."""
        assert self.track_groups is not None
        ok, self.track_group = self.w.track_group(self.track_group, self.track_groups)
        return not ok


def no_track(d: LineDraft, s: str) -> None:
    d.track = False


class _RouteDraft(LineDraft):
    """A route line being read: the reader's state, and the Route's fields set so far (`ch`, typed
    against Route: config/changes.py), made into the Route once the line is read."""

    __slots__ = ("ch", "dest", "do_nexthop", "dst", "fam", "foreign_protocol", "has_dev", "locked", "metrics",
                 "nexthops", "via")

    def __init__(self, w: _Words, track_groups: set[str] | None) -> None:
        super().__init__(w, track_groups)
        self.ch = changes2(Route)
        self.fam = 0
        self.dst: Prefix | None = None
        self.dest = ""  # the destination as written, for messages
        self.via: IPAddr | None = None  # read by `or`
        self.metrics: list[tuple[str, int]] = []
        self.locked: list[str] = []
        self.nexthops: list[NextHop] = []
        self.do_nexthop = False
        self.has_dev = False  # for the tracking checks
        self.foreign_protocol = False  # the protocol given is not RTPROT_KEEPALIVED

    def family(self, new: int, msg: str = "Cannot mix IPv4 and IPv6 addresses for route") -> None:
        self.fam = _family(self.fam, new, self.w, msg)

    def address(self, word: str, msg: str) -> IPAddr:
        a = parse_ipaddress(word, False, self.w.loc, self.w.rep)
        if a is None:
            raise self.w.fail(msg)
        return a[0]


# A handler reads the words of its keyword (the current word, w.i) and leaves w.i on the last one it
# used; it returns True to stop reading the line (`nexthop`, a duplicate `track_group`).
_RouteHandler = Callable[[_RouteDraft, str], bool | None]


def _r_inet(d: _RouteDraft, s: str) -> None:
    d.fam = d.w.inet(d.fam, "route")


def _r_src(d: _RouteDraft, s: str) -> None:
    x = d.w.next()
    src = d.address(x, f"invalid route src address {x}")
    d.ch.set(src=src)
    d.family(src.version)


def _r_as(d: _RouteDraft, s: str) -> None:
    if d.w.next() == "to":
        d.w.i += 1
    d.w.rep.error(d.w.loc, '"as to" for MPLS only - ignoring')


def _r_via(d: _RouteDraft, s: str) -> None:
    w = d.w
    if s == "gw":
        w.rep.error(w.loc, '"gw" for routes is deprecated. Please use "via"')
    x = w.next()
    if x in ("inet", "inet6"):
        x, fam = w.next(), 4 if x == "inet" else 6
        d.family(fam)
    d.via = d.address(x, f"invalid route via address {x}")
    d.family(d.via.version)


def _r_from(d: _RouteDraft, s: str) -> None:
    w = d.w
    x = w.next()
    p = _prefix(x, w.loc, w.rep)
    if p is None:
        raise w.fail(f"invalid route from address {x}")
    if p.family != 6:
        raise w.fail(f"route from address only supported with IPv6 ({x})")
    d.ch.set(from_=p)
    d.family(6)


def _r_tos(d: _RouteDraft, s: str) -> None:
    d.ch.set(tos=d.w.lookup("rt_dsfield", "TOS value {} is invalid"))


def _r_table(d: _RouteDraft, s: str) -> None:
    d.ch.set(table=d.w.lookup("rt_tables", "Routing table {} not found for route"))


def _r_protocol(d: _RouteDraft, s: str) -> None:
    protocol = d.w.lookup("rt_protos", "Protocol {} not found or invalid for route")
    d.ch.set(protocol=protocol)
    d.foreign_protocol = protocol != RTPROT_KEEPALIVED


def _r_scope(d: _RouteDraft, s: str) -> None:
    d.ch.set(scope=d.w.lookup("rt_scopes", "Scope {} not found or invalid for route"))


def _r_metric(d: _RouteDraft, s: str) -> None:
    d.ch.set(metric=d.w.unsigned(d.w.next(), 2**32 - 1, "Invalid metric {} specified for route"))


def _r_dev(d: _RouteDraft, s: str) -> None:
    d.ch.set(dev=d.w.next())
    d.has_dev = True


def _r_onlink(d: _RouteDraft, s: str) -> None:
    d.ch.set(onlink=True)


def _r_encap(d: _RouteDraft, s: str) -> None:
    raise d.w.fail("encap is not supported by pykeepalived")


def _r_expires(d: _RouteDraft, s: str) -> None:
    if d.fam == 4:
        raise d.w.fail("expires is only valid for IPv6")
    d.fam = 6
    d.metrics.append((s, d.w.unsigned(d.w.next(), 2**32 - 1, "Invalid expires time {} specified for route")))


def _r_metric_lock(d: _RouteDraft, s: str) -> None:
    """mtu/advmss/reordering/cwnd/ssthresh and the rtt metrics: an optional `lock`, then the value."""
    w = d.w
    x = w.next()
    if x == "lock":
        d.locked.append(s)
        x = w.next()
    if s in _RTT:
        v = _rtt(x, _RTT[s], w.loc, w.rep)
        if v is None:
            what = "rto_min value {} specified" if s == "rto_min" else s + " {}"
            raise w.fail(f"Invalid {what.format(x)} for route")
        d.metrics.append((s, v))
    else:
        label = "MTU" if s == "mtu" else (s if s == "advmss" else f"{s} value")
        d.metrics.append((s, w.unsigned(x, _METRICS[s], f"Invalid {label} {{}} specified for route")))


def _r_hoplimit(d: _RouteDraft, s: str) -> None:
    d.metrics.append((s, d.w.unsigned(d.w.next(), 255, "Invalid hoplimit {} specified for route")))


def _r_u32(d: _RouteDraft, s: str) -> None:
    msg = f"Invalid {_U32_OPTS[s]} {{}} specified for route"
    d.metrics.append((s, d.w.unsigned(d.w.next(), 2**32 - 1, msg)))


def _r_realms(d: _RouteDraft, s: str) -> None:
    w = d.w
    x = w.next()
    v = _realms(x)
    if v is None:
        raise w.fail(f"Invalid realms {x} for route")
    if d.fam == 6:
        raise w.fail("realms are only valid for IPv4")
    d.fam = 4
    d.metrics.append((s, v))


def _r_features(d: _RouteDraft, s: str) -> None:
    x = d.w.next()
    if x != "ecn":
        d.w.rep.error(d.w.loc, f"feature {x} not supported")
    else:
        d.metrics.append(("features", 1))


def _r_bool_metric(d: _RouteDraft, s: str) -> None:
    d.metrics.append((s, d.w.unsigned(d.w.next(), 1, f"Invalid {s} value {{}} specified for route")))


def _r_congctl(d: _RouteDraft, s: str) -> None:
    """Read and dropped (netlink's RTAX_CC_ALGO is not set); a `lock` is kept."""
    if d.w.next() == "lock":
        d.locked.append(s)
        d.w.next()


def _r_pref(d: _RouteDraft, s: str) -> None:
    w = d.w
    if d.fam == 4:
        raise w.fail("pref is only valid for IPv6")
    d.fam = 6
    x = w.next()
    pv = {"low": 3, "medium": 0, "high": 1}.get(x)
    if pv is None:
        pv = w.unsigned(x, 255, "Invalid pref value {} specified for route")
    d.metrics.append((s, pv))


def _r_ttl_propagate(d: _RouteDraft, s: str) -> None:
    x = d.w.next()
    if x not in ("enabled", "disabled"):
        d.w.rep.error(d.w.loc, f"ttl-propagate value {x} not recognised")
    d.metrics.append((s, int(x == "enabled")))


def _r_mode(d: _RouteDraft, s: str) -> None:
    d.ch.set(mode=s)


def _r_or(d: _RouteDraft, s: str) -> None:
    w = d.w
    w.rep.error(w.loc, '"or" for routes is deprecated. Please use "nexthop"')
    if d.nexthops:
        w.rep.error(w.loc, '"or" route already specified - ignoring subsequent')
        w.i += 1
        return
    x = w.next()
    a = d.address(x, f'Invalid "or" address {x}')
    d.nexthops += [NextHop(via=d.via), NextHop(via=a)]
    d.via = None


def _r_nexthop(d: _RouteDraft, s: str) -> bool:
    if d.nexthops:
        d.w.rep.error(d.w.loc, 'Cannot specify nexthops with "or" route')
    else:
        d.do_nexthop = True
    return True


def _r_track_group(d: _RouteDraft, s: str) -> bool:
    if d.track_groups is None:  # virtual routes: not a keyword, so a destination
        return _r_destination(d, s)
    return d.read_track_group()


def _r_vrf(d: _RouteDraft, s: str) -> None:
    raise d.w.fail(f"VRF {d.w.next()} not found for route")


def _r_destination(d: _RouteDraft, s: str) -> bool:
    """Any other word: `[to] [TYPE] PREFIX`."""
    w = d.w
    if s == "to":
        w.i += 1
    t = _rtntype(s)
    if t is not None:
        d.ch.set(type=t)
        w.i += 1
    if w.i >= len(w.w):
        raise w.fail("Route must have a destination")
    d.dest = w.w[w.i]
    p = _prefix(d.dest, w.loc, w.rep)
    if p is None:
        raise w.fail(f"unknown route keyword {d.dest}")
    d.dst = p
    d.family(p.family, f"Cannot mix IPv4 and IPv6 addresses for route ({d.dest})")
    return False


_ROUTE_WORDS: dict[str, _RouteHandler] = {
    "inet": _r_inet, "inet6": _r_inet, "src": _r_src, "as": _r_as, "via": _r_via, "gw": _r_via,
    "from": _r_from, "tos": _r_tos, "dsfield": _r_tos, "table": _r_table, "protocol": _r_protocol,
    "scope": _r_scope, "metric": _r_metric, "priority": _r_metric, "preference": _r_metric,
    "dev": _r_dev, "oif": _r_dev, "onlink": _r_onlink, "encap": _r_encap, "expires": _r_expires,
    **{m: _r_metric_lock for m in (*_METRICS, *_RTT)},
    "hoplimit": _r_hoplimit, **{m: _r_u32 for m in _U32_OPTS}, "realms": _r_realms,
    "features": _r_features, "quickack": _r_bool_metric, "fastopen_no_cookie": _r_bool_metric,
    "congctl": _r_congctl, "pref": _r_pref, "ttl-propagate": _r_ttl_propagate,
    "add": _r_mode, "prepend": _r_mode, "append": _r_mode, "or": _r_or, "nexthop": _r_nexthop,
    "no_track": no_track, "track_group": _r_track_group, "vrf": _r_vrf,
}


def parse_route(
    words: tuple[str, ...], loc: Loc, rep: Reporter, track_groups: set[str] | None = None
) -> Route | None:
    """One route line (keepalived alloc_route); `track_groups` given only for static routes."""
    w = _Words(words, loc, rep)
    d = _RouteDraft(w, track_groups)
    try:
        while w.i < len(words):
            s = words[w.i]
            if _ROUTE_WORDS.get(s, _r_destination)(d, s):
                break
            w.i += 1
        if d.do_nexthop:
            d.fam = _nexthops(w, d.fam, d.nexthops)
        elif w.i < len(words):
            raise w.fail(f"Route has trailing nonsense - {words[w.i]}")
        if d.dst is None:
            raise w.fail("Route must have a destination")
    except _Bad:
        return None
    return _route_end(d, d.dst)


def _route_end(d: _RouteDraft, dst: Prefix) -> Route:
    """keepalived's checks once the line is read: tracking needs `dev` and RTPROT_KEEPALIVED."""
    rep, loc = d.w.rep, d.w.loc
    if d.track:
        if d.foreign_protocol:
            rep.error(
                loc,
                "Route cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting protocol",
            )
            d.ch.set(protocol=RTPROT_KEEPALIVED)
        if not d.has_dev:
            rep.error(loc, f"Warning - cannot track route {d.dest} with no interface specified, not tracking")
            d.track = False
    if d.track_group is not None and not d.has_dev:
        rep.error(loc, "Static route cannot have track group if no oif specified")
        d.track_group = None
    fam = d.fam or 4
    d.ch.set(via=d.via, metrics=tuple(d.metrics), locked=tuple(d.locked), nexthops=tuple(d.nexthops),
             track=d.track, track_group=d.track_group, words=d.w.w, loc=loc)
    return d.ch.make(fam, Prefix(None, 0, fam) if dst.family == 0 else dst)


def _rtt(word: str, mult: int, loc: Loc, rep: Reporter) -> int | None:
    """keepalived get_time_rtt(): the value in the kernel's units (1/`mult` ms). A bare number is
    taken as those units as is; `Nms` is milliseconds and `Ns`/`Nsec`/`Nsecs` seconds (decimals
    allowed), multiplied by `mult`; then clamped to 200 ms..120 s with a log line."""
    t = word.lstrip(" \t")
    low = t.lower()
    pos = next((k for k, c in enumerate(low) if c == "s"), -1)
    if pos >= 0:
        if low[pos:] not in ("s", "sec", "secs"):
            return None
        shift = 3
        if pos > 0 and low[pos - 1] == "m":
            shift, pos = 0, pos - 1
        if pos == 0:
            return None
        num = t[:pos]
    else:
        shift, num = 0, t
    if "e" in num.lower():
        rep.log(loc, f"rtt value exponential form {word} no longer supported")
        return None
    whole, dot, frac = num.partition(".")
    if not is_digits(whole) or (dot and (shift == 0 or not (frac == "" or is_digits(frac)))):
        return None
    if len(frac) > shift:
        return None
    v = int(whole + frac.ljust(shift, "0"))
    if v > 120_000 * mult:
        return None
    if pos >= 0:
        v *= mult
    if v > 120_000 * mult:
        rep.log(loc, f"rtt value {word} exceeds maximum 120s, resetting")
        v = 120_000 * mult
    elif v < 200 * mult:
        rep.log(loc, f"rtt value {word} below minimum 200ms, resetting")
        v = 200 * mult
    return v


def _nexthops(w: _Words, fam: int, nhs: list[NextHop]) -> int:
    words, loc, rep = w.w, w.loc, w.rep
    while w.i < len(words) and words[w.i] == "nexthop":
        w.i += 1
        via: IPAddr | None = None
        dev: str | None = None
        weight: int | None = None
        onlink = False
        realms: int | None = None
        try:
            while w.i < len(words):
                s = words[w.i]
                if s == "via":
                    x = w.next()
                    if x in ("inet", "inet6"):
                        fam = _family(fam, 4 if x == "inet" else 6, w, "IPv4/6 mismatch for nexthop")
                        x = w.next()
                    a = parse_ipaddress(x, False, loc, rep)
                    if a is None:
                        raise w.fail(f"invalid nexthop address {x}")
                    if fam and a[0].version != fam:
                        raise w.fail("Address family mismatch for next hop")
                    fam = fam or a[0].version
                    via = a[0]
                elif s == "dev":
                    dev = w.next()
                elif s == "weight":
                    v = w.unsigned(w.next(), 256, "Invalid weight {} specified for route")
                    if not v:
                        raise w.fail("Invalid weight 0 specified for route")
                    weight = v
                elif s == "onlink":
                    onlink = True
                elif s == "realms":
                    r = _realms(w.next())
                    if r is None:
                        raise w.fail(f"Invalid realms {words[w.i]} for route")
                    if fam == 6:
                        raise w.fail("realms are only supported for IPv4")
                    fam = 4
                    realms = r
                elif s == "as":
                    if w.next() == "to":
                        w.i += 1
                    raise w.fail("'as [to]' (nat) not supported")
                else:
                    break
                w.i += 1
        except _Bad:
            return fam  # keepalived drops this and any further next hops, keeps the route
        nhs.append(NextHop(via, dev, weight, onlink, realms))
    if w.i < len(words):
        rep.error(loc, f"Route has trailing nonsense after nexthops - {words[w.i]}")
    return fam
